//! 대기열: my tickets, my position and estimated wait, each ticket turning into 신청 완료,
//! 정원 마감, 시간 중복… as the drain decides it, and leaving the queue.
//!
//! The page is whole without JavaScript (reload to see it move). `app.js` makes it live from the
//! WebSocket the student already holds: the shared status frame moves every position, and the
//! student's own results arrive on the same socket. When no socket can be had it polls the
//! shared frame (`GET /api/v1/queue/status`, served from memory, every few seconds) and reads
//! the tickets again only when the frame says one of them has been reached.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::account::error_words;
use super::layout::{Layout, PageError, send, wait_words};
use super::session::{Notice, PageStudent, Pending};
use crate::domain::CourseId;
use crate::http::AppState;
use crate::http::extract::{Form, Path, Query};
use crate::http::tickets::{self as api, TicketsQuery};

/// The newest tickets the page lists.
const LISTED: u32 = 30;

/// A ticket as the page lists it.
pub struct Row {
    pub id: String,
    pub seq: u64,
    pub generation: u64,
    pub course: String,
    pub state: &'static str,
    pub label: &'static str,
    pub message: &'static str,
    pub position: Option<u64>,
    pub wait: String,
    pub waiting: bool,
}

#[derive(Template)]
#[template(path = "queue.html")]
pub struct QueuePage {
    layout: Layout,
    rows: Vec<Row>,
    serving_seq: u64,
    depth: u64,
    drain_rate: String,
    generation: u64,
}

/// 대기열.
pub async fn queue_page(
    State(state): State<AppState>,
    page: PageStudent,
    Pending(notice): Pending,
) -> Result<Response, PageError> {
    let PageStudent { student, viewer } = page;
    let listed = api::list_tickets(
        State(state.clone()),
        student,
        Query(TicketsQuery {
            limit: Some(LISTED),
        }),
    )
    .await;
    let tickets = match listed {
        Ok(list) => list.0.items,
        Err(error) => return Err(PageError { error, viewer }),
    };
    let mut rows = Vec::with_capacity(tickets.len());
    for ticket in tickets {
        let course = match ticket.course_id {
            Some(id) => match state
                .search
                .index
                .course(CourseId(id), state.store.seats())
                .await
            {
                Ok(Some(course)) => {
                    format!("{} ({})", course.spec.title, course.spec.code.as_str())
                }
                _ => format!("강좌 {id}"),
            },
            None => "알 수 없는 강좌".into(),
        };
        rows.push(Row {
            waiting: ticket.state == "queued",
            wait: wait_words(ticket.estimated_wait_seconds),
            id: ticket.id,
            seq: ticket.seq,
            generation: ticket.generation,
            course,
            state: ticket.state,
            label: ticket.label,
            message: ticket.message,
            position: ticket.position,
        });
    }
    let live = state.hub.latest();
    let status = &live.status;
    let shown = notice.is_some();
    let view = QueuePage {
        layout: Layout::new("대기열", &viewer, "/queue", notice),
        rows,
        serving_seq: status.status.serving_seq,
        depth: status.status.depth,
        drain_rate: format!("{:.0}", status.drain_rate),
        generation: status.status.generation.unwrap_or(0),
    };
    Ok(send(StatusCode::OK, &view, shown))
}

/// 대기 취소 as posted.
#[derive(Deserialize)]
pub struct LeaveForm {
    ticket_id: String,
}

/// Leaves the queue: the ticket is cancelled unless the drain is deciding it right now.
pub async fn leave(
    State(state): State<AppState>,
    page: PageStudent,
    Form(form): Form<LeaveForm>,
) -> Response {
    match api::leave_queue(State(state), page.student, Path(form.ticket_id)).await {
        Ok(_) => Notice::ok("대기열에서 나갔습니다.").redirect("/queue"),
        Err(error) => Notice::error(error_words(&error)).redirect("/queue"),
    }
}
