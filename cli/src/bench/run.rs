//! The run driver: prepares the data, starts or reaches the server, calibrates, plays the
//! scenario's phases, audits, and builds and writes the report.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use classmate_server::Config;
use classmate_server::audit::audit;
use classmate_server::auth::Role;
use classmate_server::clock::{now_ms, rfc3339_ms};
use classmate_server::search::SearchBackend;
use classmate_server::store::{self, AuditScope};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::attack::{attack, increase_rate};
use super::calibrate::calibrate;
use super::compare;
use super::lane::{self, PhaseRun, Target};
use super::live::Live;
use super::operator::Operator;
use super::plan::{self, Courses};
use super::prepare::{Preparation, prepare};
use super::record::Recording;
use super::report::{AuditResult, Oversubscription, PhaseStats, REPORT_VERSION, Report, RunInfo};
use super::scenario::{CartFill, Follow, Scenario, Step};
use super::server::Server;
use super::{markdown, memory, open_files, output, slo};
use crate::seed::Manifest;

/// Which path enrollments take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
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

/// What answers searches in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SearchChoice {
    /// The tantivy index in the server process.
    Tantivy,
    /// The database: LIKE over pg_trgm trigram indexes, the baseline.
    Database,
    /// Tantivy, then the database, each on freshly seeded identical data; then compared.
    Both,
    /// Elasticsearch at `CLASSMATE_ELASTICSEARCH_URL`.
    Elasticsearch,
}

/// How long before the first arrival enrollment opens.
const OPENING_MARGIN_MS: i64 = 100;

/// How long the audit waits for the queue to drain.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

/// What to run, as `classmate bench` was asked.
pub struct Settings {
    /// A built-in scenario's name or a `.toml` path.
    pub scenario: String,
    /// A running server to drive instead of starting one.
    pub target: Option<String>,
    pub manifest: PathBuf,
    pub report_dir: PathBuf,
    pub students: Option<u64>,
    pub lanes: Option<u64>,
    pub seconds: Option<f64>,
    pub phase_limit: Option<f64>,
    pub mode: Mode,
    /// `None` keeps the server's own setting.
    pub search: Option<SearchChoice>,
    pub fresh: bool,
    /// `None` keeps the scenario's own.
    pub cart_fill: Option<CartFill>,
    /// How the phases that follow tickets follow them; `None` keeps the scenario's own.
    pub follow: Option<Follow>,
    pub calibrate_seconds: f64,
    /// The server's settings: started with them, or (with `target`) reached with them.
    pub server: Config,
}

