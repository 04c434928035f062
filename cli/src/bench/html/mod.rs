//! `report.html`: the report as one page that opens offline. CSS is inline and the charts are
//! SVG drawn here, with no script, font or stylesheet fetched from anywhere, so a report copied
//! off the bench machine (or attached to an issue) still shows everything.

mod chart;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::format::{ms, peak_memory, ratio, round};
use super::report::{Percentiles, Report, Tick};
use chart::{Frame, Marker, Series, bar_chart, line_chart};

/// The whole report as a self-contained HTML page.
pub fn page(report: &Report) -> String {
    let sections = [
        header(report),
        calibration(report),
        phases(report),
        requests(report),
        timeline(report),
        decisions(report),
        hot_courses(report),
        slos(report),
        unexpected_answers(report),
        audit(report),
    ];
    format!(
        "<!doctype html>\n<html lang=\"ko\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>classmate bench: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         {}</main>\n</body>\n</html>\n",
        escape(&report.run.scenario),
        sections.concat()
    )
}

/// Text made safe to place in HTML content and in quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', 'Noto Sans KR', sans-serif;
  color: #1f2328; background: #fff; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem; }
h1 { margin: 0 0 .5rem; font-size: 1.6rem; }
h2 { margin-top: 2rem; font-size: 1.2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
.result { display: inline-block; font-weight: 700; padding: .15rem .6rem; border-radius: 4px; }
.result.passed { background: #dafbe1; color: #116329; }
.result.failed { background: #ffebe9; color: #a40e26; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
.facts dt { color: #59636e; }
.facts dd { margin: 0; }
.prose { white-space: pre-line; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .85rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: left; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; }
svg { max-width: 100%; height: auto; border: 1px solid #d0d7de; border-radius: 4px; }
svg text { font-size: 12px; fill: #1f2328; }
svg .title { font-size: 14px; font-weight: 700; }
svg .grid { stroke: #eaeef2; }
svg .axis { stroke: #59636e; }
svg .phase { stroke: #8c959f; stroke-dasharray: 4 3; }
svg .phase-label { fill: #59636e; font-size: 11px; }
.no-data { color: #59636e; font-style: italic; border: 1px dashed #d0d7de; padding: 1rem;
  border-radius: 4px; }
ul.slos { list-style: none; padding-left: 0; }
.ok { color: #116329; }
.bad { color: #a40e26; font-weight: 700; }
";

fn header(report: &Report) -> String {
    let run = &report.run;
    let (class, result) = match report.passed {
        true => ("passed", "passed"),
        false => ("failed", "FAILED"),
    };
    let unknown = || "unknown".to_owned();
    let facts = [
        ("started", run.started_at.clone()),
        ("duration", format!("{:.1} s", run.duration_seconds)),
        ("target", run.target.clone()),
        ("database", run.database.clone().unwrap_or_else(unknown)),
        ("queue", run.queue.clone().unwrap_or_else(unknown)),
        ("mode", run.mode.clone()),
        ("students", run.students.to_string()),
        ("lanes", run.lanes.to_string()),
        ("requests", report.total_requests().to_string()),
        ("peak memory", peak_memory(run.peak_memory_mib)),
    ];
    let mut list = String::new();
    for (term, value) in facts {
        let _ = writeln!(list, "<dt>{term}</dt><dd>{}</dd>", escape(&value));
    }
    format!(
        "<header>\n<h1>classmate bench: {}</h1>\n<p>Result: <span class=\"result {class}\">{result}\
         </span></p>\n<p class=\"prose\">{}</p>\n<dl class=\"facts\">\n{list}</dl>\n</header>\n{}",
        escape(&run.scenario),
        escape(&run.description),
        section(
            "How it was simulated",
            &format!("<p class=\"prose\">{}</p>\n", escape(&run.simulation))
        ),
    )
}

fn calibration(report: &Report) -> String {
    let body = match &report.calibration {
        Some(c) => format!(
            "<p>The generator's ceiling: {:.0} <code>GET /healthz</code> per second over {:.1} s \
             with {} lanes ({} requests; p50 {} ms, p99 {} ms). Generator and server share this \
             machine's cores, so rates below are also given as a share of it.</p>\n",
            c.per_second,
            c.seconds,
            c.lanes,
            c.requests,
            ms(c.latency.p50_ms),
            ms(c.latency.p99_ms)
        ),
        None => "<p>Skipped.</p>\n".to_owned(),
    };
    section("Calibration", &body)
}

fn phases(report: &Report) -> String {
    let rows: Vec<Vec<String>> = report
        .phases
        .iter()
        .map(|p| {
            vec![
                p.label(),
                format!("{:.1}", p.started_after_seconds),
                format!("{:.1}", p.duration_seconds),
                p.students.to_string(),
                p.requests.to_string(),
                format!("{:.0}", p.per_second),
                ratio(p.ceiling_ratio),
                if p.gated { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    let columns = [
        text("phase"),
        num("starts at s"),
        num("s"),
        num("students"),
        num("requests"),
        num("per s"),
        num("of ceiling"),
        text("SLOs apply"),
    ];
    section("Phases", &table(&columns, &rows))
}

fn requests(report: &Report) -> String {
    let figures = |p: &Percentiles| {
        [p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms]
            .into_iter()
            .map(ms)
    };
    let rows: Vec<Vec<String>> = report
        .requests
        .iter()
        .map(|r| {
            let mut row = vec![
                r.phase.clone(),
                r.name.clone(),
                r.count.to_string(),
                r.failures.to_string(),
                format!("{:.0}", r.per_second),
                ratio(r.ceiling_ratio),
            ];
            row.extend(figures(&r.latency));
            row.extend(figures(&r.corrected));
            row
        })
        .collect();
    let columns = [
        text("phase"),
        text("request"),
        num("count"),
        num("failures"),
        num("per s"),
        num("of ceiling"),
        num("p50"),
        num("p90"),
        num("p99"),
        num("p99.9"),
        num("max"),
        num("corrected p50"),
        num("corrected p90"),
        num("corrected p99"),
        num("corrected p99.9"),
        num("corrected max"),
    ];
    let answers: Vec<Vec<String>> = report
        .requests
        .iter()
        .map(|r| {
            let statuses: Vec<String> = r
                .statuses
                .iter()
                .map(|(k, v)| format!("{k} ×{v}"))
                .collect();
            let codes: Vec<String> = r.codes.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
            vec![
                r.phase.clone(),
                r.name.clone(),
                statuses.join(", "),
                codes.join(", "),
            ]
        })
        .collect();
    let body = format!(
        "<p>Latency in milliseconds as served, then corrected for coordinated omission (from when \
         the request was due).</p>\n{}<h3>Answers</h3>\n<p>By HTTP status and by error code \
         (expected ones included).</p>\n{}",
        table(&columns, &rows),
        table(
            &[
                text("phase"),
                text("request"),
                text("by status"),
                text("by code")
            ],
            &answers
        )
    );
    section("Requests", &body)
}

fn timeline(report: &Report) -> String {
    let ticks = &report.timeline;
    let second = |t: &Tick| t.second as f64;
    let markers: Vec<Marker> = report
        .phases
        .iter()
        .map(|p| Marker {
            at: p.started_after_seconds,
            label: &p.name,
        })
        .collect();
    let throughput = line_chart(
        &Frame {
            title: "Throughput",
            x_label: "seconds since the first phase began",
            y_label: "per second",
        },
        &[
            Series::new(
                "requests answered",
                ticks.iter().map(|t| (second(t), t.requests as f64)),
            ),
            Series::new(
                "unexpected answers",
                ticks.iter().map(|t| (second(t), t.failures as f64)),
            ),
        ],
        &markers,
    );
    // A second without answers has no latency; plotting it as 0 ms would look like a fast second.
    let answered = || ticks.iter().filter(|t| t.requests > 0);
    let latency = line_chart(
        &Frame {
            title: "Latency of the requests answered each second",
            x_label: "seconds since the first phase began",
            y_label: "ms (linear)",
        },
        &[
            Series::new("p50", answered().map(|t| (second(t), t.p50_ms))),
            Series::new("p99", answered().map(|t| (second(t), t.p99_ms))),
            Series::new(
                "corrected p99",
                answered().map(|t| (second(t), t.corrected_p99_ms)),
            ),
        ],
        &markers,
    );
    let mut body = throughput + &latency;
    if ticks.iter().any(|t| t.queue_depth.is_some()) {
        body += &line_chart(
            &Frame {
                title: "Queue",
                x_label: "seconds since the first phase began",
                y_label: "tickets",
            },
            &[
                Series::new(
                    "queue depth",
                    ticks
                        .iter()
                        .filter_map(|t| Some((second(t), t.queue_depth? as f64))),
                ),
                Series::new(
                    "admitted per second",
                    ticks.iter().map(|t| (second(t), t.admitted as f64)),
                ),
            ],
            &markers,
        );
    }
    section("Over time", &body)
}

fn decisions(report: &Report) -> String {
    let Some(d) = &report.decisions else {
        return String::new();
    };
    let listed = |map: &BTreeMap<String, u64>| match map.is_empty() {
        true => "none".to_owned(),
        false => {
            let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k} {v}")).collect();
            parts.join(", ")
        }
    };
    let row = |label: &str, p: &Percentiles| {
        let mut row = vec![label.to_owned()];
        row.extend(
            [p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms, p.max_ms]
                .into_iter()
                .map(ms),
        );
        row
    };
    let columns = [
        text(""),
        num("p50"),
        num("p90"),
        num("p99"),
        num("p99.9"),
        num("max"),
    ];
    let mut body = format!(
        "<p>{} tickets, {} followed to their end ({}; rejections: {}). Milliseconds from \
         admission (the 202) to the ticket's terminal state.</p>\n{}",
        d.tickets,
        d.followed,
        escape(&listed(&d.states)),
        escape(&listed(&d.codes)),
        table(
            &columns,
            &[
                row("server (decided − admitted)", &d.server),
                row("as the student saw it", &d.observed),
            ]
        )
    );
    if let Some(told) = &d.told_after_decision {
        let _ = writeln!(
            body,
            "<p>Told on the student's own socket, after the decision (ms):</p>\n{}",
            table(&columns, &[row("after the decision", told)])
        );
    }
    if let Some(peak) = d.peak_sockets {
        let _ = writeln!(
            body,
            "<p>Students' own WebSockets open at once, at most: {peak}.</p>"
        );
    }
    if let Some(s) = d.last_decided_after_seconds {
        let _ = writeln!(
            body,
            "<p>The last ticket was decided {s:.2} s after the phase began.</p>"
        );
    }
    let bars: Vec<(String, f64)> = d
        .histogram
        .iter()
        .map(|b| (format!("≤{}", round(b.le_ms)), b.count as f64))
        .collect();
    body += &bar_chart(
        &Frame {
            title: "Time to decision (server side)",
            x_label: "decided within (ms; each bar counts the tickets above the previous bound)",
            y_label: "tickets",
        },
        "tickets",
        &bars,
    );
    section("Time to decision", &body)
}

fn hot_courses(report: &Report) -> String {
    if report.oversubscription.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = report
        .oversubscription
        .iter()
        .map(|o| {
            vec![
                o.code.clone(),
                o.course_id.to_string(),
                o.capacity.to_string(),
                o.demand.to_string(),
                format!("{:.1}×", o.ratio),
            ]
        })
        .collect();
    let columns = [
        text("course"),
        num("id"),
        num("capacity"),
        num("students wanting it"),
        num("ratio"),
    ];
    section("Hot courses", &table(&columns, &rows))
}

fn slos(report: &Report) -> String {
    if report.slos.is_empty() {
        return section("SLOs", "<p>None set.</p>\n");
    }
    let mut list = String::from("<ul class=\"slos\">\n");
    for s in &report.slos {
        let (class, mark) = match s.passed {
            true => ("ok", "✓"),
            false => ("bad", "✗"),
        };
        let _ = writeln!(
            list,
            "<li><span class=\"{class}\">{mark}</span> {}: {} (limit {})</li>",
            escape(&s.objective),
            round(s.actual),
            round(s.limit)
        );
    }
    list.push_str("</ul>\n");
    section("SLOs", &list)
}

fn unexpected_answers(report: &Report) -> String {
    if report.errors.is_empty() {
        return section("Unexpected answers", "<p>None.</p>\n");
    }
    let mut list = String::from("<ul>\n");
    for (error, n) in &report.errors {
        let _ = writeln!(list, "<li>{n} × {}</li>", escape(error));
    }
    list.push_str("</ul>\n");
    section("Unexpected answers", &list)
}

fn audit(report: &Report) -> String {
    let audit = &report.audit;
    if !audit.ran {
        return section(
            "Audit",
            "<p>Not run: this scenario does not enroll, or the database was not given.</p>\n",
        );
    }
    if audit.findings.is_empty() {
        return section(
            "Audit",
            &format!("<p class=\"ok\">{}</p>\n", escape(&audit.clean())),
        );
    }
    let mut list = String::from("<ul>\n");
    for f in &audit.findings {
        let _ = writeln!(
            list,
            "<li><strong class=\"bad\">{}</strong>: {} (e.g. {})</li>",
            escape(&f.check),
            f.count,
            escape(&f.examples.join(", "))
        );
    }
    list.push_str("</ul>\n");
    section("Audit", &list)
}

fn section(title: &str, body: &str) -> String {
    format!("<section>\n<h2>{}</h2>\n{body}</section>\n", escape(title))
}

/// A table column: its heading and whether its cells are numbers (right-aligned).
struct Column {
    title: &'static str,
    numeric: bool,
}

fn text(title: &'static str) -> Column {
    Column {
        title,
        numeric: false,
    }
}

fn num(title: &'static str) -> Column {
    Column {
        title,
        numeric: true,
    }
}

/// A table of plain-text cells, escaped here.
fn table(columns: &[Column], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return "<p class=\"no-data\">None.</p>\n".to_owned();
    }
    let class = |c: &Column| if c.numeric { " class=\"num\"" } else { "" };
    let mut out = String::from("<div class=\"scroll\"><table>\n<thead><tr>");
    for c in columns {
        let _ = write!(out, "<th{}>{}</th>", class(c), escape(c.title));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (c, cell) in columns.iter().zip(row) {
            let _ = write!(out, "<td{}>{}</td>", class(c), escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::fixtures::sample_report;

    #[test]
    fn the_page_has_every_section_and_a_chart_per_series() {
        let html = page(&sample_report());
        assert!(html.starts_with("<!doctype html>"));
        for heading in [
            "Calibration",
            "Phases",
            "Requests",
            "Over time",
            "Time to decision",
            "Hot courses",
            "SLOs",
            "Unexpected answers",
            "Audit",
        ] {
            assert!(html.contains(&format!("<h2>{heading}</h2>")), "{heading}");
        }
        // Throughput, latency, queue and time to decision.
        assert_eq!(html.matches("<svg").count(), 4);
        assert!(!html.contains("no data"));
        assert!(html.contains("class=\"result failed\">FAILED"));
        assert!(html.contains("✓") && html.contains("✗"));
        assert!(html.contains("course_over_capacity"));
        assert!(html.contains("CSE101-01"));
    }

    #[test]
    fn the_page_fetches_nothing() {
        let html = page(&sample_report());
        assert!(!html.contains("http://"));
        assert!(!html.contains("https://"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("<link"));
    }

    #[test]
    fn text_is_escaped() {
        let html = page(&sample_report());
        assert!(html.contains(
            "Everyone enrolls at 10:00 &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; waits"
        ));
        assert_eq!(escape("a\"b'c<d>e&f"), "a&quot;b&#39;c&lt;d&gt;e&amp;f");
    }

    #[test]
    fn empty_data_says_so_instead_of_drawing() {
        let mut report = sample_report();
        report.timeline.clear();
        report.decisions = None;
        let html = page(&report);
        assert_eq!(html.matches("<svg").count(), 0);
        assert!(html.contains("Throughput: no data."));
        assert!(html.contains("Latency of the requests answered each second: no data."));
        assert!(!html.contains("aria-label=\"Queue\""));
        assert!(!html.contains("Time to decision"));
        assert!(only_finite_numbers(&html));
    }

    #[test]
    fn a_timeline_without_a_watched_queue_has_no_queue_chart() {
        let mut report = sample_report();
        for tick in &mut report.timeline {
            tick.queue_depth = None;
        }
        let html = page(&report);
        assert_eq!(html.matches("<svg").count(), 3);
        assert!(!html.contains("aria-label=\"Queue\""));
    }

    #[test]
    fn an_empty_histogram_and_a_single_second_draw_without_dividing_by_zero() {
        let mut report = sample_report();
        report.timeline.truncate(1);
        report.timeline[0].requests = 0;
        report.timeline[0].failures = 0;
        if let Some(d) = &mut report.decisions {
            d.histogram.clear();
        }
        let html = page(&report);
        assert!(html.contains("Time to decision (server side): no data."));
        // The one second had no answers, so it has no latency to draw.
        assert!(html.contains("Latency of the requests answered each second: no data."));
        assert!(html.contains("aria-label=\"Throughput\""));
        assert!(only_finite_numbers(&html));
    }

    fn only_finite_numbers(html: &str) -> bool {
        !["NaN", "inf\"", "inf,", "\"inf", ",inf", "-inf"]
            .iter()
            .any(|bad| html.contains(bad))
    }
}
