//! The live hub: every process keeps one status frame, built at most every 250 ms from one
//! `status` read and shared by all its WebSocket clients (no computation per client), and
//! forwards each settled ticket to the sockets of its student. Clients compute their position
//! from the frame's "now serving" number.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{broadcast, watch};

use super::{Queue, QueueStatus};
use crate::clock::now_ms;
use crate::domain::{Settled, StudentId};

/// How often the status frame is rebuilt.
pub const TICK: Duration = Duration::from_millis(250);

/// The queue as last seen, with the measured drain rate.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct LiveStatus {
    #[serde(flatten)]
    pub status: QueueStatus,
    /// Tickets decided per second, smoothed over the last few seconds.
    pub drain_rate: f64,
    /// How long the last ticket in line would wait at that rate.
    pub estimated_wait_seconds: Option<f64>,
    /// How long the oldest waiting ticket has waited.
    pub oldest_wait_seconds: Option<f64>,
    /// When this was read, Unix ms.
    pub read_at_ms: i64,
}

impl LiveStatus {
    /// Seconds until `position` tickets ahead are decided, at the measured rate.
    pub fn wait_for(&self, position: u64) -> Option<f64> {
        (self.drain_rate > 0.0).then(|| position as f64 / self.drain_rate)
    }
}

/// A status frame, serialised once for every socket.
#[derive(Debug, Clone)]
pub struct Frame {
    pub status: LiveStatus,
    pub json: Arc<str>,
}

/// One process's fan-out of queue status and ticket results.
pub struct Hub {
    frame: watch::Sender<Arc<Frame>>,
    students: Mutex<HashMap<StudentId, broadcast::Sender<Arc<str>>>>,
}

impl Default for Hub {
    fn default() -> Self {
        let empty = Frame {
            status: LiveStatus::default(),
            json: Arc::from("{}"),
        };
        Hub {
            frame: watch::Sender::new(Arc::new(empty)),
            students: Mutex::new(HashMap::new()),
        }
    }
}

#[derive(Serialize)]
struct StatusMessage<'a> {
    r#type: &'static str,
    #[serde(flatten)]
    status: &'a LiveStatus,
}

#[derive(Serialize)]
struct TicketMessage {
    r#type: &'static str,
    id: String,
    generation: u64,
    seq: u64,
    course_id: i64,
    state: &'static str,
    code: Option<&'static str>,
    /// The badge a page shows, in Korean (신청 완료, 정원 마감…).
    label: &'static str,
    /// What the student is told, in Korean.
    message: &'static str,
    decided_at_ms: i64,
}

impl Hub {
    /// A hub with no status yet.
    pub fn new() -> Arc<Hub> {
        Arc::new(Hub::default())
    }

    /// The latest frame (at most one tick old while the hub runs).
    pub fn latest(&self) -> Arc<Frame> {
        self.frame.borrow().clone()
    }

    /// Frames as they change.
    pub fn frames(&self) -> watch::Receiver<Arc<Frame>> {
        self.frame.subscribe()
    }

    /// The student's ticket results from now on, unless `cap` listeners have them already:
    /// counted and subscribed under one lock, so concurrent sockets cannot race past the cap.
    pub fn results_capped(
        &self,
        student_id: StudentId,
        cap: usize,
    ) -> Option<broadcast::Receiver<Arc<str>>> {
        let mut students = self.students.lock().unwrap_or_else(|e| e.into_inner());
        let sender = students
            .entry(student_id)
            .or_insert_with(|| broadcast::channel(64).0);
        (sender.receiver_count() < cap).then(|| sender.subscribe())
    }

    /// Forgets the student's channel once no socket listens.
    pub fn release(&self, student_id: StudentId) {
        let mut students = self.students.lock().unwrap_or_else(|e| e.into_inner());
        if students
            .get(&student_id)
            .is_some_and(|s| s.receiver_count() == 0)
        {
            students.remove(&student_id);
        }
    }

