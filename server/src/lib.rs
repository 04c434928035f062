//! Classmate's server: a course-registration (수강신청) API that admits students fairly and never
//! oversells a course.
//!
//! The map, bottom layer first; a module imports only from the layers below it:
//! - [`domain`]: pure rules, no I/O: courses, students, the enrollment decision, the cart, the
//!   queue's tickets and the one table of their codes and messages. [`clock`]: time as Unix ms.
//! - [`store`]: the `Store` trait (and `Audit`, `Seeding`) with its one SQL implementation over
//!   PostgreSQL and SQLite, and their migrations.
//! - [`queue`]: the fair waiting queue (Redis or in process) and the live hub.
//! - [`lock`]: the ShedLock-compatible scheduler lock with a fencing epoch.
//! - [`redis_conn`]: the one Redis connection the queue, the lock and the revocations share.
//! - [`registration`]: the use cases (cart, enroll, cancel, tickets, course edits) and the
//!   drain worker that decides the queue's tickets.
//! - [`search`]: course search; so far the Korean text analysis its index builds on (no I/O).
//! - [`auth`]: argon2id passwords, signed session tokens, logouts, sign-up and log-in.
//! - [`audit`]: what must hold after any run, in the database and the queue.
//! - [`http`]: the axum routes, extractors, the one error shape, and the OpenAPI document.
//! - [`web`]: the students' and operators' pages, in Korean, over the API's handlers.
//! - [`config`], [`startup`], [`telemetry`]: one `Config`, the app built from it, logging.

pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
pub mod lock;
pub mod queue;
pub mod redis_conn;
pub mod registration;
pub mod search;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;

pub use config::Config;
pub use startup::{Application, StartupError, serve};
