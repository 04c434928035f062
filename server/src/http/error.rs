//! The one error shape: every failure becomes
//! `{"error": {"code": "COURSE_FULL", "message": "정원이 마감되었습니다", "details": {…}}}`.
//!
//! `AppError::into_response` is the only place a failure gets its status, code and message.

use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{IntoResponses, ToSchema};

use crate::auth::{AuthError, TokenError};
use crate::clock::rfc3339_ms;
use crate::domain::{FieldError, Rejection, RejectionCode};
use crate::queue::QueueError;
use crate::registration::RegistrationError;
use crate::search::SearchError;
use crate::store::{StoreError, Taken};
use crate::telemetry::error_chain;

/// The largest request body accepted.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// Every failure the API reports.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("enrollment rule: {}", .0.code())]
    Rejected(Rejection),
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("JSON of the wrong shape: {0}")]
    InvalidBody(String),
    #[error("not JSON")]
    UnsupportedMediaType,
    #[error("body over the limit")]
    PayloadTooLarge,
    #[error("invalid path parameter: {0}")]
    InvalidPath(String),
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("no credentials")]
    Unauthenticated,
    #[error("invalid token")]
    InvalidToken,
    #[error("expired token")]
    TokenExpired,
    #[error("revoked token")]
    TokenRevoked,
    #[error("wrong login or password")]
    InvalidCredentials,
    #[error("not on the roster")]
    NotOnRoster,
    #[error("forbidden")]
    Forbidden,
    #[error("cross-site request")]
    CrossSite,
    #[error("{0:?} taken")]
    Taken(Taken),
    #[error("already in cart")]
    AlreadyInCart,
    #[error("cart full")]
    CartFull { limit: u32 },
    #[error("not in cart")]
    NotInCart,
    #[error("not enrolled")]
    NotEnrolled,
    #[error("capacity below enrolled")]
    CapacityBelowEnrolled { capacity: u32, enrolled: u32 },
    #[error("not ready: {failing:?}")]
    NotReady {
        failing: Vec<(&'static str, String)>,
    },
    #[error("registration is not open yet")]
    NotOpen { opens_at_ms: i64, now_ms: i64 },
    #[error("already queued")]
    AlreadyQueued { ticket_id: String },
    #[error("course sold out (fast path)")]
    SoldOut,
    #[error("rate limited ({scope:?})")]
    RateLimited {
        retry_after_seconds: u32,
        scope: RateScope,
    },
    #[error("too many open tickets")]
    TooManyTickets { limit: u32 },
    #[error("too many sockets")]
    TooManySockets { limit: u32 },
    #[error("queue recovering")]
    QueueRecovering,
    #[error("no such ticket")]
    TicketNotFound,
    #[error("ticket being decided")]
    TicketDeciding,
    #[error("ticket already decided")]
    TicketAlreadyDecided { state: &'static str },
    #[error("request timed out")]
    Timeout,
    #[error("too many logins at once")]
    Busy { retry_after_seconds: u32 },
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Which limit a `RATE_LIMITED` answer is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateScope {
    /// The operator's admission rate, across every process.
    Queue,
    /// One student's presses of 신청.
    Student,
    /// Log-ins or sign-ups from one client address.
    Address,
}

impl RateScope {
    pub fn as_str(self) -> &'static str {
        match self {
            RateScope::Queue => "queue",
            RateScope::Student => "student",
            RateScope::Address => "address",
        }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, English, machine-readable, e.g. `COURSE_FULL`.
    #[schema(example = "COURSE_FULL")]
    pub code: &'static str,
    /// For people, in Korean.
    #[schema(example = "정원이 마감되었습니다")]
    pub message: String,
    /// Facts about this failure (the clashing course, the credit totals, invalid fields…); `{}` when there are none.
    #[schema(value_type = Object)]
    pub details: Value,
}

impl AppError {
    /// Status, stable code, Korean message and details of this failure.
    fn parts(&self) -> (StatusCode, &'static str, &'static str, Value) {
        use StatusCode as S;
        let none = || json!({});
        match self {
            AppError::Rejected(rejection) => rejection_parts(rejection),
            AppError::Validation(fields) => (
                S::UNPROCESSABLE_ENTITY,
                "VALIDATION_FAILED",
                "입력값이 올바르지 않습니다",
                json!({ "fields": fields }),
            ),
            AppError::MalformedJson(reason) => (
                S::BAD_REQUEST,
                "MALFORMED_JSON",
                "JSON 형식이 올바르지 않습니다",
                json!({ "reason": reason }),
            ),
            AppError::InvalidBody(reason) => (
                S::UNPROCESSABLE_ENTITY,
                "INVALID_BODY",
                "요청 본문의 필드가 없거나 형식이 맞지 않습니다",
                json!({ "reason": reason }),
            ),
            AppError::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "요청 본문은 application/json이어야 합니다",
                none(),
            ),
            AppError::PayloadTooLarge => (
                S::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "요청 본문이 너무 큽니다",
                json!({ "limit_bytes": BODY_LIMIT_BYTES }),
            ),
            AppError::InvalidPath(reason) => (
                S::BAD_REQUEST,
                "INVALID_PATH",
                "경로의 값이 올바르지 않습니다",
                json!({ "reason": reason }),
            ),
            AppError::InvalidQuery(reason) => (
                S::BAD_REQUEST,
                "INVALID_QUERY",
                "검색 조건이 올바르지 않습니다",
                json!({ "reason": reason }),
            ),
            AppError::RouteNotFound => (
                S::NOT_FOUND,
                "ROUTE_NOT_FOUND",
                "요청한 주소를 찾을 수 없습니다",
                none(),
            ),
            AppError::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "이 주소에서 허용되지 않는 메서드입니다",
                none(),
            ),
            AppError::Unauthenticated => (
                S::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "로그인이 필요합니다",
                none(),
            ),
            AppError::InvalidToken => (
                S::UNAUTHORIZED,
                "INVALID_TOKEN",
                "인증 정보가 올바르지 않습니다. 다시 로그인해 주세요",
                none(),
            ),
            AppError::TokenExpired => (
                S::UNAUTHORIZED,
                "TOKEN_EXPIRED",
                "로그인이 만료되었습니다. 다시 로그인해 주세요",
                none(),
            ),
            AppError::TokenRevoked => (
                S::UNAUTHORIZED,
                "TOKEN_REVOKED",
                "로그아웃된 인증 정보입니다. 다시 로그인해 주세요",
                none(),
            ),
            AppError::InvalidCredentials => (
                S::UNAUTHORIZED,
                "INVALID_CREDENTIALS",
                "아이디(학번) 또는 비밀번호가 올바르지 않습니다",
                none(),
            ),
            AppError::NotOnRoster => (
                S::FORBIDDEN,
                "NOT_ON_ROSTER",
                "학적부에 없는 학번과 이름이거나 이미 가입한 학번입니다. \
                 학번과 이름을 확인하고, 문제가 계속되면 학사지원팀에 문의하세요",
                none(),
            ),
            AppError::Forbidden => (S::FORBIDDEN, "FORBIDDEN", "권한이 없습니다", none()),
            AppError::CrossSite => (
                S::FORBIDDEN,
                "CROSS_SITE_REQUEST",
                "다른 사이트에서 보낸 요청은 받지 않습니다",
                none(),
            ),
            AppError::Taken(Taken::StudentNumber) => (
                S::CONFLICT,
                "STUDENT_NUMBER_TAKEN",
                "이미 가입된 학번입니다",
                none(),
            ),
            AppError::Taken(Taken::AdminUsername) => (
                S::CONFLICT,
                "USERNAME_TAKEN",
                "이미 사용 중인 아이디입니다",
                none(),
            ),
            AppError::Taken(Taken::CourseCode) => (
                S::CONFLICT,
                "COURSE_CODE_TAKEN",
                "같은 과목코드와 분반의 강좌가 이미 있습니다",
                none(),
            ),
            AppError::AlreadyInCart => (
                S::CONFLICT,
                "ALREADY_IN_CART",
                "이미 장바구니에 담긴 강좌입니다",
                none(),
            ),
            AppError::CartFull { limit } => (
                S::CONFLICT,
                "CART_FULL",
                "장바구니에 더 담을 수 없습니다",
                json!({ "limit": limit }),
            ),
            AppError::NotInCart => (
                S::NOT_FOUND,
                "NOT_IN_CART",
                "장바구니에 없는 강좌입니다",
                none(),
            ),
            AppError::NotEnrolled => (
                S::NOT_FOUND,
                "NOT_ENROLLED",
                "신청하지 않은 강좌입니다",
                none(),
            ),
            AppError::CapacityBelowEnrolled { capacity, enrolled } => (
                S::CONFLICT,
                "CAPACITY_BELOW_ENROLLED",
                "정원을 현재 신청 인원보다 적게 줄일 수 없습니다",
                json!({ "capacity": capacity, "enrolled": enrolled }),
            ),
            AppError::NotReady { failing } => (
                S::SERVICE_UNAVAILABLE,
                "NOT_READY",
                "서비스가 아직 준비되지 않았습니다",
                // The names only: the errors themselves (hosts, users, driver messages) go to
                // the log, not to whoever can reach the probe.
                json!({
                    "failing": failing.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
                }),
            ),
            AppError::NotOpen {
                opens_at_ms,
                now_ms,
            } => (
                S::FORBIDDEN,
                "REGISTRATION_NOT_OPEN",
                "아직 수강신청 기간이 아닙니다",
                json!({
                    "opens_at": rfc3339_ms(*opens_at_ms),
                    "seconds_left": (opens_at_ms - now_ms).max(0) as f64 / 1000.0,
                }),
            ),
            AppError::AlreadyQueued { ticket_id } => (
                S::CONFLICT,
                "ALREADY_QUEUED",
                "이미 이 강좌의 대기열에 있습니다",
                json!({ "ticket_id": ticket_id }),
            ),
            AppError::SoldOut => (
                S::CONFLICT,
                RejectionCode::CourseFull.as_str(),
                RejectionCode::CourseFull.message(),
                json!({ "fast_path": true }),
            ),
            AppError::RateLimited {
                retry_after_seconds,
                scope,
            } => (
                S::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                match scope {
                    RateScope::Queue => "신청이 몰리고 있습니다. 잠시 후 다시 시도해 주세요",
                    RateScope::Student => "신청 요청이 너무 잦습니다. 잠시 후 다시 시도해 주세요",
                    RateScope::Address => "요청이 너무 잦습니다. 잠시 후 다시 시도해 주세요",
                },
                json!({ "retry_after_seconds": retry_after_seconds, "scope": scope.as_str() }),
            ),
            AppError::TooManySockets { limit } => (
                S::TOO_MANY_REQUESTS,
                "TOO_MANY_SOCKETS",
                "실시간 연결이 너무 많습니다. 다른 창을 닫고 다시 시도해 주세요",
                json!({ "limit": limit, "retry_after_seconds": 5 }),
            ),
            AppError::TooManyTickets { limit } => (
                S::CONFLICT,
                "TOO_MANY_TICKETS",
                "대기 중인 신청이 너무 많습니다. 결과가 나온 뒤 다시 신청해 주세요",
                json!({ "limit": limit }),
            ),
            AppError::QueueRecovering => (
                S::SERVICE_UNAVAILABLE,
                "QUEUE_RECOVERING",
                "대기열을 복구하는 중입니다. 잠시 후 다시 신청해 주세요",
                none(),
            ),
            AppError::TicketNotFound => (
                S::NOT_FOUND,
                "TICKET_NOT_FOUND",
                "대기표를 찾을 수 없습니다",
                none(),
            ),
            AppError::TicketDeciding => (
                S::CONFLICT,
                "TICKET_DECIDING",
                "이미 처리 중인 대기표라 취소할 수 없습니다",
                none(),
            ),
            AppError::TicketAlreadyDecided { state } => (
                S::CONFLICT,
                "TICKET_ALREADY_DECIDED",
                "이미 처리가 끝난 대기표입니다",
                json!({ "state": state }),
            ),
            AppError::Timeout => (
                S::SERVICE_UNAVAILABLE,
                "TIMEOUT",
                "요청 처리 시간이 초과되었습니다. 잠시 후 다시 시도해 주세요",
                none(),
            ),
            AppError::Busy {
                retry_after_seconds,
            } => (
                S::SERVICE_UNAVAILABLE,
                "BUSY",
                "로그인 요청이 몰리고 있습니다. 잠시 후 다시 시도해 주세요",
                json!({ "retry_after_seconds": retry_after_seconds }),
            ),
            AppError::Unavailable(_) => (
                S::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "일시적으로 서비스를 이용할 수 없습니다. 잠시 후 다시 시도해 주세요",
                none(),
            ),
            AppError::Internal(_) => (
                S::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "서버 오류가 발생했습니다",
                none(),
            ),
        }
    }

    /// The stable code this error answers with.
    pub fn code(&self) -> &'static str {
        self.parts().1
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    /// The Korean message this error answers with.
    pub fn message(&self) -> &'static str {
        self.parts().2
    }
}

