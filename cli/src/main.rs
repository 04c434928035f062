//! `classmate`: run, seed, load-test and operate a Classmate course-registration system.

use std::process::ExitCode;

use classmate::commands;

use clap::{Parser, Subcommand};

/// mimalloc rather than glibc's malloc: under the search storm glibc's allocator (its locks,
/// consolidation and unlinking) took about a quarter of the server's cycles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Classmate, a course-registration (수강신청) system and its ops toolkit.
#[derive(Parser)]
#[command(name = "classmate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (embedded SQLite unless CLASSMATE_DATABASE_URL says otherwise).
    Serve(Box<commands::serve::ServeArgs>),
    /// Manage administrator accounts.
    #[command(subcommand)]
    Admin(commands::admin::AdminCommand),
    /// Load-test the system and audit the outcome (starts an embedded server unless --target).
    #[cfg(feature = "bench")]
    Bench(Box<commands::bench::BenchArgs>),
    /// Generate and load a realistic Korean catalog and students (or a catalog from CSV).
    Seed(Box<commands::seed::SeedArgs>),
    /// See and rebuild a server's course search index.
    #[command(subcommand)]
    Search(commands::search::SearchCommand),
    /// Inspect and release ShedLock-compatible scheduler locks in Redis.
    #[command(subcommand)]
    Lock(commands::lock::LockCommand),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(*args).await,
        Command::Admin(command) => commands::admin::run(command).await,
        Command::Lock(command) => commands::lock::run(command).await,
        Command::Search(command) => commands::search::run(command).await,
        Command::Seed(args) => commands::seed::run(*args).await,
        #[cfg(feature = "bench")]
        Command::Bench(args) => commands::bench::run(*args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "classmate: {}",
                classmate_server::telemetry::error_chain(e.as_ref())
            );
            ExitCode::FAILURE
        }
    }
}
