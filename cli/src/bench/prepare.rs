//! The data a run needs: the seed manifest, seeding the scenario's catalog first when the
//! database is empty or the run is `--fresh`.

use std::path::Path;

use anyhow::{Context, bail};
use classmate_server::config::QueueConfig;
use classmate_server::domain::Password;
use classmate_server::queue::RedisQueue;
use classmate_server::store::Database;

use super::scenario::{CartFill, Scenario, Step};
use crate::seed::{CartLoad, Manifest, Plan, generate, load};

/// Where the data comes from.
pub struct Preparation<'a> {
    pub scenario: &'a Scenario,
    pub manifest: &'a Path,
    /// Reseed even a database that holds data.
    pub fresh: bool,
    /// Whether the run drives a server it did not start (which a reseed would pull the data
    /// from under).
    pub external: bool,
    /// The server's queue: after a reseed its Redis keys are cleared, so it rebuilds.
    pub queue: &'a QueueConfig,
}

/// The seed manifest of the data the run uses.
pub async fn prepare(database: &dyn Database, how: Preparation<'_>) -> anyhow::Result<Manifest> {
    let scenario = how.scenario;
    let counts = database.data_counts().await?;
    if counts.is_empty() || how.fresh {
        if how.external && how.fresh {
            bail!(
                "--fresh reseeds the database under a running server; stop it and run classmate seed --reset instead"
            );
        }
        let students = scenario.catalog.students.max(scenario.students as usize);
        println!(
            "{}: seeding {} courses and {students} students (seed {})",
            match counts.is_empty() {
                true => "empty database",
                false => "--fresh",
            },
            scenario.catalog.courses,
            scenario.seed
        );
        let catalog = generate::catalog(scenario.catalog.courses, scenario.seed);
        let plan = Plan {
            catalog: catalog.courses,
            hot: catalog.hot,
            students: generate::students(students, scenario.seed),
            unclaimed: Vec::new(),
            list_unclaimed: false,
            seed: Some(scenario.seed),
            password: Password::parse("classmate-load-test".into()).expect("a valid password"),
            carts: bulk_carts(scenario),
        };
        let manifest = load(database, plan, how.fresh, how.manifest).await?;
        if let Some(url) = &how.queue.redis_url {
            RedisQueue::connect(url, &how.queue.lock_env)
                .await?
                .clear()
                .await?;
        }
        return Ok(manifest);
    }
    let raw = std::fs::read(how.manifest).with_context(|| {
        format!(
            "the database has data but no seed manifest at {}; run with --fresh (or classmate seed --reset)",
            how.manifest.display()
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
    if let Some(wanted) = bulk_carts(scenario)
        && manifest.carts.is_none_or(|loaded| {
            loaded.spec != wanted.spec || loaded.students < wanted.students as u64
        })
    {
        eprintln!(
            "note: the database's carts were not loaded for this scenario (its cart plan or \
             students differ); --fresh loads them, or --cart-fill http fills them over HTTP"
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

/// The carts to load with the seed: the scenario's planned carts when it fills carts and fills
/// them in bulk.
fn bulk_carts(scenario: &Scenario) -> Option<CartLoad> {
    let fills = scenario
        .phases
        .iter()
        .any(|p| p.steps.contains(&Step::CartFill));
    (fills && scenario.cart.fill == CartFill::Bulk).then(|| CartLoad {
        spec: scenario.cart.spec(scenario.seed),
        students: scenario.students as usize,
    })
}
