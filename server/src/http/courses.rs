//! The course catalog: `GET /api/v1/courses` and `GET /api/v1/courses/{id}`.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{AppError, ErrorBody, ServerErrors};
use super::extract::{Json, Path, Query};
use crate::domain::course::clock;
use crate::domain::{Course, CourseId, Credits, Meeting, Rejection, Weekday};
use crate::store::{CourseFilter, PageRequest};

/// The largest page the catalog serves.
pub const MAX_PER_PAGE: u32 = 100;

/// The last page a client may ask for: at most 49,900 courses are skipped (an `OFFSET` the
/// database walks in a few milliseconds), never millions. Narrow the search to go further.
pub const MAX_PAGE: u32 = 500;

/// The longest search text the catalog takes, in characters once trimmed.
pub const MAX_SEARCH_CHARS: usize = 100;

/// One weekly meeting.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeetingView {
    pub weekday: Weekday,
    /// Minutes since midnight.
    pub start_min: u16,
    pub end_min: u16,
    /// `HH:MM`.
    pub start: String,
    pub end: String,
    pub room: String,
    /// As a timetable prints it, e.g. `월 10:30-11:45`.
    pub label: String,
}

impl From<&Meeting> for MeetingView {
    fn from(m: &Meeting) -> Self {
        MeetingView {
            weekday: m.weekday,
            start_min: m.start_min,
            end_min: m.end_min,
            start: clock(m.start_min),
            end: clock(m.end_min),
            room: m.room.clone(),
            label: m.label(),
        }
    }
}

/// Who may enroll beyond the common rules.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RestrictionsView {
    /// Admitted year levels; null admits all.
    pub years: Option<Vec<u8>>,
    pub own_department_only: bool,
}

/// A course with its seats.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CourseView {
    pub id: i64,
    /// Code with section, e.g. `CSE2010-01`.
    pub code: String,
    pub title: String,
    pub department: String,
    pub professor: String,
    pub credits: u8,
    pub capacity: u32,
    pub enrolled: u32,
    pub seats_left: u32,
    pub is_open: bool,
    pub meetings: Vec<MeetingView>,
    pub restrictions: RestrictionsView,
}

impl From<&Course> for CourseView {
    fn from(course: &Course) -> Self {
        let spec = &course.spec;
        CourseView {
            id: course.id.0,
            code: spec.code.to_string(),
            title: spec.title.clone(),
            department: spec.department.clone(),
            professor: spec.professor.clone(),
            credits: spec.credits.get(),
            capacity: spec.capacity,
            enrolled: course.enrolled,
            seats_left: course.seats_left(),
            is_open: spec.is_open,
            meetings: spec.meetings.iter().map(MeetingView::from).collect(),
            restrictions: RestrictionsView {
                years: spec.restrictions.years.map(|y| y.years()),
                own_department_only: spec.restrictions.own_department_only,
            },
        }
    }
}

/// Catalog filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CourseQuery {
    /// Text in the title, professor or course code, e.g. `운영체제`; a substring match,
    /// ignoring case. At most 100 characters once trimmed, no control characters; blank
    /// searches everything.
    #[param(max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub q: Option<String>,
    /// Exact department name, e.g. `컴퓨터공학과`; at most 100 characters, no control characters.
    #[param(max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub department: Option<String>,
    /// Courses meeting on this day.
    pub weekday: Option<Weekday>,
    /// Courses worth exactly this many credits (1–6).
    #[param(minimum = 1, maximum = 6)]
    pub credits: Option<i64>,
    /// Only courses with a free seat.
    pub has_seats: Option<bool>,
    /// 1-based page number, 1–500; default 1.
    #[param(minimum = 1, maximum = 500)]
    pub page: Option<u32>,
    /// Courses per page, 1–100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

/// A page of the catalog.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CoursePage {
    pub items: Vec<CourseView>,
    pub page: u32,
    pub per_page: u32,
    /// Courses matching the filters, over all pages.
    pub total: u64,
}

impl CourseQuery {
    fn parse(self) -> Result<(CourseFilter, PageRequest), AppError> {
        let credits =
            match self.credits {
                Some(raw) => Some(Credits::new(raw).ok_or_else(|| {
                    AppError::InvalidQuery("credits must be between 1 and 6".into())
                })?),
                None => None,
            };
        let text = match self.q.as_deref().map(str::trim) {
            Some(text) if text.chars().count() > MAX_SEARCH_CHARS => {
                return Err(AppError::InvalidQuery(format!(
                    "q must be at most {MAX_SEARCH_CHARS} characters"
                )));
            }
            // No title or name holds one, and PostgreSQL refuses NUL in text outright.
            Some(text) if text.chars().any(char::is_control) => {
                return Err(AppError::InvalidQuery(
                    "q must not contain control characters".into(),
                ));
            }
            Some(text) if !text.is_empty() => Some(text.to_owned()),
            _ => None,
        };
        if let Some(department) = &self.department
            && (department.chars().count() > MAX_SEARCH_CHARS
                || department.chars().any(char::is_control))
        {
            return Err(AppError::InvalidQuery(format!(
                "department must be at most {MAX_SEARCH_CHARS} characters, without control characters"
            )));
        }
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(20);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(AppError::InvalidQuery(format!(
                "page must be between 1 and {MAX_PAGE}"
            )));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(AppError::InvalidQuery(format!(
                "per_page must be between 1 and {MAX_PER_PAGE}"
            )));
        }
        let filter = CourseFilter {
            department: self.department.filter(|d| !d.trim().is_empty()),
            weekday: self.weekday,
            credits,
            has_seats: self.has_seats.unwrap_or(false),
            text,
        };
        Ok((filter, PageRequest { page, per_page }))
    }
}

/// Lists the catalog, filtered and paged, ordered by course code and section.
#[utoipa::path(
    get,
    path = "/api/v1/courses",
    tag = "courses",
    params(CourseQuery),
    responses(
        (status = 200, description = "A page of courses", body = CoursePage),
        (status = 400, description = "INVALID_QUERY: a filter or paging value is out of range or of the wrong type", body = ErrorBody),
        ServerErrors,
    )
)]
pub async fn list_courses(
    State(state): State<AppState>,
    Query(query): Query<CourseQuery>,
) -> Result<Json<CoursePage>, AppError> {
    let (filter, request) = query.parse()?;
    let page = state.store.courses(&filter, request).await?;
    Ok(Json(CoursePage {
        items: page.items.iter().map(CourseView::from).collect(),
        page: request.page,
        per_page: request.per_page,
        total: page.total,
    }))
}

/// One course.
#[utoipa::path(
    get,
    path = "/api/v1/courses/{id}",
    tag = "courses",
    params(("id" = i64, Path, description = "Course id")),
    responses(
        (status = 200, description = "The course", body = CourseView),
        (status = 400, description = "INVALID_PATH: the id is not a number", body = ErrorBody),
        (status = 404, description = "COURSE_NOT_FOUND", body = ErrorBody),
        ServerErrors,
    )
)]
pub async fn get_course(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<CourseView>, AppError> {
    let course = state
        .store
        .course(CourseId(id))
        .await?
        .ok_or(Rejection::CourseNotFound)?;
    Ok(Json(CourseView::from(&course)))
}
