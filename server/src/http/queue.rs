//! The queue, live: a WebSocket pushing "now serving" and the caller's results, and a cheap
//! polling fallback. Both read the hub's shared frame, never the queue itself.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::AppState;
use super::error::{AppError, AuthErrors, ErrorBody, ServerErrors};
use super::extract::{Caller, Json};
use super::origin;
use crate::auth::{Claims, Role};
use crate::clock::now_ms;
use crate::domain::StudentId;
use crate::queue::hub::{Hub, LiveStatus};

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

/// The largest message or frame a client may send on the queue's WebSocket: the server never
/// reads what clients send, so anything bigger is a client misbehaving.
pub const MAX_CLIENT_MESSAGE: usize = 1024;

/// What a socket reads into: room for a client's largest message and its frame header.
const SOCKET_READ_BUFFER: usize = 4 * 1024;

/// The most a socket's unsent frames may take (a client that stopped reading): past it, the
/// send fails and the socket ends.
const SOCKET_WRITE_BUFFER_MAX: usize = 64 * 1024;

/// Close codes the queue's WebSocket ends with besides the usual ones.
pub mod close {
    /// The token expired: log in again.
    pub const EXPIRED: u16 = 4001;
    /// The token was logged out.
    pub const LOGGED_OUT: u16 = 4003;
}

/// The limits of the queue's WebSockets.
#[derive(Debug, Clone, Copy)]
pub struct LiveLimits {
    /// A socket that sent nothing for this long (not even a pong) is closed; pings go every
    /// third of it.
    pub idle_timeout: Duration,
    /// Most sockets one student may have open on this process.
    pub per_student: u32,
}

/// Live position over a WebSocket. The server sends JSON text frames: `{"type": "status", …}`
/// (the same fields as `GET /api/v1/queue/status`, whenever the queue moves, at most every
/// 250 ms) and `{"type": "ticket", "id", "seq", "course_id", "state", "code", "label", "message", …}` for each of the
/// caller's tickets as it is decided. Position = ticket seq − `serving_seq` − 1. The server pings
/// every 15 s and closes a socket that has sent nothing for 45 s (1000, `idle`); it closes with
/// 4001 when the token expires and 4003 when it is logged out (checked at every ping); client
/// messages over 1 KiB close the socket. An upgrade from another site's page (its `Origin` or
/// `Sec-Fetch-Site` says so) is refused with 403 `CROSS_SITE_REQUEST`, since the browser sends
/// the session cookie along.
#[utoipa::path(
    get,
    path = "/api/v1/queue/ws",
    tag = "queue",
    params(
        ("Connection" = String, Header, pattern = r"^[Uu]pgrade$", description = "`Upgrade`"),
        ("Upgrade" = String, Header, pattern = r"^websocket$", description = "`websocket`"),
        ("Sec-WebSocket-Version" = String, Header, pattern = r"^13$", description = "`13`"),
        ("Sec-WebSocket-Key" = String, Header, pattern = r"^[A-Za-z0-9+/]{22}==$", description = "16 random bytes in base64"),
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "INVALID_QUERY: not a WebSocket upgrade request", body = ErrorBody),
        (status = 429, description = "TOO_MANY_SOCKETS (details.limit): the student has that many queue sockets open on this server already (--ws-per-student)", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn live(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(claims): Caller,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    if !origin::is_same_origin(&headers) {
        return Err(AppError::CrossSite);
    }
    if claims.role != Role::Student {
        return Err(AppError::Forbidden);
    }
    let upgrade = upgrade.map_err(|e| AppError::InvalidQuery(e.body_text()))?;
    let student = StudentId(claims.sub);
    let limit = state.live.per_student;
    let results = state
        .hub
        .results_capped(student, limit as usize)
        .ok_or(AppError::TooManySockets { limit })?;
    let listening = Listening {
        hub: state.hub.clone(),
        student,
        results: Some(results),
    };
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        // tungstenite's defaults (128 KiB to read into, 128 KiB gathered before a write) cost a
        // quarter of a MiB per socket: 20,000 students' sockets would take 5 GiB. A client sends
        // at most a KiB, and each frame of ours is written as it is sent.
        .read_buffer_size(SOCKET_READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(SOCKET_WRITE_BUFFER_MAX)
        .on_upgrade(move |socket| follow(socket, state, claims, listening)))
}

/// A socket's subscription to its student's results; the hub forgets the student once the last
/// one goes, whether the socket ran or the upgrade never completed.
struct Listening {
    hub: Arc<Hub>,
    student: StudentId,
    results: Option<broadcast::Receiver<Arc<str>>>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        drop(self.results.take());
        self.hub.release(self.student);
    }
}

/// Why a socket ended, if the server ended it.
enum Ending {
    Gone,
    Close(u16, &'static str),
}

async fn follow(mut socket: WebSocket, state: AppState, claims: Claims, mut listening: Listening) {
    let mut frames = state.hub.frames();
    let Some(results) = listening.results.as_mut() else {
        return;
    };
    let idle = state.live.idle_timeout;
    let mut ping = tokio::time::interval_at(Instant::now() + idle / 3, idle / 3);
    let mut heard = Instant::now();
    let left = (claims.exp - now_ms() / 1000).max(0) as u64;
    let expiry = tokio::time::sleep(Duration::from_secs(left));
    tokio::pin!(expiry);
    let first = frames.borrow_and_update().json.clone();
    let mut next = Some(Message::Text(first.as_ref().into()));
    let ending = loop {
        if let Some(message) = next.take()
            && socket.send(message).await.is_err()
        {
            break Ending::Gone;
        }
        next = tokio::select! {
            changed = frames.changed() => match changed {
                Ok(()) => Some(Message::Text(frames.borrow_and_update().json.as_ref().into())),
                Err(_) => break Ending::Close(1001, "server stopping"),
            },
            result = results.recv() => match result {
                Ok(text) => Some(Message::Text(text.as_ref().into())),
                // A slow socket missed some results; GET /api/v1/tickets has them all.
                Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => break Ending::Close(1001, "server stopping"),
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break Ending::Gone,
                // Pongs and anything else: the client is there. Its content is never read.
                Some(Ok(_)) => {
                    heard = Instant::now();
                    None
                }
            },
            _ = ping.tick() => {
                if heard.elapsed() >= idle {
                    break Ending::Close(1000, "idle");
                }
                match state.logouts.is_revoked(&claims.jti).await {
                    Ok(true) => break Ending::Close(close::LOGGED_OUT, "logged out"),
                    // Not known now (the cache is refilling): asked again at the next ping.
                    Ok(false) | Err(_) => Some(Message::Ping(Default::default())),
                }
            },
            () = &mut expiry => break Ending::Close(close::EXPIRED, "session expired"),
        };
    };
    if let Ending::Close(code, reason) = ending {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            socket.send(Message::Close(Some(frame))),
        )
        .await;
    }
    drop(listening);
}
