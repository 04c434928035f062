//! `classmate seed`: a realistic Korean catalog and student body in seconds, or a real catalog
//! from CSV, with a manifest for `classmate bench`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use classmate_server::auth::password;
use classmate_server::config::DatabaseConfig;
use classmate_server::domain::{CourseSpec, Password};
use classmate_server::queue::RedisQueue;
use classmate_server::store::{self, Store, StudentRecord};
use indicatif::{ProgressBar, ProgressStyle};

use crate::seed::{HotCourse, MANIFEST_VERSION, Manifest, csv, generate};

/// Settings of `classmate seed`.
#[derive(clap::Args)]
pub struct SeedArgs {
    /// How many courses to generate.
    #[arg(long, default_value_t = 2_000, conflicts_with = "from_csv")]
    courses: usize,
    /// How many students to generate.
    #[arg(long, default_value_t = 5_000)]
    students: usize,
    /// The generator's seed: the same seed gives the same data.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Load the catalog from this CSV file instead of generating one (format: `classmate seed
    /// --help` and the README).
    #[arg(long)]
    from_csv: Option<PathBuf>,
    /// Empty the courses, students, carts, enrollments and tickets first (administrators stay).
    #[arg(long)]
    reset: bool,
    /// Do not ask before --reset.
    #[arg(long)]
    yes: bool,
    /// The password every seeded student logs in with.
    #[arg(long, default_value = "classmate-load-test")]
    password: String,
    /// Where to write the manifest (the students file goes beside it).
    #[arg(long, default_value = "data/seed-manifest.json")]
    manifest: PathBuf,
    /// With --reset: also clear the queue's Redis keys (`classmate:<env>:*`) so every server
    /// rebuilds its queue from the new data.
    #[arg(long = "redis-url", env = "CLASSMATE_REDIS_URL")]
    redis_url: Option<String>,
    /// The queue's lock environment, for --redis-url.
    #[arg(
        long = "lock-env",
        env = "CLASSMATE_LOCK_ENV",
        default_value = "default"
    )]
    lock_env: String,
    #[command(flatten)]
    database: DatabaseConfig,
}

/// Rows per progress step.
const CHUNK: usize = 5_000;

fn bar(length: usize, phase: &str) -> ProgressBar {
    let bar = ProgressBar::new(length as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>9} [{bar:30}] {pos}/{len} {per_sec} {elapsed}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(phase.to_owned());
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

fn confirm_reset(args: &SeedArgs) -> anyhow::Result<()> {
    if args.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("--reset deletes every course, student and enrollment; add --yes to confirm");
    }
    eprint!(
        "{}의 강좌, 학생, 수강신청을 모두 지웁니다. 계속하려면 yes를 입력하세요: ",
        args.database.url
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    match answer.trim() {
        "yes" => Ok(()),
        _ => bail!("reset cancelled"),
    }
}

/// What to load.
pub struct Plan {
    pub catalog: Vec<CourseSpec>,
    /// Indexes of the hot courses in `catalog`.
    pub hot: Vec<usize>,
    pub students: Vec<StudentRecord>,
    /// The generator's seed; `None` for a CSV catalog.
    pub seed: Option<u64>,
    pub password: Password,
}

/// Loads `plan` in one transaction (after emptying the tables with `reset`) and writes the
/// manifest and the students file.
pub async fn load(
    store: &dyn Store,
    plan: Plan,
    reset: bool,
    manifest_path: &Path,
) -> anyhow::Result<Manifest> {
    let Plan {
        catalog,
        hot,
        students,
        seed,
        password,
    } = plan;
    let hash = password::hash(&password).map_err(anyhow::Error::msg)?;

    // One transaction: a load that fails half-way leaves the database as it was.
    let mut load = store.begin_bulk(reset).await?;
    let progress = bar(catalog.len(), "courses");
    let mut course_ids = Vec::with_capacity(catalog.len());
    for chunk in catalog.chunks(CHUNK) {
        course_ids.extend(load.courses(chunk).await.context("loading courses")?);
        progress.inc(chunk.len() as u64);
    }
    progress.finish();
    let progress = bar(students.len(), "students");
    let mut student_ids = Vec::with_capacity(students.len());
    for chunk in students.chunks(CHUNK) {
        student_ids.extend(
            load.students(chunk, &hash)
                .await
                .context("loading students")?,
        );
        progress.inc(chunk.len() as u64);
    }
    progress.finish();
    load.commit().await.context("committing the load")?;
    let manifest = Manifest {
        version: MANIFEST_VERSION,
        seed,
        backend: format!("{:?}", store.backend()).to_lowercase(),
        generated_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)?,
        courses: catalog.len() as u64,
        first_course_id: course_ids.first().copied().unwrap_or(0),
        last_course_id: course_ids.last().copied().unwrap_or(0),
        hot_courses: hot
            .iter()
            .map(|&i| HotCourse {
                id: course_ids[i],
                code: catalog[i].code.to_string(),
                title: catalog[i].title.clone(),
                capacity: catalog[i].capacity,
            })
            .collect(),
        students: students.len() as u64,
        first_student_id: student_ids.first().copied(),
        last_student_id: student_ids.last().copied(),
        first_student_number: students.first().map(|s| s.number.as_str().to_owned()),
        last_student_number: students.last().map(|s| s.number.as_str().to_owned()),
        password: password.expose().to_owned(),
        students_file: None,
    };
    write_manifest(manifest_path, manifest, &students, &student_ids)
}

