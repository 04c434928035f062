//! Administration: the catalog (create and edit courses) and registration day (opening time,
//! draining, the admission rate, queue statistics).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::courses::CourseView;
use super::error::{AppError, AuthErrors, BodyErrors, ErrorBody, ServerErrors};
use super::extract::{CurrentAdmin, Json, Path};
use crate::clock::{rfc3339_ms, unix_ms};
use crate::domain::{CourseId, CourseSpec, CourseSpecInput, FieldError};
use crate::queue::hub::LiveStatus;
use crate::store::{EnrollmentMode, QueueSettings, SettingsChange};

/// Adds a course to the catalog.
#[utoipa::path(
    post,
    path = "/api/v1/admin/courses",
    tag = "admin",
    request_body = CourseSpecInput,
    responses(
        (status = 201, description = "Created", body = CourseView),
        (status = 409, description = "COURSE_CODE_TAKEN", body = ErrorBody),
        BodyErrors,
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn create_course(
    State(state): State<AppState>,
    admin: CurrentAdmin,
    Json(input): Json<CourseSpecInput>,
) -> Result<(StatusCode, Json<CourseView>), AppError> {
    let spec = CourseSpec::parse(&input).map_err(AppError::Validation)?;
    let course = state.registration.create_course(&spec).await?;
    // Found by the next search here at once; other processes' syncs find it within a second.
    state.search.written(std::slice::from_ref(&course)).await?;
    tracing::info!(admin_id = admin.id, course_id = %course.id, code = %course.spec.code, "course created");
    Ok((StatusCode::CREATED, Json(CourseView::from(&course))))
}

/// Replaces a course's details. The seats already taken stay taken.
#[utoipa::path(
    put,
    path = "/api/v1/admin/courses/{id}",
    tag = "admin",
    request_body = CourseSpecInput,
    params(("id" = i64, Path, description = "Course id")),
    responses(
        (status = 200, description = "Updated", body = CourseView),
        (status = 404, description = "COURSE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "COURSE_CODE_TAKEN or CAPACITY_BELOW_ENROLLED", body = ErrorBody),
        BodyErrors,
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn update_course(
    State(state): State<AppState>,
    admin: CurrentAdmin,
    Path(id): Path<i64>,
    Json(input): Json<CourseSpecInput>,
) -> Result<Json<CourseView>, AppError> {
    let spec = CourseSpec::parse(&input).map_err(AppError::Validation)?;
    let course = state
        .registration
        .update_course(CourseId(id), &spec)
        .await?;
    state.search.written(std::slice::from_ref(&course)).await?;
    tracing::info!(admin_id = admin.id, course_id = id, "course updated");
    Ok(Json(CourseView::from(&course)))
}

/// Registration day's settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationSettings {
    /// When enrollment opens (RFC 3339); `null` means open.
    pub opens_at: Option<String>,
    /// Whether the drain is paused (admission goes on).
    pub paused: bool,
    /// Most admissions per second across all server processes; 0 means no limit.
    pub admission_rate: u32,
    /// `queue` (the default) or `direct`.
    pub mode: EnrollmentMode,
}

impl From<&QueueSettings> for RegistrationSettings {
    fn from(settings: &QueueSettings) -> Self {
        RegistrationSettings {
            opens_at: settings.opens_at_ms.map(rfc3339_ms),
            paused: settings.paused,
            admission_rate: settings.admission_rate,
            mode: settings.mode,
        }
    }
}

/// The settings and the queue's statistics.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueOverview {
    pub settings: RegistrationSettings,
    /// Depth, now serving, drain rate, the oldest waiting ticket's age.
    pub queue: LiveStatus,
    /// `redis` or `memory`.
    pub backend: &'static str,
}

/// A change to registration day's settings; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    /// RFC 3339 time enrollment opens; `null` opens it now.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub opens_at: Option<Option<String>>,
    pub paused: Option<bool>,
    pub admission_rate: Option<u32>,
    pub mode: Option<EnrollmentMode>,
}

/// Tells a field set to `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn overview(state: &AppState, settings: &QueueSettings) -> QueueOverview {
    QueueOverview {
        settings: settings.into(),
        queue: state.hub.latest().status.clone(),
        backend: state.queue.kind(),
    }
}

