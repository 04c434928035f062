//! The fair waiting queue: admission in arrival order, and the state the drain works through.
//!
//! A [`Queue`] holds tickets. [`Queue::admit`] gives a student a ticket with the next sequence
//! number, atomically with the duplicate check, the sold-out fast path and the rate limit. The
//! drain worker (`registration::drain`) then [`claim`](Queue::claim)s tickets strictly in
//! sequence order, decides them against the database, and [`settle`](Queue::settle)s the
//! outcomes. Two implementations share this contract and the same test suite: [`RedisQueue`]
//! (Lua scripts, shared by every server process) and [`MemoryQueue`] (one process, the embedded
//! default); a differential property test plays the same random steps on both.
//!
//! Fencing: `claim`, `settle` and `restore` take the drain's lease epoch and do nothing when the
//! epoch stored beside the lock (see [`crate::lock`]) is another one, so a drainer that lost its
//! lease cannot change the queue. The database checks the same epoch in the batch's transaction.
//!
//! Generations: the queue's state can vanish (Redis restarted without persistence, or the embedded
//! process restarted). Every state therefore belongs to a generation, a number the database hands
//! out. While the queue has no generation it answers [`QueueError::Recovering`] and the drain
//! rebuilds it ([`Queue::restore`]); tickets of an earlier generation that the database never
//! decided are `lost`.

#[cfg(test)]
mod contract;
pub mod hub;
mod memory;
#[cfg(test)]
mod properties;
mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::domain::{CourseId, InvalidState, Settled, StudentId, Ticket, TicketId};
use crate::redis_conn::ConnectError;

pub use memory::MemoryQueue;
pub use redis::RedisQueue;

/// What admission answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// A new ticket, in state `Queued`.
    Queued(Ticket),
    /// The student already waits for this course with this ticket.
    AlreadyQueued(Ticket),
    /// The queue knows the student holds the course already.
    AlreadyEnrolled,
    /// The course is flagged sold out: answered without a ticket and without the database.
    SoldOut,
    /// Over the operator's admission rate limit for this second.
    RateLimited,
    /// The student already has as many tickets queued or being decided as they may.
    TooManyOpen,
    /// The session asking was logged out ([`Queue::admit_session`]).
    LoggedOut,
}

/// What leaving the queue did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leave {
    /// The ticket is now `Cancelled`.
    Left(Ticket),
    /// The drain is deciding it; too late to leave.
    Deciding(Ticket),
    /// It was already decided.
    AlreadyTerminal(Ticket),
    /// No such ticket of this student.
    NotFound,
}

/// What a drain step tells the queue besides the tickets' outcomes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CourseFlags {
    /// Courses now full: admission's fast path answers `SoldOut` for them.
    pub sold_out: Vec<CourseId>,
    /// [`Queue::freed_mark`] as read before the batch. If a seat was freed since, the batch's
    /// view of which courses are full may be stale, so its flags are dropped (the next batch
    /// or the periodic rebuild sets them). `None` sets them regardless.
    pub freed_mark: Option<u64>,
}

/// A batch the drain claimed.
#[derive(Debug, Clone, Default)]
pub struct Claimed {
    pub tickets: Vec<Ticket>,
    /// [`Queue::freed_mark`] as it was when the batch was claimed, before the database is read.
    pub freed_mark: u64,
}

/// The state to rebuild after a loss, read from the database.
#[derive(Debug, Clone, Default)]
pub struct Restore {
    /// The new generation (from the database).
    pub generation: u64,
    /// Sequence numbers of the new generation start after this.
    pub seq_floor: u64,
    /// Every (student, course) enrollment, so admission's duplicate check knows them.
    pub enrolled: Vec<(StudentId, CourseId)>,
    /// Every full course.
    pub sold_out: Vec<CourseId>,
}

