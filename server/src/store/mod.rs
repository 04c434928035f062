//! Where students, courses, carts and enrollments live: the [`Store`] trait the requests and the
//! drain use, and beside it [`Audit`] and [`Seeding`] for the operators' tools, all implemented
//! once by [`SqlStore`] for both databases (PostgreSQL for production, SQLite for the embedded
//! default), each with its own migrations and a small [`Dialect`].
//!
//! The stores hold no rules. `registration` reads through a [`StudentTx`] (the direct path) or a
//! [`DrainTx`] (one batch of the queue's drain, behind the epoch fence), asks the domain, and
//! writes back; the database itself still refuses a seat past capacity (a conditional update and
//! a `CHECK`), a second enrollment of one student in one course (a unique key) and a second
//! decision of one ticket (a unique key). The store also keeps registration's settings and every
//! decision the drain made, so the queue's state can be rebuilt from it.

mod audit;
mod bulk;
mod catalog_search;
mod dialect;
mod drain;
mod postgres;
mod relational;
mod rows;
mod seats;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::{
    Course, CourseId, CourseSpec, NewStudent, RosterClaim, Student, StudentId, StudentNumber,
    Ticket, TicketId,
};

/// How often the server checkpoints the database's write-ahead log ([`Store::checkpoint`]).
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub use audit::{Audit, AuditScope, Finding};
pub use bulk::{BulkLoad, DataCounts, Seeding};
pub use dialect::Dialect;
pub use drain::{DrainReads, DrainTx};

pub use postgres::PgStore;
pub use relational::SqlStore;
pub use seats::{RefreshMark, SeatBoard, SeatRead, SeatView};
pub use sqlite::SqliteStore;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The backend a database URL names, if it is one Classmate supports.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else {
            None
        }
    }
}

/// Everything a database offers: the request path, the audit and bulk loading. The server
/// takes it as a [`Store`]; `classmate seed` and `bench` use the rest.
pub trait Database: Store + Audit + Seeding {}

impl<T: Store + Audit + Seeding> Database for T {}

/// Opens the database `url` names, creating the schema if it is new.
pub async fn connect(url: &str, max_connections: u32) -> Result<Arc<dyn Database>, StoreError> {
    match Backend::of_url(url) {
        Some(Backend::Postgres) => Ok(Arc::new(PgStore::connect(url, max_connections).await?)),
        Some(Backend::Sqlite) => Ok(Arc::new(SqliteStore::connect(url, max_connections).await?)),
        None => Err(StoreError::UnsupportedUrl),
    }
}

/// A unique value that is already taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    StudentNumber,
    AdminUsername,
    CourseCode,
}

/// What can go wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0:?} is already taken")]
    Taken(Taken),
    #[error("no such course")]
    CourseNotFound,
    #[error("capacity {capacity} is below the {enrolled} students enrolled")]
    CapacityBelowEnrolled { capacity: u32, enrolled: u32 },
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("schema migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("the database URL must start with postgres://, postgresql:// or sqlite:")]
    UnsupportedUrl,
    /// A drain batch or recovery with a lease epoch older than one that already committed.
    #[error("fenced out: epoch {epoch} is older than the database's")]
    Fenced { epoch: u64 },
    /// A drain batch's seat update found fewer seats than its snapshot promised.
    #[error("course {course_id} changed under the drain batch")]
    SeatsChanged { course_id: CourseId },
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error),
            other => StoreError::Database(other),
        }
    }
}

/// Whether `error` is the database refusing a duplicate of a unique key.
fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// An administrator account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    pub id: i64,
    pub username: String,
}

/// What putting a course in a cart did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartAdd {
    /// In the cart now, in its lowest free slot.
    Added,
    /// It was in the cart already.
    AlreadyInCart,
    /// The cart holds the limit already.
    Full,
    /// No course has that id.
    CourseNotFound,
    /// No student has that id (the token outlived its student).
    StudentNotFound,
}

/// A course in a student's cart.
#[derive(Debug, Clone)]
pub struct CartEntry {
    pub course: Course,
    pub added_at: OffsetDateTime,
}

/// A course a student holds.
#[derive(Debug, Clone)]
pub struct Enrollment {
    pub id: i64,
    pub course: Course,
    pub enrolled_at: OffsetDateTime,
}

/// The row an enrollment wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnrollmentRecord {
    pub id: i64,
    pub enrolled_at: OffsetDateTime,
}

/// How `POST /api/v1/enrollments` decides.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentMode {
    /// Through the fair waiting queue (the default).
    Queue,
    /// At once against the database, in the request (for comparison and small deployments).
    Direct,
}

impl EnrollmentMode {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentMode::Queue => "queue",
            EnrollmentMode::Direct => "direct",
        }
    }
}

/// Registration's operator settings and the drain's fence: the one `queue_state` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// The highest lease epoch that committed a drain batch.
    pub epoch: u64,
    /// The queue state's generation.
    pub generation: u64,
    /// When registration opens, Unix ms; `None` means open.
    pub opens_at_ms: Option<i64>,
    /// Whether draining is paused (admission goes on).
    pub paused: bool,
    /// Admissions per second across all processes; 0 means no limit.
    pub admission_rate: u32,
    pub mode: EnrollmentMode,
}

