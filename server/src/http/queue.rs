//! The queue, live: a WebSocket pushing "now serving" and the caller's results, and a cheap
//! polling fallback. Both read the hub's shared frame, never the queue itself.

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use super::error::{AppError, AuthErrors, ServerErrors};
use super::extract::{Caller, CurrentStudent, Json};
use crate::domain::StudentId;
use crate::queue::hub::LiveStatus;

/// The queue at a glance, at most one hub tick (250 ms) old.
#[utoipa::path(
    get,
    path = "/api/v1/queue/status",
    tag = "queue",
    responses(
        (status = 200, description = "Now serving, depth, drain rate, estimated wait", body = LiveStatus),
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn status(State(state): State<AppState>, _caller: Caller) -> Json<LiveStatus> {
    Json(state.hub.latest().status.clone())
}

/// Live position over a WebSocket. The server sends JSON text frames: `{"type": "status", …}`
/// (the same fields as `GET /api/v1/queue/status`, whenever the queue moves, at most every
/// 250 ms) and `{"type": "ticket", "id", "seq", "course_id", "state", "code", …}` for each of the
/// caller's tickets as it is decided. Position = ticket seq − `serving_seq` − 1.
#[utoipa::path(
    get,
    path = "/api/v1/queue/ws",
    tag = "queue",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn live(
    State(state): State<AppState>,
    student: CurrentStudent,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    let upgrade = upgrade.map_err(|e| AppError::InvalidQuery(e.body_text()))?;
    Ok(upgrade.on_upgrade(move |socket| follow(socket, state, student.id)))
}

async fn follow(mut socket: WebSocket, state: AppState, student_id: StudentId) {
    let mut frames = state.hub.frames();
    let mut results = state.hub.results_for(student_id);
    let first = frames.borrow_and_update().json.clone();
    if socket
        .send(Message::Text(first.as_ref().into()))
        .await
        .is_ok()
    {
        loop {
            let text = tokio::select! {
                changed = frames.changed() => match changed {
                    Ok(()) => frames.borrow_and_update().json.clone(),
                    Err(_) => break,
                },
                result = results.recv() => match result {
                    Ok(text) => text,
                    // A slow socket missed some results; GET /api/v1/tickets has them all.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                },
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => continue,
                },
            };
            if socket
                .send(Message::Text(text.as_ref().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    }
    drop(results);
    state.hub.release(student_id);
}