/// Registration day at a glance: settings, depth, drain rate, the oldest waiting ticket.
#[utoipa::path(
    get,
    path = "/api/v1/admin/queue",
    tag = "admin",
    responses(
        (status = 200, description = "Settings and queue statistics", body = QueueOverview),
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn queue_overview(
    State(state): State<AppState>,
    _admin: CurrentAdmin,
) -> Result<Json<QueueOverview>, AppError> {
    let settings = state.store.queue_settings().await?;
    Ok(Json(overview(&state, &settings)))
}

/// Sets the opening time, pauses or resumes draining, sets the admission rate or the mode.
/// Every server process follows within a second.
#[utoipa::path(
    put,
    path = "/api/v1/admin/queue",
    tag = "admin",
    request_body = SettingsInput,
    responses(
        (status = 200, description = "The settings now in force", body = QueueOverview),
        BodyErrors,
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn change_queue(
    State(state): State<AppState>,
    admin: CurrentAdmin,
    Json(input): Json<SettingsInput>,
) -> Result<Json<QueueOverview>, AppError> {
    let opens_at_ms = match input.opens_at {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => {
            let at =
                time::OffsetDateTime::parse(&raw, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| {
                    AppError::Validation(vec![FieldError::new(
                        "opens_at",
                        "RFC 3339 형식의 시각이어야 합니다 (예: 2026-02-10T10:00:00+09:00)",
                    )])
                })?;
            Some(Some(unix_ms(at)))
        }
    };
    let change = SettingsChange {
        opens_at_ms,
        paused: input.paused,
        admission_rate: input.admission_rate,
        mode: input.mode,
    };
    let settings = state.registration.change_settings(&change).await?;
    tracing::info!(
        admin_id = admin.id,
        ?change,
        "registration settings changed"
    );
    Ok(Json(overview(&state, &settings)))
}

/// A rebuild of the search index.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RebuildView {
    pub running: bool,
    /// Courses written to the new index so far.
    pub done: u64,
    /// Courses to write.
    pub total: u64,
    /// Rebuilds this process finished since it started.
    pub finished: u64,
}

/// How this process's search index stands.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchStatusView {
    /// `tantivy`.
    pub backend: String,
    /// Courses in the index.
    pub documents: u64,
    /// Every change to the catalog up to this time is in the index (RFC 3339); null before
    /// the first sync.
    pub watermark: Option<String>,
    /// Milliseconds since the index last caught up with the database (the sync looks every
    /// 200 ms); null before it first has.
    pub lag_ms: Option<u64>,
    pub rebuild: RebuildView,
}

async fn search_status_view(state: &AppState) -> Result<SearchStatusView, AppError> {
    let status = state.search.status().await?;
    Ok(SearchStatusView {
        backend: status.index.backend.to_string(),
        documents: status.index.documents,
        watermark: status
            .index
            .watermark
            .settled
            .map(|at| rfc3339_ms(unix_ms(at))),
        lag_ms: status
            .lag
            .map(|lag| u64::try_from(lag.as_millis()).unwrap_or(u64::MAX)),
        rebuild: RebuildView {
            running: status.rebuild.running,
            done: status.rebuild.done,
            total: status.rebuild.total,
            finished: status.rebuild.finished,
        },
    })
}

/// This process's search index: backend, documents, watermark, lag, a rebuild's progress.
#[utoipa::path(
    get,
    path = "/api/v1/admin/search",
    tag = "admin",
    responses(
        (status = 200, description = "The index's status", body = SearchStatusView),
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn search_status(
    State(state): State<AppState>,
    _admin: CurrentAdmin,
) -> Result<Json<SearchStatusView>, AppError> {
    Ok(Json(search_status_view(&state).await?))
}

/// Rebuilds this process's search index from the database: a new index is filled while the
/// old one answers, then swapped in at once. Returns at once; follow the progress with
/// `GET /api/v1/admin/search`.
#[utoipa::path(
    post,
    path = "/api/v1/admin/search/reindex",
    tag = "admin",
    responses(
        (status = 202, description = "The rebuild started (or was already running)", body = SearchStatusView),
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn reindex_search(
    State(state): State<AppState>,
    admin: CurrentAdmin,
) -> Result<(StatusCode, Json<SearchStatusView>), AppError> {
    state.search.ask_rebuild();
    tracing::info!(admin_id = admin.id, "search index rebuild asked");
    Ok((
        StatusCode::ACCEPTED,
        Json(search_status_view(&state).await?),
    ))
}
