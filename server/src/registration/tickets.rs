//! Enrolling through the queue: admission, leaving, and what became of a ticket.

use crate::queue::{
    Admission, AdmitLimits, Leave, Queue, QueueError, Ticket, TicketId, TicketState,
};
use crate::store::{QueueSettings, Store, StoreError};

use super::RegistrationError;

/// Why a queue action failed.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    #[error("registration opens at {opens_at_ms}")]
    NotOpen { opens_at_ms: i64, now_ms: i64 },
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Registration(#[from] RegistrationError),
}

impl From<StoreError> for TicketError {
    fn from(error: StoreError) -> Self {
        TicketError::Registration(error.into())
    }
}

/// Refuses while registration has not opened.
pub fn check_open(settings: &QueueSettings, now_ms: i64) -> Result<(), TicketError> {
    match settings.opens_at_ms {
        Some(opens_at_ms) if now_ms < opens_at_ms => Err(TicketError::NotOpen {
            opens_at_ms,
            now_ms,
        }),
        _ => Ok(()),
    }
}

/// Admits the student's request for a course into the queue.
pub async fn admit(
    queue: &dyn Queue,
    settings: &QueueSettings,
    student_id: i64,
    course_id: i64,
    now_ms: i64,
) -> Result<Admission, TicketError> {
    check_open(settings, now_ms)?;
    let limits = AdmitLimits {
        per_second: settings.admission_rate,
        now_ms,
    };
    Ok(queue.admit(student_id, course_id, limits).await?)
}

/// Takes the student's ticket out of the queue.
pub async fn leave(
    queue: &dyn Queue,
    student_id: i64,
    id: TicketId,
    now_ms: i64,
) -> Result<Leave, TicketError> {
    Ok(queue.leave(student_id, id, now_ms).await?)
}

/// What a ticket lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(Ticket),
    /// A ticket of an earlier generation that the database never decided and the queue no
    /// longer holds: its owner and course went with the lost state, so anyone asking is told
    /// only that it was lost (which says nothing about anyone).
    Lost(TicketId),
    NotFound,
}

/// What became of ticket `id` of `student_id`: the queue's view while it is live, the
/// database's once decided, and `lost` for a ticket of an earlier generation that was never
/// decided.
pub async fn ticket(
    store: &dyn Store,
    queue: &dyn Queue,
    current_generation: Option<u64>,
    student_id: i64,
    id: TicketId,
) -> Result<Lookup, TicketError> {
    let older = current_generation.is_some_and(|current| id.generation < current);
    let found = owned_ticket(store, queue, older, student_id, id).await?;
    Ok(match found {
        Some(ticket) => Lookup::Found(ticket),
        // While the queue is being rebuilt, a ticket it does not hold may be a lost one.
        None if current_generation.is_none() => return Err(QueueError::Recovering.into()),
        None if older && store.decided_ticket(id).await?.is_none() => Lookup::Lost(id),
        None => Lookup::NotFound,
    })
}

async fn owned_ticket(
    store: &dyn Store,
    queue: &dyn Queue,
    older: bool,
    student_id: i64,
    id: TicketId,
) -> Result<Option<Ticket>, TicketError> {
    let live = queue
        .ticket(id)
        .await?
        .filter(|t| t.student_id == student_id);
    // The queue answers for its own generation; the database is read only for tickets the
    // queue no longer holds or has lost, so polling a waiting ticket costs no database read.
    if let Some(ticket) = &live
        && (!older || ticket.state.is_terminal())
        && ticket.state != TicketState::Lost
    {
        return Ok(live);
    }
    if let Some(decided) = store
        .decided_ticket(id)
        .await?
        .filter(|t| t.student_id == student_id)
    {
        return Ok(Some(decided));
    }
    Ok(live.map(|mut ticket| {
        if older {
            ticket.state = TicketState::Lost;
        }
        ticket
    }))
}

/// The student's tickets: live ones from the queue, decided ones from the database.
pub async fn tickets(
    store: &dyn Store,
    queue: &dyn Queue,
    current_generation: Option<u64>,
    student_id: i64,
) -> Result<Vec<Ticket>, TicketError> {
    let mut all: std::collections::BTreeMap<TicketId, Ticket> = queue
        .tickets_of(student_id)
        .await?
        .into_iter()
        .map(|mut t| {
            if !t.state.is_terminal() && current_generation.is_some_and(|g| t.id.generation < g) {
                t.state = TicketState::Lost;
            }
            (t.id, t)
        })
        .collect();
    for decided in store.decided_tickets_of(student_id).await? {
        all.insert(decided.id, decided);
    }
    Ok(all.into_values().collect())
}
