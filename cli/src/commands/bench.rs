//! `classmate bench`: its arguments, and the dispatch to a run or a comparison.

use std::path::PathBuf;

use classmate_server::Config;

use crate::bench::compare::{self, CompareArgs};
use crate::bench::run::{self, Mode, SearchChoice, Settings};
use crate::bench::scenario::{CartFill, Follow};

/// `classmate bench`: run a scenario, or compare two reports.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Subcommand)]
enum BenchCommand {
    /// Prints the differences between two reports and fails on a regression.
    Compare(CompareArgs),
}

/// Settings of a run.
#[derive(clap::Args)]
struct RunArgs {
    /// `smoke`, `enroll-rush`, `search-storm`, `registration-day` (from `scenarios/`, or built
    /// in), or a path to a scenario `.toml` file.
    #[arg(default_value = "smoke")]
    scenario: String,
    /// Drive a running server at this URL instead of starting one. The database, Redis and
    /// signing-key settings must be the server's: they mint tokens and run the audit.
    #[arg(long)]
    target: Option<String>,
    /// The seed manifest (written when the bench seeds).
    #[arg(long, default_value = "data/seed-manifest.json")]
    manifest: PathBuf,
    /// Where reports go: `<dir>/<time>-<scenario>/report.{json,md,html}`.
    #[arg(long, default_value = "reports")]
    report_dir: PathBuf,
    /// Override the scenario's number of students.
    #[arg(long)]
    students: Option<u64>,
    /// Override the scenario's number of lanes (goose users, one connection each).
    #[arg(long)]
    lanes: Option<u64>,
    /// Override the arrival window, in seconds, of the phases the SLOs judge.
    #[arg(long)]
    seconds: Option<f64>,
    /// Stop sending the steps of a judged phase this many seconds after it started: what is
    /// still due then is counted as cut off, the report is written and the run misses its SLOs
    /// [default: the scenario's limit_seconds, none for most].
    #[arg(long, value_parser = positive_seconds)]
    phase_limit: Option<f64>,
    /// Enrollment path to measure; `both` runs the queue, then the direct path, each on freshly
    /// seeded identical data, and compares them.
    #[arg(long, value_enum, default_value = "queue")]
    mode: Mode,
    /// What answers searches: `tantivy`, `database` (LIKE over pg_trgm), or `both`: the
    /// scenario against tantivy, then against the database, each on freshly seeded identical
    /// data, compared [default: --search-backend].
    #[arg(long = "search", value_enum)]
    search_choice: Option<SearchChoice>,
    /// How the planned carts reach the database: `bulk` loads them with the seed in seconds
    /// (real carts are filled over the week before), `http` fills them through POST
    /// /api/v1/cart in the scenario's cart phase, to load-test cart adds [default: the
    /// scenario's cart.fill, bulk for all built-in scenarios].
    #[arg(long, value_enum)]
    cart_fill: Option<CartFill>,
    /// How students follow their tickets, for the phases that follow them: `websocket` (one
    /// per lane, then a read of each passed ticket), `websocket-per-student` (each student's
    /// own socket, results pushed: a browser per student), `polling` [default: the scenario's].
    #[arg(long, value_enum)]
    follow: Option<Follow>,
    /// Reseed first (same seed, so the same data) and clear the queue: a run that enrolls
    /// measures a fresh registration day. Deletes every course, student and enrollment.
    #[arg(long)]
    fresh: bool,
    /// Seconds to measure the generator's own ceiling against /healthz first; 0 skips it.
    #[arg(long, default_value_t = 3.0)]
    calibrate_seconds: f64,
    #[command(flatten)]
    server: Config,
}

/// Runs the subcommand. A run exits 0 when it passed, 2 when an answer was unexpected or the
/// audit found anything, and 3 when only SLOs were missed.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let code = match args.command {
        Some(BenchCommand::Compare(compare)) => match compare::run(&compare)? {
            true => 0,
            false => 3,
        },
        None => {
            let args = args.run;
            run::run(Settings {
                scenario: args.scenario,
                target: args.target,
                manifest: args.manifest,
                report_dir: args.report_dir,
                students: args.students,
                lanes: args.lanes,
                seconds: args.seconds,
                phase_limit: args.phase_limit,
                mode: args.mode,
                search: args.search_choice,
                fresh: args.fresh,
                cart_fill: args.cart_fill,
                follow: args.follow,
                calibrate_seconds: args.calibrate_seconds,
                server: args.server,
            })
            .await?
        }
    };
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

/// A number of seconds more than 0.
fn positive_seconds(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds.is_finite() => Ok(seconds),
        _ => Err(format!("{raw:?} is not a number of seconds more than 0")),
    }
}
