//! The run's report as data, the schema of `report.json` (versioned): what was simulated and
//! how, the generator's calibrated ceiling, per request count, rate and latency percentiles (as
//! served, and corrected for coordinated omission), time to decision, the timeline, the audit and
//! the SLOs that decide the exit code. `markdown.rs` and `html/` render it; `output.rs` writes
//! the files.

use std::collections::BTreeMap;
use std::path::Path;

use classmate_server::store::Finding;
use serde::{Deserialize, Serialize};

/// The report's schema version. 2: per-phase requests, corrected latency, time to decision,
/// timeline, calibration and SLOs.
pub const REPORT_VERSION: u32 = 2;

/// Latency percentiles of one series, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// One request kind's figures within one phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestStats {
    /// `METHOD name`, e.g. `POST enrollments`.
    pub name: String,
    pub phase: String,
    pub count: u64,
    /// Answers the scenario did not expect (transport errors, 5xx, unexpected codes).
    pub failures: u64,
    /// Answers per second between the first send and the last answer of this kind.
    pub per_second: f64,
    /// `per_second` over the calibrated generator ceiling.
    pub ceiling_ratio: Option<f64>,
    /// From sending the request to its answer.
    pub latency: Percentiles,
    /// From when the request was due (the student's arrival or the end of their think time) to
    /// its answer: includes the time it waited for a free lane, so a slow server cannot hide by
    /// slowing the generator down (coordinated omission).
    pub corrected: Percentiles,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Answers by error `code` (expected ones, such as `COURSE_FULL`, included).
    pub codes: BTreeMap<String, u64>,
}

/// One bucket of a distribution: how many values were at most `le_ms`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Bucket {
    pub le_ms: f64,
    pub count: u64,
}

/// From admission (the 202) to the ticket's terminal state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Decisions {
    /// Tickets handed out.
    pub tickets: u64,
    /// Tickets seen in a terminal state by their student.
    pub followed: u64,
    /// Terminal states by name (`enrolled`, `rejected`, …).
    pub states: BTreeMap<String, u64>,
    /// Rejections by code.
    pub codes: BTreeMap<String, u64>,
    /// Server side: the ticket's `decided_at_ms − admitted_at_ms`.
    pub server: Percentiles,
    /// As the student saw it: from the 202 arriving to the client learning the terminal state
    /// (through a WebSocket status frame or polling, then reading the ticket).
    pub observed: Percentiles,
    /// The server-side distribution, for the chart.
    pub histogram: Vec<Bucket>,
    /// Seconds from the phase's start until the last ticket was decided (server clock).
    pub last_decided_after_seconds: Option<f64>,
    /// With a WebSocket per student: from the decision (server clock) to the student hearing
    /// the result pushed on their socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub told_after_decision: Option<Percentiles>,
    /// With a WebSocket per student: the most students' sockets open at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_sockets: Option<u64>,
}

/// One second of the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tick {
    /// Seconds since the first phase began.
    pub second: u64,
    pub phase: String,
    /// Requests answered in this second.
    pub requests: u64,
    pub failures: u64,
    /// Latency as served, of the requests answered in this second.
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Corrected latency of the requests answered in this second.
    pub corrected_p99_ms: f64,
    /// Tickets admitted (202) in this second.
    pub admitted: u64,
    /// Queue depth sampled in this second, when the queue was watched.
    pub queue_depth: Option<u64>,
}

/// What the run was and how it was simulated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub scenario: String,
    pub description: String,
    pub started_at: String,
    pub duration_seconds: f64,
    /// `embedded (…)`, or the URL with `--target`.
    pub target: String,
    /// `sqlite` or `postgres`, when known.
    pub database: Option<String>,
    /// `memory` or `redis`, when known.
    pub queue: Option<String>,
    /// `queue` or `direct`.
    pub mode: String,
    /// What answered searches: `tantivy` or `database`.
    #[serde(default)]
    pub search: Option<String>,
    /// Distinct students simulated.
    pub students: u64,
    /// Goose users: each is one lane with one connection that plays many students.
    pub lanes: u64,
    /// How the students were simulated, in words.
    pub simulation: String,
    /// The peak resident memory of the bench's process during the measured phases, in MiB:
    /// the server's and the load generator's together (an upper bound on the server's). `None`
    /// with `--target`, whose process the bench cannot see.
    #[serde(default)]
    pub peak_memory_mib: Option<f64>,
}

/// The generator's own ceiling: `/healthz` as fast as the lanes can go.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    pub seconds: f64,
    pub lanes: u64,
    pub requests: u64,
    pub per_second: f64,
    pub latency: Percentiles,
}