/// Runs the scenario (twice, with `--mode both`) and returns the exit code: 0 passed, 2 an
/// unexpected answer or an audit finding, 3 only an SLO missed.
pub async fn run(settings: Settings) -> anyhow::Result<i32> {
    let modes = match settings.mode {
        Mode::Both if settings.target.is_some() => {
            bail!(
                "--mode both reseeds before each run, which a running --target server cannot follow"
            )
        }
        Mode::Both => vec![Mode::Queue, Mode::Direct],
        mode => vec![mode],
    };
    let searches = match settings.search {
        Some(SearchChoice::Both) if settings.target.is_some() => {
            bail!("--search both starts the server twice, which a running --target server cannot")
        }
        Some(SearchChoice::Both) if modes.len() > 1 => {
            bail!("--search both and --mode both cannot be combined: choose one comparison")
        }
        Some(SearchChoice::Both) => vec![SearchBackend::Tantivy, SearchBackend::Database],
        Some(SearchChoice::Tantivy) => vec![SearchBackend::Tantivy],
        Some(SearchChoice::Database) => vec![SearchBackend::Database],
        Some(SearchChoice::Elasticsearch) => vec![SearchBackend::Elasticsearch],
        None => vec![settings.server.search_backend()],
    };
    let fresh = settings.fresh || modes.len() > 1 || searches.len() > 1;
    let mut runs = Vec::new();
    for &search in &searches {
        for &mode in &modes {
            runs.push(run_once(&settings, mode, search, fresh).await?);
        }
    }
    if let [(a, _), (b, _)] = runs.as_slice() {
        match searches.len() {
            2 => println!("\ntantivy (A) against the database's pg_trgm (B), on the same data:\n"),
            _ => println!("\nqueue (A) against direct (B), on the same data:\n"),
        }
        print!("{}", compare::render(&compare::compare(a, b, 10.0)));
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
async fn run_once(
    settings: &Settings,
    mode: Mode,
    search: SearchBackend,
    fresh: bool,
) -> anyhow::Result<(Report, PathBuf)> {
    let mut scenario = Scenario::load(&settings.scenario)?;
    scenario.override_with(
        settings.students,
        settings.lanes,
        settings.seconds,
        settings.phase_limit,
        settings.cart_fill,
        settings.follow,
    );
    let mut config = settings.server.clone();
    config.search = Some(search);
    if scenario.follows_per_student() {
        // Every student's socket beside the lanes' connections: the server this run starts is
        // sized for them, and this process needs a file for each end of each one.
        let wanted = (scenario.students + scenario.lanes) as usize + 1_000;
        if settings.target.is_none() && config.http_connections < wanted {
            println!(
                "a WebSocket per student: the server started here takes up to {wanted} connections \
                 (CLASSMATE_HTTP_CONNECTIONS)"
            );
            config.http_connections = wanted;
        }
        let files = 2 * wanted as u64 + 4_096;
        let limit = open_files::raise_to(files);
        if limit < files {
            println!(
                "note: this process may open {limit} files, fewer than the {files} a socket per \
                 student needs; raise `ulimit -n`"
            );
        }
    }
    let config = &config;
    let database = store::connect(&config.database.url, config.database.max_connections)
        .await
        .context("cannot open the database")?;
    let backend = config.database.url.split(':').next().unwrap_or("");
    let preparation = Preparation {
        scenario: &scenario,
        manifest: &settings.manifest,
        fresh,
        external: settings.target.is_some(),
        queue: &config.queue,
    };
    let manifest = prepare(database.as_ref(), preparation).await?;
    let server = match &settings.target {
        None => Server::start(config, database).await?,
        Some(url) => Server::reach(config, url, database).await?,
    };
    let outcome = drive(
        settings,
        (mode, search),
        &scenario,
        &manifest,
        &server,
        backend,
    )
    .await;
    server.stop().await;
    let report = outcome?;
    let dir = output::write(&report, &settings.report_dir)?;
    print!("{}", markdown::render(&report));
    println!("\nreport: {}", dir.display());
    Ok((report, dir))
}

/// Plays the scenario against `server` and builds the report.
async fn drive(
    settings: &Settings,
    (mode, search): (Mode, SearchBackend),
    scenario: &Scenario,
    manifest: &Manifest,
    server: &Server,
    backend: &str,
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
    let numbers = match scenario.logs_in() {
        true => student_numbers(manifest, first, students)?,
        false => Vec::new(),
    };
    let target = Arc::new(Target {
        base: server.base.clone(),
        tokens,
        carts: carts.carts.clone(),
        courses,
        numbers,
        password: manifest.password.clone(),
    });
    let operator = Operator::new(&server.base, server.tokens.issue(0, Role::Admin).token);
    let before = operator
        .change_settings(json!({ "opens_at": null, "paused": false, "mode": mode.name() }))
        .await?;

    let started_at = OffsetDateTime::now_utc().format(&Rfc3339)?;
    let recording = Recording::start();
    let live = Live::start(&server.base, &target.tokens[0], &recording);
    let lanes = scenario.lanes as usize;

    let calibration = match settings.calibrate_seconds > 0.0 {
        true => {
            live.phase("calibration");
            Some(calibrate(&target, &recording, lanes, settings.calibrate_seconds).await?)
        }
        false => None,
    };

    // The peak memory counts from here: the measured phases, not the seeding or the minting.
    let measure_memory = server.in_process() && memory::reset_peak();
    let mut enrolling_phase = None;
    for (index, phase) in scenario.phases.iter().enumerate() {
        if scenario.cart.fill == CartFill::Bulk && phase.only_fills_carts() {
            // The carts were loaded with the seed.
            continue;
        }
        live.phase(&phase.name);
        let journeys = plan::journeys(scenario, index, &carts, lanes);
        let rate = increase_rate(lanes);
        // Every lane is up and waiting before the first student arrives.
        let lead = Duration::from_secs_f64(lanes as f64 / rate as f64 + 1.0);
        let start = Instant::now() + lead;
        let start_unix_ms = now_ms() + lead.as_millis() as i64;
        if phase.opens {
            // The opening is read from two clocks (this process's and the server's) and reaches
            // every server process within a second: it is set a little before the first arrival
            // so no student due at the opening is turned away as too early.
            let opens_at = rfc3339_ms(start_unix_ms - OPENING_MARGIN_MS);
            operator
                .change_settings(json!({ "opens_at": opens_at }))
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
        let run = Arc::new(PhaseRun {
            target: target.clone(),
            recording: recording.clone(),
            start,
            scheduled: phase.arrival.seconds > 0.0,
            follow: match mode {
                Mode::Direct => Follow::None,
                Mode::Queue | Mode::Both => phase.follow,
            },
            think_ms: phase.think_ms,
            deadline: phase
                .limit_seconds
                .map(|limit| start + Duration::from_secs_f64(limit)),
            seed: scenario.seed ^ index as u64,
            lanes: journeys.into_iter().map(Mutex::new).collect(),
        });
        recording.with(|r| r.begin_phase(&phase.name, start, start_unix_ms));
        attack(&server.base, lanes, rate, lane::scenario(run)).await?;
        recording.with(|r| r.end_phase(Instant::now()));
    }
    drop(live);
    // Put the opening time and the mode back as they were.
    operator
        .change_settings(json!({ "opens_at": before["opens_at"], "mode": before["mode"] }))
        .await?;

    let audit = match scenario.enrolls() {
        true => {
            operator.drained(DRAIN_LIMIT).await?;
            audit_run(scenario, server).await?
        }
        false => AuditResult {
            ran: false,
            fifo: false,
            findings: Vec::new(),
        },
    };

    let report = recording.with(|recorder| {
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
                let (_, started, seconds) =
                    phase_spans.iter().find(|(n, _, _)| *n == phase.name)?;
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
                    cut_off: recorder.cut_off_in(&phase.name),
                    limit_seconds: phase.limit_seconds,
                })
            })
            .collect::<Vec<_>>();
        let duration = phase_spans
            .iter()
            .map(|(_, s, d)| s + d)
            .fold(0.0, f64::max);
        Report {
            version: REPORT_VERSION,
            run: RunInfo {
                scenario: scenario.name.clone(),
                description: scenario.description.clone(),
                started_at,
                duration_seconds: duration,
                target: server.description.clone(),
                database: Some(backend.to_owned()).filter(|d| !d.is_empty()),
                queue: Some(match settings.server.queue.redis_url {
                    Some(_) => "redis".to_owned(),
                    None => "memory".to_owned(),
                }),
                mode: mode.name().to_owned(),
                search: Some(search.to_string()),
                students: students as u64,
                lanes: lanes as u64,
                simulation: simulation(scenario, mode),
                peak_memory_mib: measure_memory.then(memory::peak_mib).flatten(),
            },
            calibration,
            phases,
            requests,
            decisions: recorder.decisions(enrolling_phase.as_deref()),
            oversubscription: carts
                .demand
                .iter()
                .map(|d| Oversubscription {
                    course_id: d.course_id,
                    code: d.code.clone(),
                    capacity: d.capacity,
                    demand: d.demand,
                    ratio: d.demand as f64 / f64::from(d.capacity.max(1)),
                })
                .collect(),
            timeline: recorder.timeline(),
            errors: recorder.errors(),
            audit,
            slos: Vec::new(),
            passed: false,
        }
    });
    let mut report = report;
    report.slos = slo::judge(scenario, &report);
    report.passed = report.correct() && report.slos.iter().all(|s| s.passed);
    Ok(report)
}

