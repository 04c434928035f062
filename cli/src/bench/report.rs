//! The run's report: per request, count, rate and latency percentiles (raw, and corrected for
//! coordinated omission where goose measured it), failures by reason, and the audit's
//! findings; as `report.json` (versioned) and `report.md` in `reports/<time>-<scenario>/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use classmate_server::store::Finding;
use goose::metrics::GooseMetrics;
use serde::Serialize;

/// The report's schema version.
pub const REPORT_VERSION: u32 = 1;

/// One request kind's figures.
#[derive(Debug, Serialize)]
pub struct RequestStats {
    pub name: String,
    pub count: usize,
    pub failures: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// The same percentiles corrected for coordinated omission, when goose recorded any.
    pub corrected_p99_ms: Option<f64>,
    pub status_codes: BTreeMap<u16, usize>,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    pub version: u32,
    pub scenario: String,
    pub started_at: String,
    pub duration_seconds: f64,
    pub users: usize,
    pub requests: Vec<RequestStats>,
    /// Unexpected answers by reason, and how often.
    pub errors: BTreeMap<String, usize>,
    pub audit: Vec<Finding>,
    /// Whether the run passed: no failed request and no audit finding.
    pub passed: bool,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Report {
    /// Builds the report from goose's metrics and the audit.
    pub fn new(
        scenario: &str,
        started_at: String,
        users: usize,
        metrics: &GooseMetrics,
        audit: Vec<Finding>,
    ) -> Report {
        let duration = metrics.duration.max(1) as f64;
        let mut requests: Vec<RequestStats> = metrics
            .requests
            .iter()
            .map(|(key, r)| {
                let t = &r.raw_data;
                RequestStats {
                    name: key.clone(),
                    count: r.success_count + r.fail_count,
                    failures: r.fail_count,
                    per_second: (r.success_count + r.fail_count) as f64 / duration,
                    p50_ms: ms(t.percentile_us(0.5)),
                    p90_ms: ms(t.percentile_us(0.9)),
                    p99_ms: ms(t.percentile_us(0.99)),
                    p999_ms: ms(t.percentile_us(0.999)),
                    max_ms: ms(t.maximum_time_us),
                    corrected_p99_ms: r
                        .coordinated_omission_data
                        .as_ref()
                        .map(|c| ms(c.percentile_us(0.99))),
                    status_codes: r.status_code_counts.iter().map(|(k, v)| (*k, *v)).collect(),
                }
            })
            .collect();
        requests.sort_by(|a, b| a.name.cmp(&b.name));
        let errors = super::FAILURES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let passed =
            errors.is_empty() && requests.iter().all(|r| r.failures == 0) && audit.is_empty();
        Report {
            version: REPORT_VERSION,
            scenario: scenario.to_owned(),
            started_at,
            duration_seconds: metrics.duration as f64,
            users,
            requests,
            errors,
            audit,
            passed,
        }
    }

    /// Markdown for people.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# classmate bench: {}\n\nStarted {}, {} s, {} simulated students. Result: **{}**.\n\n\
             | request | count | failures | per s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            self.scenario,
            self.started_at,
            self.duration_seconds,
            self.users,
            if self.passed { "passed" } else { "FAILED" }
        );
        for r in &self.requests {
            out.push_str(&format!(
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
                r.name,
                r.count,
                r.failures,
                r.per_second,
                r.p50_ms,
                r.p90_ms,
                r.p99_ms,
                r.p999_ms,
                r.max_ms
            ));
        }
        out.push_str("\n## Errors\n\n");
        if self.errors.is_empty() {
            out.push_str("None.\n");
        }
        for (error, n) in &self.errors {
            out.push_str(&format!("- {n} × {error}\n"));
        }
        out.push_str("\n## Audit\n\n");
        if self.audit.is_empty() {
            out.push_str(
                "No course over capacity, seat counters equal rows, no duplicate, no ticket decided \
                 twice or left undecided, no FIFO inversion, no sold-out flag over a free seat.\n",
            );
        }
        for f in &self.audit {
            out.push_str(&format!(
                "- **{}**: {} (e.g. {})\n",
                f.check,
                f.count,
                f.examples.join(", ")
            ));
        }
        out
    }

    /// Writes `report.json` and `report.md` under `reports/<time>-<scenario>/`; returns the
    /// directory.
    pub fn write(&self, reports: &Path) -> std::io::Result<PathBuf> {
        let stamp: String = self
            .started_at
            .chars()
            .filter(|c| c.is_ascii_digit())
            .take(14)
            .collect();
        let dir = reports.join(format!("{stamp}-{}", self.scenario));
        std::fs::create_dir_all(&dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("report.json"), json)?;
        std::fs::write(dir.join("report.md"), self.markdown())?;
        Ok(dir)
    }
}
