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

/// The server can do its work: the database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "NOT_READY: details.failing names each dependency that did not answer", body = ErrorBody),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, AppError> {
    let database = match tokio::time::timeout(CHECK_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no answer within {CHECK_TIMEOUT:?}")),
    };
    match database {
        None => Ok(Json(Health {
            status: "ready".into(),
        })),
        Some(why) => Err(AppError::NotReady {
            failing: vec![("database", why)],
        }),
    }
}
