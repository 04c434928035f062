//! `classmate-server`: the HTTP server alone (the `classmate` CLI's `serve` runs the same).

use std::process::ExitCode;

use clap::Parser;
use classmate_server::{Config, serve, telemetry};

/// mimalloc rather than glibc's malloc: under the search storm glibc's allocator (its locks,
/// consolidation and unlinking) took about a quarter of the server's cycles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Classmate's HTTP server.
#[derive(Parser)]
#[command(name = "classmate-server", version, about)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.config.log_format, &cli.config.log);
    match serve(cli.config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("classmate-server: {}", telemetry::error_chain(&e));
            ExitCode::FAILURE
        }
    }
}
