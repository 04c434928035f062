//! Per-client rate limits of this process, against macros and bots: admissions per student, and
//! log-ins and sign-ups per client address. Each is a keyed GCRA limiter from `governor`; what
//! is over it is answered `429 RATE_LIMITED` with the `Retry-After` the limiter computes.
//!
//! The limits are per process: behind a load balancer a student's presses may reach several
//! processes. What must hold across all of them (the number of open tickets a student may have)
//! is enforced by the queue itself, atomically.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

use super::AppState;
use super::error::{AppError, RateScope};
use crate::domain::StudentId;

/// How many events may happen per interval: `5/s`, `600/min`, `100/h`, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    Off,
    Every { count: NonZeroU32, per: Duration },
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(raw: &str) -> Result<Rate, String> {
        let raw = raw.trim();
        if raw == "off" || raw == "0" {
            return Ok(Rate::Off);
        }
        let wrong =
            || format!("`{raw}` is not a rate: write e.g. `5/s`, `600/min`, `100/h` or `off`");
        let (count, unit) = raw.split_once('/').ok_or_else(wrong)?;
        let count = count.trim().parse::<NonZeroU32>().map_err(|_| wrong())?;
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(wrong()),
        };
        Ok(Rate::Every { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::Off => f.write_str("off"),
            Rate::Every { count, per } => {
                let unit = match per.as_secs() {
                    1 => "s",
                    60 => "min",
                    _ => "h",
                };
                write!(f, "{count}/{unit}")
            }
        }
    }
}

/// Over a limit: when the next attempt may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

/// One keyed limit: `rate`, of which up to `burst` may come at once.
pub struct Limit<K: std::hash::Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
}

impl<K: std::hash::Hash + Eq + Clone> Limit<K> {
    /// `rate` with room for `burst` at once (at least the rate's count).
    pub fn new(rate: Rate, burst: u32) -> Limit<K> {
        let limiter = match rate {
            Rate::Off => None,
            Rate::Every { count, per } => {
                let period = per / count.get();
                let burst = NonZeroU32::new(burst.max(count.get())).unwrap_or(count);
                Quota::with_period(period)
                    .map(|q| DefaultKeyedRateLimiter::keyed(q.allow_burst(burst)))
            }
        };
        Limit { limiter }
    }

    /// Counts one event of `key`, or says when it may come again.
    pub fn check(&self, key: &K) -> Result<(), Limited> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| Limited {
            retry_after: not_until.wait_time_from(limiter.clock().now()),
        })
    }

    /// Forgets keys whose limit has filled up again, so memory follows recent clients only.
    pub fn tidy(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Keys remembered now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }
}

/// The settings of [`ClientLimits`].
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Admissions (presses of 신청) per student; a whole cart may come at once.
    pub admissions_per_student: Rate,
    /// The cart limit: how many presses one student may make at once.
    pub cart_limit: u32,
    /// Log-in attempts (students and administrators) per client address.
    pub logins_per_address: Rate,
    /// Sign-ups per client address.
    pub signups_per_address: Rate,
    /// Proxies whose `X-Forwarded-For` names the client (nginx in front of the API).
    pub trusted_proxies: Vec<IpAddr>,
}

/// Every per-client limit of this process.
pub struct ClientLimits {
    admissions: Limit<StudentId>,
    logins: Limit<IpAddr>,
    signups: Limit<IpAddr>,
    trusted_proxies: Vec<IpAddr>,
}

impl ClientLimits {
    pub fn new(settings: &LimitSettings) -> ClientLimits {
        ClientLimits {
            admissions: Limit::new(settings.admissions_per_student, settings.cart_limit),
            logins: Limit::new(settings.logins_per_address, 0),
            signups: Limit::new(settings.signups_per_address, 0),
            trusted_proxies: settings.trusted_proxies.clone(),
        }
    }

    /// Counts one press of 신청 by `student`.
    pub fn admission(&self, student: StudentId) -> Result<(), AppError> {
        refuse(self.admissions.check(&student), RateScope::Student)
    }

