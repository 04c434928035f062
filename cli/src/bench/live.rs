//! What the operator watches while a run goes: a live line (phase, elapsed, requests per second
//! and p99 of the last second, errors, queue depth) drawn with indicatif on a terminal and printed
//! every five seconds otherwise; and the queue depth, read from the server twice a second into the
//! timeline.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::task::JoinHandle;

use super::record::Recording;

/// The live line and the queue sampler; both stop when this is dropped.
pub struct Live {
    bar: ProgressBar,
    phase: Arc<std::sync::Mutex<String>>,
    tasks: Vec<JoinHandle<()>>,
}

/// No queue depth seen yet.
const UNSEEN: u64 = u64::MAX;

impl Live {
    /// Starts both: the sampler reads `GET /api/v1/queue/status` as `token`.
    pub fn start(base: &str, token: &str, recording: &Recording) -> Live {
        let terminal = std::io::stderr().is_terminal();
        let bar = match terminal {
            true => ProgressBar::new_spinner(),
            false => ProgressBar::hidden(),
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}").expect("a valid progress template"),
        );
        let phase = Arc::new(std::sync::Mutex::new(String::new()));
        let depth = Arc::new(AtomicU64::new(UNSEEN));
        let line = tokio::spawn(draw(
            bar.clone(),
            phase.clone(),
            terminal,
            recording.clone(),
            depth.clone(),
        ));
        let sampler = tokio::spawn(sample(
            format!("{base}/api/v1/queue/status"),
            token.to_owned(),
            recording.clone(),
            depth,
        ));
        Live {
            bar,
            phase,
            tasks: vec![line, sampler],
        }
    }

    /// Names the phase on the live line.
    pub fn phase(&self, name: &str) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = name.to_owned();
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.bar.finish_and_clear();
    }
}

async fn draw(
    bar: ProgressBar,
    phase: Arc<std::sync::Mutex<String>>,
    terminal: bool,
    recording: Recording,
    depth: Arc<AtomicU64>,
) {
    let started = Instant::now();
    let mut printed = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (answered, failed, last_second, p99) = recording.with(|r| r.live(Instant::now()));
        let depth = match depth.load(Ordering::Relaxed) {
            UNSEEN => String::new(),
            d => format!(" · queue {d}"),
        };
        let message = format!(
            "{} {:>5.1} s · {last_second} req/s · p99 {p99:.1} ms · {answered} answered · {failed} errors{depth}",
            phase.lock().unwrap_or_else(|e| e.into_inner()),
            started.elapsed().as_secs_f64(),
        );
        if terminal {
            bar.set_message(message);
            bar.tick();
        } else if printed.elapsed() >= Duration::from_secs(5) {
            eprintln!("{message}");
            printed = Instant::now();
        }
    }
}

async fn sample(url: String, token: String, recording: Recording, seen: Arc<AtomicU64>) {
    let client = reqwest::Client::new();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Ok(response) = client.get(&url).bearer_auth(&token).send().await else {
            continue;
        };
        let Ok(status) = response.json::<serde_json::Value>().await else {
            continue;
        };
        if let Some(depth) = status["depth"].as_u64() {
            seen.store(depth, Ordering::Relaxed);
            recording.with(|r| r.queue_depth(Instant::now(), depth));
        }
    }
}