/// An operator's change to the settings; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    /// `Some(None)` opens registration now.
    pub opens_at_ms: Option<Option<i64>>,
    pub paused: Option<bool>,
    pub admission_rate: Option<u32>,
    pub mode: Option<EnrollmentMode>,
}

/// What the queue must know again when its state is lost, read as a new generation starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generation {
    /// The new generation's number.
    pub number: u64,
    /// Every (student, course) enrollment.
    pub enrolled: Vec<(StudentId, CourseId)>,
    /// Every course with no free seat.
    pub full: Vec<CourseId>,
}

/// A catalog search in SQL (the baseline without a search engine): every word must occur in
/// the title, the professor or the code.
#[derive(Debug, Clone, Default)]
pub struct CatalogQuery {
    /// Lower-case words.
    pub words: Vec<String>,
    /// The whole text, lower case, without spaces.
    pub compact: Option<String>,
    /// A course code form, lower case (`cse2010`, `cse2010-01`).
    pub code: Option<String>,
    pub department: Option<String>,
    /// Monday is 0.
    pub weekday: Option<u8>,
    pub credits: Option<u8>,
    pub has_seats: bool,
    /// Only hits ranked after this one.
    pub after: Option<CatalogCursor>,
    pub skip: u32,
    pub limit: u32,
    pub facets: bool,
}

/// A hit's place in a SQL search's order: points (higher first), then code, then id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogCursor {
    pub points: i64,
    pub subject: String,
    pub section: String,
    pub id: i64,
}

/// What a SQL search found.
#[derive(Debug, Clone, Default)]
pub struct CatalogHits {
    /// Courses with their points, best first.
    pub hits: Vec<(Course, u32)>,
    pub total: u64,
    pub departments: Vec<(String, u64)>,
    pub credits: Vec<(u8, u64)>,
    /// Hits per weekday, Monday first.
    pub weekdays: [u64; 6],
}

/// A course as the search index follows it: with the time it last changed.
#[derive(Debug, Clone)]
pub struct ChangedCourse {
    pub course: Course,
    pub updated_at: OffsetDateTime,
}

/// What requests and the drain need of the database.
#[async_trait]
pub trait Store: Send + Sync {
    /// Which database this is.
    fn backend(&self) -> Backend;

    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Closes every connection; later calls fail as if the database were gone.
    async fn close(&self);

    /// Stores a new student with an already computed password hash.
    async fn insert_student(
        &self,
        student: &NewStudent,
        password_hash: &str,
    ) -> Result<Student, StoreError>;

    /// Stores the student of the roster entry `claim` names, with an already computed password
    /// hash; `None` when no entry has that number and name, or its student exists already.
    async fn claim_roster_entry(
        &self,
        claim: &RosterClaim,
        password_hash: &str,
    ) -> Result<Option<Student>, StoreError>;

    /// The student with this number and their password hash, for logging in.
    async fn student_credentials(
        &self,
        number: &StudentNumber,
    ) -> Result<Option<(Student, String)>, StoreError>;

    /// The student with this id.
    async fn student(&self, id: StudentId) -> Result<Option<Student>, StoreError>;

    /// Stores a new administrator.
    async fn insert_admin(&self, username: &str, password_hash: &str) -> Result<Admin, StoreError>;

    /// The administrator with this username and their password hash.
    async fn admin_credentials(
        &self,
        username: &str,
    ) -> Result<Option<(Admin, String)>, StoreError>;

    /// The administrator with this id.
    async fn admin(&self, id: i64) -> Result<Option<Admin>, StoreError>;

    /// Remembers that the token `jti` was logged out until it would have expired anyway.
    async fn revoke_token(&self, jti: &str, expires_at: OffsetDateTime) -> Result<(), StoreError>;

    /// Whether the token `jti` was logged out.
    async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError>;

    /// Every logged-out token that has not expired yet: (jti, expiry in Unix ms).
    async fn live_revocations(&self) -> Result<Vec<(String, i64)>, StoreError>;

    /// Adds a course to the catalog.
    async fn insert_course(&self, spec: &CourseSpec) -> Result<Course, StoreError>;

    /// Replaces a course's spec. Refuses a capacity below the seats already taken.
    async fn update_course(&self, id: CourseId, spec: &CourseSpec) -> Result<Course, StoreError>;

    /// The course with this id.
    async fn course(&self, id: CourseId) -> Result<Option<Course>, StoreError>;

    /// Every course's id.
    async fn course_ids(&self) -> Result<Vec<CourseId>, StoreError>;

    /// Courses changed after `after` (a time and, among courses changed at that very time, an
    /// id), in that order, at most `limit`: what the search index follows.
    async fn courses_changed(
        &self,
        after: (OffsetDateTime, CourseId),
        limit: u32,
    ) -> Result<Vec<ChangedCourse>, StoreError>;

