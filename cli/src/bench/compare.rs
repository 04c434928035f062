//! `classmate bench compare A B`: what changed from one run's report to another's, and whether
//! any of it is a regression, so a change to the server is judged by numbers and not by eye.

use std::path::PathBuf;

use anyhow::Context;

use super::report::{Report, RequestStats};

/// Settings of `classmate bench compare`.
#[derive(clap::Args)]
pub struct CompareArgs {
    /// The baseline run (A): a report directory or its report.json.
    pub baseline: PathBuf,
    /// The run to judge against it (B): a report directory or its report.json.
    pub candidate: PathBuf,
    /// How many percent worse a figure may get before it counts as a regression.
    #[arg(long = "threshold", default_value_t = 10.0)]
    pub threshold_percent: f64,
}

/// Prints what changed from A to B; returns whether nothing regressed.
pub fn run(args: &CompareArgs) -> anyhow::Result<bool> {
    anyhow::ensure!(
        args.threshold_percent.is_finite() && args.threshold_percent >= 0.0,
        "--threshold is a percentage of at least 0, not {}",
        args.threshold_percent
    );
    let load = |which: &str, path: &std::path::Path| {
        Report::read(path).with_context(|| format!("cannot load {which} {}", path.display()))
    };
    let baseline = load("the baseline", &args.baseline)?;
    let candidate = load("the candidate", &args.candidate)?;
    for (label, path, report) in [
        ("A", &args.baseline, &baseline),
        ("B", &args.candidate, &candidate),
    ] {
        println!(
            "{label}: {} ({}, started {})",
            path.display(),
            report.run.scenario,
            report.run.started_at
        );
    }
    if baseline.run.scenario != candidate.run.scenario {
        println!("note: the two runs are of different scenarios; only matching requests compare");
    }
    println!();
    let comparison = compare(&baseline, &candidate, args.threshold_percent);
    print!("{}", render(&comparison));
    Ok(comparison.regressions == 0)
}

/// Which way a figure should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
    /// Shown for context, never judged.
    Neither,
}

/// What a figure measures: how it is shown, and how much of its change is noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    PerSecond,
    Milliseconds,
    Seconds,
    /// A fraction, shown in percent.
    Share,
    /// Whether the run passed: 1 for passed, 0 for FAILED.
    Outcome,
}

impl Unit {
    /// Changes smaller than this are never judged, whatever their percentage: timings below a
    /// millisecond move that much from run to run on an unchanged server.
    fn noise(self) -> f64 {
        match self {
            Unit::Milliseconds => 0.5,
            Unit::Seconds => 0.0005,
            Unit::PerSecond | Unit::Share | Unit::Outcome => 0.0,
        }
    }

    fn show(self, value: f64) -> String {
        match self {
            Unit::PerSecond => format!("{value:.1}/s"),
            Unit::Milliseconds => format!("{value:.2} ms"),
            Unit::Seconds => format!("{value:.2} s"),
            Unit::Share => format!("{:.2}%", value * 100.0),
            Unit::Outcome if value > 0.0 => "passed".to_owned(),
            Unit::Outcome => "FAILED".to_owned(),
        }
    }
}

/// How a figure fared from A to B.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the threshold either way, or a change too small to judge.
    Unchanged,
    /// Better by more than the threshold.
    Improved,
    /// Worse by more than the threshold.
    Regression,
    /// Shown for context, never judged.
    Informational,
    /// Only in B.
    Added,
    /// Only in A.
    Removed,
}

/// One compared figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// What is compared, e.g. `rush / POST enrollments: p99`.
    pub metric: String,
    pub unit: Unit,
    /// A's figure; `None` when only B has it.
    pub baseline: Option<f64>,
    /// B's figure; `None` when only A has it.
    pub candidate: Option<f64>,
    /// `(B − A) / A` in percent, when both exist and A is not zero.
    pub change_percent: Option<f64>,
    pub verdict: Verdict,
}

/// Every compared figure of two reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub rows: Vec<Row>,
    /// Rows whose verdict is [`Verdict::Regression`].
    pub regressions: usize,
    /// How many percent worse counted as a regression.
    pub threshold_percent: f64,
}