/// Runs the seed.
pub async fn run(args: SeedArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let password =
        Password::parse(args.password.clone()).context("--password must be 8 to 128 characters")?;
    // A CSV is read and checked whole before the database is touched.
    let (catalog, hot, seed) = match &args.from_csv {
        Some(path) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            match csv::read_catalog(file) {
                Ok(courses) => (courses, Vec::new(), None),
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{}:{}: {}", path.display(), e.line, e.reason);
                    }
                    bail!(
                        "{} invalid lines in {}; nothing written",
                        errors.len(),
                        path.display()
                    );
                }
            }
        }
        None => {
            let generated = generate::catalog(args.courses, args.seed);
            (generated.courses, generated.hot, Some(args.seed))
        }
    };
    let students = generate::students(args.students, args.seed);

    let store = store::connect(&args.database.url, 4)
        .await
        .context("cannot open the database")?;
    let counts = store.data_counts().await?;
    if !counts.is_empty() {
        if !args.reset {
            bail!(
                "the database already holds {} courses, {} students and {} enrollments; \
                 seed with --reset to replace them",
                counts.courses,
                counts.students,
                counts.enrollments
            );
        }
        confirm_reset(&args)?;
    }
    let plan = Plan {
        catalog,
        hot,
        students,
        seed,
        password,
    };
    let manifest = load(store.as_ref(), plan, args.reset, &args.manifest).await?;
    if args.reset
        && let Some(url) = &args.redis_url
    {
        let cleared = RedisQueue::connect(url, &args.lock_env)
            .await?
            .clear()
            .await?;
        println!("cleared {cleared} queue keys in Redis; servers rebuild their queue");
    }

    store.close().await;

    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} courses ({} hot), {} students in {seconds:.1} s ({:.0} rows/s) into {}",
        manifest.courses,
        manifest.hot_courses.len(),
        manifest.students,
        (manifest.courses + manifest.students) as f64 / seconds.max(0.001),
        manifest.backend,
    );
    println!("manifest: {}", args.manifest.display());
    println!("password of every seeded student: {}", manifest.password);
    Ok(())
}

/// Writes the manifest and, beside it, the students file.
fn write_manifest(
    path: &Path,
    mut manifest: Manifest,
    students: &[StudentRecord],
    ids: &[i64],
) -> anyhow::Result<Manifest> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let students_path = path.with_file_name("seed-students.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&students_path)?);
    writeln!(out, "id,student_number,department,year")?;
    for (student, id) in students.iter().zip(ids) {
        writeln!(
            out,
            "{id},{},{},{}",
            student.number.as_str(),
            student.department,
            student.year.get()
        )?;
    }
    out.flush()?;
    manifest.students_file = Some(students_path.display().to_string());
    std::fs::write(path, serde_json::to_string_pretty(&manifest)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(manifest)
}