/// The queue at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct QueueStatus {
    /// `None` while the queue is being rebuilt.
    pub generation: Option<u64>,
    /// The highest sequence number decided ("now serving").
    pub serving_seq: u64,
    /// The highest sequence number handed out.
    pub last_seq: u64,
    /// Tickets in the log not yet settled (queued, being decided, or left but not yet passed).
    pub depth: u64,
    /// When the oldest waiting ticket was admitted, Unix ms.
    pub oldest_admitted_at_ms: Option<i64>,
    /// Tickets decided since the generation began.
    pub decided_total: u64,
}

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue's state is missing (Redis lost its data, or the process just started) and is
    /// being rebuilt from the database.
    #[error("the queue is being rebuilt")]
    Recovering,
    /// The caller's lease epoch is no longer the current one.
    #[error("fenced out: epoch {mine} is not the current one")]
    Fenced { mine: u64 },
    #[error("the queue backend is unavailable: {0}")]
    Unavailable(String),
    #[error("queue state is invalid: {0}")]
    Corrupt(String),
}

impl From<ConnectError> for QueueError {
    fn from(error: ConnectError) -> Self {
        QueueError::Unavailable(error.0)
    }
}

impl From<InvalidState> for QueueError {
    fn from(error: InvalidState) -> Self {
        QueueError::Corrupt(error.to_string())
    }
}

/// Admission's inputs besides the student and course.
#[derive(Debug, Clone, Copy)]
pub struct AdmitLimits {
    /// Most admissions per second across all processes; 0 means no limit.
    pub per_second: u32,
    /// Most tickets one student may have queued or being decided at once; 0 means no limit.
    pub open_tickets: u32,
    /// Now, Unix ms.
    pub now_ms: i64,
}

/// The queue every backend provides.
#[async_trait]
pub trait Queue: Send + Sync {
    /// `"redis"` or `"memory"`.
    fn kind(&self) -> &'static str;

    /// Succeeds when the backend answers.
    async fn ping(&self) -> Result<(), QueueError>;

    /// The same queue over a connection of its own, opened on the calling runtime, for the
    /// drain; `None` when the queue needs no connection (it is in this process). On the shared
    /// connection each of the drain's calls queued in Redis behind every admission in flight:
    /// a `GET` of the freed mark took 20–110 ms during a rush.
    async fn own_connection(&self) -> Result<Option<Arc<dyn Queue>>, QueueError> {
        Ok(None)
    }

    /// Admits a student's request for a course, atomically: a duplicate (same student and
    /// course queued, deciding or enrolled) is answered with what exists; a sold-out course is
    /// answered `SoldOut`; over the rate limit `RateLimited`; a student with
    /// `limits.open_tickets` tickets queued or deciding already `TooManyOpen`; otherwise the next sequence number
    /// of the current generation is taken and the ticket appended to the log in state `Queued`.
    /// `Recovering` while there is no generation.
    async fn admit(
        &self,
        student: StudentId,
        course: CourseId,
        limits: AdmitLimits,
    ) -> Result<Admission, QueueError>;

    /// Whether [`Queue::admit_session`] can check a session at all (the queue keeps the
    /// logged-out tokens beside it): where it cannot, callers check first and admit plainly.
    fn checks_sessions(&self) -> bool {
        false
    }

    /// Admits as [`Queue::admit`] does, after refusing session `jti` if it was logged out, in
    /// the same step: the Redis queue reads the logged-out tokens that `auth`'s revocation cache
    /// keeps beside it, so a press costs one round trip instead of two. `None` when this queue
    /// cannot tell (it keeps no logouts, or Redis lost them): nothing was admitted, and the
    /// caller checks the session itself, then calls [`Queue::admit`].
    async fn admit_session(
        &self,
        jti: &str,
        student: StudentId,
        course: CourseId,
        limits: AdmitLimits,
    ) -> Result<Option<Admission>, QueueError> {
        let _ = (jti, student, course, limits);
        Ok(None)
    }

