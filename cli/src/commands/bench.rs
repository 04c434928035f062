//! `classmate bench`: a load test with an audit. Without `--target` it starts the server itself
//! (on the embedded default, or on whatever database and Redis the usual settings name), seeding
//! the scenario's catalog first if the database is empty, so it works on a fresh machine. With
//! `--target` it drives a running server, using the seed manifest and the servers' signing key.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use classmate_server::audit::audit;
use classmate_server::auth::{Role, Tokens};
use classmate_server::domain::Password;
use classmate_server::queue::Queue;
use classmate_server::store::{self, AuditScope, Store};
use classmate_server::{Application, Config};
use goose::client::GooseClientBuilder;
use goose::config::GooseConfiguration;
use goose::prelude::*;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::seed::{self, Plan};
use crate::bench::compare::{self, CompareArgs};
use crate::bench::lane::{self, PHASE, PhaseRun};
use crate::bench::live::Live;
use crate::bench::plan::{self, Courses};
use crate::bench::record::{self, Recorder, percentiles};
use crate::bench::report::{AuditResult, Calibration, PhaseStats, REPORT_VERSION, Report, RunInfo};
use crate::bench::scenario::{Follow, Scenario, Step};
use crate::bench::{Target, set_target, slo};
use crate::seed::{Manifest, generate};

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

/// Which path enrollments take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// The fair waiting queue: 202 and a ticket.
    Queue,
    /// Straight to the database: 201 or a rejection.
    Direct,
    /// The queue, then the direct path, each on freshly seeded identical data; then compared.
    Both,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Queue => "queue",
            Mode::Direct => "direct",
            Mode::Both => "both",
        }
    }
}

/// How long before the first arrival enrollment opens.
const OPENING_MARGIN_MS: i64 = 100;

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
    /// Enrollment path to measure; `both` runs the queue, then the direct path, each on freshly
    /// seeded identical data, and compares them.
    #[arg(long, value_enum, default_value = "queue")]
    mode: Mode,
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
    if let Some(BenchCommand::Compare(compare)) = args.command {
        return match compare::run(&compare)? {
            true => Ok(()),
            false => std::process::exit(3),
        };
    }
    let code = bench(args.run).await?;
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

/// The server under test: started here, or reached at `--target`.
struct Server {
    base: String,
    store: Arc<dyn Store>,
    queue: Option<Arc<dyn Queue>>,
    tokens: Arc<Tokens>,
    target: String,
    stop: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
}

async fn bench(args: RunArgs) -> anyhow::Result<i32> {
    let modes = match args.mode {
        Mode::Both if args.target.is_some() => {
            bail!(
                "--mode both reseeds before each run, which a running --target server cannot follow"
            )
        }
        Mode::Both => vec![Mode::Queue, Mode::Direct],
        mode => vec![mode],
    };
    let fresh = args.fresh || modes.len() > 1;
    let mut runs = Vec::new();
    for mode in modes {
        runs.push(bench_once(&args, mode, fresh).await?);
    }
    if let [(queue, _), (direct, _)] = runs.as_slice() {
        println!("\nqueue (A) against direct (B), on the same data:\n");
        print!(
            "{}",
            compare::render(&compare::compare(queue, direct, 10.0))
        );
    }
    let correct = runs.iter().all(|(report, _)| report.correct());
    let passed = runs.iter().all(|(report, _)| report.passed);
    Ok(match (correct, passed) {
        (true, true) => 0,
        (false, _) => {
            eprintln!("the run FAILED: unexpected answers or audit findings; see the report");
            2
        }
        (true, false) => {
            eprintln!("the run missed an SLO; see the report");
            3
        }
    })
}

