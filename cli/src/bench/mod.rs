//! `classmate bench`: scenarios from TOML files, played by goose users that each act as a lane
//! for many students; HDR latency (as served and corrected for coordinated omission), time to
//! decision, the audit, SLOs, and reports in JSON, Markdown and self-contained HTML.

pub mod compare;
pub mod html;
pub mod lane;
pub mod live;
pub mod plan;
pub mod record;
pub mod report;
pub mod scenario;
pub mod slo;

use std::sync::{Arc, RwLock};

use plan::Courses;

/// What the lanes work with, set once before the run: where the server is, every student's
/// token and planned cart, and the courses.
#[derive(Debug)]
pub struct Target {
    /// `http://host:port`.
    pub base: String,
    /// One session token per simulated student, minted before the run.
    pub tokens: Vec<String>,
    /// Each student's planned cart, hot course first.
    pub carts: Vec<Vec<i64>>,
    pub courses: Courses,
}

/// The run's target. Goose transactions are plain functions, so they reach it here.
static TARGET: RwLock<Option<Arc<Target>>> = RwLock::new(None);

/// Sets the target for the runs that follow.
pub fn set_target(target: Target) -> Arc<Target> {
    let target = Arc::new(target);
    *TARGET.write().unwrap_or_else(|e| e.into_inner()) = Some(target.clone());
    target
}

/// The target; set before goose starts any lane.
pub fn target() -> Arc<Target> {
    TARGET
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .expect("the bench sets its target before the load starts")
}
