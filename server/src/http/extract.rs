//! Extractors that refuse bad input in the one error shape, and that say who is calling.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::AppState;
use super::error::AppError;
use crate::auth::{Claims, Role};

/// The cookie the web UI keeps its session token in.
pub const SESSION_COOKIE: &str = "classmate_session";

/// A JSON body; malformed, mistyped or oversized bodies become `AppError`s.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

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
        let Ok(cookies) = header.to_str() else { continue };
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
        let claims = state.tokens.verify(token)?;
        if state.store.is_token_revoked(&claims.jti).await? {
            return Err(AppError::TokenRevoked);
        }
        Ok(Caller(claims))
    }
}

/// A logged-in student.
pub struct CurrentStudent {
    pub id: i64,
}

impl FromRequestParts<AppState> for CurrentStudent {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Caller(claims) = Caller::from_request_parts(parts, state).await?;
        match claims.role {
            Role::Student => Ok(CurrentStudent { id: claims.sub }),
            Role::Admin => Err(AppError::Forbidden),
        }
    }
}

/// A logged-in administrator.
pub struct CurrentAdmin {
    pub id: i64,
}

impl FromRequestParts<AppState> for CurrentAdmin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Caller(claims) = Caller::from_request_parts(parts, state).await?;
        match claims.role {
            Role::Admin => Ok(CurrentAdmin { id: claims.sub }),
            Role::Student => Err(AppError::Forbidden),
        }
    }
}