    /// Counts one log-in attempt from `client` (unknown: not limited).
    pub fn login(&self, client: ClientAddr) -> Result<(), AppError> {
        by_address(&self.logins, client)
    }

    /// Counts one sign-up from `client` (unknown: not limited).
    pub fn signup(&self, client: ClientAddr) -> Result<(), AppError> {
        by_address(&self.signups, client)
    }

    /// Forgets clients whose limits have filled up again; run every few seconds.
    pub fn tidy(&self) {
        self.admissions.tidy();
        self.logins.tidy();
        self.signups.tidy();
    }

    /// The client of a request from `peer`: the peer itself, or, when the peer is a trusted
    /// proxy, the last address in `X-Forwarded-For` that is not one (the nearest the proxies
    /// vouch for; what comes before it the client wrote itself).
    pub fn client_of(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse().ok())
            .collect();
        Some(
            forwarded
                .into_iter()
                .rev()
                .find(|hop| !self.trusted_proxies.contains(hop))
                .unwrap_or(peer),
        )
    }
}

/// Counts one event of `client` under `limit`; a client without a known address is not limited.
fn by_address(limit: &Limit<IpAddr>, client: ClientAddr) -> Result<(), AppError> {
    match client.0 {
        Some(ip) => refuse(limit.check(&ip), RateScope::Address),
        None => Ok(()),
    }
}

fn refuse(checked: Result<(), Limited>, scope: RateScope) -> Result<(), AppError> {
    checked.map_err(|limited| AppError::RateLimited {
        // Whole seconds, rounded up, and never 0: "retry at once" would be wrong.
        retry_after_seconds: limited.retry_after.as_secs_f64().ceil().max(1.0) as u32,
        scope,
    })
}

/// The address of the client making a request, as [`ClientLimits::client_of`] finds it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientAddr(state.limits.client_of(peer, &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_operators_write_them() {
        let every = |count, secs| Rate::Every {
            count: NonZeroU32::new(count).unwrap(),
            per: Duration::from_secs(secs),
        };
        assert_eq!("5/s".parse(), Ok(every(5, 1)));
        assert_eq!(" 600/min ".parse(), Ok(every(600, 60)));
        assert_eq!("100/h".parse(), Ok(every(100, 3600)));
        assert_eq!("off".parse(), Ok(Rate::Off));
        assert_eq!("0".parse(), Ok(Rate::Off));
        for bad in ["", "5", "0/s", "-1/s", "5/day", "five/s", "5/"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(every(600, 60).to_string(), "600/min");
    }

    #[test]
    fn a_burst_passes_whole_then_the_rate_holds_with_a_retry_after() {
        let limit: Limit<u32> = Limit::new("1/h".parse().unwrap(), 3);
        for _ in 0..3 {
            assert_eq!(limit.check(&7), Ok(()));
        }
        let refused = limit.check(&7).unwrap_err();
        assert!(
            refused.retry_after > Duration::from_secs(1000),
            "{refused:?}"
        );
        // Another key has a limit of its own.
        assert_eq!(limit.check(&8), Ok(()));
        assert_eq!(limit.len(), 2);
        let off: Limit<u32> = Limit::new(Rate::Off, 3);
        assert!((0..1000).all(|_| off.check(&7).is_ok()));
    }

    #[test]
    fn only_a_trusted_proxy_may_name_the_client() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let limits = ClientLimits::new(&LimitSettings {
            admissions_per_student: Rate::Off,
            cart_limit: 1,
            logins_per_address: Rate::Off,
            signups_per_address: Rate::Off,
            trusted_proxies: vec![proxy],
        });
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.9, 10.0.0.2".parse().unwrap(),
        );
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        // A client that is not a proxy cannot claim another address.
        assert_eq!(limits.client_of(Some(stranger), &headers), Some(stranger));
        // Through the proxy: the nearest untrusted hop, not what the client prepended.
        assert_eq!(
            limits.client_of(Some(proxy), &headers),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(
            limits.client_of(Some(proxy), &HeaderMap::new()),
            Some(proxy)
        );
        assert_eq!(limits.client_of(None, &headers), None);
    }
}