/// Compares B (`b`) with the baseline A (`a`): requests matched by phase and name, time to
/// decision, the generator's ceiling (for context) and the outcome.
pub fn compare(a: &Report, b: &Report, threshold_percent: f64) -> Comparison {
    let judge = Judge { threshold_percent };
    let outcome = |r: &Report| Some(if r.passed { 1.0 } else { 0.0 });
    let mut rows = Vec::new();
    rows.extend(judge.row(
        "result".to_owned(),
        Unit::Outcome,
        Better::Higher,
        outcome(a),
        outcome(b),
    ));
    let ceiling = |r: &Report| r.calibration.as_ref().map(|c| c.per_second);
    rows.extend(judge.row(
        "calibration: GET /healthz".to_owned(),
        Unit::PerSecond,
        Better::Neither,
        ceiling(a),
        ceiling(b),
    ));

    let key = |r: &RequestStats| (r.phase.clone(), r.name.clone());
    for before in &a.requests {
        match b.requests.iter().find(|after| key(after) == key(before)) {
            Some(after) => rows.extend(judge.request(before, after)),
            None => rows.push(only_in_one(before, Verdict::Removed)),
        }
    }
    for after in &b.requests {
        if !a.requests.iter().any(|before| key(before) == key(after)) {
            rows.push(only_in_one(after, Verdict::Added));
        }
    }

    let server = |r: &Report| r.decisions.as_ref().map(|d| d.server.p99_ms);
    let observed = |r: &Report| r.decisions.as_ref().map(|d| d.observed.p99_ms);
    let last = |r: &Report| {
        r.decisions
            .as_ref()
            .and_then(|d| d.last_decided_after_seconds)
    };
    let decision_figures = [
        (
            "time to decision: server p99",
            Unit::Milliseconds,
            server(a),
            server(b),
        ),
        (
            "time to decision: observed p99",
            Unit::Milliseconds,
            observed(a),
            observed(b),
        ),
        (
            "time to decision: last decided after",
            Unit::Seconds,
            last(a),
            last(b),
        ),
    ];
    for (metric, unit, before, after) in decision_figures {
        rows.extend(judge.row(metric.to_owned(), unit, Better::Lower, before, after));
    }

    let regressions = rows
        .iter()
        .filter(|r| r.verdict == Verdict::Regression)
        .count();
    Comparison {
        rows,
        regressions,
        threshold_percent,
    }
}

