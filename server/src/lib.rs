//! Classmate's server: a course-registration (수강신청) API that admits students fairly and never
//! oversells a course.
//!
//! The map:
//! - [`audit`]: what must hold after any run, in the database and the queue.
//! - [`config`]: the one `Config`, from `CLASSMATE_*` variables or flags.
//! - [`domain`]: pure rules (courses, meetings, students, the enrollment decision, the cart).
//! - [`store`]: the `Store` trait with its PostgreSQL and SQLite implementations and migrations.
//! - [`queue`]: the fair waiting queue (Redis or in-process) and the drain worker.
//! - [`lock`]: the ShedLock-compatible scheduler lock with a fencing epoch.
//! - [`registration`]: what a student does (cart, enroll, cancel), as functions over a store.
//! - [`auth`]: argon2id passwords, signed session tokens, sign-up and log-in.
//! - [`http`]: the axum routes, extractors, the one error shape, and the OpenAPI document.
//! - [`startup`]: builds the server from a `Config` and runs it with graceful shutdown.
//! - [`telemetry`]: logging setup.

pub mod audit;
pub mod auth;
pub mod config;
pub mod domain;
pub mod http;
pub mod lock;
pub mod queue;
pub mod registration;
pub mod startup;
pub mod store;
pub mod telemetry;

pub use config::Config;
pub use startup::{Application, StartupError, serve};
