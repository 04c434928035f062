//! `classmate bench`: a load test with an audit. Without `--target` it starts the server itself
//! on the embedded default, seeding a small catalog first if the database is empty, so it works
//! on a fresh machine.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use classmate_server::audit::audit;
use classmate_server::auth::Role;
use classmate_server::config::DatabaseConfig;
use classmate_server::domain::Password;
use classmate_server::store::AuditScope;
use classmate_server::{Application, Config};
use goose::config::GooseConfiguration;
use goose::prelude::*;

use super::seed::{self, Plan};
use crate::bench::report::Report;
use crate::bench::{TARGET, Target, smoke};
use crate::seed::{Manifest, generate};

/// Settings of `classmate bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// The scenario; `smoke` for now (issue 6 adds `enroll-rush`, `search-storm`,
    /// `registration-day`).
    #[arg(default_value = "smoke")]
    scenario: String,
    /// How many students to simulate.
    #[arg(long, default_value_t = 300)]
    users: usize,
    /// How many simulated students start per second.
    #[arg(long, default_value_t = 100)]
    increase_rate: usize,
    /// Where reports go: `<dir>/<time>-<scenario>/report.{json,md}`.
    #[arg(long, default_value = "reports")]
    report_dir: PathBuf,
    /// The seed manifest (written when the bench seeds an empty database).
    #[arg(long, default_value = "data/seed-manifest.json")]
    manifest: PathBuf,
    #[command(flatten)]
    database: DatabaseConfig,
}

/// Runs the bench; fails when a request failed or the audit found anything.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.scenario != "smoke" {
        bail!(
            "unknown scenario {:?}; this version runs `smoke`",
            args.scenario
        );
    }
    let mut config = Config::with_database(args.database.url.clone());
    config.bind = "127.0.0.1:0".parse()?;
    let app = Application::build(config)
        .await
        .context("cannot start the server")?;
    let state = app.state().clone();
    let manifest = prepare(&args, &state.store).await?;

    let first = manifest
        .first_student_id
        .context("the manifest names no students; seed some with classmate seed")?;
    let students = manifest.students.min(args.users as u64) as i64;
    let tokens = (first..first + students)
        .map(|id| state.tokens.issue(id, Role::Student).token)
        .collect();
    let mut hot: Vec<i64> = manifest.hot_courses.iter().map(|c| c.id).collect();
    if hot.is_empty() {
        hot.push(manifest.first_course_id);
    }
    TARGET
        .set(Target {
            tokens,
            courses: (manifest.first_course_id..=manifest.last_course_id).collect(),
            hot,
        })
        .map_err(|_| anyhow::anyhow!("the bench runs once per process"))?;

    let host = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    wait_ready(&state).await?;

    let started_at =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
    let metrics = GooseAttack::initialize_with_config(GooseConfiguration::default())?
        .register_scenario(smoke::scenario())
        .set_default(GooseDefault::Host, host.as_str())?
        .set_default(GooseDefault::Users, args.users)?
        .set_default(
            GooseDefault::IncreaseRate,
            args.increase_rate.to_string().as_str(),
        )?
        .set_default(GooseDefault::Iterations, 1)?
        .set_default(GooseDefault::Quiet, 1)?
        .set_default(GooseDefault::NoPrintMetrics, true)?
        .execute()
        .await?;

    // The audit reads a quiet queue: every ticket decided.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while state.queue.status().await?.depth > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let findings = audit(
        state.store.as_ref(),
        state.queue.as_ref(),
        AuditScope { fifo: true },
    )
    .await?;
    let _ = stop.send(());
    let _ = server.await;

    let report = Report::new(&args.scenario, started_at, args.users, &metrics, findings);
    let dir = report.write(&args.report_dir)?;
    print!("{}", report.markdown());
    println!("\nreport: {}", dir.display());
    match report.passed {
        true => Ok(()),
        false => bail!("the run failed: see {}", dir.join("report.md").display()),
    }
}

/// The seed manifest of the database, seeding a small catalog first if it is empty.
async fn prepare(
    args: &BenchArgs,
    store: &std::sync::Arc<dyn classmate_server::store::Store>,
) -> anyhow::Result<Manifest> {
    if store.data_counts().await?.is_empty() {
        println!(
            "empty database: seeding 500 courses and {} students",
            args.users.max(300)
        );
        let catalog = generate::catalog(500, 2026);
        let plan = Plan {
            catalog: catalog.courses,
            hot: catalog.hot,
            students: generate::students(args.users.max(300), 2026),
            seed: Some(2026),
            password: Password::parse("classmate-load-test".into()).expect("a valid password"),
        };
        return seed::load(store.as_ref(), plan, false, &args.manifest).await;
    }
    let raw = std::fs::read(&args.manifest).with_context(|| {
        format!(
            "the database has data but no seed manifest at {}; run classmate seed (with --reset)",
            args.manifest.display()
        )
    })?;
    Ok(serde_json::from_slice(&raw)?)
}

async fn wait_ready(state: &classmate_server::http::AppState) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while state.queue.generation().await?.is_none() {
        if std::time::Instant::now() > deadline {
            bail!("the queue did not start");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}
