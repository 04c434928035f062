//! 장바구니: the cart with its timetable preview, clashes, credits against the cap, 신청 per
//! course and 전체 신청.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::account::error_words;
use super::grid::{Grid, Placed};
use super::layout::{Layout, PageError, send};
use super::session::{Notice, PageStudent, Pending};
use crate::domain::Meeting;
use crate::http::cart::{self as api, CartResponse, CourseRef};
use crate::http::courses::CourseView;
use crate::http::enrollments as enrollments_api;
use crate::http::extract::{Form, Json, Path};
use crate::http::{AppError, AppState};

/// A course's meetings as the domain holds them, from its view.
pub fn meetings_of(course: &CourseView) -> Vec<Meeting> {
    course
        .meetings
        .iter()
        .map(|m| Meeting {
            weekday: m.weekday,
            start_min: m.start_min,
            end_min: m.end_min,
            room: m.room.clone(),
        })
        .collect()
}

/// A course's meetings as one line: `월 09:00-10:15, 수 09:00-10:15`.
pub fn times_of(course: &CourseView) -> String {
    let labels: Vec<&str> = course.meetings.iter().map(|m| m.label.as_str()).collect();
    labels.join(", ")
}

/// A cart line.
pub struct Line {
    pub id: i64,
    pub code: String,
    pub title: String,
    pub professor: String,
    pub credits: u8,
    pub times: String,
    pub seats_left: u32,
    pub capacity: u32,
    pub enrolled: bool,
    /// Titles of the courses it clashes with.
    pub clashes: Vec<String>,
}

#[derive(Template)]
#[template(path = "cart.html")]
pub struct CartPage {
    layout: Layout,
    lines: Vec<Line>,
    cart_credits: u16,
    enrolled_credits: u16,
    credit_cap: u16,
    exceeds_cap: bool,
    waiting: usize,
    grid: Grid,
    grid_label: &'static str,
}

/// 장바구니.
pub async fn cart_page(
    State(state): State<AppState>,
    page: PageStudent,
    Pending(notice): Pending,
) -> Result<Response, PageError> {
    let PageStudent { student, viewer } = page;
    let cart: CartResponse = match api::get_cart(State(state.clone()), student).await {
        Ok(cart) => cart.0,
        Err(error) => return Err(PageError { error, viewer }),
    };
    let title_of = |id: i64| {
        cart.items
            .iter()
            .find(|item| item.course.id == id)
            .map(|item| item.course.title.clone())
            .unwrap_or_else(|| "신청한 강좌".into())
    };
    let lines: Vec<Line> = cart
        .items
        .iter()
        .map(|item| {
            let course = &item.course;
            Line {
                id: course.id,
                code: course.code.clone(),
                title: course.title.clone(),
                professor: course.professor.clone(),
                credits: course.credits,
                times: times_of(course),
                seats_left: course.seats_left,
                capacity: course.capacity,
                enrolled: item.enrolled,
                clashes: item.clashes_with.iter().map(|&id| title_of(id)).collect(),
            }
        })
        .collect();
    let meetings: Vec<Vec<Meeting>> = cart.items.iter().map(|i| meetings_of(&i.course)).collect();
    let grid = Grid::of(
        cart.items
            .iter()
            .zip(&meetings)
            .map(|(item, meetings)| Placed {
                title: &item.course.title,
                meetings,
                clash: !item.clashes_with.is_empty(),
            }),
    );
    let waiting = lines.iter().filter(|l| !l.enrolled).count();
    let shown = notice.is_some();
    let view = CartPage {
        layout: Layout::new("장바구니", &viewer, "/cart", notice),
        lines,
        cart_credits: cart.cart_credits,
        enrolled_credits: cart.enrolled_credits,
        credit_cap: cart.credit_cap,
        exceeds_cap: cart.exceeds_cap,
        waiting,
        grid,
        grid_label: "장바구니 시간표 미리보기",
    };
    Ok(send(StatusCode::OK, &view, shown))
}

/// A course picked by a form.
#[derive(Deserialize)]
pub struct CourseForm {
    pub course_id: i64,
}

/// 빼기: takes a course out of the cart.
pub async fn remove(
    State(state): State<AppState>,
    page: PageStudent,
    Form(form): Form<CourseForm>,
) -> Response {
    match api::remove_from_cart(State(state), page.student, Path(form.course_id)).await {
        Ok(_) => Notice::ok("장바구니에서 뺐습니다.").redirect("/cart"),
        Err(error) => Notice::error(error_words(&error)).redirect("/cart"),
    }
}

/// Asks to enroll in one course through the API: in queue mode a ticket to follow on the queue
/// page; in direct mode, decided at once.
async fn ask(state: &AppState, page: &PageStudent, course_id: i64) -> Result<StatusCode, AppError> {
    let answer = enrollments_api::enroll(
        State(state.clone()),
        page.student.into(),
        Json(CourseRef { course_id }),
    )
    .await?;
    Ok(answer.status())
}

/// 신청: one course of the cart.
pub async fn enroll(
    State(state): State<AppState>,
    page: PageStudent,
    Form(form): Form<CourseForm>,
) -> Response {
    match ask(&state, &page, form.course_id).await {
        Ok(StatusCode::CREATED) => Notice::ok("수강신청되었습니다.").redirect("/timetable"),
        Ok(_) => Notice::ok("대기열에 들어갔습니다. 차례가 되면 결과가 바로 나타납니다.")
            .redirect("/queue"),
        Err(error) => Notice::error(error_words(&error)).redirect("/cart"),
    }
}

/// 전체 신청: every cart course not held yet, in cart order, each through the API.
pub async fn enroll_all(State(state): State<AppState>, page: PageStudent) -> Response {
    let cart = match api::get_cart(State(state.clone()), page.student).await {
        Ok(cart) => cart.0,
        Err(error) => return Notice::error(error_words(&error)).redirect("/cart"),
    };
    let mut asked = 0;
    let mut refused = Vec::new();
    for item in cart.items.iter().filter(|i| !i.enrolled) {
        match ask(&state, &page, item.course.id).await {
            Ok(_) => asked += 1,
            Err(error) => refused.push(format!("{}: {}", item.course.title, error_words(&error))),
        }
    }
    let notice = match (asked, refused.is_empty()) {
        (0, true) => Notice::error("신청할 강좌가 없습니다."),
        (_, true) => Notice::ok(format!("{asked}개 강좌를 신청했습니다.")),
        (_, false) => Notice::error(format!(
            "{asked}개 강좌를 신청했습니다. 신청하지 못한 강좌: {}",
            refused.join(" / ")
        )),
    };
    notice
        .redirect(if asked > 0 { "/queue" } else { "/cart" })
        .into_response()
}
