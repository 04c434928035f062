//! Enrollment: `POST /api/v1/enrollments` decides at once against the database (the direct path);
//! listing and cancelling.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::AppState;
use super::cart::CourseRef;
use super::courses::CourseView;
use super::error::{AppError, AuthErrors, BodyErrors, ErrorBody, ServerErrors};
use super::extract::{CurrentStudent, Json, Path};
use crate::registration;

/// A course the student holds.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrollmentView {
    pub id: i64,
    pub course: CourseView,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub enrolled_at: OffsetDateTime,
}

/// The caller's enrollments.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrollmentList {
    pub items: Vec<EnrollmentView>,
    pub total_credits: u16,
    pub credit_cap: u16,
}

/// Enrolls the caller in a course, checking every rule.
#[utoipa::path(
    post,
    path = "/api/v1/enrollments",
    tag = "enrollments",
    request_body = CourseRef,
    responses(
        (status = 201, description = "Enrolled", body = EnrollmentView),
        (status = 403, description = "YEAR_RESTRICTED or DEPARTMENT_RESTRICTED (details say why), or FORBIDDEN for a non-student token", body = ErrorBody),
        (status = 404, description = "COURSE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "COURSE_FULL, ALREADY_ENROLLED, TIME_CLASH (details.clashes_with), CREDIT_LIMIT_EXCEEDED (details: enrolled_credits, course_credits, credit_cap) or COURSE_CLOSED", body = ErrorBody),
        BodyErrors,
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn enroll(
    State(state): State<AppState>,
    student: CurrentStudent,
    Json(body): Json<CourseRef>,
) -> Result<(StatusCode, Json<EnrollmentView>), AppError> {
    let enrolled = registration::enroll(
        state.store.as_ref(),
        &state.rules,
        student.id,
        body.course_id,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrollmentView {
            id: enrolled.record.id,
            course: CourseView::from(&enrolled.course),
            enrolled_at: enrolled.record.enrolled_at,
        }),
    ))
}

/// The caller's enrollments and credit total.
#[utoipa::path(
    get,
    path = "/api/v1/enrollments",
    tag = "enrollments",
    responses(
        (status = 200, description = "Held courses", body = EnrollmentList),
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn list_enrollments(
    State(state): State<AppState>,
    student: CurrentStudent,
) -> Result<Json<EnrollmentList>, AppError> {
    let enrollments = state.store.enrollments(student.id).await?;
    let total_credits = enrollments
        .iter()
        .map(|e| u16::from(e.course.spec.credits.get()))
        .sum();
    Ok(Json(EnrollmentList {
        items: enrollments
            .iter()
            .map(|e| EnrollmentView {
                id: e.id,
                course: CourseView::from(&e.course),
                enrolled_at: e.enrolled_at,
            })
            .collect(),
        total_credits,
        credit_cap: state.rules.credit_cap.get(),
    }))
}

/// Cancels one of the caller's enrollments; the seat goes back to the course.
#[utoipa::path(
    delete,
    path = "/api/v1/enrollments/{course_id}",
    tag = "enrollments",
    params(("course_id" = i64, Path, description = "Course id")),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 400, description = "INVALID_PATH", body = ErrorBody),
        (status = 404, description = "NOT_ENROLLED: the caller does not hold this course", body = ErrorBody),
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn cancel(
    State(state): State<AppState>,
    student: CurrentStudent,
    Path(course_id): Path<i64>,
) -> Result<StatusCode, AppError> {
    registration::cancel(state.store.as_ref(), student.id, course_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