fn rejection_parts(rejection: &Rejection) -> (StatusCode, &'static str, &'static str, Value) {
    use StatusCode as S;
    let (status, details) = match rejection {
        Rejection::CourseNotFound => (S::NOT_FOUND, json!({})),
        Rejection::CourseClosed | Rejection::AlreadyEnrolled => (S::CONFLICT, json!({})),
        Rejection::YearRestricted { year, allowed } => (
            S::FORBIDDEN,
            json!({ "year": year, "allowed_years": allowed }),
        ),
        Rejection::DepartmentRestricted { department } => {
            (S::FORBIDDEN, json!({ "department": department }))
        }
        Rejection::TimeClash {
            course_id,
            code,
            title,
        } => (
            S::CONFLICT,
            json!({ "clashes_with": { "course_id": course_id.0, "code": code, "title": title } }),
        ),
        Rejection::CreditLimitExceeded {
            enrolled,
            adding,
            cap,
        } => (
            S::CONFLICT,
            json!({ "enrolled_credits": enrolled, "course_credits": adding, "credit_cap": cap }),
        ),
        Rejection::CourseFull { capacity } => (S::CONFLICT, json!({ "capacity": capacity })),
    };
    let code = rejection.code();
    (status, code.as_str(), code.message(), details)
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, message, details) = self.parts();
        match &self {
            AppError::Internal(why) => tracing::error!(code, error = %why, "request failed"),
            AppError::Unavailable(why) => tracing::warn!(code, error = %why, "request failed"),
            AppError::NotReady { failing } => tracing::warn!(code, ?failing, "not ready"),
            _ => tracing::debug!(code, "request refused"),
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: message.to_owned(),
                details,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        let retry_after = match &self {
            AppError::Busy {
                retry_after_seconds,
            } => Some(*retry_after_seconds),
            AppError::RateLimited {
                retry_after_seconds,
                ..
            } => Some(*retry_after_seconds),
            AppError::QueueRecovering => Some(1),
            AppError::TooManySockets { .. } => Some(5),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<Rejection> for AppError {
    fn from(rejection: Rejection) -> Self {
        AppError::Rejected(rejection)
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Taken(what) => AppError::Taken(what),
            StoreError::CourseNotFound => AppError::Rejected(Rejection::CourseNotFound),
            StoreError::CapacityBelowEnrolled { capacity, enrolled } => {
                AppError::CapacityBelowEnrolled { capacity, enrolled }
            }
            unavailable @ StoreError::Unavailable(_) => {
                AppError::Unavailable(error_chain(&unavailable))
            }
            other => AppError::Internal(error_chain(&other)),
        }
    }
}

impl From<RegistrationError> for AppError {
    fn from(error: RegistrationError) -> Self {
        match error {
            RegistrationError::Rejected(rejection) => AppError::Rejected(rejection),
            // The token was valid but its student is gone.
            RegistrationError::UnknownStudent => AppError::InvalidToken,
            RegistrationError::AlreadyInCart => AppError::AlreadyInCart,
            RegistrationError::CartFull { limit } => AppError::CartFull { limit },
            RegistrationError::NotInCart => AppError::NotInCart,
            RegistrationError::NotEnrolled => AppError::NotEnrolled,
            RegistrationError::NotOpen {
                opens_at_ms,
                now_ms,
            } => AppError::NotOpen {
                opens_at_ms,
                now_ms,
            },
            RegistrationError::AlreadyQueued(ticket) => AppError::AlreadyQueued {
                ticket_id: ticket.to_string(),
            },
            RegistrationError::SoldOut => AppError::SoldOut,
            RegistrationError::RateLimited => AppError::RateLimited {
                retry_after_seconds: 1,
                scope: RateScope::Queue,
            },
            RegistrationError::TooManyTickets { limit } => AppError::TooManyTickets { limit },
            RegistrationError::LoggedOut => AppError::TokenRevoked,
            // The enrollment handler checks the session and asks again; reaching here is a bug.
            RegistrationError::SessionUnchecked => {
                AppError::Internal("a session was left unchecked".into())
            }
            RegistrationError::Store(e) => e.into(),
            RegistrationError::Queue(e) => e.into(),
        }
    }
}

impl From<SearchError> for AppError {
    fn from(error: SearchError) -> Self {
        match error {
            SearchError::Unavailable(why) => AppError::Unavailable(why),
            other => AppError::Internal(error_chain(&other)),
        }
    }
}

impl From<QueueError> for AppError {
    fn from(error: QueueError) -> Self {
        match error {
            QueueError::Recovering => AppError::QueueRecovering,
            QueueError::Unavailable(why) => AppError::Unavailable(why),
            other => AppError::Internal(error_chain(&other)),
        }
    }
}

impl From<AuthError> for AppError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Invalid(fields) => AppError::Validation(fields),
            AuthError::InvalidCredentials => AppError::InvalidCredentials,
            AuthError::NotOnRoster => AppError::NotOnRoster,
            AuthError::Token(e) => e.into(),
            AuthError::Revoked => AppError::TokenRevoked,
            AuthError::Unavailable(why) => AppError::Unavailable(why),
            AuthError::Store(e) => e.into(),
            AuthError::Hashing(why) => AppError::Internal(why),
            AuthError::Busy {
                retry_after_seconds,
            } => AppError::Busy {
                retry_after_seconds,
            },
        }
    }
}

