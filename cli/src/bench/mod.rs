//! `classmate bench`: scenarios from TOML files, played by goose users that each act as a lane
//! for many students; HDR latency (as served and corrected for coordinated omission), time to
//! decision, the audit, SLOs, and reports in JSON, Markdown and self-contained HTML.
//!
//! - `run.rs` drives a run: `prepare.rs` (the data), `server.rs` (the server under test),
//!   `calibrate.rs` (the generator's ceiling), `attack.rs` (one goose attack per phase),
//!   `operator.rs` (the admin API).
//! - `scenario.rs` reads a scenario; `plan.rs` decides before the load who does what and when.
//! - `lane.rs` plays a lane's students; `call.rs` sends and checks one request; `follow.rs`
//!   follows the queue over a WebSocket.
//! - `record.rs` measures; `memory.rs` reads the peak resident memory; `live.rs` shows the run as
//!   it goes.
//! - `report.rs` is the report's data; `slo.rs` judges it; `markdown.rs` and `html/` render it
//!   (with `format.rs`); `output.rs` writes the files; `compare.rs` compares two.

pub mod attack;
pub mod calibrate;
pub mod call;
pub mod compare;
pub mod follow;
pub mod format;
pub mod html;
pub mod lane;
pub mod live;
pub mod markdown;
pub mod memory;
pub mod open_files;
pub mod operator;
pub mod output;
pub mod plan;
pub mod prepare;
pub mod record;
pub mod report;
pub mod run;
pub mod scenario;
pub mod server;
pub mod slo;
