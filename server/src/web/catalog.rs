//! 강의 검색: the search box, its filters, a page of hits with seats left, and 담기.

use std::collections::HashSet;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::account::error_words;
use super::layout::{Layout, send};
use super::session::{Notice, PageStudent, Pending, safe_next};
use crate::domain::Weekday;
use crate::http::AppState;
use crate::http::cart::{self as api, CourseRef};
use crate::http::courses::{SearchQuery, find};
use crate::http::extract::{Form, Json, Query};
use crate::search::highlight::Span;

/// How the API spells each weekday, Monday first.
const WEEKDAY_NAMES: [&str; 6] = ["MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Hits per page.
const PER_PAGE: u32 = 20;

/// A piece of text, marked where the query matched it.
pub struct Piece {
    pub text: String,
    pub marked: bool,
}

/// `text` cut at the matched `spans` (character offsets).
fn pieces(text: &str, spans: &[Span]) -> Vec<Piece> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut at = 0;
    for span in spans {
        let (start, end) = (span.start.min(chars.len()), span.end.min(chars.len()));
        if start < at || start >= end {
            continue;
        }
        if start > at {
            out.push(Piece {
                text: chars[at..start].iter().collect(),
                marked: false,
            });
        }
        out.push(Piece {
            text: chars[start..end].iter().collect(),
            marked: true,
        });
        at = end;
    }
    if at < chars.len() {
        out.push(Piece {
            text: chars[at..].iter().collect(),
            marked: false,
        });
    }
    out
}

/// One option of a filter.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A course found.
pub struct HitRow {
    pub id: i64,
    pub code: Vec<Piece>,
    pub title: Vec<Piece>,
    pub professor: Vec<Piece>,
    pub department: String,
    pub credits: u8,
    pub times: String,
    pub seats_left: u32,
    pub capacity: u32,
    pub is_open: bool,
    pub in_cart: bool,
}

#[derive(Template)]
#[template(path = "courses.html")]
pub struct SearchView {
    layout: Layout,
    q: String,
    departments: Vec<Choice>,
    weekdays: Vec<Choice>,
    credits: Vec<Choice>,
    has_seats: bool,
    hits: Vec<HitRow>,
    total: u64,
    /// Links to the next and the first page, when there are such pages.
    next_page: Option<String>,
    first_page: Option<String>,
    /// This page, for 담기 to come back to.
    here: String,
    problem: Option<String>,
}

/// The search form as the browser sends it: empty fields mean "any".
#[derive(Deserialize, Default)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    weekday: String,
    #[serde(default)]
    credits: String,
    #[serde(default)]
    has_seats: String,
    #[serde(default)]
    cursor: String,
}

impl SearchForm {
    /// What was typed.
    pub fn text(&self) -> &str {
        &self.q
    }

    /// The page's address with `cursor` in place of this one's.
    fn link(&self, cursor: Option<&str>) -> String {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("q", &self.q),
            ("department", &self.department),
            ("weekday", &self.weekday),
            ("credits", &self.credits),
            ("has_seats", &self.has_seats),
        ];
        if let Some(cursor) = cursor {
            pairs.push(("cursor", cursor));
        }
        let query: Vec<String> = pairs
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
            .collect();
        match query.is_empty() {
            true => "/courses".into(),
            false => format!("/courses?{}", query.join("&")),
        }
    }
}