    /// Reads the queue every [`TICK`] until `stop` turns true.
    pub async fn run(self: Arc<Self>, queue: Arc<dyn Queue>, mut stop: watch::Receiver<bool>) {
        let mut cursor = self.skip_old_results(queue.as_ref()).await;
        let mut rate = RateMeter::default();
        let mut generation = None;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            let status = match queue.status().await {
                Ok(status) => status,
                Err(e) => {
                    tracing::debug!(error = %e, "queue status unavailable");
                    continue;
                }
            };
            if status.generation != generation {
                // A new generation restarts the result log.
                generation = status.generation;
                cursor = 0;
                rate = RateMeter::default();
            }
            self.publish(status, &mut rate);
            cursor = self.forward_results(queue.as_ref(), cursor).await;
        }
    }

    fn publish(&self, status: QueueStatus, rate: &mut RateMeter) {
        let now = now_ms();
        let drain_rate = rate.observe(status.decided_total);
        let live = LiveStatus {
            estimated_wait_seconds: (drain_rate > 0.0).then(|| status.depth as f64 / drain_rate),
            oldest_wait_seconds: status
                .oldest_admitted_at_ms
                .map(|at| (now - at).max(0) as f64 / 1000.0),
            drain_rate,
            read_at_ms: now,
            status,
        };
        let json = serde_json::to_string(&StatusMessage {
            r#type: "status",
            status: &live,
        })
        .unwrap_or_else(|_| "{}".into());
        // Sockets hear of a frame only when the queue moved; the stored frame stays fresh for
        // the polling endpoint either way.
        self.frame.send_if_modified(|frame| {
            let moved = frame.status.status != live.status;
            *frame = Arc::new(Frame {
                status: live,
                json: Arc::from(json),
            });
            moved
        });
    }

    async fn skip_old_results(&self, queue: &dyn Queue) -> u64 {
        let mut cursor = 0;
        loop {
            match queue.results_after(cursor, 10_000).await {
                Ok((results, next)) if !results.is_empty() => cursor = next,
                _ => return cursor,
            }
        }
    }

    async fn forward_results(&self, queue: &dyn Queue, mut cursor: u64) -> u64 {
        loop {
            let (results, next) = match queue.results_after(cursor, 1_000).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::debug!(error = %e, "queue results unavailable");
                    return cursor;
                }
            };
            if results.is_empty() {
                return cursor;
            }
            cursor = next;
            let students = self.students.lock().unwrap_or_else(|e| e.into_inner());
            for settled in &results {
                if let Some(sender) = students.get(&settled.student_id) {
                    let _ = sender.send(Arc::from(result_json(settled)));
                }
            }
        }
    }
}

fn result_json(settled: &Settled) -> String {
    serde_json::to_string(&TicketMessage {
        r#type: "ticket",
        id: settled.id.to_string(),
        generation: settled.id.generation,
        seq: settled.id.seq,
        course_id: settled.course_id.0,
        state: settled.state.as_str(),
        code: settled.state.code().map(|code| code.as_str()),
        label: settled.state.label(),
        message: settled.state.message(),
        decided_at_ms: settled.decided_at_ms,
    })
    .unwrap_or_else(|_| "{}".into())
}

/// Decisions per second, smoothed so one slow tick does not swing the estimate.
#[derive(Default)]
struct RateMeter {
    last: Option<(Instant, u64)>,
    rate: f64,
}

impl RateMeter {
    fn observe(&mut self, decided_total: u64) -> f64 {
        let now = Instant::now();
        if let Some((then, before)) = self.last {
            let seconds = now.duration_since(then).as_secs_f64();
            if seconds > 0.0 {
                let instant = decided_total.saturating_sub(before) as f64 / seconds;
                // About a 2-second window at 4 ticks a second.
                self.rate = 0.8 * self.rate + 0.2 * instant;
            }
        }
        self.last = Some((now, decided_total));
        self.rate
    }
}
