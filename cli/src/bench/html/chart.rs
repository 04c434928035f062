//! The report's charts as inline SVG: line charts with a legend and markers, and bar charts,
//! on round axis ticks. Nothing is fetched: the page must open offline.

use std::fmt::Write as _;

use super::escape;
use crate::bench::format::round;

/// Colours of a chart's series, in order.
const COLORS: [&str; 4] = ["#0969da", "#cf222e", "#8250df", "#1a7f37"];

/// A chart's words.
pub(super) struct Frame<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
}

/// One line of a line chart; its colour comes from its place in the chart.
pub(super) struct Series<'a> {
    name: &'a str,
    points: Vec<(f64, f64)>,
}

impl<'a> Series<'a> {
    pub(super) fn new(name: &'a str, points: impl Iterator<Item = (f64, f64)>) -> Self {
        Series {
            name,
            points: points
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect(),
        }
    }
}

/// A labelled vertical line across a chart, e.g. where a phase began.
pub(super) struct Marker<'a> {
    pub at: f64,
    pub label: &'a str,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 56.0;
const BOTTOM: f64 = 46.0;

/// Maps values in `lo..=hi` onto pixels `from..=to`; `hi > lo` by construction.
struct Scale {
    lo: f64,
    hi: f64,
    from: f64,
    to: f64,
}

impl Scale {
    fn at(&self, value: f64) -> f64 {
        self.from + (value - self.lo) / (self.hi - self.lo) * (self.to - self.from)
    }
}

/// The y scale from zero to a round number at or above `max`, with its tick values.
fn y_axis(max: f64) -> (Scale, Vec<f64>) {
    let max = if max > 0.0 { max } else { 1.0 };
    let step = round_step(max, 5.0);
    let hi = (max / step).ceil() * step;
    let scale = Scale {
        lo: 0.0,
        hi,
        from: HEIGHT - BOTTOM,
        to: TOP,
    };
    (scale, ticks(0.0, hi, step))
}

