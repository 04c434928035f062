//! The use cases: what students and administrators do, and the queue's drain. Handlers and the
//! CLI call these; nothing else decides.
//!
//! Two paths decide an enrollment, with the same domain rules: [`Registration::enroll`] at once
//! in the request (the direct path), in a [`StudentTx`] so the student's
//! schedule cannot change between the rule check and the write; and [`decide_batch`], which the
//! [`Drainer`] runs over a batch of tickets in sequence order.
//! [`Registration::request_enrollment`] picks the path the operator set.
//!
//! - `enrollment.rs`: asking for a seat (queue or direct), cancelling, listing.
//! - `cart.rs`: the cart and what it would mean.
//! - `tickets.rs`: what became of a ticket, leaving the queue.
//! - `catalog.rs`: administrators' course edits and what they free.
//! - `batch.rs` and `drain.rs`: the drain's decision over a batch, and the worker that runs it.
//! - `settings.rs`: the operator's settings, kept at hand.

mod batch;
mod cart;
mod catalog;
mod drain;
mod enrollment;
pub mod settings;
mod tickets;

use std::sync::Arc;

pub use batch::{BatchDecision, DrainSnapshot, decide_batch};
pub use cart::CartView;
pub use drain::{DrainConfig, DrainError, Drainer};
pub use enrollment::{Enrolled, EnrollmentAnswer, Holdings};
pub use settings::LiveSettings;
pub use tickets::Lookup;

use crate::domain::{CreditCap, Rejection, StudentId, TicketId};
use crate::queue::{Queue, QueueError};
use crate::store::{QueueSettings, SettingsChange, Store, StoreError, StudentTx};

/// The limits registration enforces.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub credit_cap: CreditCap,
    /// The most courses a cart may hold.
    pub cart_limit: u32,
    /// The most tickets a student may have waiting at once (0: no limit).
    pub open_tickets: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            credit_cap: CreditCap::default(),
            cart_limit: 30,
            open_tickets: 30,
        }
    }
}

/// Why a registration action failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("enrollment rejected: {}", .0.code())]
    Rejected(Rejection),
    #[error("the student does not exist")]
    UnknownStudent,
    #[error("the course is already in the cart")]
    AlreadyInCart,
    #[error("the cart holds {limit} courses already")]
    CartFull { limit: u32 },
    #[error("the course is not in the cart")]
    NotInCart,
    #[error("the student is not enrolled in the course")]
    NotEnrolled,
    #[error("registration opens at {opens_at_ms}")]
    NotOpen { opens_at_ms: i64, now_ms: i64 },
    #[error("the student already waits for this course with ticket {0}")]
    AlreadyQueued(TicketId),
    /// The course is flagged sold out: answered at admission, without a ticket.
    #[error("the course is sold out")]
    SoldOut,
    #[error("over the admission rate")]
    RateLimited,
    #[error("the student has {limit} tickets waiting already")]
    TooManyTickets { limit: u32 },
    /// The session asking was logged out (found in the admission's own step).
    #[error("the session was logged out")]
    LoggedOut,
    /// The session's logout could not be checked in the admission's step; nothing was done.
    #[error("the session's logout is not checked yet")]
    SessionUnchecked,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<Rejection> for RegistrationError {
    fn from(rejection: Rejection) -> Self {
        RegistrationError::Rejected(rejection)
    }
}

/// The parts every use case works with; cheap to clone, shared by the HTTP handlers and the
/// drain.
#[derive(Clone)]
pub struct Registration {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub settings: LiveSettings,
    pub rules: Rules,
    known: Arc<enrollment::KnownCourses>,
}

impl Registration {
    /// Applies an operator's change to registration day's settings: in force in this process at
    /// once, in every other within a second.
    pub async fn change_settings(
        &self,
        change: &SettingsChange,
    ) -> Result<QueueSettings, RegistrationError> {
        Ok(self.settings.change(self.store.as_ref(), change).await?)
    }

    /// Opens `student`'s serialised transaction; a student who does not exist is refused.
    async fn begin_student(
        &self,
        student: StudentId,
    ) -> Result<Box<dyn StudentTx>, RegistrationError> {
        self.store
            .begin_student(student)
            .await?
            .ok_or(RegistrationError::UnknownStudent)
    }

    /// Registration over `store` and `queue`, with the operator's `settings` and `rules`.
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        settings: LiveSettings,
        rules: Rules,
    ) -> Registration {
        Registration {
            store,
            queue,
            settings,
            rules,
            known: Arc::default(),
        }
    }
}
