//! Time as Classmate keeps it: Unix milliseconds in the queue, the database's decisions and the
//! API, and RFC 3339 with milliseconds where people read it.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    unix_ms(OffsetDateTime::now_utc())
}

/// `at` in Unix milliseconds.
pub fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Unix milliseconds as RFC 3339 with milliseconds, e.g. `2026-02-10T01:00:00.250Z`; empty for
/// a time past what RFC 3339 can write.
pub fn rfc3339_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_round_trip_through_rfc3339() {
        let at = time::macros::datetime!(2026-02-10 01:00:00.250 UTC);
        let ms = unix_ms(at);
        assert_eq!(ms, 1_770_685_200_250);
        assert_eq!(rfc3339_ms(ms), "2026-02-10T01:00:00.25Z");
        assert_eq!(rfc3339_ms(i64::MAX), "");
    }
}