/// A round step (1, 2 or 5 × 10ⁿ) that cuts `span` into about `parts` pieces.
fn round_step(span: f64, parts: f64) -> f64 {
    let raw = span / parts;
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// The multiples of `step` within `lo..=hi`.
fn ticks(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// A tick's label, with as many decimals as the step needs.
fn tick_label(value: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{value:.decimals$}")
}

/// The chart's `<svg>` opening: title, legend, grid, axes and their labels. The caller draws
/// the marks and closes it.
fn open_chart(frame: &Frame, legend: &[&str], y: &Scale, y_ticks: &[f64]) -> String {
    let mut svg = format!(
        "<figure>\n<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         role=\"img\" aria-label=\"{title}\">\n<text class=\"title\" x=\"{LEFT}\" y=\"20\">\
         {title}</text>\n",
        title = escape(frame.title)
    );
    let mut x = LEFT;
    for (name, color) in legend.iter().zip(COLORS.iter().cycle()) {
        let _ = writeln!(
            svg,
            "<rect x=\"{x}\" y=\"33\" width=\"14\" height=\"4\" fill=\"{color}\"/>\
             <text x=\"{}\" y=\"39\">{}</text>",
            x + 18.0,
            escape(name)
        );
        x += 18.0 + 7.0 * name.chars().count() as f64 + 18.0;
    }
    let step = y_ticks.get(1).copied().unwrap_or(1.0) - y_ticks.first().copied().unwrap_or(0.0);
    for &tick in y_ticks {
        let at = y.at(tick);
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{at:.1}\" x2=\"{}\" y2=\"{at:.1}\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            at + 4.0,
            tick_label(tick, step)
        );
    }
    let (bottom, middle_x, middle_y) = (
        HEIGHT - BOTTOM,
        (LEFT + WIDTH - RIGHT) / 2.0,
        (TOP + HEIGHT - BOTTOM) / 2.0,
    );
    let _ = writeln!(
        svg,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\"/>\n\
         <text x=\"{middle_x}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n\
         <text x=\"16\" y=\"{middle_y}\" text-anchor=\"middle\" \
         transform=\"rotate(-90 16 {middle_y})\">{}</text>",
        WIDTH - RIGHT,
        HEIGHT - 8.0,
        escape(frame.x_label),
        escape(frame.y_label)
    );
    svg
}

/// An x-axis tick: its pixel position and label.
fn x_tick(svg: &mut String, at: f64, label: &str) {
    let bottom = HEIGHT - BOTTOM;
    let _ = writeln!(
        svg,
        "<line class=\"axis\" x1=\"{at:.1}\" y1=\"{bottom}\" x2=\"{at:.1}\" y2=\"{}\"/>\
         <text x=\"{at:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        bottom + 4.0,
        bottom + 16.0,
        escape(label)
    );
}

fn close_chart(mut svg: String) -> String {
    svg.push_str("</svg>\n</figure>\n");
    svg
}

/// What stands in for a chart that has nothing to draw.
fn no_data(frame: &Frame) -> String {
    format!(
        "<p class=\"no-data\">{}: no data.</p>\n",
        escape(frame.title)
    )
}

/// Lines over a shared linear x axis, with a y axis from zero.
pub(super) fn line_chart(frame: &Frame, series: &[Series], markers: &[Marker]) -> String {
    let points = || series.iter().flat_map(|s| s.points.iter());
    if points().next().is_none() {
        return no_data(frame);
    }
    let x_lo = points().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x_hi = points().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let x_hi = if x_hi > x_lo { x_hi } else { x_lo + 1.0 };
    let x = Scale {
        lo: x_lo,
        hi: x_hi,
        from: LEFT,
        to: WIDTH - RIGHT,
    };
    let (y, y_ticks) = y_axis(points().map(|p| p.1).fold(0.0, f64::max));
    let names: Vec<&str> = series.iter().map(|s| s.name).collect();
    let mut svg = open_chart(frame, &names, &y, &y_ticks);
    // The x axis is whole seconds: no tick between two of them.
    let step = round_step(x_hi - x_lo, 8.0).max(1.0);
    for tick in ticks(x_lo, x_hi, step) {
        x_tick(&mut svg, x.at(tick), &tick_label(tick, step));
    }
    for marker in markers.iter().filter(|m| m.at >= x_lo && m.at <= x_hi) {
        let at = x.at(marker.at);
        let _ = writeln!(
            svg,
            "<line class=\"phase\" x1=\"{at:.1}\" y1=\"{TOP}\" x2=\"{at:.1}\" y2=\"{}\"/>\
             <text class=\"phase-label\" x=\"{:.1}\" y=\"{}\">{}</text>",
            HEIGHT - BOTTOM,
            at + 3.0,
            TOP + 11.0,
            escape(marker.label)
        );
    }
    for (s, color) in series.iter().zip(COLORS.iter().cycle()) {
        let coordinates: Vec<String> = s
            .points
            .iter()
            .map(|&(px, py)| format!("{:.1},{:.1}", x.at(px), y.at(py)))
            .collect();
        match coordinates.as_slice() {
            [] => {}
            [only] => {
                let (cx, cy) = only.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(
                    svg,
                    "<circle cx=\"{cx}\" cy=\"{cy}\" r=\"3\" fill=\"{color}\"/>"
                );
            }
            _ => {
                let _ = writeln!(
                    svg,
                    "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" \
                     points=\"{}\"/>",
                    coordinates.join(" ")
                );
            }
        }
    }
    close_chart(svg)
}

/// One bar per labelled value, in order, with a y axis from zero.
pub(super) fn bar_chart(frame: &Frame, name: &str, bars: &[(String, f64)]) -> String {
    if bars.is_empty() {
        return no_data(frame);
    }
    let (y, y_ticks) = y_axis(bars.iter().map(|b| b.1).fold(0.0, f64::max));
    let mut svg = open_chart(frame, &[name], &y, &y_ticks);
    let band = (WIDTH - RIGHT - LEFT) / bars.len() as f64;
    // Label about a dozen bars at most, so the labels do not run into each other.
    let label_every = bars.len().div_ceil(12);
    for (i, (label, value)) in bars.iter().enumerate() {
        let left = LEFT + band * i as f64;
        let top = y.at(value.max(0.0));
        let _ = writeln!(
            svg,
            "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\">\
             <title>{}: {}</title></rect>",
            left + band * 0.1,
            band * 0.8,
            HEIGHT - BOTTOM - top,
            COLORS[0],
            escape(label),
            round(*value)
        );
        if i % label_every == 0 {
            x_tick(&mut svg, left + band / 2.0, label);
        }
    }
    close_chart(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(round_step(100.0, 5.0), 20.0);
        assert_eq!(round_step(7.0, 5.0), 2.0);
        assert_eq!(round_step(0.0, 5.0), 1.0);
        assert_eq!(ticks(0.0, 10.0, 2.5), vec![0.0, 2.5, 5.0, 7.5, 10.0]);
        assert_eq!(tick_label(0.25, 0.05), "0.25");
        assert_eq!(tick_label(1200.0, 200.0), "1200");
    }
}
