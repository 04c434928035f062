//! Extractors that refuse bad input in the one error shape, and that say who is calling.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::error::Category;

use super::AppState;
use super::error::AppError;
use crate::auth::{self, Claims, Role};
use crate::domain::StudentId;

/// The cookie the web UI keeps its session token in, served over plain HTTP.
pub const SESSION_COOKIE: &str = "classmate_session";

/// The session cookie's name over HTTPS (`--cookie-secure`): a `__Host-` cookie must be
/// `Secure`, with `Path=/` and no `Domain`, so no other host or subdomain can set or shadow it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-classmate_session";

/// The session cookie's name for a server that marks it `Secure` (or not).
pub fn session_cookie_name(secure: bool) -> &'static str {
    match secure {
        true => SECURE_SESSION_COOKIE,
        false => SESSION_COOKIE,
    }
}

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
        let data = |e: serde_json::Error| match e.classify() {
            Category::Data => AppError::InvalidBody(e.to_string()),
            Category::Syntax | Category::Eof | Category::Io => {
                AppError::MalformedJson(e.to_string())
            }
        };
        let Strict(value) = serde_json::from_slice(&bytes).map_err(data)?;
        T::deserialize(value).map(Json).map_err(data)
    }
}

/// A JSON value read strictly: a key given twice is an error (serde_json's own `Value` keeps
/// the last), and a number without a fraction (`3.0`) is the integer it is to JSON Schema and
/// JavaScript, so an `integer` field takes it as the OpenAPI document promises.
struct Strict(serde_json::Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Strict, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(
            match v.fract() == 0.0 && v >= i64::MIN as f64 && v < i64::MAX as f64 {
                true => (v as i64).into(),
                false => v.into(),
            },
        )
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(items.into())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if fields.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
            }
            let Strict(value) = map.next_value()?;
            fields.insert(key, value);
        }
        Ok(fields.into())
    }
}

/// The first buffer a JSON body is written into. A page of search hits is about 12 KiB: one
/// allocation of that size is cheaper than growing from 128 bytes by doubling, copying each time.
const BODY_BUFFER: usize = 16 * 1024;

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(BODY_BUFFER);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => ([(CONTENT_TYPE, "application/json")], body).into_response(),
            Err(e) => {
                AppError::Internal(format!("a response did not serialize: {e}")).into_response()
            }
        }
    }
}

/// Path parameters; a non-numeric id becomes `INVALID_PATH`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

/// A form post (`application/x-www-form-urlencoded`) from the web pages; a body that is not one
/// becomes `INVALID_BODY` (or `UNSUPPORTED_MEDIA_TYPE`, `PAYLOAD_TOO_LARGE`).
#[derive(FromRequest)]
#[from_request(via(axum::Form), rejection(AppError))]
pub struct Form<T>(pub T);

/// Query parameters; a value of the wrong type becomes `INVALID_QUERY`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

/// The token a request carries: `Authorization: Bearer …` first, else the session cookie
/// named `cookie`.
fn presented_token<'a>(parts: &'a Parts, cookie: &str) -> Result<Option<&'a str>, AppError> {
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let value = value.to_str().map_err(|_| AppError::InvalidToken)?;
        let (scheme, token) = value.split_once(' ').ok_or(AppError::InvalidToken)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AppError::InvalidToken);
        }
        return Ok(Some(token.trim()));
    }
    Ok(cookie_value(&parts.headers, cookie))
}

/// The value of the cookie called `name`, from any `Cookie` header (ones that are not text are
/// skipped).
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value)
}

/// A verified, unexpired, not logged-out token of any role.
pub struct Caller(pub Claims);

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = session_token(parts, state)?;
        let claims = auth::authenticate(&state.tokens, &state.logouts, token).await?;
        Ok(Caller(claims))
    }
}

/// The session token the request presents (header or cookie); `UNAUTHENTICATED` without one.
fn session_token<'a>(parts: &'a Parts, state: &AppState) -> Result<&'a str, AppError> {
    let cookie = session_cookie_name(state.cookie_secure);
    presented_token(parts, cookie)?.ok_or(AppError::Unauthenticated)
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
#[derive(Debug, Clone, Copy)]
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

/// A student pressing 신청: the token is verified (signature, expiry, role) but, where the queue
/// can check sessions (Redis), its logout is left to the enrollment, whose queue admission checks
/// it in the same step, so a press costs one round trip instead of two. Only for
/// `POST /api/v1/enrollments`, which checks the session itself whenever the admission could not
/// ([`RegistrationError::SessionUnchecked`]).
///
/// [`RegistrationError::SessionUnchecked`]: crate::registration::RegistrationError::SessionUnchecked
pub struct EnrollingStudent {
    pub id: StudentId,
    /// The token's claims while its logout is unchecked; `None` once it was checked.
    pub unchecked: Option<Claims>,
}

impl From<CurrentStudent> for EnrollingStudent {
    fn from(student: CurrentStudent) -> Self {
        EnrollingStudent {
            id: student.id,
            unchecked: None,
        }
    }
}

impl FromRequestParts<AppState> for EnrollingStudent {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let claims = state.tokens.verify(session_token(parts, state)?)?;
        if claims.role != Role::Student {
            return Err(AppError::Forbidden);
        }
        let deferred = state.queue.checks_sessions();
        if !deferred {
            auth::ensure_not_logged_out(&state.logouts, &claims).await?;
        }
        Ok(EnrollingStudent {
            id: StudentId(claims.sub),
            unchecked: deferred.then_some(claims),
        })
    }
}

/// A logged-in administrator.
#[derive(Debug, Clone, Copy)]
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
