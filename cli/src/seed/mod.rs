//! What `classmate seed` writes: a generated (or CSV) catalog, students, and a manifest that
//! `classmate bench` reads to pick students and targets.
//!
//! `generate.rs` (from the Korean lists in `data.rs`, with the deterministic `rng.rs`) or
//! `csv.rs` makes a plan; `carts.rs` plans carts; `load.rs` bulk-loads them all and writes the
//! manifest.

pub mod carts;
pub mod csv;
pub mod data;
pub mod generate;
mod load;
pub mod rng;

pub use load::{CartLoad, Plan, load};

use serde::{Deserialize, Serialize};

/// The manifest's schema version.
pub const MANIFEST_VERSION: u32 = 1;

/// A hot course: few seats, oversubscribed on registration day.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HotCourse {
    pub id: i64,
    pub code: String,
    pub title: String,
    pub capacity: u32,
}

/// What a seed created.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub version: u32,
    /// `None` for a catalog loaded from CSV.
    pub seed: Option<u64>,
    /// `postgres` or `sqlite`.
    pub backend: String,
    pub generated_at: String,
    pub courses: u64,
    /// Course ids run from `first_course_id` to `last_course_id`.
    pub first_course_id: i64,
    pub last_course_id: i64,
    pub hot_courses: Vec<HotCourse>,
    pub students: u64,
    pub first_student_id: Option<i64>,
    pub last_student_id: Option<i64>,
    /// Student numbers are `<entry year><serial:06>`, serial 1 to `students`.
    pub first_student_number: Option<String>,
    pub last_student_number: Option<String>,
    /// Every seeded student's password (a load-test password, never a real one).
    pub password: String,
    /// `id,student_number,department,year` of every student, beside the manifest.
    pub students_file: Option<String>,
    /// Roster entries without an account: who may still sign up.
    #[serde(default)]
    pub unclaimed: u64,
    /// A generated roster's unclaimed entries, as `student_number,name,department,year`, beside
    /// the manifest (a real roster's are not copied).
    #[serde(default)]
    pub unclaimed_file: Option<String>,
    /// The carts loaded with the seed, if any.
    #[serde(default)]
    pub carts: Option<LoadedCarts>,
}

/// Carts a seed planned and loaded.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoadedCarts {
    pub spec: carts::CartSpec,
    /// The first this many seeded students have a cart.
    pub students: u64,
    /// Cart entries over all of them.
    pub entries: u64,
}
