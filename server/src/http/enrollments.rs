//! Enrollment: `POST /api/v1/enrollments` admits into the fair waiting queue (or, in direct mode,
//! decides at once against the database); listing and cancelling.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::AppState;
use super::cart::CourseRef;
use super::courses::CourseView;
use super::error::{AppError, AuthErrors, BodyErrors, ErrorBody, ServerErrors};
use super::extract::{CurrentStudent, EnrollingStudent, Json, Path};
use super::tickets::TicketView;
use crate::auth;
use crate::clock::now_ms;
use crate::domain::{CourseId, RejectionCode};
use crate::registration::{Enrolled, EnrollmentAnswer, RegistrationError};

/// The error codes `POST /api/v1/enrollments` gives a well-formed request from a student who may
/// not have the seat (every rule's code, `ALREADY_QUEUED` and `TOO_MANY_TICKETS`): answers, not
/// failures, to a load generator.
pub fn refusal_codes() -> Vec<&'static str> {
    RejectionCode::RULES
        .iter()
        .map(|code| code.as_str())
        .chain(["ALREADY_QUEUED", "TOO_MANY_TICKETS"])
        .collect()
}

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

/// Asks to enroll the caller in a course. In queue mode (the default) the answer is a ticket in
/// arrival order, decided by the drain with every rule; follow it with `GET /api/v1/tickets/{id}`
/// or the WebSocket. In direct mode the enrollment is decided in the request.
#[utoipa::path(
    post,
    path = "/api/v1/enrollments",
    tag = "enrollments",
    request_body = CourseRef,
    responses(
        (status = 202, description = "Queued (queue mode): the ticket, with its position", body = TicketView),
        (status = 201, description = "Enrolled (direct mode)", body = EnrollmentView),
        (status = 403, description = "REGISTRATION_NOT_OPEN (details: opens_at, seconds_left); direct mode: YEAR_RESTRICTED or DEPARTMENT_RESTRICTED; FORBIDDEN for a non-student token", body = ErrorBody),
        (status = 404, description = "COURSE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "ALREADY_QUEUED (details.ticket_id), ALREADY_ENROLLED, COURSE_FULL (queue mode: details.fast_path, answered without a ticket), TOO_MANY_TICKETS (details.limit: the student has that many tickets waiting; --open-tickets); direct mode also TIME_CLASH, CREDIT_LIMIT_EXCEEDED, COURSE_CLOSED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED: over the student's own rate of presses (details.scope `student`, --student-admission-rate) or the operator's admission rate (`queue`); retry after the Retry-After header (also details.retry_after_seconds)", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
        BodyErrors,
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn enroll(
    State(state): State<AppState>,
    student: EnrollingStudent,
    Json(body): Json<CourseRef>,
) -> Result<Response, AppError> {
    state.limits.admission(student.id)?;
    let registration = &state.registration;
    let course = CourseId(body.course_id);
    let session = student.unchecked.as_ref();
    let jti = session.map(|claims| claims.jti.as_str());
    let answer = match registration
        .request_enrollment(student.id, course, now_ms(), jti)
        .await
    {
        Err(RegistrationError::SessionUnchecked) => {
            if let Some(claims) = session {
                auth::ensure_not_logged_out(&state.logouts, claims).await?;
            }
            registration
                .request_enrollment(student.id, course, now_ms(), None)
                .await?
        }
        answer => answer?,
    };
    Ok(match answer {
        EnrollmentAnswer::Enrolled(enrolled) => {
            (StatusCode::CREATED, Json(EnrollmentView::from(&enrolled))).into_response()
        }
        EnrollmentAnswer::Queued(ticket) => {
            let view = TicketView::new(&ticket, &state.hub.latest().status);
            (StatusCode::ACCEPTED, Json(view)).into_response()
        }
    })
}

impl From<&Enrolled> for EnrollmentView {
    fn from(enrolled: &Enrolled) -> Self {
        EnrollmentView {
            id: enrolled.record.id,
            course: CourseView::from(&enrolled.course),
            enrolled_at: enrolled.record.enrolled_at,
        }
    }
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
    let held = state.registration.holdings(student.id).await?;
    Ok(Json(EnrollmentList {
        items: held
            .enrollments
            .iter()
            .map(|e| EnrollmentView {
                id: e.id,
                course: CourseView::from(&e.course),
                enrolled_at: e.enrolled_at,
            })
            .collect(),
        total_credits: held.total_credits,
        credit_cap: held.credit_cap,
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
    state
        .registration
        .cancel(student.id, CourseId(course_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
