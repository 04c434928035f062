//! 운영자: registration day's settings (opening time, pause and resume, admission rate), the
//! live queue (depth, drain rate, the oldest waiting ticket's age), and course edits.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::account::error_words;
use super::catalog::SearchForm;
use super::layout::{Layout, PageError, send, wait_words};
use super::session::{Notice, PageAdmin, Pending};
use crate::domain::{CourseId, CourseSpec};
use crate::http::admin::{self as api, QueueOverview, SettingsInput};
use crate::http::courses::{SearchQuery, find};
use crate::http::extract::{Form, Json, Path, Query};
use crate::http::{AppError, AppState};

#[derive(Template)]
#[template(path = "admin.html")]
pub struct OverviewPage {
    layout: Layout,
    opens_at: String,
    /// The opening time as a `datetime-local` value, in Korean time.
    opens_at_local: String,
    is_open: bool,
    paused: bool,
    admission_rate: u32,
    mode: String,
    backend: &'static str,
    depth: u64,
    serving_seq: u64,
    last_seq: u64,
    drain_rate: String,
    oldest_wait: String,
}

/// `2026-02-10T10:00:00+09:00` (or any RFC 3339 time) as `2026-02-10T10:00` in Korean time.
fn local_value(rfc3339: &str) -> String {
    let Ok(at) =
        time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
    else {
        return String::new();
    };
    let korea = time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let at = at.to_offset(korea);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// 운영.
pub async fn overview_page(
    State(state): State<AppState>,
    page: PageAdmin,
    Pending(notice): Pending,
) -> Result<Response, PageError> {
    let PageAdmin { admin, viewer } = page;
    let overview: QueueOverview = match api::queue_overview(State(state), admin).await {
        Ok(overview) => overview.0,
        Err(error) => return Err(PageError { error, viewer }),
    };
    let settings = &overview.settings;
    let queue = &overview.queue;
    let is_open = match &settings.opens_at {
        None => true,
        Some(at) => time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .map(|at| at <= time::OffsetDateTime::now_utc())
            .unwrap_or(false),
    };
    let shown = notice.is_some();
    let view = OverviewPage {
        layout: Layout::new("운영", &viewer, "/admin", notice),
        opens_at: settings
            .opens_at
            .clone()
            .unwrap_or_else(|| "지금 열림".into()),
        opens_at_local: settings
            .opens_at
            .as_deref()
            .map(local_value)
            .unwrap_or_default(),
        is_open,
        paused: settings.paused,
        admission_rate: settings.admission_rate,
        mode: format!("{:?}", settings.mode).to_lowercase(),
        backend: overview.backend,
        depth: queue.status.depth,
        serving_seq: queue.status.serving_seq,
        last_seq: queue.status.last_seq,
        drain_rate: format!("{:.1}", queue.drain_rate),
        oldest_wait: match queue.oldest_wait_seconds {
            None => "-".into(),
            some => wait_words(some),
        },
    };
    Ok(send(StatusCode::OK, &view, shown))
}

/// An administrator's refused change as a notice: each invalid field's reason, or the error's
/// own words.
fn refused(error: &AppError) -> Notice {
    match error {
        AppError::Validation(fields) => {
            let reasons: Vec<&str> = fields.iter().map(|f| f.reason.as_str()).collect();
            Notice::error(reasons.join(" "))
        }
        other => Notice::error(error_words(other)),
    }
}

/// A settings form as posted: which button, and the fields it uses.
#[derive(Deserialize)]
pub struct SettingsForm {
    action: String,
    #[serde(default)]
    opens_at: String,
    #[serde(default)]
    admission_rate: String,
}

/// Changes registration day's settings through the API.
pub async fn change_queue(
    State(state): State<AppState>,
    page: PageAdmin,
    Form(form): Form<SettingsForm>,
) -> Response {
    let mut input = SettingsInput {
        opens_at: None,
        paused: None,
        admission_rate: None,
        mode: None,
    };
    let done = match form.action.as_str() {
        "open_now" => {
            input.opens_at = Some(None);
            "수강신청을 열었습니다."
        }
        "set_opening" => {
            let local = form.opens_at.trim();
            if local.len() != 16 {
                return Notice::error("시작 시각을 날짜와 시간까지 입력해 주세요.")
                    .redirect("/admin");
            }
            input.opens_at = Some(Some(format!("{local}:00+09:00")));
            "시작 시각을 바꿨습니다."
        }
        "pause" => {
            input.paused = Some(true);
            "대기열 처리를 일시정지했습니다."
        }
        "resume" => {
            input.paused = Some(false);
            "대기열 처리를 재개했습니다."
        }
        "rate" => match form.admission_rate.trim().parse::<u32>() {
            Ok(rate) => {
                input.admission_rate = Some(rate);
                "초당 입장 한도를 바꿨습니다."
            }
            Err(_) => {
                return Notice::error("초당 입장 한도는 0 이상의 정수입니다 (0은 제한 없음).")
                    .redirect("/admin");
            }
        },
        _ => return Notice::error("알 수 없는 동작입니다.").redirect("/admin"),
    };
    match api::change_queue(State(state), page.admin, Json(input)).await {
        Ok(_) => Notice::ok(done).redirect("/admin"),
        Err(error) => refused(&error).redirect("/admin"),
    }
}

/// A course in the administrators' list.
pub struct CourseRow {
    pub id: i64,
    pub code: String,
    pub title: String,
    pub professor: String,
    pub enrolled: u32,
    pub capacity: u32,
    pub is_open: bool,
}

#[derive(Template)]
#[template(path = "admin_courses.html")]
pub struct CoursesPage {
    layout: Layout,
    q: String,
    rows: Vec<CourseRow>,
    total: u64,
    problem: Option<String>,
}

/// 강좌 관리: find a course to edit.
pub async fn courses_page(
    State(state): State<AppState>,
    page: PageAdmin,
    Pending(notice): Pending,
    Query(form): Query<SearchForm>,
) -> Response {
    let q = form.text().to_owned();
    let query = SearchQuery {
        q: Some(q.clone()).filter(|q| !q.trim().is_empty()),
        department: None,
        weekday: None,
        credits: None,
        has_seats: None,
        cursor: None,
        limit: Some(30),
    };
    let (rows, total, problem) = match find(&state, &query).await {
        Ok(found) => (
            found
                .hits
                .iter()
                .map(|hit| CourseRow {
                    id: hit.course.id.0,
                    code: hit.course.spec.code.as_str().to_owned(),
                    title: hit.course.spec.title.clone(),
                    professor: hit.course.spec.professor.clone(),
                    enrolled: hit.course.enrolled,
                    capacity: hit.course.spec.capacity,
                    is_open: hit.course.spec.is_open,
                })
                .collect(),
            found.total,
            None,
        ),
        Err(error) => (Vec::new(), 0, Some(error_words(&error))),
    };
    let shown = notice.is_some();
    let view = CoursesPage {
        layout: Layout::new("강좌 관리", &page.viewer, "/admin/courses", notice),
        q,
        rows,
        total,
        problem,
    };
    send(StatusCode::OK, &view, shown)
}

#[derive(Template)]
#[template(path = "course_edit.html")]
pub struct CoursePage {
    layout: Layout,
    id: i64,
    code: String,
    title: String,
    professor: String,
    capacity: String,
    enrolled: u32,
    is_open: bool,
}

/// One course's edit form.
pub async fn course_page(
    State(state): State<AppState>,
    page: PageAdmin,
    Pending(notice): Pending,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let course = match state
        .search
        .index
        .course(CourseId(id), state.store.seats())
        .await
    {
        Ok(Some(course)) => course,
        Ok(None) => {
            return Err(PageError {
                error: AppError::Rejected(crate::domain::Rejection::CourseNotFound),
                viewer: page.viewer,
            });
        }
        Err(e) => {
            return Err(PageError {
                error: e.into(),
                viewer: page.viewer,
            });
        }
    };
    let shown = notice.is_some();
    let spec = &course.spec;
    let view = CoursePage {
        layout: Layout::new(
            format!("강좌 수정: {}", spec.title),
            &page.viewer,
            "/admin/courses",
            notice,
        ),
        id,
        code: spec.code.as_str().to_owned(),
        title: spec.title.clone(),
        professor: spec.professor.clone(),
        capacity: spec.capacity.to_string(),
        enrolled: course.enrolled,
        is_open: spec.is_open,
    };
    Ok(send(StatusCode::OK, &view, shown))
}

/// The edit form as posted.
#[derive(Deserialize)]
pub struct CourseForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    professor: String,
    #[serde(default)]
    capacity: String,
    #[serde(default)]
    is_open: String,
}

/// Saves a course's edits through the API (which checks them and keeps capacity at or above
/// the seats taken).
pub async fn update_course(
    State(state): State<AppState>,
    page: PageAdmin,
    Path(id): Path<i64>,
    Form(form): Form<CourseForm>,
) -> Response {
    let back = format!("/admin/courses/{id}");
    let course = match state
        .search
        .index
        .course(CourseId(id), state.store.seats())
        .await
    {
        Ok(Some(course)) => course,
        _ => return Notice::error("존재하지 않는 강좌입니다.").redirect("/admin/courses"),
    };
    let Ok(capacity) = form.capacity.trim().parse::<i64>() else {
        return Notice::error("정원은 1~5000 사이의 숫자입니다.").redirect(&back);
    };
    let mut input = CourseSpec::to_input(&course.spec);
    input.title = form.title;
    input.professor = form.professor;
    input.capacity = capacity;
    input.is_open = form.is_open == "1";
    match api::update_course(State(state), page.admin, Path(id), Json(input)).await {
        Ok(_) => Notice::ok("강좌를 저장했습니다.").redirect(&back),
        Err(error) => refused(&error).redirect(&back),
    }
}