/// The numbers of the `count` students from id `first` on, from the seed's students file.
fn student_numbers(manifest: &Manifest, first: i64, count: usize) -> anyhow::Result<Vec<String>> {
    let path = manifest
        .students_file
        .as_deref()
        .context("the manifest names no students file; reseed with classmate seed or --fresh")?;
    let mut reader = csv_reader(path)?;
    let mut numbers = vec![String::new(); count];
    for record in reader.records() {
        let record = record.with_context(|| format!("reading {path}"))?;
        let (Some(id), Some(number)) = (record.get(0), record.get(1)) else {
            bail!("{path}: a line without id and number");
        };
        let index = id
            .parse::<i64>()
            .with_context(|| format!("{path}: id {id:?}"))?
            - first;
        if let Some(slot) = usize::try_from(index).ok().and_then(|i| numbers.get_mut(i)) {
            *slot = number.to_owned();
        }
    }
    if let Some(missing) = numbers.iter().position(String::is_empty) {
        bail!(
            "{path} has no number for student id {}",
            first + missing as i64
        );
    }
    Ok(numbers)
}

fn csv_reader(path: &str) -> anyhow::Result<csv::Reader<std::fs::File>> {
    csv::Reader::from_path(path).with_context(|| format!("cannot read {path}"))
}

/// The audit once the queue has drained: the database's checks, and the queue's when it can be
/// reached.
async fn audit_run(scenario: &Scenario, server: &Server) -> anyhow::Result<AuditResult> {
    // Cancellations free seats, which a later ticket may rightly take.
    let fifo = !scenario
        .phases
        .iter()
        .any(|p| p.mix.contains_key(&Step::Cancel) || p.steps.contains(&Step::Cancel));
    let scope = AuditScope { fifo };
    let database = server.database.as_ref();
    let findings = match server.queue.as_deref() {
        Some(queue) => audit(database, queue, scope).await?,
        None => database.audit(scope).await?,
    };
    Ok(AuditResult {
        ran: true,
        fifo,
        findings: findings.into_iter().map(Into::into).collect(),
    })
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
        (_, Some(Follow::WebsocketPerStudent)) => "Each student opens a WebSocket of their own to /api/v1/queue/ws before their first press (from a loopback address of their own), and learns each outcome from the result the server pushes on it, without reading the ticket.".to_owned(),
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
