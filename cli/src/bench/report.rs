//! The run's report, as `report.json` (versioned), `report.md` and `report.html` in
//! `reports/<time>-<scenario>/`: what was simulated and how, the generator's calibrated ceiling,
//! per request count, rate and latency percentiles (as served, and corrected for coordinated
//! omission), time to decision, the timeline, the audit and the SLOs that decide the exit code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    /// Distinct students simulated.
    pub students: u64,
    /// Goose users: each is one lane with one connection that plays many students.
    pub lanes: u64,
    /// How the students were simulated, in words.
    pub simulation: String,
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

    /// Markdown for people.
    pub fn markdown(&self) -> String {
        let run = &self.run;
        let mut out = format!(
            "# classmate bench: {}\n\n{}\n\nStarted {}, {:.1} s against {}, mode `{}`. \
             Result: **{}**.\n\n## How it was simulated\n\n{}\n",
            run.scenario,
            run.description,
            run.started_at,
            run.duration_seconds,
            run.target,
            run.mode,
            if self.passed { "passed" } else { "FAILED" },
            run.simulation,
        );
        match &self.calibration {
            Some(c) => out.push_str(&format!(
                "\n## Calibration\n\nThe generator's ceiling: {:.0} `GET /healthz` per second \
                 over {:.1} s with {} lanes (p50 {:.2} ms, p99 {:.2} ms). Generator and server \
                 share this machine's cores, so every rate below is also given as a share of it.\n",
                c.per_second, c.seconds, c.lanes, c.latency.p50_ms, c.latency.p99_ms
            )),
            None => out.push_str("\n## Calibration\n\nSkipped.\n"),
        }
        out.push_str(
            "\n## Phases\n\n| phase | students | s | requests | per s | of ceiling | SLOs |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | --- |\n",
        );
        for p in &self.phases {
            out.push_str(&format!(
                "| {} | {} | {:.1} | {} | {:.0} | {} | {} |\n",
                p.name,
                p.students,
                p.duration_seconds,
                p.requests,
                p.per_second,
                ratio(p.ceiling_ratio),
                if p.gated { "yes" } else { "no" }
            ));
        }
        out.push_str(
            "\n## Requests\n\nLatency as served, then corrected for coordinated omission \
             (from when the request was due).\n\n\
             | phase | request | count | failures | per s | of ceiling | p50 | p90 | p99 | p99.9 | \
             max | corrected p50 | corrected p99 | corrected max |\n\
             | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for r in &self.requests {
            let (l, c) = (&r.latency, &r.corrected);
            out.push_str(&format!(
                "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.phase,
                r.name,
                r.count,
                r.failures,
                r.per_second,
                ratio(r.ceiling_ratio),
                ms(l.p50_ms),
                ms(l.p90_ms),
                ms(l.p99_ms),
                ms(l.p999_ms),
                ms(l.max_ms),
                ms(c.p50_ms),
                ms(c.p99_ms),
                ms(c.max_ms),
            ));
        }
        let codes: Vec<String> = self
            .requests
            .iter()
            .filter(|r| !r.codes.is_empty())
            .map(|r| {
                let list: Vec<String> = r.codes.iter().map(|(k, v)| format!("{k} {v}")).collect();
                format!("- {} / {}: {}", r.phase, r.name, list.join(", "))
            })
            .collect();
        if !codes.is_empty() {
            out.push_str("\nAnswers by error code (expected ones included):\n\n");
            out.push_str(&codes.join("\n"));
            out.push('\n');
        }
        if let Some(d) = &self.decisions {
            let states: Vec<String> = d.states.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let codes: Vec<String> = d.codes.iter().map(|(k, v)| format!("{k} {v}")).collect();
            out.push_str(&format!(
                "\n## Time to decision\n\n{} tickets, {} followed to their end ({}; rejections: \
                 {}).\n\n| | p50 | p90 | p99 | p99.9 | max |\n| --- | ---: | ---: | ---: | ---: | ---: |\n\
                 | server (decided − admitted) | {} | {} | {} | {} | {} |\n\
                 | as the student saw it | {} | {} | {} | {} | {} |\n",
                d.tickets,
                d.followed,
                if states.is_empty() { "none".into() } else { states.join(", ") },
                if codes.is_empty() { "none".into() } else { codes.join(", ") },
                ms(d.server.p50_ms),
                ms(d.server.p90_ms),
                ms(d.server.p99_ms),
                ms(d.server.p999_ms),
                ms(d.server.max_ms),
                ms(d.observed.p50_ms),
                ms(d.observed.p90_ms),
                ms(d.observed.p99_ms),
                ms(d.observed.p999_ms),
                ms(d.observed.max_ms),
            ));
            if let Some(s) = d.last_decided_after_seconds {
                out.push_str(&format!(
                    "\nThe last ticket was decided {s:.2} s after the phase began.\n"
                ));
            }
        }
        if !self.oversubscription.is_empty() {
            out.push_str(
                "\n## Hot courses\n\n| course | capacity | students wanting it | ratio |\n\
                 | --- | ---: | ---: | ---: |\n",
            );
            for o in &self.oversubscription {
                out.push_str(&format!(
                    "| {} | {} | {} | {:.1}× |\n",
                    o.code, o.capacity, o.demand, o.ratio
                ));
            }
        }
        out.push_str("\n## SLOs\n\n");
        if self.slos.is_empty() {
            out.push_str("None set.\n");
        }
        for s in &self.slos {
            out.push_str(&format!(
                "- {} {}: {} (limit {})\n",
                if s.passed { "✓" } else { "✗" },
                s.objective,
                round(s.actual),
                round(s.limit)
            ));
        }
        out.push_str("\n## Unexpected answers\n\n");
        if self.errors.is_empty() {
            out.push_str("None.\n");
        }
        for (error, n) in &self.errors {
            out.push_str(&format!("- {n} × {error}\n"));
        }
        out.push_str("\n## Audit\n\n");
        if !self.audit.ran {
            out.push_str(
                "Not run: this scenario does not enroll, or the database was not given.\n",
            );
        } else if self.audit.findings.is_empty() {
            out.push_str(&self.audit.clean());
            out.push('\n');
        }
        for f in &self.audit.findings {
            out.push_str(&format!(
                "- **{}**: {} (e.g. {})\n",
                f.check,
                f.count,
                f.examples.join(", ")
            ));
        }
        out
    }

    /// The directory name under `reports/`: `<UTC time>-<scenario>`.
    pub fn directory_name(&self) -> String {
        let stamp: String = self
            .run
            .started_at
            .chars()
            .filter(|c| c.is_ascii_digit())
            .take(14)
            .collect();
        format!("{stamp}-{}", self.run.scenario)
    }

    /// Writes `report.json`, `report.md` and `report.html` under
    /// `reports/<time>-<scenario>/`; returns the directory.
    pub fn write(&self, reports: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(reports)?;
        // Two runs in one second get their own directories.
        let name = self.directory_name();
        let mut dir = reports.join(&name);
        let mut n = 1;
        while std::fs::create_dir(&dir).is_err() {
            n += 1;
            dir = reports.join(format!("{name}-{n}"));
            if n > 1000 {
                return Err(std::io::Error::other(format!(
                    "cannot create {}",
                    dir.display()
                )));
            }
        }
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("report.json"), json)?;
        std::fs::write(dir.join("report.md"), self.markdown())?;
        std::fs::write(dir.join("report.html"), super::html::page(self))?;
        Ok(dir)
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

/// Milliseconds, to a precision that suits their size.
pub(super) fn ms(value: f64) -> String {
    match value {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v => format!("{v:.2}"),
    }
}

/// A number without trailing zeros.
pub(super) fn round(value: f64) -> String {
    match value.fract() == 0.0 {
        true => format!("{value:.0}"),
        false => format!("{value:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned(),
    }
}

/// A share as a percentage; `–` when unknown.
pub(super) fn ratio(value: Option<f64>) -> String {
    value.map_or("–".into(), |r| format!("{:.0}%", r * 100.0))
}
