//! `report.md`: the report as Markdown, for people and for pasting into an issue.

use super::format::{ms, peak_memory, ratio, round};
use super::report::Report;

/// The whole report as Markdown.
pub fn render(report: &Report) -> String {
    let run = &report.run;
    let mut out = format!(
        "# classmate bench: {}\n\n{}\n\nStarted {}, {:.1} s against {}, mode `{}`, search \
         `{}`. Result: **{}**. Peak resident memory: {}.\n\n## How it was simulated\n\n{}\n",
        run.scenario,
        run.description,
        run.started_at,
        run.duration_seconds,
        run.target,
        run.mode,
        run.search.as_deref().unwrap_or("tantivy"),
        if report.passed { "passed" } else { "FAILED" },
        peak_memory(run.peak_memory_mib),
        run.simulation,
    );
    match &report.calibration {
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
    for p in &report.phases {
        out.push_str(&format!(
            "| {} | {} | {:.1} | {} | {:.0} | {} | {} |\n",
            p.label(),
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
    for r in &report.requests {
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
    let codes: Vec<String> = report
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
    if let Some(d) = &report.decisions {
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
        if let Some(t) = &d.told_after_decision {
            out.push_str(&format!(
                "| told on the student's own socket, after the decision | {} | {} | {} | {} | {} |\n",
                ms(t.p50_ms),
                ms(t.p90_ms),
                ms(t.p99_ms),
                ms(t.p999_ms),
                ms(t.max_ms),
            ));
        }
        if let Some(s) = d.last_decided_after_seconds {
            out.push_str(&format!(
                "\nThe last ticket was decided {s:.2} s after the phase began.\n"
            ));
        }
        if let Some(peak) = d.peak_sockets {
            out.push_str(&format!(
                "\nStudents' own WebSockets open at once, at most: {peak}.\n"
            ));
        }
    }
    if !report.oversubscription.is_empty() {
        out.push_str(
            "\n## Hot courses\n\n| course | capacity | students wanting it | ratio |\n\
             | --- | ---: | ---: | ---: |\n",
        );
        for o in &report.oversubscription {
            out.push_str(&format!(
                "| {} | {} | {} | {:.1}× |\n",
                o.code, o.capacity, o.demand, o.ratio
            ));
        }
    }
    out.push_str("\n## SLOs\n\n");
    if report.slos.is_empty() {
        out.push_str("None set.\n");
    }
    for s in &report.slos {
        out.push_str(&format!(
            "- {} {}: {} (limit {})\n",
            if s.passed { "✓" } else { "✗" },
            s.objective,
            round(s.actual),
            round(s.limit)
        ));
    }
    out.push_str("\n## Unexpected answers\n\n");
    if report.errors.is_empty() {
        out.push_str("None.\n");
    }
    for (error, n) in &report.errors {
        out.push_str(&format!("- {n} × {error}\n"));
    }
    out.push_str("\n## Audit\n\n");
    if !report.audit.ran {
        out.push_str("Not run: this scenario does not enroll, or the database was not given.\n");
    } else if report.audit.findings.is_empty() {
        out.push_str(&report.audit.clean());
        out.push('\n');
    }
    for f in &report.audit.findings {
        out.push_str(&format!(
            "- **{}**: {} (e.g. {})\n",
            f.check,
            f.count,
            f.examples.join(", ")
        ));
    }
    out
}
