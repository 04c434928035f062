//! Liveness and readiness probes.

use std::time::Duration;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::{AppError, ErrorBody};
use super::extract::Json;

/// How long readiness waits for a dependency.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A probe's answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` (alive) or `ready`.
    pub status: String,
}

/// The process is up and serving HTTP. Touches no dependency.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "Alive", body = Health))
)]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// The server can do its work: the database answers, and the queue answers with a live
/// generation (not while it is being rebuilt after a loss).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "NOT_READY: details.failing names each dependency that did not answer (`database`, `queue`)", body = ErrorBody),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, AppError> {
    let database = async {
        match tokio::time::timeout(CHECK_TIMEOUT, state.store.ping()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(("database", e.to_string())),
            Err(_) => Some(("database", format!("no answer within {CHECK_TIMEOUT:?}"))),
        }
    };
    let queue = async {
        match tokio::time::timeout(CHECK_TIMEOUT, state.queue.generation()).await {
            Ok(Ok(Some(_))) => None,
            Ok(Ok(None)) => Some(("queue", "being rebuilt from the database".to_owned())),
            Ok(Err(e)) => Some(("queue", e.to_string())),
            Err(_) => Some(("queue", format!("no answer within {CHECK_TIMEOUT:?}"))),
        }
    };
    let (database, queue) = tokio::join!(database, queue);
    let failing: Vec<(&'static str, String)> = database.into_iter().chain(queue).collect();
    match failing.is_empty() {
        true => Ok(Json(Health {
            status: "ready".into(),
        })),
        false => Err(AppError::NotReady { failing }),
    }
}
