//! 수강신청 내역 / 시간표: my enrollments as a weekly grid, total credits, and 수강 취소 after a
//! confirmation page.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::account::error_words;
use super::cart::{CourseForm, meetings_of, times_of};
use super::grid::{Grid, Placed};
use super::layout::{Layout, PageError, send};
use super::session::{Notice, PageStudent, Pending};
use crate::domain::Meeting;
use crate::http::AppState;
use crate::http::enrollments::{self as api, EnrollmentList};
use crate::http::extract::{Form, Path, Query};

/// An enrollment as the page lists it.
pub struct Held {
    pub course_id: i64,
    pub code: String,
    pub title: String,
    pub professor: String,
    pub credits: u8,
    pub times: String,
}

#[derive(Template)]
#[template(path = "timetable.html")]
pub struct TimetablePage {
    layout: Layout,
    held: Vec<Held>,
    total_credits: u16,
    credit_cap: u16,
    grid: Grid,
    grid_label: &'static str,
}

async fn enrollments(state: &AppState, page: &PageStudent) -> Result<EnrollmentList, PageError> {
    match api::list_enrollments(State(state.clone()), page.student).await {
        Ok(list) => Ok(list.0),
        Err(error) => Err(PageError {
            error,
            viewer: page.viewer.clone(),
        }),
    }
}

fn held(list: &EnrollmentList) -> Vec<Held> {
    list.items
        .iter()
        .map(|e| Held {
            course_id: e.course.id,
            code: e.course.code.clone(),
            title: e.course.title.clone(),
            professor: e.course.professor.clone(),
            credits: e.course.credits,
            times: times_of(&e.course),
        })
        .collect()
}

/// 시간표.
pub async fn timetable_page(
    State(state): State<AppState>,
    page: PageStudent,
    Pending(notice): Pending,
) -> Result<Response, PageError> {
    let list = enrollments(&state, &page).await?;
    let meetings: Vec<Vec<Meeting>> = list.items.iter().map(|e| meetings_of(&e.course)).collect();
    let grid = Grid::of(
        list.items
            .iter()
            .zip(&meetings)
            .map(|(e, meetings)| Placed {
                title: &e.course.title,
                meetings,
                clash: false,
            }),
    );
    let shown = notice.is_some();
    let view = TimetablePage {
        layout: Layout::new("시간표", &page.viewer, "/timetable", notice),
        held: held(&list),
        total_credits: list.total_credits,
        credit_cap: list.credit_cap,
        grid,
        grid_label: "주간 시간표",
    };
    Ok(send(StatusCode::OK, &view, shown))
}

#[derive(Template)]
#[template(path = "cancel.html")]
pub struct CancelPage {
    layout: Layout,
    course: Held,
}

/// 수강 취소, asked once more before it is done.
pub async fn cancel_page(
    State(state): State<AppState>,
    page: PageStudent,
    Query(form): Query<CourseForm>,
) -> Result<Response, PageError> {
    let list = enrollments(&state, &page).await?;
    let Some(course) = held(&list)
        .into_iter()
        .find(|h| h.course_id == form.course_id)
    else {
        return Ok(Notice::error("신청하지 않은 강좌입니다.").redirect("/timetable"));
    };
    let view = CancelPage {
        layout: Layout::new("수강 취소 확인", &page.viewer, "/timetable", None),
        course,
    };
    Ok(send(StatusCode::OK, &view, false))
}

/// 수강 취소: the seat goes back to the course.
pub async fn cancel(
    State(state): State<AppState>,
    page: PageStudent,
    Form(form): Form<CourseForm>,
) -> Response {
    match api::cancel(State(state), page.student, Path(form.course_id)).await {
        Ok(_) => Notice::ok("수강 취소되었습니다.").redirect("/timetable"),
        Err(error) => Notice::error(error_words(&error)).redirect("/timetable"),
    }
}
