//! The scenario's SLOs judged against a report: each objective, the figure it was measured
//! against, and whether it held. Only the phases the scenario marks as judged count.

use super::report::{Percentiles, Report, SloResult};
use super::scenario::{LatencySlo, Scenario};

fn at(p: &Percentiles, percentile: f64) -> f64 {
    match percentile {
        50.0 => p.p50_ms,
        90.0 => p.p90_ms,
        99.0 => p.p99_ms,
        _ => p.p999_ms,
    }
}

/// Every SLO of `scenario` against `report`. A latency SLO on a request the judged phases never
/// sent fails: an objective that measured nothing proves nothing.
pub fn judge(scenario: &Scenario, report: &Report) -> Vec<SloResult> {
    let gated: Vec<&str> = scenario
        .phases
        .iter()
        .filter(|p| p.gated)
        .map(|p| p.name.as_str())
        .collect();
    let judged = || {
        report
            .requests
            .iter()
            .filter(|r| gated.contains(&r.phase.as_str()))
    };
    let mut results = Vec::new();
    if let Some(limit) = scenario.slo.error_rate {
        let count: u64 = judged().map(|r| r.count).sum();
        let failures: u64 = judged().map(|r| r.failures).sum();
        let rate = failures as f64 / count.max(1) as f64;
        results.push(SloResult {
            objective: "unexpected answers / requests".into(),
            limit,
            actual: rate,
            passed: rate <= limit && count > 0,
        });
    }
    for slo in &scenario.slo.latency {
        let worst = judged()
            .filter(|r| r.name == slo.request)
            .map(|r| {
                at(
                    if slo.corrected {
                        &r.corrected
                    } else {
                        &r.latency
                    },
                    slo.percentile,
                )
            })
            .fold(None, |worst: Option<f64>, v| {
                Some(worst.map_or(v, |w| w.max(v)))
            });
        results.push(latency(slo, &slo.request, worst));
    }
    for phase in report.phases.iter().filter(|p| p.gated) {
        if let Some(limit) = phase.limit_seconds {
            results.push(SloResult {
                objective: format!("steps of {} cut off at its {limit} s limit", phase.name),
                limit: 0.0,
                actual: phase.cut_off as f64,
                passed: phase.cut_off == 0,
            });
        }
    }
    if let Some(limit) = scenario.slo.peak_memory_mib {
        let peak = report.run.peak_memory_mib;
        let missing = match peak {
            Some(_) => "",
            None => " (not measured: the server runs in another process)",
        };
        results.push(SloResult {
            objective: format!("peak resident memory ≤ {limit} MiB{missing}"),
            limit,
            actual: peak.unwrap_or(0.0),
            passed: peak.is_some_and(|p| p <= limit),
        });
    }
    if let Some(slo) = &scenario.slo.decision {
        // In direct mode the answer to the enrollment request is the decision.
        let (what, value) = match report.run.mode.as_str() {
            "direct" => (
                "time to decision (direct: POST enrollments, corrected)",
                judged()
                    .filter(|r| r.name == "POST enrollments")
                    .map(|r| at(&r.corrected, slo.percentile))
                    .reduce(f64::max),
            ),
            _ => (
                "time to decision (server)",
                report
                    .decisions
                    .as_ref()
                    .filter(|d| d.followed > 0)
                    .map(|d| at(&d.server, slo.percentile)),
            ),
        };
        results.push(latency(slo, what, value));
    }
    results
}

