//! Tickets of the waiting queue: what became of them, and leaving the queue.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{AppError, AuthErrors, ErrorBody, ServerErrors};
use super::extract::{CurrentStudent, Json, Path, Query};
use crate::clock::now_ms;
use crate::domain::{Ticket, TicketId, TicketState};
use crate::queue::Leave;
use crate::queue::hub::LiveStatus;
use crate::registration::Lookup;

/// A place in the queue and what became of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    /// `"{generation}-{seq}"`.
    #[schema(example = "1-10452")]
    pub id: String,
    pub generation: u64,
    /// The arrival order: lower numbers are decided first.
    pub seq: u64,
    /// `null` only for a lost ticket whose record went with the lost state.
    pub course_id: Option<i64>,
    /// `queued`, `enrolled`, `rejected`, `cancelled`, `expired` or `lost`.
    #[schema(example = "queued")]
    pub state: &'static str,
    /// Why it was rejected (`COURSE_FULL`, `TIME_CLASH`…).
    pub code: Option<&'static str>,
    /// For people, in Korean.
    pub message: &'static str,
    /// The state as a short badge, in Korean: 대기 중, 신청 완료, 정원 마감, 시간 중복…
    #[schema(example = "대기 중")]
    pub label: &'static str,
    /// Tickets ahead while queued.
    pub position: Option<u64>,
    /// Seconds until it is decided at the measured drain rate, while queued.
    pub estimated_wait_seconds: Option<f64>,
    /// Unix ms; 0 for a lost ticket whose record went with the lost state.
    pub admitted_at_ms: i64,
    pub decided_at_ms: Option<i64>,
}

impl TicketView {
    /// The ticket as a student sees it, placed against the latest queue status.
    pub fn new(ticket: &Ticket, live: &LiveStatus) -> TicketView {
        // Before the hub has read this generation (its first tick), nothing of it is decided
        // as far as this process knows, so every earlier ticket counts as ahead.
        let serving = match live.status.generation == Some(ticket.id.generation) {
            true => live.status.serving_seq,
            false => 0,
        };
        let position =
            (!ticket.state.is_terminal()).then(|| ticket.id.seq.saturating_sub(serving + 1));
        TicketView {
            id: ticket.id.to_string(),
            generation: ticket.id.generation,
            seq: ticket.id.seq,
            course_id: Some(ticket.course_id.0),
            // Being decided is still waiting, as far as the student is concerned.
            state: match ticket.state {
                TicketState::Deciding => TicketState::Queued.as_str(),
                other => other.as_str(),
            },
            code: ticket.state.code().map(|code| code.as_str()),
            message: ticket.state.message(),
            label: ticket.state.label(),
            position,
            estimated_wait_seconds: position.and_then(|p| live.wait_for(p + 1)),
            admitted_at_ms: ticket.admitted_at_ms,
            decided_at_ms: ticket.decided_at_ms,
        }
    }
}

impl TicketView {
    /// A ticket known only by its id: lost with the state of an earlier generation.
    pub fn lost(id: TicketId) -> TicketView {
        TicketView {
            id: id.to_string(),
            generation: id.generation,
            seq: id.seq,
            course_id: None,
            state: TicketState::Lost.as_str(),
            code: None,
            message: TicketState::Lost.message(),
            label: TicketState::Lost.label(),
            position: None,
            estimated_wait_seconds: None,
            admitted_at_ms: 0,
            decided_at_ms: None,
        }
    }
}

/// The most tickets one `GET /api/v1/tickets` returns.
pub const MAX_TICKETS_LISTED: u32 = 100;

/// How many of the caller's tickets to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketsQuery {
    /// The newest this many tickets, 1–100; default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The caller's newest tickets.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketList {
    pub items: Vec<TicketView>,
}

/// A ticket id from the path; anything else is simply not one of the caller's tickets.
fn ticket_id(raw: &str) -> Result<TicketId, AppError> {
    raw.parse().map_err(|_| AppError::TicketNotFound)
}

/// One of the caller's tickets.
#[utoipa::path(
    get,
    path = "/api/v1/tickets/{id}",
    tag = "queue",
    params(("id" = String, Path, description = "Ticket id, `generation-seq`")),
    responses(
        (status = 200, description = "The ticket", body = TicketView),
        (status = 404, description = "TICKET_NOT_FOUND", body = ErrorBody),
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn get_ticket(
    State(state): State<AppState>,
    student: CurrentStudent,
    Path(raw): Path<String>,
) -> Result<Json<TicketView>, AppError> {
    let id = ticket_id(&raw)?;
    let live = state.hub.latest();
    match state.registration.ticket(student.id, id).await? {
        Lookup::Found(ticket) => Ok(Json(TicketView::new(&ticket, &live.status))),
        Lookup::Lost(id) => Ok(Json(TicketView::lost(id))),
        Lookup::NotFound => Err(AppError::TicketNotFound),
    }
}

/// The caller's newest tickets (at most `limit`), live and decided, in arrival order. Each
/// request reads at most `limit` tickets from the queue and from the database, however many the
/// student has had.
#[utoipa::path(
    get,
    path = "/api/v1/tickets",
    tag = "queue",
    params(TicketsQuery),
    responses(
        (status = 200, description = "The caller's newest tickets", body = TicketList),
        (status = 400, description = "INVALID_QUERY: limit out of 1–100", body = ErrorBody),
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn list_tickets(
    State(state): State<AppState>,
    student: CurrentStudent,
    Query(query): Query<TicketsQuery>,
) -> Result<Json<TicketList>, AppError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_TICKETS_LISTED).contains(&limit) {
        return Err(AppError::InvalidQuery(format!(
            "limit must be between 1 and {MAX_TICKETS_LISTED}"
        )));
    }
    let live = state.hub.latest();
    let all = state
        .registration
        .tickets(student.id, limit as usize)
        .await?;
    Ok(Json(TicketList {
        items: all
            .iter()
            .map(|t| TicketView::new(t, &live.status))
            .collect(),
    }))
}

/// Leaves the queue: the ticket becomes `cancelled` unless the drain is already deciding it.
#[utoipa::path(
    delete,
    path = "/api/v1/tickets/{id}",
    tag = "queue",
    params(("id" = String, Path, description = "Ticket id, `generation-seq`")),
    responses(
        (status = 200, description = "Left the queue", body = TicketView),
        (status = 404, description = "TICKET_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "TICKET_DECIDING (too late to leave) or TICKET_ALREADY_DECIDED", body = ErrorBody),
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn leave_queue(
    State(state): State<AppState>,
    student: CurrentStudent,
    Path(raw): Path<String>,
) -> Result<Json<TicketView>, AppError> {
    let id = ticket_id(&raw)?;
    match state.registration.leave(student.id, id, now_ms()).await? {
        Leave::Left(ticket) => Ok(Json(TicketView::new(&ticket, &state.hub.latest().status))),
        Leave::Deciding(_) => Err(AppError::TicketDeciding),
        Leave::AlreadyTerminal(ticket) => Err(AppError::TicketAlreadyDecided {
            state: ticket.state.as_str(),
        }),
        Leave::NotFound => Err(AppError::TicketNotFound),
    }
}