impl From<TokenError> for AppError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Expired => AppError::TokenExpired,
            TokenError::Malformed | TokenError::BadSignature => AppError::InvalidToken,
        }
    }
}

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        AppError::InvalidPath(rejection.body_text())
    }
}

impl From<FormRejection> for AppError {
    fn from(rejection: FormRejection) -> Self {
        match rejection {
            FormRejection::InvalidFormContentType(_) => AppError::UnsupportedMediaType,
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
            other => AppError::InvalidBody(other.body_text()),
        }
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::InvalidQuery(rejection.body_text())
    }
}

/// Answers requests to routes that do not exist.
pub async fn route_not_found() -> AppError {
    AppError::RouteNotFound
}

/// Answers requests with a method the route does not take.
pub async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

/// Turns a panic in a handler into the error shape instead of a dropped connection.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    AppError::Internal("a handler panicked".into()).into_response()
}

/// Documents error responses that all share the `ErrorBody` schema, one per status.
fn error_responses(
    responses: &[(u16, &str)],
) -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
    responses
        .iter()
        .map(|(status, description)| {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build();
            let response = ResponseBuilder::new()
                .description(*description)
                .content("application/json", content)
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// Responses every endpoint may give when the server itself is in trouble.
pub struct ServerErrors;

impl IntoResponses for ServerErrors {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        error_responses(&[
            (
                500,
                "INTERNAL: an unexpected failure; the request wrote nothing",
            ),
            (
                503,
                "SERVICE_UNAVAILABLE (the database or Redis cannot be reached), QUEUE_RECOVERING (the queue is being rebuilt after Redis lost its data; retry shortly), BUSY (log-in and sign-up: every password-hashing worker is busy and the line for them is full; retry after Retry-After) or TIMEOUT",
            ),
        ])
    }
}

/// Responses of endpoints that need a logged-in caller.
pub struct AuthErrors;

impl IntoResponses for AuthErrors {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        error_responses(&[
            (
                401,
                "UNAUTHENTICATED (no token), INVALID_TOKEN (forged or malformed), TOKEN_EXPIRED, or TOKEN_REVOKED (logged out)",
            ),
            (
                403,
                "FORBIDDEN: the token's role may not call this endpoint",
            ),
        ])
    }
}

/// Responses of endpoints that read a JSON body.
pub struct BodyErrors;

impl IntoResponses for BodyErrors {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        error_responses(&[
            (400, "MALFORMED_JSON: the body is not JSON, or not UTF-8"),
            (413, "PAYLOAD_TOO_LARGE: the body is over 64 KiB"),
            (
                415,
                "UNSUPPORTED_MEDIA_TYPE: Content-Type is not application/json",
            ),
            (
                422,
                "INVALID_BODY (not an object, a missing or unknown field, a wrong type) or VALIDATION_FAILED (details.fields names each invalid field)",
            ),
        ])
    }
}
