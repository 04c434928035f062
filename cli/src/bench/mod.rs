//! `classmate bench`: goose drives the load, the audit checks the outcome, and the report keeps
//! both. This first part runs the `smoke` scenario; the others of issue 6 build on it.

pub mod report;
pub mod smoke;

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

/// What the scenario's users work with: identities and courses, set once before the run.
/// Goose transactions are plain functions, so they reach it through [`TARGET`].
#[derive(Debug)]
pub struct Target {
    /// One session token per simulated student; user `i` is student `i`.
    pub tokens: Vec<String>,
    /// Course ids to browse and put in carts.
    pub courses: Vec<i64>,
    /// Courses everyone wants.
    pub hot: Vec<i64>,
}

/// The run's target.
pub static TARGET: OnceLock<Target> = OnceLock::new();

/// The target; set before goose starts any user.
pub fn target() -> &'static Target {
    TARGET
        .get()
        .expect("the bench sets its target before the load starts")
}

/// Unexpected answers by reason. Goose counts every non-2xx answer as an error, including the
/// `409 COURSE_FULL` a scenario expects, so the bench keeps its own list.
pub static FAILURES: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

/// Records one unexpected answer.
pub fn record_failure(reason: String) {
    *FAILURES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(reason)
        .or_insert(0) += 1;
}