/// One phase's span and volume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseStats {
    pub name: String,
    pub started_after_seconds: f64,
    pub duration_seconds: f64,
    pub students: u64,
    pub requests: u64,
    pub per_second: f64,
    pub ceiling_ratio: Option<f64>,
    /// Whether the scenario's SLOs apply to it.
    pub gated: bool,
    /// Steps still due when the phase reached its limit, not sent (0 in a finished phase).
    #[serde(default)]
    pub cut_off: u64,
    /// The phase's limit in seconds, if it had one.
    #[serde(default)]
    pub limit_seconds: Option<f64>,
}

impl PhaseStats {
    /// The phase's name as the reports print it, saying when it was cut off at its limit.
    pub fn label(&self) -> String {
        match (self.cut_off, self.limit_seconds) {
            (0, _) | (_, None) => self.name.clone(),
            (steps, Some(limit)) => {
                format!(
                    "{} (cut off at {limit} s: {steps} steps not sent)",
                    self.name
                )
            }
        }
    }
}

/// One SLO and how the run did against it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SloResult {
    /// In words, e.g. `corrected p99 of POST enrollments ≤ 25 ms`.
    pub objective: String,
    pub limit: f64,
    pub actual: f64,
    pub passed: bool,
}

/// The audit at the end of a run that enrolls.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditResult {
    /// Whether it ran (it needs the database).
    pub ran: bool,
    /// Whether FIFO inversions were looked for (not when the scenario cancels: a cancellation
    /// rightly frees a seat for a later ticket).
    pub fifo: bool,
    pub findings: Vec<AuditFinding>,
}

impl AuditResult {
    /// What a clean audit proved, in words.
    pub fn clean(&self) -> String {
        let fifo = match self.fifo {
            true => "no FIFO inversion, no",
            false => "no",
        };
        let skipped = match self.fifo {
            true => "",
            false => {
                " FIFO order was not checked: the scenario cancels, which rightly frees seats for later tickets."
            }
        };
        format!(
            "No course over capacity, seat counters equal rows, no duplicate, no ticket decided \
             twice or left undecided, {fifo} sold-out flag over a free seat.{skipped}"
        )
    }
}

/// One broken guarantee the audit found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditFinding {
    /// A stable name, e.g. `course_over_capacity`.
    pub check: String,
    pub count: i64,
    pub examples: Vec<String>,
}

impl From<Finding> for AuditFinding {
    fn from(f: Finding) -> Self {
        AuditFinding {
            check: f.check.to_owned(),
            count: f.count,
            examples: f.examples,
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub version: u32,
    pub run: RunInfo,
    pub calibration: Option<Calibration>,
    pub phases: Vec<PhaseStats>,
    pub requests: Vec<RequestStats>,
    pub decisions: Option<Decisions>,
    /// Hot courses and how many students wanted each, over its capacity.
    pub oversubscription: Vec<Oversubscription>,
    pub timeline: Vec<Tick>,
    /// Unexpected answers by reason, and how often.
    pub errors: BTreeMap<String, u64>,
    pub audit: AuditResult,
    pub slos: Vec<SloResult>,
    /// No unexpected answer, no audit finding and every SLO met.
    pub passed: bool,
}

/// Demand for one hot course.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Oversubscription {
    pub course_id: i64,
    pub code: String,
    pub capacity: u32,
    pub demand: u64,
    /// `demand / capacity`.
    pub ratio: f64,
}

impl Report {
    /// No unexpected answer and no audit finding: the run kept every guarantee, whatever its
    /// speed.
    pub fn correct(&self) -> bool {
        self.errors.is_empty()
            && self.requests.iter().all(|r| r.failures == 0)
            && self.audit.findings.is_empty()
    }

    /// Every request the run sent.
    pub fn total_requests(&self) -> u64 {
        self.requests.iter().map(|r| r.count).sum()
    }

    /// Reads a `report.json`, or the one inside a report directory.
    pub fn read(path: &Path) -> anyhow::Result<Report> {
        let file = match path.is_dir() {
            true => path.join("report.json"),
            false => path.to_owned(),
        };
        let raw = std::fs::read(&file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
        let value: serde_json::Value = serde_json::from_slice(&raw)?;
        if value["version"] != REPORT_VERSION {
            anyhow::bail!(
                "{} is a version {} report; this classmate reads version {REPORT_VERSION}",
                file.display(),
                value["version"]
            );
        }
        Ok(serde_json::from_value(value)?)
    }
}

/// Reports to test the renderers and comparisons with.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::collections::BTreeMap;

    use super::*;

    fn percentiles(p50_ms: f64) -> Percentiles {
        Percentiles {
            p50_ms,
            p90_ms: p50_ms * 2.0,
            p99_ms: p50_ms * 4.0,
            p999_ms: p50_ms * 6.0,
            max_ms: p50_ms * 10.0,
        }
    }

