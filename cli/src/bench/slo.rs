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
    if let Some(slo) = &scenario.slo.decision {
        let value = report
            .decisions
            .as_ref()
            .filter(|d| d.followed > 0)
            .map(|d| at(&d.server, slo.percentile));
        results.push(latency(slo, "time to decision (server)", value));
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