/// The comparison as an aligned plain-text table, with a closing line that counts regressions.
pub fn render(comparison: &Comparison) -> String {
    let mut lines = vec![[
        "metric".to_owned(),
        "A".to_owned(),
        "B".to_owned(),
        "change".to_owned(),
        String::new(),
    ]];
    for row in &comparison.rows {
        let show = |value: Option<f64>| value.map_or("–".to_owned(), |v| row.unit.show(v));
        let change = match (row.unit, row.change_percent) {
            (Unit::Outcome, _) | (_, None) => "–".to_owned(),
            (_, Some(c)) => format!("{c:+.1}%"),
        };
        let marker = match row.verdict {
            Verdict::Unchanged => "",
            Verdict::Improved => "improved",
            Verdict::Regression => "REGRESSION",
            Verdict::Informational => "info",
            Verdict::Added => "added",
            Verdict::Removed => "removed",
        };
        lines.push([
            row.metric.clone(),
            show(row.baseline),
            show(row.candidate),
            change,
            marker.to_owned(),
        ]);
    }
    let mut widths = [0; 5];
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for [metric, before, after, change, marker] in &lines {
        let line = format!(
            "{metric:<w0$}  {before:>w1$}  {after:>w2$}  {change:>w3$}  {marker}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let threshold = comparison.threshold_percent;
    match comparison.regressions {
        0 => out.push_str(&format!(
            "\nNo regression (threshold {threshold}%, latency changes under 0.5 ms ignored).\n"
        )),
        n => out.push_str(&format!(
            "\n{n} REGRESSION{} (worse by more than {threshold}%, latency changes under 0.5 ms \
             ignored).\n",
            if n == 1 { "" } else { "S" }
        )),
    }
    out
}

/// A request only one of the two runs sent: listed, not judged.
fn only_in_one(request: &RequestStats, verdict: Verdict) -> Row {
    let rate = Some(request.per_second);
    Row {
        metric: format!("{} / {}", request.phase, request.name),
        unit: Unit::PerSecond,
        baseline: if verdict == Verdict::Removed {
            rate
        } else {
            None
        },
        candidate: if verdict == Verdict::Added {
            rate
        } else {
            None
        },
        change_percent: None,
        verdict,
    }
}

/// Decides each row's verdict against one threshold.
struct Judge {
    threshold_percent: f64,
}

impl Judge {
    /// The figures of one request both runs sent.
    fn request(&self, a: &RequestStats, b: &RequestStats) -> Vec<Row> {
        let name = |figure: &str| format!("{} / {}: {figure}", a.phase, a.name);
        let failure_rate = |r: &RequestStats| match r.count {
            0 => 0.0,
            n => r.failures as f64 / n as f64,
        };
        let figures = [
            (
                "per second",
                Unit::PerSecond,
                Better::Higher,
                a.per_second,
                b.per_second,
            ),
            (
                "p50",
                Unit::Milliseconds,
                Better::Lower,
                a.latency.p50_ms,
                b.latency.p50_ms,
            ),
            (
                "p99",
                Unit::Milliseconds,
                Better::Lower,
                a.latency.p99_ms,
                b.latency.p99_ms,
            ),
            (
                "corrected p99",
                Unit::Milliseconds,
                Better::Lower,
                a.corrected.p99_ms,
                b.corrected.p99_ms,
            ),
            (
                "failure rate",
                Unit::Share,
                Better::Lower,
                failure_rate(a),
                failure_rate(b),
            ),
        ];
        figures
            .into_iter()
            .filter_map(|(figure, unit, better, before, after)| {
                self.row(name(figure), unit, better, Some(before), Some(after))
            })
            .collect()
    }

    /// One figure's row; `None` when neither run has it.
    fn row(
        &self,
        metric: String,
        unit: Unit,
        better: Better,
        baseline: Option<f64>,
        candidate: Option<f64>,
    ) -> Option<Row> {
        let (change_percent, verdict) = match (baseline, candidate) {
            (None, None) => return None,
            (None, Some(_)) => (None, Verdict::Added),
            (Some(_), None) => (None, Verdict::Removed),
            (Some(a), Some(b)) => (change_percent(a, b), self.verdict(unit, better, a, b)),
        };
        Some(Row {
            metric,
            unit,
            baseline,
            candidate,
            change_percent,
            verdict,
        })
    }

    fn verdict(&self, unit: Unit, better: Better, a: f64, b: f64) -> Verdict {
        // How much worse B is, in the figure's own unit; negative when it is better.
        let worse_by = match better {
            Better::Higher => a - b,
            Better::Lower => b - a,
            Better::Neither => return Verdict::Informational,
        };
        if worse_by == 0.0 || worse_by.abs() < unit.noise() || worse_by.is_nan() {
            return Verdict::Unchanged;
        }
        // A passed run that now fails is a regression however the threshold is set; from zero,
        // any worsening is (a new failure where there was none).
        let worse_percent = match unit {
            Unit::Outcome => worse_by.signum() * f64::INFINITY,
            _ => worse_by / a.abs() * 100.0,
        };
        if worse_percent > self.threshold_percent {
            Verdict::Regression
        } else if worse_percent < -self.threshold_percent {
            Verdict::Improved
        } else {
            Verdict::Unchanged
        }
    }
}

/// `(b − a) / a` in percent; `None` from zero to anything else.
fn change_percent(a: f64, b: f64) -> Option<f64> {
    if a == b {
        Some(0.0)
    } else if a == 0.0 {
        None
    } else {
        Some((b - a) / a.abs() * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::fixtures::{request, sample_report};

    fn row<'a>(comparison: &'a Comparison, metric: &str) -> &'a Row {
        comparison
            .rows
            .iter()
            .find(|r| r.metric == metric)
            .unwrap_or_else(|| panic!("no row {metric:?} in {:#?}", comparison.rows))
    }

    #[test]
    fn the_same_report_has_no_regression() {
        let report = sample_report();
        let comparison = compare(&report, &report, 10.0);
        assert_eq!(comparison.regressions, 0);
        assert!(
            comparison
                .rows
                .iter()
                .all(|r| matches!(r.verdict, Verdict::Unchanged | Verdict::Informational))
        );
        // Result, calibration, 5 per request of 3, and 3 of time to decision.
        assert_eq!(comparison.rows.len(), 2 + 5 * 3 + 3);
        assert!(render(&comparison).contains("No regression"));
    }

    #[test]
    fn a_doubled_p99_is_a_regression() {
        let a = sample_report();
        let mut b = a.clone();
        b.requests[1].latency.p99_ms *= 2.0;
        let comparison = compare(&a, &b, 10.0);
        let p99 = row(&comparison, "rush / POST enrollments: p99");
        assert_eq!(p99.verdict, Verdict::Regression);
        assert_eq!(p99.change_percent, Some(100.0));
        assert_eq!(comparison.regressions, 1);

        let text = render(&comparison);
        let line = text
            .lines()
            .find(|l| l.starts_with("rush / POST enrollments: p99 "))
            .expect("the p99 line");
        assert!(line.ends_with("REGRESSION"), "{line}");
        assert!(line.contains("+100.0%"), "{line}");
        assert!(text.contains("1 REGRESSION (worse by more than 10%"));
    }

    #[test]
    fn a_sub_millisecond_increase_is_noise() {
        let mut a = sample_report();
        a.requests[2].latency.p99_ms = 1.0;
        let mut b = a.clone();
        b.requests[2].latency.p99_ms = 1.2;
        let comparison = compare(&a, &b, 10.0);
        let p99 = row(&comparison, "rush / GET tickets: p99");
        let change = p99.change_percent.expect("both have it");
        assert!((change - 20.0).abs() < 1e-9, "{change}");
        assert_eq!(p99.verdict, Verdict::Unchanged);
        assert_eq!(comparison.regressions, 0);
    }

    #[test]
    fn higher_throughput_is_an_improvement() {
        let a = sample_report();
        let mut b = a.clone();
        b.requests[1].per_second *= 1.5;
        let comparison = compare(&a, &b, 10.0);
        let rate = row(&comparison, "rush / POST enrollments: per second");
        assert_eq!(rate.verdict, Verdict::Improved);
        assert_eq!(comparison.regressions, 0);

        let mut slower = a.clone();
        slower.requests[1].per_second *= 0.5;
        assert_eq!(compare(&a, &slower, 10.0).regressions, 1);
    }

    #[test]
    fn requests_in_one_run_only_are_listed_not_judged() {
        let a = sample_report();
        let mut b = a.clone();
        b.requests
            .push(request("rush", "DELETE enrollments", 50.0, 2.0));
        b.requests.retain(|r| r.name != "GET courses");
        let comparison = compare(&a, &b, 10.0);
        let added = row(&comparison, "rush / DELETE enrollments");
        assert_eq!((added.verdict, added.baseline), (Verdict::Added, None));
        let removed = row(&comparison, "browse / GET courses");
        assert_eq!(
            (removed.verdict, removed.candidate),
            (Verdict::Removed, None)
        );
        assert_eq!(comparison.regressions, 0);
        let text = render(&comparison);
        assert!(text.contains("added") && text.contains("removed"));
    }

    #[test]
    fn the_ceiling_is_context_and_a_newly_failed_run_is_a_regression() {
        let mut a = sample_report();
        a.passed = true;
        let mut b = a.clone();
        b.passed = false;
        if let Some(c) = &mut b.calibration {
            c.per_second /= 2.0;
        }
        let comparison = compare(&a, &b, 500.0);
        assert_eq!(
            row(&comparison, "calibration: GET /healthz").verdict,
            Verdict::Informational
        );
        assert_eq!(row(&comparison, "result").verdict, Verdict::Regression);
        assert_eq!(comparison.regressions, 1);
        assert!(render(&comparison).contains("FAILED"));
    }

    #[test]
    fn new_failures_and_slower_decisions_are_regressions() {
        let mut a = sample_report();
        a.requests[0].failures = 0;
        let mut b = a.clone();
        b.requests[0].failures = 1;
        if let Some(d) = &mut b.decisions {
            d.server.p99_ms *= 3.0;
            d.last_decided_after_seconds = Some(10.0);
        }
        let comparison = compare(&a, &b, 10.0);
        let failures = row(&comparison, "browse / GET courses: failure rate");
        assert_eq!(
            (failures.verdict, failures.change_percent),
            (Verdict::Regression, None)
        );
        assert_eq!(
            row(&comparison, "time to decision: server p99").verdict,
            Verdict::Regression
        );
        assert_eq!(
            row(&comparison, "time to decision: last decided after").verdict,
            Verdict::Regression
        );
        assert_eq!(comparison.regressions, 3);
    }

    #[test]
    fn the_table_is_aligned() {
        let report = sample_report();
        let text = render(&compare(&report, &report, 10.0));
        let lines: Vec<&str> = text.lines().take_while(|l| !l.is_empty()).collect();
        let header = lines[0];
        let b_column_end = header.find(" B").expect("B heading") + 2;
        for line in &lines[1..] {
            // Every B figure ends under the B heading.
            let prefix: String = line.chars().take(b_column_end).collect();
            assert!(!prefix.ends_with(' '), "{line:?}");
        }
    }
}
