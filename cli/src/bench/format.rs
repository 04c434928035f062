//! Numbers as the reports print them, in Markdown and in HTML alike.

/// Milliseconds, to a precision that suits their size.
pub fn ms(value: f64) -> String {
    match value {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v => format!("{v:.2}"),
    }
}

/// A number without trailing zeros.
pub fn round(value: f64) -> String {
    match value.fract() == 0.0 {
        true => format!("{value:.0}"),
        false => format!("{value:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned(),
    }
}

/// A share as a percentage; `–` when unknown.
pub fn ratio(value: Option<f64>) -> String {
    value.map_or("–".into(), |r| format!("{:.0}%", r * 100.0))
}

/// The peak memory as the reports state it.
pub fn peak_memory(mib: Option<f64>) -> String {
    match mib {
        Some(mib) => format!("{mib:.0} MiB (server and load generator, one process)"),
        None => "not measured (the server runs in another process)".to_owned(),
    }
}
