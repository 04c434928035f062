//! Administration of the catalog: create and edit courses.

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::courses::CourseView;
use super::error::{AppError, AuthErrors, BodyErrors, ErrorBody, ServerErrors};
use super::extract::{CurrentAdmin, Json, Path};
use crate::domain::{CourseSpec, CourseSpecInput};

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
    let course = state.store.insert_course(&spec).await?;
    tracing::info!(admin_id = admin.id, course_id = course.id, code = %course.spec.code, "course created");
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
    let course = state.store.update_course(id, &spec).await?;
    tracing::info!(admin_id = admin.id, course_id = id, "course updated");
    Ok(Json(CourseView::from(&course)))
}
