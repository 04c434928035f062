//! What the lanes measure, kept in HDR histograms: per phase and request, latency as served and
//! corrected for coordinated omission (from when the request was due); answers by status and
//! code; unexpected answers by reason; one bucket per second for the timeline; and, per ticket,
//! the time from admission to its terminal state.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::report::{Bucket, Decisions, Percentiles, RequestStats, Tick};

/// Longest latency kept exactly: one hour, in microseconds.
const HIGHEST_US: u64 = 3_600_000_000;

fn histogram(significant: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_US, significant).expect("valid histogram bounds")
}

fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, HIGHEST_US)
}

/// Percentiles of a histogram of microseconds, in milliseconds.
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    let at = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Percentiles {
        p50_ms: at(0.5),
        p90_ms: at(0.9),
        p99_ms: at(0.99),
        p999_ms: at(0.999),
        max_ms: h.max() as f64 / 1000.0,
    }
}

/// One answered request.
pub struct Sample<'a> {
    pub name: &'static str,
    /// When the request was due; `None` when nothing scheduled it (as fast as possible).
    pub due: Option<Instant>,
    pub sent: Instant,
    pub done: Instant,
    /// 0 when there was no HTTP answer.
    pub status: u16,
    /// The error `code` of the answer, if any.
    pub code: Option<&'a str>,
    /// `None` when the answer was expected, else why not.
    pub failure: Option<String>,
}

struct RequestRecord {
    /// When the first was sent and the last answered: the span its rate is measured over.
    first_sent: Instant,
    last_done: Instant,
    count: u64,
    failures: u64,
    latency: Histogram<u64>,
    corrected: Histogram<u64>,
    statuses: BTreeMap<u16, u64>,
    codes: BTreeMap<String, u64>,
}

struct TickRecord {
    phase: String,
    requests: u64,
    failures: u64,
    latency: Histogram<u64>,
    corrected: Histogram<u64>,
    admitted: u64,
    queue_depth: Option<u64>,
}

struct DecisionRecord {
    tickets: u64,
    followed: u64,
    states: BTreeMap<String, u64>,
    codes: BTreeMap<String, u64>,
    server: Histogram<u64>,
    observed: Histogram<u64>,
    last_decided_at_ms: Option<i64>,
    /// From the decision to the student hearing it on their own socket.
    told: Histogram<u64>,
    open_sockets: u64,
    peak_sockets: u64,
}

/// A phase's span.
struct PhaseSpan {
    name: String,
    started: Instant,
    /// Unix ms at its start, to place server timestamps.
    started_unix_ms: i64,
    ended: Option<Instant>,
    /// Steps not sent because the phase ran past its limit.
    cut_off: u64,
}

/// Everything measured so far.
pub struct Recorder {
    start: Instant,
    phases: Vec<PhaseSpan>,
    requests: BTreeMap<(usize, &'static str), RequestRecord>,
    ticks: Vec<TickRecord>,
    decisions: DecisionRecord,
    errors: BTreeMap<String, u64>,
    /// Requests and failures answered so far, for the live line.
    pub answered: u64,
    pub failed: u64,
}

/// The run's recorder, shared by the lanes, the live line and the run driver.
#[derive(Clone)]
pub struct Recording(Arc<Mutex<Recorder>>);

impl Recording {
    /// Starts recording now.
    pub fn start() -> Recording {
        Recording(Arc::new(Mutex::new(Recorder::new())))
    }

