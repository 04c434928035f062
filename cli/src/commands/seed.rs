//! `classmate seed`: a realistic Korean catalog and student body in seconds, or a real catalog
//! from CSV, with a manifest for `classmate bench`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use classmate_server::config::{DatabaseConfig, redact_url};
use classmate_server::domain::Password;
use classmate_server::queue::RedisQueue;
use classmate_server::store;

use crate::seed::carts::CartSpec;
use crate::seed::{CartLoad, Plan, csv, generate, load};

/// Settings of `classmate seed`.
#[derive(clap::Args)]
pub struct SeedArgs {
    /// How many courses to generate.
    #[arg(long, default_value_t = 2_000, conflicts_with = "from_csv")]
    courses: usize,
    /// How many students to generate, each with an account (the shared --password) and a
    /// claimed roster entry.
    #[arg(long, default_value_t = 5_000, conflicts_with = "students_csv")]
    students: usize,
    /// How many more generated roster entries to leave unclaimed, for trying sign-up (listed in
    /// seed-unclaimed.csv beside the manifest).
    #[arg(long, default_value_t = 100, conflicts_with = "students_csv")]
    unclaimed: usize,
    /// Import the registrar's roster from this CSV file instead of generating students
    /// (`student_number,name,department,year`): every entry is left for its student to claim by
    /// signing up; nobody gets an account from the seed.
    #[arg(long)]
    students_csv: Option<PathBuf>,
    /// The generator's seed: the same seed gives the same data.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Load the catalog from this CSV file instead of generating one (format: `classmate seed
    /// --help` and the README).
    #[arg(long)]
    from_csv: Option<PathBuf>,
    /// Empty the courses, students, roster, carts, enrollments and tickets first (administrators
    /// stay).
    #[arg(long)]
    reset: bool,
    /// Do not ask before --reset.
    #[arg(long)]
    yes: bool,
    /// Plan and load a cart for every generated student, this many courses each (`3..6`, or
    /// `4`): the hot courses wanted by --hot-demand times their seats, the rest ordinary courses.
    /// Carts are filled over the week before registration day; this loads them with the seed,
    /// in seconds.
    #[arg(long, value_parser = range, conflicts_with = "students_csv")]
    carts: Option<[u32; 2]>,
    /// With --carts: how many times its seats each hot course is wanted, a range (hot courses
    /// are used while their demand fits in 60% of the students).
    #[arg(long, value_parser = range, default_value = "10..50", requires = "carts")]
    hot_demand: [u32; 2],
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

fn confirm_reset(args: &SeedArgs) -> anyhow::Result<()> {
    if args.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("--reset deletes every course, student and enrollment; add --yes to confirm");
    }
    eprint!(
        "{}의 강좌, 학생, 수강신청을 모두 지웁니다. 계속하려면 yes를 입력하세요: ",
        redact_url(&args.database.url)
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    match answer.trim() {
        "yes" => Ok(()),
        _ => bail!("reset cancelled"),
    }
}

/// The most courses a seeded cart holds.
const MAX_CART: u32 = 50;

/// Reads `low..high` (inclusive) or `n`, from 1 to 50 (a cart's size) or beyond for demand.
fn range(text: &str) -> Result<[u32; 2], String> {
    let number = |part: &str| {
        part.trim()
            .parse::<u32>()
            .map_err(|_| format!("{part:?} is not a whole number"))
    };
    let [low, high] = match text.split_once("..") {
        Some((low, high)) => [number(low)?, number(high.trim_start_matches('='))?],
        None => [number(text)?; 2],
    };
    match low >= 1 && low <= high {
        true => Ok([low, high]),
        false => Err(format!("{text:?} must be low..high with 1 ≤ low ≤ high")),
    }
}

/// Reads a CSV file whole with `read`, or reports each invalid line and fails.
fn read_csv<T>(
    path: &Path,
    read: impl Fn(std::fs::File) -> Result<Vec<T>, Vec<csv::LineError>>,
) -> anyhow::Result<Vec<T>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    read(file).or_else(|errors| {
        for e in &errors {
            eprintln!("{}:{}: {}", path.display(), e.line, e.reason);
        }
        bail!(
            "{} invalid lines in {}; nothing written",
            errors.len(),
            path.display()
        )
    })
}

/// Runs the seed.
pub async fn run(args: SeedArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let password =
        Password::parse(args.password.clone()).context("--password must be 8 to 128 characters")?;
    // A CSV is read and checked whole before the database is touched.
    let (catalog, hot, seed) = match &args.from_csv {
        Some(path) => (read_csv(path, csv::read_catalog)?, Vec::new(), None),
        None => {
            let generated = generate::catalog(args.courses, args.seed);
            (generated.courses, generated.hot, Some(args.seed))
        }
    };
    let (students, unclaimed) = match &args.students_csv {
        Some(path) => (Vec::new(), read_csv(path, csv::read_roster)?),
        None => {
            let mut students = generate::students(args.students + args.unclaimed, args.seed);
            let unclaimed = students.split_off(args.students);
            (students, unclaimed)
        }
    };

    if let Some([_, high]) = args.carts
        && high > MAX_CART
    {
        bail!("--carts: a cart holds at most {MAX_CART} courses");
    }
    let store = store::connect(&args.database.url, 4)
        .await
        .context("cannot open the database")?;
    let counts = store.data_counts().await?;
    if !counts.is_empty() {
        if !args.reset {
            bail!(
                "the database already holds {} courses, {} students ({} on the roster) and {} \
                 enrollments; seed with --reset to replace them",
                counts.courses,
                counts.students,
                counts.roster,
                counts.enrollments
            );
        }
        confirm_reset(&args)?;
    }
    let carted = students.len();
    let plan = Plan {
        catalog,
        hot,
        students,
        unclaimed,
        list_unclaimed: args.students_csv.is_none(),
        carts: args.carts.map(|[low, high]| CartLoad {
            spec: CartSpec {
                size: [low as usize, high as usize],
                hot_oversubscription: args.hot_demand,
                seed: args.seed,
            },
            students: carted,
        }),
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
    let rows = manifest.courses + 2 * manifest.students + manifest.unclaimed;
    println!(
        "{} courses ({} hot), {} students, {} more on the roster to sign up, in {seconds:.1} s \
         ({:.0} rows/s) into {}",
        manifest.courses,
        manifest.hot_courses.len(),
        manifest.students,
        manifest.unclaimed,
        rows as f64 / seconds.max(0.001),
        manifest.backend,
    );
    if let Some(carts) = &manifest.carts {
        println!(
            "carts: {} courses in the carts of {} students",
            carts.entries, carts.students
        );
    }
    println!("manifest: {}", args.manifest.display());
    if let Some(file) = &manifest.unclaimed_file {
        println!("unclaimed roster entries (sign up as one of them): {file}");
    }
    println!("password of every seeded student: {}", manifest.password);
    Ok(())
}