/// One run in one mode: prepares the data, starts or reaches the server, plays the scenario and
/// writes the report.
async fn bench_once(args: &RunArgs, mode: Mode, fresh: bool) -> anyhow::Result<(Report, PathBuf)> {
    let mut scenario = Scenario::load(&args.scenario)?;
    scenario.override_with(args.students, args.lanes, args.seconds);
    let store = store::connect(
        &args.server.database.url,
        args.server.database.max_connections,
    )
    .await
    .context("cannot open the database")?;
    let database = args
        .server
        .database
        .url
        .split(':')
        .next()
        .unwrap_or("")
        .to_owned();
    let manifest = prepare(args, &scenario, store.as_ref(), fresh).await?;
    let server = match &args.target {
        None => start(args, store).await?,
        Some(url) => reach(args, url, store).await?,
    };
    let outcome = drive(args, mode, &scenario, &manifest, &server, &database).await;
    if let Some((stop, task)) = server.stop {
        let _ = stop.send(());
        let _ = task.await;
    }
    let report = outcome?;
    let dir = report.write(&args.report_dir)?;
    print!("{}", report.markdown());
    println!("\nreport: {}", dir.display());
    Ok((report, dir))
}

/// The seed manifest, seeding the scenario's catalog first when the database is empty or the
/// run is `--fresh`.
async fn prepare(
    args: &RunArgs,
    scenario: &Scenario,
    store: &dyn Store,
    fresh: bool,
) -> anyhow::Result<Manifest> {
    let counts = store.data_counts().await?;
    if counts.is_empty() || fresh {
        if args.target.is_some() && fresh {
            bail!(
                "--fresh reseeds the database under a running server; stop it and run classmate seed --reset instead"
            );
        }
        let students = scenario.catalog.students.max(scenario.students as usize);
        println!(
            "{}: seeding {} courses and {students} students (seed {})",
            if args.fresh {
                "--fresh"
            } else {
                "empty database"
            },
            scenario.catalog.courses,
            scenario.seed
        );
        let catalog = generate::catalog(scenario.catalog.courses, scenario.seed);
        let plan = Plan {
            catalog: catalog.courses,
            hot: catalog.hot,
            students: generate::students(students, scenario.seed),
            seed: Some(scenario.seed),
            password: Password::parse("classmate-load-test".into()).expect("a valid password"),
        };
        let manifest = seed::load(store, plan, fresh, &args.manifest).await?;
        if let Some(url) = &args.server.queue.redis_url {
            classmate_server::queue::RedisQueue::connect(url, &args.server.queue.lock_env)
                .await?
                .clear()
                .await?;
        }
        return Ok(manifest);
    }
    let raw = std::fs::read(&args.manifest).with_context(|| {
        format!(
            "the database has data but no seed manifest at {}; run with --fresh (or classmate seed --reset)",
            args.manifest.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&raw)?;
    if manifest.students < scenario.students {
        bail!(
            "the scenario needs {} students but the seed has {}; run with --fresh or --students {}",
            scenario.students,
            manifest.students,
            manifest.students
        );
    }
    if scenario.enrolls() && counts.enrollments > 0 {
        eprintln!(
            "note: the database already holds {} enrollments, so this is not a fresh registration \
             day; --fresh reseeds the same data",
            counts.enrollments
        );
    }
    Ok(manifest)
}

/// Starts the server in this process on port 0.
async fn start(args: &RunArgs, store: Arc<dyn Store>) -> anyhow::Result<Server> {
    let mut config = args.server.clone();
    config.bind = "127.0.0.1:0".parse()?;
    let app = Application::with_store(config, store.clone())
        .await
        .context("cannot start the server")?;
    let state = app.state().clone();
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = app
            .run_until(async {
                let _ = stopped.await;
            })
            .await;
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while state.queue.generation().await?.is_none() {
        if Instant::now() > deadline {
            bail!("the queue did not start");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let database = redact(&args.server.database.url);
    let backends = match &args.server.queue.redis_url {
        Some(url) => format!("{database} and Redis {}", redact(url)),
        None => format!("{database}, in-process queue"),
    };
    Ok(Server {
        target: format!("in-process server on {base} ({backends})"),
        base,
        store,
        queue: Some(state.queue.clone()),
        tokens: state.tokens.clone(),
        stop: Some((stop, task)),
    })
}

/// A running server at `url`, with its database (and Redis, if it uses one) for the audit.
async fn reach(args: &RunArgs, url: &str, store: Arc<dyn Store>) -> anyhow::Result<Server> {
    let base = url.trim_end_matches('/').to_owned();
    let health = reqwest::get(format!("{base}/healthz"))
        .await
        .with_context(|| format!("cannot reach {base}"))?;
    if !health.status().is_success() {
        bail!("{base}/healthz answered {}", health.status());
    }
    let queue: Option<Arc<dyn Queue>> = match &args.server.queue.redis_url {
        Some(_) => Some(
            classmate_server::startup::open_queue(&args.server.queue)
                .await?
                .0,
        ),
        // An embedded server's queue lives in its own process: only the database is audited.
        None => None,
    };
    let key = args
        .server
        .signing_key()
        .context("cannot load the signing key")?;
    Ok(Server {
        target: base.clone(),
        base,
        store,
        queue,
        tokens: Arc::new(Tokens::new(key, args.server.token_ttl)),
        stop: None,
    })
}

/// Hides a password in a URL.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Plays the scenario against `server` and builds the report.
async fn drive(
    args: &RunArgs,
    mode: Mode,
    scenario: &Scenario,
    manifest: &Manifest,
    server: &Server,
    database: &str,
) -> anyhow::Result<Report> {
    let first = manifest
        .first_student_id
        .context("the manifest names no students; seed some with classmate seed")?;
    let students = scenario.students as usize;
    let minting = Instant::now();
    let tokens: Vec<String> = (first..first + students as i64)
        .map(|id| server.tokens.issue(id, Role::Student).token)
        .collect();
    println!(
        "{} students, tokens minted in {:.2} s; {} lanes",
        students,
        minting.elapsed().as_secs_f64(),
        scenario.lanes
    );
    let courses = Courses {
        first: manifest.first_course_id,
        last: manifest.last_course_id,
        hot: manifest.hot_courses.clone(),
    };
    let carts = plan::carts(scenario, &courses, students);
    let target = set_target(Target {
        base: server.base.clone(),
        tokens,
        carts: carts.carts.clone(),
        courses,
    });
    let admin = server.tokens.issue(0, Role::Admin).token;
    let settings = change_settings(
        &server.base,
        &admin,
        json!({ "opens_at": null, "paused": false, "mode": mode.name() }),
    )
    .await?;

    let started_at = OffsetDateTime::now_utc().format(&Rfc3339)?;
    Recorder::start();
    let live = Live::start(&server.base, &target.tokens[0]);
    let lanes = scenario.lanes as usize;

    let calibration = match args.calibrate_seconds > 0.0 {
        true => {
            live.phase("calibration");
            Some(calibrate(&server.base, lanes, args.calibrate_seconds).await?)
        }
        false => None,
    };

    let mut enrolling_phase = None;
    for (index, phase) in scenario.phases.iter().enumerate() {
        live.phase(&phase.name);
        let journeys = plan::journeys(scenario, index, &carts, lanes);
        let increase_rate = lanes.min(1000);
        // Every lane is up and waiting before the first student arrives.
        let lead = Duration::from_secs_f64(lanes as f64 / increase_rate as f64 + 1.0);
        let start = Instant::now() + lead;
        let start_unix_ms = unix_ms() + lead.as_millis() as i64;
        if phase.opens {
            // The opening is read from two clocks (this process's and the server's) and reaches
            // every server process within a second: it is set a little before the first arrival
            // so no student due at the opening is turned away as too early.
            change_settings(
                &server.base,
                &admin,
                json!({ "opens_at": rfc3339_ms(start_unix_ms - OPENING_MARGIN_MS) }),
            )
            .await?;
        }
        if phase
            .steps
            .iter()
            .chain(phase.mix.keys())
            .any(|s| s.enrolls())
        {
            enrolling_phase.get_or_insert(phase.name.clone());
        }
        *PHASE.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(PhaseRun {
            start,
            scheduled: phase.arrival.seconds > 0.0,
            follow: match mode {
                Mode::Direct => Follow::None,
                Mode::Queue | Mode::Both => phase.follow,
            },
            think_ms: phase.think_ms,
            seed: scenario.seed ^ index as u64,
            lanes: journeys.into_iter().map(Mutex::new).collect(),
        }));
        record::with(|r| r.begin_phase(&phase.name, start, start_unix_ms));
        attack(&server.base, lanes, increase_rate, lane::scenario()).await?;
        record::with(|r| r.end_phase(Instant::now()));
    }
    drop(live);
    // Put the opening time back as it was.
    change_settings(
        &server.base,
        &admin,
        json!({ "opens_at": settings["opens_at"], "mode": settings["mode"] }),
    )
    .await?;

    let audit = match scenario.enrolls() {
        true => {
            drained(&server.base, &admin).await?;
            let queue_or_none: Option<&dyn Queue> = server.queue.as_deref();
            // Cancellations free seats, which a later ticket may rightly take.
            let fifo = !scenario
                .phases
                .iter()
                .any(|p| p.mix.contains_key(&Step::Cancel) || p.steps.contains(&Step::Cancel));
            let scope = AuditScope { fifo };
            let findings = match queue_or_none {
                Some(queue) => audit(server.store.as_ref(), queue, scope).await?,
                None => server.store.audit(scope).await?,
            };
            AuditResult {
                ran: true,
                fifo,
                findings: findings.into_iter().map(Into::into).collect(),
            }
        }
        false => AuditResult {
            ran: false,
            fifo: false,
            findings: Vec::new(),
        },
    };

    let recorder = Recorder::finish().context("the recorder was started")?;
    let ceiling = calibration.as_ref().map(|c| c.per_second);
    let phase_spans = recorder.phase_spans();
    let requests: Vec<_> = recorder
        .request_stats(ceiling)
        .into_iter()
        .filter(|r| r.phase != "calibration")
        .collect();
    let phases = scenario
        .phases
        .iter()
        .filter_map(|phase| {
            let (_, started, seconds) = phase_spans.iter().find(|(n, _, _)| *n == phase.name)?;
            let count: u64 = requests
                .iter()
                .filter(|r| r.phase == phase.name)
                .map(|r| r.count)
                .sum();
            let per_second = count as f64 / seconds;
            Some(PhaseStats {
                name: phase.name.clone(),
                started_after_seconds: *started,
                duration_seconds: *seconds,
                students: students as u64,
                requests: count,
                per_second,
                ceiling_ratio: ceiling.map(|c| per_second / c),
                gated: phase.gated,
            })
        })
        .collect::<Vec<_>>();
    let decisions = recorder.decisions(enrolling_phase.as_deref());
    let errors = recorder.errors();
    let duration = phase_spans
        .iter()
        .map(|(_, s, d)| s + d)
        .fold(0.0, f64::max);
    let mut report = Report {
        version: REPORT_VERSION,
        run: RunInfo {
            scenario: scenario.name.clone(),
            description: scenario.description.clone(),
            started_at,
            duration_seconds: duration,
            target: server.target.clone(),
            database: Some(database.to_owned()).filter(|d| !d.is_empty()),
            queue: Some(match args.server.queue.redis_url {
                Some(_) => "redis".to_owned(),
                None => "memory".to_owned(),
            }),
            mode: mode.name().to_owned(),
            students: students as u64,
            lanes: lanes as u64,
            simulation: simulation(scenario, mode),
        },
        calibration,
        phases,
        requests,
        decisions,
        oversubscription: carts.oversubscription,
        timeline: recorder.timeline(),
        errors,
        audit,
        slos: Vec::new(),
        passed: false,
    };
    report.slos = slo::judge(scenario, &report);
    report.passed = report.correct() && report.slos.iter().all(|s| s.passed);
    Ok(report)
}

/// How the students were simulated, for the report.
fn simulation(scenario: &Scenario, mode: Mode) -> String {
    let per_lane = scenario.students.div_ceil(scenario.lanes);
    let follow = match (mode, scenario.phases.iter().map(|p| p.follow).find(|f| *f != Follow::None)) {
        (Mode::Direct, _) => {
            "Enrollment answers are final (direct mode), so no ticket is followed.".to_owned()
        }
        (_, None) => "No phase follows tickets.".to_owned(),
        (_, Some(Follow::Websocket)) => "Each lane keeps one WebSocket to /api/v1/queue/ws; when a status frame says the queue has passed a student's ticket, that student reads the ticket (GET /api/v1/tickets/{id}) to learn the outcome.".to_owned(),
        (_, Some(_)) => "Each lane with open tickets polls GET /api/v1/queue/status every 250 ms; when the queue has passed a student's ticket, that student reads the ticket.".to_owned(),
    };
    format!(
        "{} distinct students (student i of the seed is simulated student i), each with a session \
         token minted with the server's signing key before the run, so no password is hashed \
         during it. {} goose users act as lanes sharing one HTTP client pool: each lane holds one \
         keep-alive connection and plays about {per_lane} students, dealt round-robin in arrival \
         order, sending each student's request when it is due (arrival, then after each think \
         time). A request a busy lane sends late is also measured from when it was due: the \
         corrected latency. {follow}",
        scenario.students, scenario.lanes
    )
}

/// Runs the current phase's lanes with goose until every lane is done.
async fn attack(
    base: &str,
    lanes: usize,
    increase_rate: usize,
    scenario: goose::goose::Scenario,
) -> anyhow::Result<()> {
    GooseAttack::initialize_with_config(GooseConfiguration::default())?
        .register_scenario(scenario)
        .set_client_builder_without_cookies(
            GooseClientBuilder::new()
                .without_cookies()
                .timeout(Duration::from_secs(60)),
        )?
        .set_default(GooseDefault::Host, base)?
        .set_default(GooseDefault::Users, lanes)?
        .set_default(
            GooseDefault::IncreaseRate,
            increase_rate.to_string().as_str(),
        )?
        .set_default(GooseDefault::Iterations, 1)?
        .set_default(GooseDefault::Quiet, 1)?
        .set_default(GooseDefault::NoMetrics, true)?
        // Nothing controls a run from outside; and a second attack would find the port taken.
        .set_default(GooseDefault::NoTelnet, true)?
        .set_default(GooseDefault::NoPrintMetrics, true)?
        .execute()
        .await?;
    Ok(())
}

/// Measures the generator's own ceiling: every lane sends `GET /healthz` back to back.
async fn calibrate(base: &str, lanes: usize, seconds: f64) -> anyhow::Result<Calibration> {
    let start =
        Instant::now() + Duration::from_secs_f64(lanes as f64 / lanes.min(1000) as f64 + 0.5);
    record::with(|r| r.begin_phase("calibration", start, unix_ms()));
    let until = start + Duration::from_secs_f64(seconds);
    attack(
        base,
        lanes,
        lanes.min(1000),
        lane::calibration(start, until),
    )
    .await?;
    let (requests, histogram, _) = record::with(|r| {
        r.end_phase(until);
        r.phase_total("calibration")
    })
    .flatten()
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

/// Changes the queue's settings as an operator; returns them as they were before.
async fn change_settings(base: &str, admin: &str, change: Value) -> anyhow::Result<Value> {
    let client = reqwest::Client::new();
    let url = format!("{base}/api/v1/admin/queue");
    let before: Value = client
        .get(&url)
        .bearer_auth(admin)
        .send()
        .await?
        .json()
        .await?;
    let response = client
        .put(&url)
        .bearer_auth(admin)
        .json(&change)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!(
            "PUT /api/v1/admin/queue answered {}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
    }
    Ok(before["settings"].clone())
}

/// Waits until the queue has decided every ticket (up to two minutes).
async fn drained(base: &str, admin: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status: Value = client
            .get(format!("{base}/api/v1/admin/queue"))
            .bearer_auth(admin)
            .send()
            .await?
            .json()
            .await?;
        let depth = status["queue"]["depth"].as_u64().unwrap_or(0);
        if depth == 0 || Instant::now() > deadline {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn unix_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn rfc3339_ms(unix_ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .expect("a time within range")
        .format(&Rfc3339)
        .expect("RFC 3339 formats every time")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_hidden() {
        assert_eq!(
            redact("redis://:s3cret@host:6379"),
            "redis://:***@host:6379"
        );
        assert_eq!(
            redact("postgres://app:pw@db/classmate"),
            "postgres://app:***@db/classmate"
        );
        assert_eq!(
            redact("sqlite://data/classmate.db"),
            "sqlite://data/classmate.db"
        );
    }
}