fn latency(slo: &LatencySlo, what: &str, value: Option<f64>) -> SloResult {
    let kind = match slo.corrected {
        true => "corrected ",
        false => "",
    };
    let missing = match value {
        Some(_) => "",
        None => " (nothing measured)",
    };
    SloResult {
        objective: format!(
            "{kind}p{} of {what} ≤ {} ms{missing}",
            slo.percentile, slo.max_ms
        ),
        limit: slo.max_ms,
        actual: value.unwrap_or(0.0),
        passed: value.is_some_and(|v| v <= slo.max_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::fixtures::sample_report;

    const SCENARIO: &str = r#"
name = "x"
description = "x"
students = 300
lanes = 10
[catalog]
courses = 10
students = 300
[[phase]]
name = "browse"
steps = ["courses"]
gated = false
[[phase]]
name = "rush"
steps = ["enroll"]
[slo]
error_rate = 0.01
[[slo.latency]]
request = "POST enrollments"
percentile = 99
max_ms = 20
[[slo.latency]]
request = "GET tickets"
percentile = 99
max_ms = 1
corrected = false
[[slo.latency]]
request = "DELETE cart"
percentile = 50
max_ms = 1000
[slo.decision]
percentile = 99
max_ms = 50
"#;

    #[test]
    fn each_objective_is_judged_on_the_judged_phases() {
        let scenario = Scenario::parse(SCENARIO).unwrap();
        let mut report = sample_report();
        let verdicts: Vec<(String, f64, bool)> = judge(&scenario, &report)
            .into_iter()
            .map(|s| (s.objective, s.actual, s.passed))
            .collect();
        // Rush only: 4 unexpected answers in 2,000 requests.
        assert_eq!(verdicts[0].1, 0.002);
        assert!(verdicts[0].2);
        // Corrected p99 of POST enrollments is 18 ms; GET tickets as served 4 ms.
        assert_eq!((verdicts[1].1, verdicts[1].2), (18.0, true));
        assert_eq!((verdicts[2].1, verdicts[2].2), (4.0, false));
        // A request never sent proves nothing, so it fails.
        assert!(verdicts[3].0.contains("nothing measured") && !verdicts[3].2);
        // Time to decision: the tickets' server-side p99, 80 ms.
        assert_eq!((verdicts[4].1, verdicts[4].2), (80.0, false));

        // In direct mode the answer is the decision: judged on POST enrollments, corrected.
        report.run.mode = "direct".into();
        let direct = judge(&scenario, &report).pop().unwrap();
        assert!(direct.objective.contains("direct"), "{}", direct.objective);
        assert_eq!((direct.actual, direct.passed), (18.0, true));
    }

    #[test]
    fn peak_memory_is_judged_only_where_it_was_measured() {
        let text = SCENARIO.replace("error_rate = 0.01", "peak_memory_mib = 200");
        let scenario = Scenario::parse(&text).unwrap();
        let mut report = sample_report();
        let memory = |report: &Report| {
            judge(&scenario, report)
                .into_iter()
                .find(|s| s.objective.contains("memory"))
                .expect("the memory objective")
        };
        let held = memory(&report);
        assert_eq!(
            (held.actual, held.passed),
            (180.5, true),
            "{}",
            held.objective
        );
        report.run.peak_memory_mib = Some(700.0);
        assert!(!memory(&report).passed);
        report.run.peak_memory_mib = None;
        let unmeasured = memory(&report);
        assert!(!unmeasured.passed && unmeasured.objective.contains("not measured"));
    }

    #[test]
    fn a_phase_cut_off_at_its_limit_misses() {
        let scenario = Scenario::parse(SCENARIO).unwrap();
        let mut report = sample_report();
        let limit = |report: &Report| {
            judge(&scenario, report)
                .into_iter()
                .find(|s| s.objective.contains("cut off"))
        };
        assert!(limit(&report).is_none(), "no phase has a limit");
        report.phases[1].limit_seconds = Some(60.0);
        assert!(limit(&report).is_some_and(|s| s.passed));
        report.phases[1].cut_off = 1234;
        let missed = limit(&report).expect("the limit objective");
        assert_eq!((missed.actual, missed.passed), (1234.0, false));
        // A phase the SLOs do not judge is not held to its limit.
        report.phases[1].gated = false;
        assert!(limit(&report).is_none());
    }
}
