//! Who is looking at a page (from the session cookie the API set), where a page sends someone
//! who must log in first, and the one-time notice a form leaves for the page it redirects to.

use axum::extract::FromRequestParts;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::auth::{Claims, Role};
use crate::domain::StudentId;
use crate::http::AppState;
use crate::http::extract::{Caller, CurrentAdmin, CurrentStudent, cookie_value};

/// The cookie a form's outcome waits in until the next page shows it.
const NOTICE_COOKIE: &str = "classmate_notice";

/// Who is looking.
#[derive(Debug, Clone)]
pub enum Viewer {
    Nobody,
    Student { name: String },
    Admin { name: String },
}

impl Viewer {
    /// The name the menu shows.
    pub fn name(&self) -> Option<String> {
        match self {
            Viewer::Nobody => None,
            Viewer::Student { name, .. } | Viewer::Admin { name, .. } => Some(name.clone()),
        }
    }

    /// The viewer of a token's `claims`, named from the store; `Nobody` if they are gone.
    async fn of(state: &AppState, claims: &Claims) -> Viewer {
        match claims.role {
            Role::Student => match state.store.student(StudentId(claims.sub)).await {
                Ok(Some(student)) => Viewer::Student {
                    name: format!("{} ({})", student.name, student.number.as_str()),
                },
                _ => Viewer::Nobody,
            },
            Role::Admin => match state.store.admin(claims.sub).await {
                Ok(Some(admin)) => Viewer::Admin {
                    name: admin.username,
                },
                _ => Viewer::Nobody,
            },
        }
    }
}

/// Anyone: a logged-in viewer if the cookie says so, else `Nobody`.
pub struct Anyone(pub Viewer);

impl FromRequestParts<AppState> for Anyone {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Anyone(
            match Caller::from_request_parts(parts, state).await {
                Ok(Caller(claims)) => Viewer::of(state, &claims).await,
                Err(_) => Viewer::Nobody,
            },
        ))
    }
}

/// A logged-in student; anyone else is sent to the log-in page (and back here after).
pub struct PageStudent {
    pub student: CurrentStudent,
    pub viewer: Viewer,
}

impl FromRequestParts<AppState> for PageStudent {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match Caller::from_request_parts(parts, state).await {
            Ok(Caller(claims)) if claims.role == Role::Student => {
                let viewer = Viewer::of(state, &claims).await;
                match viewer {
                    Viewer::Nobody => Err(log_in_first("/login", parts)),
                    viewer => Ok(PageStudent {
                        student: CurrentStudent {
                            id: StudentId(claims.sub),
                        },
                        viewer,
                    }),
                }
            }
            Ok(_) => Err(Redirect::to("/admin").into_response()),
            Err(_) => Err(log_in_first("/login", parts)),
        }
    }
}

/// A logged-in administrator; anyone else is sent to the administrators' log-in page.
pub struct PageAdmin {
    pub admin: CurrentAdmin,
    pub viewer: Viewer,
}

impl FromRequestParts<AppState> for PageAdmin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match Caller::from_request_parts(parts, state).await {
            Ok(Caller(claims)) if claims.role == Role::Admin => {
                let viewer = Viewer::of(state, &claims).await;
                Ok(PageAdmin {
                    admin: CurrentAdmin { id: claims.sub },
                    viewer,
                })
            }
            _ => Err(log_in_first("/admin/login", parts)),
        }
    }
}

/// A redirect to `login`, remembering the page asked for.
fn log_in_first(login: &str, parts: &Parts) -> Response {
    let wanted = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    Redirect::to(&format!(
        "{login}?next={}",
        utf8_percent_encode(wanted, NON_ALPHANUMERIC)
    ))
    .into_response()
}

/// Where to go after logging in: a path of this site only, never another host.
pub fn safe_next(next: Option<&str>, fallback: &'static str) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && path.len() <= 512
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => fallback.to_owned(),
    }
}

/// A form's outcome, shown once on the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Whether it reports a failure.
    pub is_error: bool,
    pub message: String,
}

impl Notice {
    pub fn ok(message: impl Into<String>) -> Notice {
        Notice {
            is_error: false,
            message: message.into(),
        }
    }

    pub fn error(message: impl Into<String>) -> Notice {
        Notice {
            is_error: true,
            message: message.into(),
        }
    }

    /// A redirect to `to` that leaves this notice for the page there.
    pub fn redirect(&self, to: &str) -> Response {
        let kind = if self.is_error { "error" } else { "ok" };
        let value = format!(
            "{NOTICE_COOKIE}={kind}.{}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60",
            utf8_percent_encode(&self.message, NON_ALPHANUMERIC)
        );
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(SET_COOKIE, value);
        }
        (headers, Redirect::to(to)).into_response()
    }
}

/// The notice left by the last form, if any.
pub struct Pending(pub Option<Notice>);

impl<S: Send + Sync> FromRequestParts<S> for Pending {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let notice = cookie_value(&parts.headers, NOTICE_COOKIE).and_then(|value| {
            let (kind, message) = value.split_once('.')?;
            let message = percent_decode_str(message).decode_utf8().ok()?;
            // Shown as text (templates escape it); a notice is short.
            let message: String = message.chars().take(300).collect();
            Some(match kind {
                "error" => Notice::error(message),
                _ => Notice::ok(message),
            })
        });
        Ok(Pending(notice))
    }
}

/// The header that forgets a notice once its page is shown.
pub fn clear_notice() -> HeaderMap {
    let mut headers = HeaderMap::new();
    let cleared = format!("{NOTICE_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&cleared) {
        headers.insert(SET_COOKIE, value);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_logging_in_only_this_sites_paths() {
        let cases = [
            (Some("/queue"), "/queue"),
            (Some("/courses?q=%EC%9E%90"), "/courses?q=%EC%9E%90"),
            (Some("//evil.test/x"), "/courses"),
            (Some("https://evil.test"), "/courses"),
            (Some("/\\evil.test"), "/courses"),
            (Some("/a\nb"), "/courses"),
            (None, "/courses"),
        ];
        for (next, expected) in cases {
            assert_eq!(safe_next(next, "/courses"), expected, "{next:?}");
        }
    }
}