    /// Runs `f` on the recorder.
    pub fn with<T>(&self, f: impl FnOnce(&mut Recorder) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Recorder {
    fn new() -> Recorder {
        Recorder {
            start: Instant::now(),
            phases: Vec::new(),
            requests: BTreeMap::new(),
            ticks: Vec::new(),
            decisions: DecisionRecord {
                tickets: 0,
                followed: 0,
                states: BTreeMap::new(),
                codes: BTreeMap::new(),
                server: histogram(3),
                observed: histogram(3),
                told: histogram(3),
                open_sockets: 0,
                peak_sockets: 0,
                last_decided_at_ms: None,
            },
            errors: BTreeMap::new(),
            answered: 0,
            failed: 0,
        }
    }

    /// Marks the start of a phase (and the end of the one before).
    pub fn begin_phase(&mut self, name: &str, started: Instant, started_unix_ms: i64) {
        self.end_phase(Instant::now());
        self.phases.push(PhaseSpan {
            name: name.to_owned(),
            started,
            started_unix_ms,
            ended: None,
            cut_off: 0,
        });
    }

    /// Counts steps of the current phase dropped at its limit.
    pub fn cut_off(&mut self, steps: u64) {
        if let Some(last) = self.phases.last_mut() {
            last.cut_off += steps;
        }
    }

    /// Steps cut off in the phase named `name`.
    pub fn cut_off_in(&self, name: &str) -> u64 {
        self.phases
            .iter()
            .filter(|p| p.name == name)
            .map(|p| p.cut_off)
            .sum()
    }

    /// Marks the end of the current phase.
    pub fn end_phase(&mut self, at: Instant) {
        if let Some(last) = self.phases.last_mut().filter(|p| p.ended.is_none()) {
            last.ended = Some(at);
        }
    }

    fn phase_index(&self) -> usize {
        self.phases.len().saturating_sub(1)
    }

    fn tick(&mut self, at: Instant) -> &mut TickRecord {
        let second = at.saturating_duration_since(self.start).as_secs() as usize;
        let phase = self.phases.last().map_or(String::new(), |p| p.name.clone());
        while self.ticks.len() <= second {
            self.ticks.push(TickRecord {
                phase: phase.clone(),
                requests: 0,
                failures: 0,
                latency: histogram(2),
                corrected: histogram(2),
                admitted: 0,
                queue_depth: None,
            });
        }
        &mut self.ticks[second]
    }

    /// Records one answered request.
    pub fn request(&mut self, s: Sample<'_>) {
        let latency = micros(s.done.saturating_duration_since(s.sent));
        let corrected = micros(s.done.saturating_duration_since(s.due.unwrap_or(s.sent)));
        let failed = s.failure.is_some();
        let phase = self.phase_index();
        let record = self
            .requests
            .entry((phase, s.name))
            .or_insert_with(|| RequestRecord {
                first_sent: s.sent,
                last_done: s.done,
                count: 0,
                failures: 0,
                latency: histogram(3),
                corrected: histogram(3),
                statuses: BTreeMap::new(),
                codes: BTreeMap::new(),
            });
        record.first_sent = record.first_sent.min(s.sent);
        record.last_done = record.last_done.max(s.done);
        record.count += 1;
        record.failures += u64::from(failed);
        record.latency.saturating_record(latency);
        record.corrected.saturating_record(corrected);
        *record.statuses.entry(s.status).or_insert(0) += 1;
        if let Some(code) = s.code {
            *record.codes.entry(code.to_owned()).or_insert(0) += 1;
        }
        if let Some(reason) = s.failure {
            *self.errors.entry(reason).or_insert(0) += 1;
        }
        self.answered += 1;
        self.failed += u64::from(failed);
        let tick = self.tick(s.done);
        tick.requests += 1;
        tick.failures += u64::from(failed);
        tick.latency.saturating_record(latency);
        tick.corrected.saturating_record(corrected);
    }

    /// Records an unexpected event that is not one request's answer.
    pub fn failure(&mut self, reason: String) {
        *self.errors.entry(reason).or_insert(0) += 1;
        self.failed += 1;
    }

    /// Records a ticket handed out.
    pub fn admitted(&mut self, at: Instant) {
        self.decisions.tickets += 1;
        self.tick(at).admitted += 1;
    }

    /// Records a ticket seen in its terminal state.
    pub fn decided(
        &mut self,
        state: &str,
        code: Option<&str>,
        server: Option<(i64, i64)>,
        observed: Duration,
    ) {
        let d = &mut self.decisions;
        d.followed += 1;
        *d.states.entry(state.to_owned()).or_insert(0) += 1;
        if let Some(code) = code {
            *d.codes.entry(code.to_owned()).or_insert(0) += 1;
        }
        if let Some((admitted_ms, decided_ms)) = server {
            let took = (decided_ms - admitted_ms).max(0) as u64 * 1000;
            d.server.saturating_record(took.clamp(1, HIGHEST_US));
            d.last_decided_at_ms = d.last_decided_at_ms.max(Some(decided_ms));
        }
        d.observed.saturating_record(micros(observed));
    }

    /// Records a result heard on the student's own socket `after_decision_ms` after the server
    /// decided it (the server's clock against this machine's: the same clock when both run
    /// here).
    pub fn told(&mut self, after_decision_ms: i64) {
        let took = after_decision_ms.max(0) as u64 * 1000;
        self.decisions
            .told
            .saturating_record(took.clamp(1, HIGHEST_US));
    }

    /// Records a student's socket opened (`true`) or closed.
    pub fn socket(&mut self, opened: bool) {
        let d = &mut self.decisions;
        match opened {
            true => {
                d.open_sockets += 1;
                d.peak_sockets = d.peak_sockets.max(d.open_sockets);
            }
            false => d.open_sockets = d.open_sockets.saturating_sub(1),
        }
    }

    /// Records the queue depth seen at `at`.
    pub fn queue_depth(&mut self, at: Instant, depth: u64) {
        let tick = self.tick(at);
        tick.queue_depth = Some(tick.queue_depth.map_or(depth, |d| d.max(depth)));
    }

    /// Requests and failures answered, and the p99 ms of the last full second, for the live line.
    pub fn live(&self, now: Instant) -> (u64, u64, u64, f64) {
        let second = now.saturating_duration_since(self.start).as_secs() as usize;
        let last = second
            .checked_sub(1)
            .and_then(|s| self.ticks.get(s))
            .map_or((0, 0.0), |t| {
                (
                    t.requests,
                    t.latency.value_at_quantile(0.99) as f64 / 1000.0,
                )
            });
        (self.answered, self.failed, last.0, last.1)
    }

    /// Seconds each phase lasted.
    fn phase_seconds(&self, index: usize) -> f64 {
        let p = &self.phases[index];
        p.ended
            .unwrap_or_else(Instant::now)
            .saturating_duration_since(p.started)
            .as_secs_f64()
            .max(0.001)
    }

    /// The phases: name, seconds after the run's start, seconds it lasted.
    pub fn phase_spans(&self) -> Vec<(String, f64, f64)> {
        (0..self.phases.len())
            .map(|i| {
                let p = &self.phases[i];
                (
                    p.name.clone(),
                    p.started
                        .saturating_duration_since(self.start)
                        .as_secs_f64(),
                    self.phase_seconds(i),
                )
            })
            .collect()
    }

    /// Per phase and request, the report's figures.
    pub fn request_stats(&self, ceiling: Option<f64>) -> Vec<RequestStats> {
        self.requests
            .iter()
            .map(|((phase, name), r)| {
                let span = r.last_done.saturating_duration_since(r.first_sent);
                let per_second = r.count as f64 / span.as_secs_f64().max(0.001);
                RequestStats {
                    name: (*name).to_owned(),
                    phase: self.phases[*phase].name.clone(),
                    count: r.count,
                    failures: r.failures,
                    per_second,
                    ceiling_ratio: ceiling.map(|c| per_second / c),
                    latency: percentiles(&r.latency),
                    corrected: percentiles(&r.corrected),
                    statuses: r.statuses.clone(),
                    codes: r.codes.clone(),
                }
            })
            .collect()
    }

    /// The timeline, one tick per second.
    pub fn timeline(&self) -> Vec<Tick> {
        self.ticks
            .iter()
            .enumerate()
            .map(|(second, t)| Tick {
                second: second as u64,
                phase: t.phase.clone(),
                requests: t.requests,
                failures: t.failures,
                p50_ms: percentiles(&t.latency).p50_ms,
                p99_ms: percentiles(&t.latency).p99_ms,
                corrected_p99_ms: percentiles(&t.corrected).p99_ms,
                admitted: t.admitted,
                queue_depth: t.queue_depth,
            })
            .collect()
    }

    /// Time to decision, when the run handed out tickets. `phase` names the phase whose start
    /// the last decision is measured from.
    pub fn decisions(&self, phase: Option<&str>) -> Option<Decisions> {
        let d = &self.decisions;
        if d.tickets == 0 {
            return None;
        }
        let start_ms = phase
            .and_then(|name| self.phases.iter().find(|p| p.name == name))
            .map(|p| p.started_unix_ms);
        let mut histogram = Vec::new();
        if !d.server.is_empty() {
            for v in d.server.iter_log(1000, 2.0) {
                histogram.push(Bucket {
                    le_ms: v.value_iterated_to() as f64 / 1000.0,
                    count: v.count_since_last_iteration(),
                });
            }
        }
        Some(Decisions {
            tickets: d.tickets,
            followed: d.followed,
            states: d.states.clone(),
            codes: d.codes.clone(),
            server: percentiles(&d.server),
            observed: percentiles(&d.observed),
            histogram,
            told_after_decision: (!d.told.is_empty()).then(|| percentiles(&d.told)),
            peak_sockets: (d.peak_sockets > 0).then_some(d.peak_sockets),
            last_decided_after_seconds: d
                .last_decided_at_ms
                .zip(start_ms)
                .map(|(last, start)| (last - start) as f64 / 1000.0),
        })
    }

    /// Unexpected answers by reason.
    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors.clone()
    }

    /// Requests of one phase and their figures, for the calibration.
    pub fn phase_total(&self, name: &str) -> Option<(u64, Histogram<u64>, f64)> {
        let index = self.phases.iter().position(|p| p.name == name)?;
        let mut all = histogram(3);
        let mut count = 0;
        for ((phase, _), r) in &self.requests {
            if *phase == index {
                count += r.count;
                all.add(&r.latency).ok()?;
            }
        }
        Some((count, all, self.phase_seconds(index)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrected_latency_counts_from_when_the_request_was_due() {
        let mut r = Recorder::new();
        let t0 = r.start;
        r.begin_phase("rush", t0, 1_000);
        for i in 0..100u64 {
            // Due every 10 ms, but the lane only got to each one 500 ms late; served in 2 ms.
            let due = t0 + Duration::from_millis(i * 10);
            let sent = due + Duration::from_millis(500);
            r.request(Sample {
                name: "POST enrollments",
                due: Some(due),
                sent,
                done: sent + Duration::from_millis(2),
                status: if i < 90 { 202 } else { 409 },
                code: (i >= 90).then_some("COURSE_FULL"),
                failure: (i == 99).then(|| "boom".to_owned()),
            });
        }
        r.end_phase(t0 + Duration::from_secs(2));
        let stats = r.request_stats(Some(100.0));
        let s = &stats[0];
        assert_eq!((s.count, s.failures), (100, 1));
        assert!((s.latency.p99_ms - 2.0).abs() < 0.01, "{:?}", s.latency);
        assert!(
            (s.corrected.p50_ms - 502.0).abs() < 1.0,
            "{:?}",
            s.corrected
        );
        assert_eq!(s.statuses[&409], 10);
        assert_eq!(s.codes["COURSE_FULL"], 10);
        // 100 answers between the first send (0.5 s) and the last answer (1.492 s).
        assert!(
            (s.per_second - 100.0 / 0.992).abs() < 0.1,
            "{}",
            s.per_second
        );
        assert!((s.ceiling_ratio.unwrap() - 1.0 / 0.992).abs() < 0.01);
        assert_eq!(r.errors()["boom"], 1);
        assert!(r.decisions(None).is_none());

        r.admitted(t0);
        r.decided(
            "enrolled",
            None,
            Some((1_000, 1_250)),
            Duration::from_millis(400),
        );
        let d = r.decisions(Some("rush")).unwrap();
        assert_eq!((d.tickets, d.followed), (1, 1));
        assert!((d.server.p50_ms - 250.0).abs() < 1.0);
        assert_eq!(d.last_decided_after_seconds, Some(0.25));
        assert_eq!(d.histogram.iter().map(|b| b.count).sum::<u64>(), 1);
    }
}