    /// Takes a queued ticket of this student out of the queue (state `Cancelled`, the duplicate
    /// check forgets it). A ticket being decided or already terminal stays as it is.
    async fn leave(
        &self,
        student: StudentId,
        id: TicketId,
        now_ms: i64,
    ) -> Result<Leave, QueueError>;

    /// The ticket, while the queue still holds it (terminal tickets are kept for a while).
    async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, QueueError>;

    /// The student's newest `limit` tickets the queue still holds, in sequence order.
    async fn tickets_of(&self, student: StudentId, limit: usize)
    -> Result<Vec<Ticket>, QueueError>;

    /// For the drain holding lease `epoch`: up to `max` tickets after the last settled one, in
    /// sequence order. Queued tickets become `Deciding`; tickets already `Deciding` (a drainer
    /// died before settling them) come again; cancelled ones come too, so the drain can record
    /// them and move past them.
    async fn claim(&self, epoch: u64, max: usize) -> Result<Vec<Ticket>, QueueError> {
        Ok(self.claim_after(epoch, max, None).await?.tickets)
    }

    /// [`Queue::claim`], but starting after ticket `after` when it is of the current generation
    /// and past "now serving": the drain claims its next batch while the one before it is still
    /// being decided and settled. Also reads the freed mark, in the same step.
    async fn claim_after(
        &self,
        epoch: u64,
        max: usize,
        after: Option<TicketId>,
    ) -> Result<Claimed, QueueError>;

    /// For the drain holding lease `epoch`: records each outcome, updates the duplicate check
    /// (an enrolled pair stays known; any other outcome frees the pair for a new ticket), flags
    /// courses sold out, publishes the outcomes to [`results_after`](Queue::results_after), and
    /// moves "now serving" to the highest settled sequence number. Settling is idempotent.
    async fn settle(
        &self,
        epoch: u64,
        settled: &[Settled],
        flags: &CourseFlags,
    ) -> Result<(), QueueError>;

    /// A seat came free (a cancellation, a larger capacity): the course is no longer sold out
    /// and, when `student_id` is given, that student may queue for it again. Also moves the
    /// freed mark on.
    async fn seat_freed(
        &self,
        course: CourseId,
        student: Option<StudentId>,
    ) -> Result<(), QueueError>;

    /// A counter that every freed seat moves on. The drain reads it before a batch, so a
    /// cancellation racing the batch cannot leave a course flagged sold out with a free seat.
    async fn freed_mark(&self) -> Result<u64, QueueError>;

    /// The courses flagged sold out, in id order.
    async fn sold_out(&self) -> Result<Vec<CourseId>, QueueError>;

    /// Replaces every sold-out flag with `sold_out` (the drain reconciles from the database),
    /// unless a seat was freed since `freed_mark` ([`Queue::freed_mark`] read before the
    /// database): then the list may name a course that has a seat again, and nothing changes.
    /// Returns whether the flags were replaced.
    async fn reset_sold_out(
        &self,
        epoch: u64,
        sold_out: &[CourseId],
        freed_mark: Option<u64>,
    ) -> Result<bool, QueueError>;

    /// Outcomes settled after position `cursor` (0 = from the start of what is kept), up to
    /// `max`, and the cursor to continue from. A cursor beyond the last position (from before a
    /// restore) reads from the start. Every process's live hub tails this.
    async fn results_after(
        &self,
        cursor: u64,
        max: usize,
    ) -> Result<(Vec<Settled>, u64), QueueError>;

    /// Depth, now serving, the oldest waiting ticket.
    async fn status(&self) -> Result<QueueStatus, QueueError>;

    /// The current generation; `None` when the state is missing and must be restored.
    async fn generation(&self) -> Result<Option<u64>, QueueError>;

    /// For the drain holding lease `epoch`: rebuilds the duplicate check and the sold-out flags
    /// from `restore` and starts its generation. Admission answers `Recovering` until this ends.
    async fn restore(&self, epoch: u64, restore: &Restore) -> Result<(), QueueError>;
}