    /// The number of courses, their lowest and their highest id (0 when there are none): how the
    /// search index notices a catalog that was replaced under it.
    async fn catalog_fingerprint(&self) -> Result<(u64, i64, i64), StoreError>;

    /// Searches the catalog in SQL ([`CatalogQuery`]).
    async fn search_catalog(&self, query: &CatalogQuery) -> Result<CatalogHits, StoreError>;

    /// Makes SQL searches fast where the database can: `pg_trgm` trigram indexes on
    /// PostgreSQL (nothing on SQLite). Safe to run again.
    async fn prepare_catalog_search(&self) -> Result<(), StoreError>;

    /// The live seat counters this store keeps current with its own commits.
    fn seats(&self) -> &Arc<SeatBoard>;

    /// Reads every course's seat counter into [`Store::seats`]: what other processes took.
    async fn refresh_seats(&self) -> Result<(), StoreError>;

    /// The student's cart, ordered by when each course was added.
    async fn cart(&self, student: StudentId) -> Result<Vec<CartEntry>, StoreError>;

    /// Puts a course in the student's cart unless it holds `limit` courses already: one
    /// statement, safe against concurrent adds without locking the student.
    async fn add_to_cart(
        &self,
        student: StudentId,
        course: CourseId,
        limit: u32,
    ) -> Result<CartAdd, StoreError>;

    /// Takes a course out of the cart; false if it was not in it.
    async fn remove_from_cart(
        &self,
        student: StudentId,
        course: CourseId,
    ) -> Result<bool, StoreError>;

    /// The courses the student holds, ordered by code.
    async fn enrollments(&self, student: StudentId) -> Result<Vec<Enrollment>, StoreError>;

    /// Opens a transaction that no other `StudentTx` of the same student can interleave with
    /// (PostgreSQL locks the student's row; SQLite takes its single write lock).
    /// `None` if there is no such student.
    async fn begin_student(
        &self,
        student: StudentId,
    ) -> Result<Option<Box<dyn StudentTx>>, StoreError>;

    /// Registration's settings and the drain's fence.
    async fn queue_settings(&self) -> Result<QueueSettings, StoreError>;

    /// Applies an operator's change and returns the settings now in force.
    async fn change_settings(&self, change: &SettingsChange) -> Result<QueueSettings, StoreError>;

    /// Opens the transaction of one drain batch for the holder of lease `epoch`: passes the
    /// fence (`Fenced` if a newer epoch committed), locks what the batch decides on, and reads
    /// it. Dropping the transaction without `commit` rolls it back.
    async fn begin_drain(
        &self,
        epoch: u64,
        tickets: &[Ticket],
    ) -> Result<(Box<dyn DrainTx>, DrainReads), StoreError>;

    /// For the holder of lease `epoch`, after the queue's state was lost: starts the next
    /// generation and reads what the queue must know again (enrolled pairs, full courses).
    async fn start_generation(&self, epoch: u64) -> Result<Generation, StoreError>;

    /// Ids of the courses with no free seat, in id order.
    async fn full_courses(&self) -> Result<Vec<CourseId>, StoreError>;

    /// Copies what the write-ahead log holds into the database file, beside the writers rather
    /// than in their commits (SQLite; nothing to do elsewhere). The server calls it every
    /// [`CHECKPOINT_EVERY`].
    async fn checkpoint(&self) -> Result<(), StoreError>;

    /// The decided ticket with this id, from the drain's records.
    async fn decided_ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError>;

    /// The student's newest `limit` decided tickets, in (generation, sequence) order.
    async fn decided_tickets_of(
        &self,
        student: StudentId,
        limit: usize,
    ) -> Result<Vec<Ticket>, StoreError>;

    /// The highest sequence number decided in `generation`; 0 when none is.
    async fn highest_decided_seq(&self, generation: u64) -> Result<u64, StoreError>;
}

/// A transaction serialised per student: what one student's cart and enrollment changes run in.
/// Dropping it without `commit` rolls it back.
#[async_trait]
pub trait StudentTx: Send {
    /// The student, as read under the lock.
    fn student(&self) -> &Student;

    /// A course, as this transaction sees it.
    async fn course(&mut self, course: CourseId) -> Result<Option<Course>, StoreError>;

    /// The courses the student holds.
    async fn enrolled_courses(&mut self) -> Result<Vec<Course>, StoreError>;

    /// Writes the enrollment row; `None` if the unique (student, course) key already has one.
    async fn insert_enrollment(
        &mut self,
        course: CourseId,
    ) -> Result<Option<EnrollmentRecord>, StoreError>;

    /// Takes one seat if the course is open and not full, in one conditional update.
    async fn take_seat(&mut self, course: CourseId) -> Result<bool, StoreError>;

    /// Deletes the enrollment row; false if there was none.
    async fn delete_enrollment(&mut self, course: CourseId) -> Result<bool, StoreError>;

    /// Gives one seat back.
    async fn release_seat(&mut self, course: CourseId) -> Result<(), StoreError>;

    /// Makes every change of this transaction durable.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}