    pub(crate) fn request(phase: &str, name: &str, per_second: f64, p50_ms: f64) -> RequestStats {
        RequestStats {
            name: name.to_owned(),
            phase: phase.to_owned(),
            count: 1000,
            failures: 2,
            per_second,
            ceiling_ratio: Some(0.25),
            latency: percentiles(p50_ms),
            corrected: percentiles(p50_ms * 1.5),
            statuses: BTreeMap::from([(200, 990), (409, 10)]),
            codes: BTreeMap::from([("COURSE_FULL".to_owned(), 10)]),
        }
    }

    /// A report with every field filled: two phases, three requests, a timeline with a watched
    /// queue, decisions, a failed SLO and an audit finding.
    pub(crate) fn sample_report() -> Report {
        Report {
            version: REPORT_VERSION,
            run: RunInfo {
                scenario: "enroll-rush".to_owned(),
                description: "Everyone enrolls at 10:00 <script>alert('x')</script> & waits"
                    .to_owned(),
                started_at: "2025-02-17T01:00:00Z".to_owned(),
                duration_seconds: 12.5,
                target: "embedded (sqlite)".to_owned(),
                database: Some("sqlite".to_owned()),
                queue: Some("memory".to_owned()),
                mode: "queue".to_owned(),
                search: Some("tantivy".to_owned()),
                students: 300,
                lanes: 32,
                simulation: "Each lane plays students in turn.\nThink time 1–3 s.".to_owned(),
                peak_memory_mib: Some(180.5),
            },
            calibration: Some(Calibration {
                seconds: 2.0,
                lanes: 32,
                requests: 40_000,
                per_second: 20_000.0,
                latency: percentiles(0.4),
            }),
            phases: vec![
                PhaseStats {
                    name: "browse".to_owned(),
                    started_after_seconds: 0.0,
                    duration_seconds: 2.0,
                    students: 300,
                    requests: 2000,
                    per_second: 1000.0,
                    ceiling_ratio: Some(0.05),
                    gated: false,
                    cut_off: 0,
                    limit_seconds: None,
                },
                PhaseStats {
                    name: "rush".to_owned(),
                    started_after_seconds: 2.0,
                    duration_seconds: 3.0,
                    students: 300,
                    requests: 3000,
                    per_second: 1000.0,
                    ceiling_ratio: Some(0.05),
                    gated: true,
                    cut_off: 0,
                    limit_seconds: None,
                },
            ],
            requests: vec![
                request("browse", "GET courses", 900.0, 2.0),
                request("rush", "POST enrollments", 1000.0, 3.0),
                request("rush", "GET tickets", 400.0, 1.0),
            ],
            decisions: Some(Decisions {
                tickets: 300,
                followed: 298,
                states: BTreeMap::from([("enrolled".to_owned(), 40), ("rejected".to_owned(), 258)]),
                codes: BTreeMap::from([("COURSE_FULL".to_owned(), 258)]),
                server: percentiles(20.0),
                observed: percentiles(30.0),
                histogram: vec![
                    Bucket {
                        le_ms: 5.0,
                        count: 20,
                    },
                    Bucket {
                        le_ms: 10.0,
                        count: 100,
                    },
                    Bucket {
                        le_ms: 50.0,
                        count: 150,
                    },
                    Bucket {
                        le_ms: 100.0,
                        count: 30,
                    },
                ],
                last_decided_after_seconds: Some(3.2),
                told_after_decision: Some(percentiles(15.0)),
                peak_sockets: Some(300),
            }),
            oversubscription: vec![Oversubscription {
                course_id: 7,
                code: "CSE101-01".to_owned(),
                capacity: 40,
                demand: 300,
                ratio: 7.5,
            }],
            timeline: (0..5)
                .map(|second| Tick {
                    second,
                    phase: if second < 2 { "browse" } else { "rush" }.to_owned(),
                    requests: 1000 + second * 10,
                    failures: second % 2,
                    p50_ms: 2.0,
                    p99_ms: 8.0 + second as f64,
                    corrected_p99_ms: 12.0 + second as f64,
                    admitted: if second < 2 { 0 } else { 100 },
                    queue_depth: (second >= 2).then_some(50 * second),
                })
                .collect(),
            errors: BTreeMap::from([("POST enrollments: 500 INTERNAL".to_owned(), 2)]),
            audit: AuditResult {
                ran: true,
                fifo: true,
                findings: vec![AuditFinding {
                    check: "course_over_capacity".to_owned(),
                    count: 1,
                    examples: vec!["CSE101-01: 41/40".to_owned()],
                }],
            },
            slos: vec![
                SloResult {
                    objective: "corrected p99 of POST enrollments ≤ 25 ms".to_owned(),
                    limit: 25.0,
                    actual: 18.0,
                    passed: true,
                },
                SloResult {
                    objective: "unexpected answers = 0".to_owned(),
                    limit: 0.0,
                    actual: 2.0,
                    passed: false,
                },
            ],
            passed: false,
        }
    }
}
