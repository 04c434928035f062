//! Loading a plan into the database in one transaction, with progress bars on a terminal, and
//! writing the manifest (and the students file beside it) that `classmate bench` reads.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Context;
use classmate_server::auth::password;
use classmate_server::domain::{CourseId, CourseSpec, Password, RosterEntry, StudentId};
use classmate_server::store::Database;
use indicatif::{ProgressBar, ProgressStyle};

use super::carts::{self, CartSpec, Courses};
use super::{HotCourse, LoadedCarts, MANIFEST_VERSION, Manifest};

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

/// What to load.
pub struct Plan {
    pub catalog: Vec<CourseSpec>,
    /// Indexes of the hot courses in `catalog`.
    pub hot: Vec<usize>,
    /// Students with an account (the shared `password`), on the roster as claimed entries.
    pub students: Vec<RosterEntry>,
    /// Roster entries nobody claimed yet: who may still sign up.
    pub unclaimed: Vec<RosterEntry>,
    /// Whether to list `unclaimed` beside the manifest: yes for a generated roster, for trying
    /// sign-up; no for a real one, which is personal data.
    pub list_unclaimed: bool,
    /// The generator's seed; `None` for a CSV catalog.
    pub seed: Option<u64>,
    pub password: Password,
    /// Carts to plan and load for the first students, in the same transaction.
    pub carts: Option<CartLoad>,
}

/// Carts planned for the first `students` seeded students.
#[derive(Debug, Clone, Copy)]
pub struct CartLoad {
    pub spec: CartSpec,
    pub students: usize,
}

/// Loads `plan` in one transaction (after emptying the tables with `reset`) and writes the
/// manifest and the students file.
pub async fn load(
    store: &dyn Database,
    plan: Plan,
    reset: bool,
    manifest_path: &Path,
) -> anyhow::Result<Manifest> {
    let Plan {
        catalog,
        hot,
        students,
        unclaimed,
        list_unclaimed,
        seed,
        password,
        carts,
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
    let progress = bar(students.len() + unclaimed.len(), "roster");
    for chunk in students.chunks(CHUNK).chain(unclaimed.chunks(CHUNK)) {
        load.roster(chunk).await.context("loading the roster")?;
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
    let hot_courses: Vec<HotCourse> = hot
        .iter()
        .map(|&i| HotCourse {
            id: course_ids[i].0,
            code: catalog[i].code.to_string(),
            title: catalog[i].title.clone(),
            capacity: catalog[i].capacity,
        })
        .collect();
    let carts = match carts {
        Some(cart) => {
            let courses = Courses {
                first: course_ids.first().map_or(0, |id| id.0),
                last: course_ids.last().map_or(0, |id| id.0),
                hot: hot_courses.clone(),
            };
            let planned = carts::plan(&cart.spec, &courses, cart.students.min(student_ids.len()));
            let progress = bar(planned.entries(), "carts");
            let rows: Vec<(StudentId, Vec<CourseId>)> = planned
                .carts
                .iter()
                .zip(&student_ids)
                .map(|(cart, &student)| (student, cart.iter().map(|&id| CourseId(id)).collect()))
                .collect();
            for chunk in rows.chunks(CHUNK) {
                load.carts(chunk).await.context("loading carts")?;
                progress.inc(chunk.iter().map(|(_, c)| c.len() as u64).sum());
            }
            progress.finish();
            Some(LoadedCarts {
                spec: cart.spec,
                students: rows.len() as u64,
                entries: planned.entries() as u64,
            })
        }
        None => None,
    };
    load.commit().await.context("committing the load")?;
    let manifest = Manifest {
        version: MANIFEST_VERSION,
        seed,
        backend: format!("{:?}", store.backend()).to_lowercase(),
        generated_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)?,
        courses: catalog.len() as u64,
        first_course_id: course_ids.first().map_or(0, |id| id.0),
        last_course_id: course_ids.last().map_or(0, |id| id.0),
        hot_courses,
        students: students.len() as u64,
        first_student_id: student_ids.first().map(|id| id.0),
        last_student_id: student_ids.last().map(|id| id.0),
        first_student_number: students.first().map(|s| s.number.as_str().to_owned()),
        last_student_number: students.last().map(|s| s.number.as_str().to_owned()),
        password: password.expose().to_owned(),
        students_file: None,
        unclaimed: unclaimed.len() as u64,
        unclaimed_file: None,
        carts,
    };
    let listed = match list_unclaimed {
        true => unclaimed.as_slice(),
        false => &[],
    };
    write_manifest(manifest_path, manifest, &students, &student_ids, listed)
}

/// Writes the manifest and, beside it, the students file and (when there are any to list) the
/// unclaimed roster entries, in the format `classmate seed --students-csv` reads.
fn write_manifest(
    path: &Path,
    mut manifest: Manifest,
    students: &[RosterEntry],
    ids: &[StudentId],
    unclaimed: &[RosterEntry],
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
    if !unclaimed.is_empty() {
        let unclaimed_path = path.with_file_name("seed-unclaimed.csv");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&unclaimed_path)?);
        writeln!(out, "student_number,name,department,year")?;
        for entry in unclaimed {
            writeln!(
                out,
                "{},{},{},{}",
                entry.number.as_str(),
                entry.name,
                entry.department,
                entry.year.get()
            )?;
        }
        out.flush()?;
        manifest.unclaimed_file = Some(unclaimed_path.display().to_string());
    }
    std::fs::write(path, serde_json::to_string_pretty(&manifest)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(manifest)
}
