//! What every page shares: the frame (title, menu, the one-time notice), how a page is sent,
//! and the page shown when something fails.

use askama::Template;
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_FRAME_OPTIONS};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::session::{Notice, Viewer};
use crate::http::AppError;

/// Only this server's own scripts, styles and connections (its WebSocket included); no
/// framing, no forms to elsewhere.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

/// A link of the menu.
pub struct Link {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The frame around a page.
pub struct Layout {
    /// The page's own title; the site's name follows it.
    pub title: String,
    pub links: Vec<Link>,
    /// Who is logged in, as the menu names them.
    pub who: Option<String>,
    pub notice: Option<Notice>,
}

impl Layout {
    /// The frame for `viewer`, with `current` (a menu link's href) marked as the page shown.
    pub fn new(
        title: impl Into<String>,
        viewer: &Viewer,
        current: &str,
        notice: Option<Notice>,
    ) -> Layout {
        let menu: &[(&'static str, &'static str)] = match viewer {
            Viewer::Nobody => &[("/login", "로그인"), ("/signup", "회원가입")],
            Viewer::Student { .. } => &[
                ("/courses", "강의 검색"),
                ("/cart", "장바구니"),
                ("/queue", "대기열"),
                ("/timetable", "시간표"),
            ],
            Viewer::Admin { .. } => &[("/admin", "운영"), ("/admin/courses", "강좌 관리")],
        };
        Layout {
            title: title.into(),
            links: menu
                .iter()
                .map(|&(href, label)| Link {
                    href,
                    label,
                    current: href == current,
                })
                .collect(),
            who: viewer.name(),
            notice,
        }
    }
}

/// Sends a rendered page with `status`, its security headers, and the header that clears a
/// notice once shown.
pub fn send(status: StatusCode, page: &impl Template, clear_notice: bool) -> Response {
    let html = match page.render() {
        Ok(html) => html,
        Err(e) => return AppError::Internal(format!("a page did not render: {e}")).into_response(),
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if clear_notice {
        headers.extend(super::session::clear_notice());
    }
    (status, headers, html).into_response()
}

/// The page shown when a page could not be made.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    message: &'static str,
    code: &'static str,
}

/// A failure while making a page: shown as a page, in Korean, with the API's code.
pub struct PageError {
    pub error: AppError,
    pub viewer: Viewer,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        // Logged as the API logs it, at the level it deserves.
        let status = self.error.status();
        let code = self.error.code();
        let message = self.error.message();
        drop(self.error.into_response());
        let page = ErrorPage {
            layout: Layout::new("오류", &self.viewer, "", None),
            message,
            code,
        };
        send(status, &page, false)
    }
}

/// A wait in seconds as people say it: 약 3초, 약 2분 10초.
pub fn wait_words(seconds: Option<f64>) -> String {
    match seconds {
        None => "계산 중".into(),
        Some(s) if s < 1.0 => "곧".into(),
        Some(s) => {
            let s = s.ceil() as u64;
            match s < 60 {
                true => format!("약 {s}초"),
                false => format!("약 {}분 {}초", s / 60, s % 60),
            }
        }
    }
}
