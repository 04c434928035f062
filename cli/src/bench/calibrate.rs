//! The generator's own ceiling: every lane sends `GET /healthz` back to back for a few seconds.
//! Generator and server share the machine, so every rate of the run is also given as a share
//! of this.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use classmate_server::clock::now_ms;

use super::attack::{attack, increase_rate};
use super::lane::{self, Target};
use super::record::{Recording, percentiles};
use super::report::Calibration;

/// Measures the ceiling with `lanes` lanes for `seconds`.
pub async fn calibrate(
    target: &Arc<Target>,
    recording: &Recording,
    lanes: usize,
    seconds: f64,
) -> anyhow::Result<Calibration> {
    let rate = increase_rate(lanes);
    let start = Instant::now() + Duration::from_secs_f64(lanes as f64 / rate as f64 + 0.5);
    recording.with(|r| r.begin_phase("calibration", start, now_ms()));
    let until = start + Duration::from_secs_f64(seconds);
    let healthz = lane::calibration(target.clone(), recording.clone(), start, until);
    attack(&target.base, lanes, rate, healthz).await?;
    let (requests, histogram, _) = recording
        .with(|r| {
            r.end_phase(until);
            r.phase_total("calibration")
        })
        .context("calibration recorded nothing")?;
    let per_second = requests as f64 / seconds;
    println!("calibration: the generator's ceiling is {per_second:.0} GET /healthz per second");
    Ok(Calibration {
        seconds,
        lanes: lanes as u64,
        requests,
        per_second,
        latency: percentiles(&histogram),
    })
}
