//! Extractors that refuse bad input in the one error shape, and that say who is calling.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::AppState;
use super::error::AppError;
use crate::auth::{self, Claims, Role};
use crate::domain::StudentId;

/// The cookie the web UI keeps its session token in.
pub const SESSION_COOKIE: &str = "classmate_session";

/// A JSON object body. Anything else (another content type, a body over the limit, bytes that
/// are not JSON, an array where an object belongs, a missing or mistyped field) is an `AppError`.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| mime.trim().to_ascii_lowercase())
            .is_some_and(|mime| mime == "application/json" || mime.ends_with("+json"));
        if !is_json {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
                    _ => AppError::MalformedJson(rejection.body_text()),
                })?;
        // serde would read a struct from an array too; the API only takes objects.
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => {}
            Some(b'[') => {
                return Err(AppError::InvalidBody(
                    "the body must be a JSON object".into(),
                ));
            }
            _ => {
                return Err(AppError::MalformedJson(
                    "the body is not a JSON object".into(),
                ));
            }
        }
        serde_json::from_slice(&bytes)
            .map(Json)
            .map_err(|e| match e.classify() {
                Category::Data => AppError::InvalidBody(e.to_string()),
                Category::Syntax | Category::Eof | Category::Io => {
                    AppError::MalformedJson(e.to_string())
                }
            })
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters; a non-numeric id becomes `INVALID_PATH`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

/// Query parameters; a value of the wrong type becomes `INVALID_QUERY`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

/// The token a request carries: `Authorization: Bearer …` first, else the session cookie.
fn presented_token(parts: &Parts) -> Result<Option<&str>, AppError> {
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let value = value.to_str().map_err(|_| AppError::InvalidToken)?;
        let (scheme, token) = value.split_once(' ').ok_or(AppError::InvalidToken)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AppError::InvalidToken);
        }
        return Ok(Some(token.trim()));
    }
    for header in parts.headers.get_all(COOKIE) {
        let Ok(cookies) = header.to_str() else {
            continue;
        };
        let session = cookies
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == SESSION_COOKIE);
        if let Some((_, token)) = session {
            return Ok(Some(token));
        }
    }
    Ok(None)
}

/// A verified, unexpired, not logged-out token of any role.
pub struct Caller(pub Claims);

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = presented_token(parts)?.ok_or(AppError::Unauthenticated)?;
        let claims = auth::authenticate(&state.tokens, &state.logouts, token).await?;
        Ok(Caller(claims))
    }
}

impl Caller {
    /// The caller's id, if the token's role is `role`; else `FORBIDDEN`.
    async fn in_role(parts: &mut Parts, state: &AppState, role: Role) -> Result<i64, AppError> {
        let Caller(claims) = Caller::from_request_parts(parts, state).await?;
        match claims.role == role {
            true => Ok(claims.sub),
            false => Err(AppError::Forbidden),
        }
    }
}

/// A logged-in student.
pub struct CurrentStudent {
    pub id: StudentId,
}

impl FromRequestParts<AppState> for CurrentStudent {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let id = Caller::in_role(parts, state, Role::Student).await?;
        Ok(CurrentStudent { id: StudentId(id) })
    }
}

/// A logged-in administrator.
pub struct CurrentAdmin {
    pub id: i64,
}

impl FromRequestParts<AppState> for CurrentAdmin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let id = Caller::in_role(parts, state, Role::Admin).await?;
        Ok(CurrentAdmin { id })
    }
}