/// 강의 검색: a page of hits for the form's text and filters.
pub async fn search_page(
    State(state): State<AppState>,
    page: PageStudent,
    Pending(notice): Pending,
    Query(form): Query<SearchForm>,
) -> Response {
    let shown_notice = notice.is_some();
    let weekday = WEEKDAY_NAMES
        .iter()
        .position(|name| *name == form.weekday)
        .and_then(|i| Weekday::from_index(i as u8));
    let credits = form.credits.parse::<i64>().ok();
    let has_seats = form.has_seats == "1";
    let query = SearchQuery {
        q: Some(form.q.clone()).filter(|q| !q.trim().is_empty()),
        department: Some(form.department.clone()).filter(|d| !d.is_empty()),
        weekday,
        credits,
        has_seats: has_seats.then_some(true),
        cursor: Some(form.cursor.clone()).filter(|c| !c.is_empty()),
        limit: Some(PER_PAGE),
    };
    let mut problem = None;
    let mut status = StatusCode::OK;
    let found = match find(&state, &query).await {
        Ok(found) => Some(found),
        Err(error) => {
            status = error.status();
            problem = Some(error_words(&error));
            None
        }
    };
    // Only which courses are in it: no need to judge the cart against the enrollments.
    let in_cart: HashSet<i64> = match state.store.cart(page.student.id).await {
        Ok(entries) => entries.iter().map(|e| e.course.id.0).collect(),
        Err(_) => HashSet::new(),
    };
    let mut departments = vec![Choice {
        value: String::new(),
        label: "전체 학과".into(),
        selected: form.department.is_empty(),
    }];
    let mut weekdays = vec![Choice {
        value: String::new(),
        label: "전체 요일".into(),
        selected: weekday.is_none(),
    }];
    weekdays.extend(Weekday::ALL.iter().map(|day| Choice {
        value: WEEKDAY_NAMES[usize::from(day.index())].into(),
        label: format!("{}요일", day.korean()),
        selected: weekday == Some(*day),
    }));
    let mut credit_choices = vec![Choice {
        value: String::new(),
        label: "전체 학점".into(),
        selected: credits.is_none(),
    }];
    credit_choices.extend((1..=6).map(|c| Choice {
        value: c.to_string(),
        label: format!("{c}학점"),
        selected: credits == Some(c),
    }));
    let (hits, total, next_cursor) = match found {
        None => (Vec::new(), 0, None),
        Some(found) => {
            let mut listed: Vec<String> = found
                .facets
                .department
                .iter()
                .map(|f| f.value.to_string())
                .collect();
            if !form.department.is_empty() && !listed.contains(&form.department) {
                listed.push(form.department.clone());
            }
            listed.sort();
            departments.extend(listed.into_iter().map(|name| Choice {
                selected: name == form.department,
                label: name.clone(),
                value: name,
            }));
            let hits = found
                .hits
                .iter()
                .zip(&found.highlights)
                .map(|(hit, marks)| {
                    let course = &hit.course;
                    let spec = &course.spec;
                    HitRow {
                        id: course.id.0,
                        code: pieces(spec.code.as_str(), &marks.code),
                        title: pieces(&spec.title, &marks.title),
                        professor: pieces(&spec.professor, &marks.professor),
                        department: spec.department.clone(),
                        credits: spec.credits.get(),
                        times: spec
                            .meetings
                            .iter()
                            .map(|m| m.label())
                            .collect::<Vec<_>>()
                            .join(", "),
                        seats_left: course.seats_left(),
                        capacity: spec.capacity,
                        is_open: spec.is_open,
                        in_cart: in_cart.contains(&course.id.0),
                    }
                })
                .collect();
            (hits, found.total, found.next_cursor)
        }
    };
    let view = SearchView {
        layout: Layout::new("강의 검색", &page.viewer, "/courses", notice),
        q: form.q.clone(),
        departments,
        weekdays,
        credits: credit_choices,
        has_seats,
        hits,
        total,
        next_page: next_cursor.as_deref().map(|c| form.link(Some(c))),
        first_page: (!form.cursor.is_empty()).then(|| form.link(None)),
        here: form.link((!form.cursor.is_empty()).then_some(form.cursor.as_str())),
        problem,
    };
    send(status, &view, shown_notice)
}

/// 담기 as posted: the course, and the page to come back to.
#[derive(Deserialize)]
pub struct AddForm {
    course_id: i64,
    back: Option<String>,
}

/// 담기: puts a course in the cart through the API, then back to the page it was pressed on.
pub async fn add_to_cart(
    State(state): State<AppState>,
    page: PageStudent,
    Form(form): Form<AddForm>,
) -> Response {
    let back = safe_next(form.back.as_deref(), "/cart");
    let added = api::add_to_cart(
        State(state),
        page.student,
        Json(CourseRef {
            course_id: form.course_id,
        }),
    )
    .await;
    let notice = match added {
        Ok((_, cart)) => {
            let title = cart
                .0
                .items
                .iter()
                .find(|item| item.course.id == form.course_id)
                .map(|item| item.course.title.clone())
                .unwrap_or_default();
            Notice::ok(format!("장바구니에 담았습니다: {title}"))
        }
        Err(error) => Notice::error(error_words(&error)),
    };
    notice.redirect(&back)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_fall_on_characters_not_bytes() {
        let spans = [Span { start: 2, end: 4 }];
        let cut: Vec<(String, bool)> = pieces("고급자료구조", &spans)
            .into_iter()
            .map(|p| (p.text, p.marked))
            .collect();
        assert_eq!(
            cut,
            [
                ("고급".to_owned(), false),
                ("자료".to_owned(), true),
                ("구조".to_owned(), false)
            ]
        );
        // Out of range or overlapping spans never cut inside a character or repeat text.
        let odd = [Span { start: 1, end: 9 }, Span { start: 0, end: 2 }];
        let text: String = pieces("자료", &odd).into_iter().map(|p| p.text).collect();
        assert_eq!(text, "자료");
    }
}
