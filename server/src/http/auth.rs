//! Accounts: sign up, log in (students and administrators), log out, and `me`.

use std::fmt;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header::SET_COOKIE};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::AppState;
use super::error::{AppError, AuthErrors, BodyErrors, ErrorBody, ServerErrors};
use super::extract::{Caller, Json, session_cookie_name};
use super::limits::ClientAddr;
use crate::auth::{self, IssuedToken, Role};
use crate::domain::{NewStudentInput, Student, StudentId};
use crate::store::Admin;

/// A student's profile.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StudentView {
    pub id: i64,
    pub student_number: String,
    pub name: String,
    pub department: String,
    pub year: u8,
}

impl From<&Student> for StudentView {
    fn from(s: &Student) -> Self {
        StudentView {
            id: s.id.0,
            student_number: s.number.to_string(),
            name: s.name.clone(),
            department: s.department.clone(),
            year: s.year.get(),
        }
    }
}

/// An administrator's profile.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminView {
    pub id: i64,
    pub username: String,
}

impl From<&Admin> for AdminView {
    fn from(a: &Admin) -> Self {
        AdminView {
            id: a.id,
            username: a.username.clone(),
        }
    }
}

/// A student's log-in form. Its `Debug` hides the password.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub student_number: String,
    pub password: String,
}

/// An administrator's log-in form. Its `Debug` hides the password.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminLoginRequest {
    pub username: String,
    pub password: String,
}

/// A session token. Send it as `Authorization: Bearer <token>`; browsers also get it as an
/// HttpOnly cookie. Its `Debug` hides the token.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Session<P> {
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    pub profile: P,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("student_number", &self.student_number)
            .field("password", &"***")
            .finish()
    }
}

impl fmt::Debug for AdminLoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminLoginRequest")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

impl<P: fmt::Debug> fmt::Debug for Session<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("token", &"***")
            .field("expires_at", &self.expires_at)
            .field("profile", &self.profile)
            .finish()
    }
}

/// Who the caller is.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum MeView {
    Student(StudentView),
    Admin(AdminView),
}

/// The headers that hand a browser its session cookie.
fn session_cookie(state: &AppState, issued: &IssuedToken) -> HeaderMap {
    let max_age = state.tokens.ttl().as_secs();
    cookie_headers(state, &issued.token, max_age)
}

/// The session cookie set to `value` for `max_age` seconds (0 clears it). Over HTTPS it is a
/// `Secure`, `__Host-` cookie.
pub fn cookie_headers(state: &AppState, value: &str, max_age: u64) -> HeaderMap {
    let name = session_cookie_name(state.cookie_secure);
    let secure = if state.cookie_secure { "; Secure" } else { "" };
    let cookie =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    let mut headers = HeaderMap::new();
    // Tokens are base64url and dots, so the cookie is always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(SET_COOKIE, value);
    }
    headers
}

/// A new session for `sub` in `role`: the cookie's headers and the token with `profile`.
fn logged_in<P>(
    state: &AppState,
    sub: i64,
    role: Role,
    profile: P,
) -> (HeaderMap, Json<Session<P>>) {
    let issued = state.tokens.issue(sub, role);
    let headers = session_cookie(state, &issued);
    let session = Session {
        expires_at: issued.claims.expires_at(),
        token: issued.token,
        token_type: "Bearer".into(),
        profile,
    };
    (headers, Json(session))
}

/// Registers a student. By default (`--signup roster`) a sign-up claims the registrar's roster
/// entry whose student number and name match, and the department and year come from it; with
/// `--signup open` (for demos) the form gives them. The password is stored only as an argon2id
/// hash.
#[utoipa::path(
    post,
    path = "/api/v1/auth/signup",
    tag = "auth",
    request_body = NewStudentInput,
    responses(
        (status = 201, description = "Registered", body = StudentView),
        (status = 403, description = "NOT_ON_ROSTER: no unclaimed roster entry has this student number and name (the same answer for an unknown number, a claimed one and a wrong name)", body = ErrorBody),
        (status = 409, description = "STUDENT_NUMBER_TAKEN (open sign-up only)", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED: too many sign-ups from this address (--signups-per-address); retry after Retry-After", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
        BodyErrors,
        ServerErrors,
    )
)]
pub async fn signup(
    State(state): State<AppState>,
    client: ClientAddr,
    Json(input): Json<NewStudentInput>,
) -> Result<(StatusCode, Json<StudentView>), AppError> {
    state.limits.signup(client)?;
    let store = state.store.as_ref();
    let student = auth::sign_up(store, &state.hashing, state.signup, input).await?;
    tracing::info!(student_id = %student.id, "student signed up");
    Ok((StatusCode::CREATED, Json(StudentView::from(&student))))
}

/// Logs a student in: returns a token and sets the session cookie.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; also sets the classmate_session cookie", body = Session<StudentView>),
        (status = 401, description = "INVALID_CREDENTIALS: unknown student number or wrong password", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED: too many log-in attempts from this address (--logins-per-address); retry after Retry-After", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
        BodyErrors,
        ServerErrors,
    )
)]
pub async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    Json(form): Json<LoginRequest>,
) -> Result<(HeaderMap, Json<Session<StudentView>>), AppError> {
    state.limits.login(client)?;
    let store = state.store.as_ref();
    let student =
        auth::log_in_student(store, &state.hashing, &form.student_number, form.password).await?;
    let profile = StudentView::from(&student);
    Ok(logged_in(&state, student.id.0, Role::Student, profile))
}

/// Logs an administrator in.
#[utoipa::path(
    post,
    path = "/api/v1/auth/admin/login",
    tag = "auth",
    request_body = AdminLoginRequest,
    responses(
        (status = 200, description = "Logged in; also sets the classmate_session cookie", body = Session<AdminView>),
        (status = 401, description = "INVALID_CREDENTIALS", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED: too many log-in attempts from this address; retry after Retry-After", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
        BodyErrors,
        ServerErrors,
    )
)]
pub async fn admin_login(
    State(state): State<AppState>,
    client: ClientAddr,
    Json(form): Json<AdminLoginRequest>,
) -> Result<(HeaderMap, Json<Session<AdminView>>), AppError> {
    state.limits.login(client)?;
    let store = state.store.as_ref();
    let admin = auth::log_in_admin(store, &state.hashing, &form.username, form.password).await?;
    Ok(logged_in(
        &state,
        admin.id,
        Role::Admin,
        AdminView::from(&admin),
    ))
}

/// Logs out: the token stops working at once and the cookie is cleared.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    responses(
        (status = 204, description = "Logged out"),
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn logout(
    State(state): State<AppState>,
    Caller(claims): Caller,
) -> Result<(StatusCode, HeaderMap), AppError> {
    state.logouts.record(&claims).await?;
    Ok((StatusCode::NO_CONTENT, cookie_headers(&state, "", 0)))
}

/// The logged-in student or administrator.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "auth",
    responses(
        (status = 200, description = "The caller's profile, tagged with its role", body = MeView),
        AuthErrors,
        ServerErrors,
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn me(
    State(state): State<AppState>,
    Caller(claims): Caller,
) -> Result<Json<MeView>, AppError> {
    let view = match claims.role {
        Role::Student => state
            .store
            .student(StudentId(claims.sub))
            .await?
            .map(|s| MeView::Student(StudentView::from(&s))),
        Role::Admin => state
            .store
            .admin(claims.sub)
            .await?
            .map(|a| MeView::Admin(AdminView::from(&a))),
    };
    view.map(Json).ok_or(AppError::InvalidToken)
}
