//! The HTTP API under `/api/v1`, the probes, and the OpenAPI document that describes them.
//!
//! One file per resource. Handlers stay thin: they parse, call one use case of `registration`
//! or `auth` (or one read of the store), and map the result; every failure leaves through
//! [`AppError`].

pub mod admin;
pub mod auth;
pub mod cart;
pub mod courses;
pub mod enrollments;
pub mod error;
pub mod extract;
pub mod health;
pub mod limits;
pub mod listener;
pub mod origin;
pub mod queue;
pub mod tickets;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::metrics::InFlightRequestsLayer;
pub use tower_http::metrics::in_flight_requests::InFlightRequestsCounter;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, DefaultOnRequest, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::AppError;
pub use limits::{ClientLimits, LimitSettings, Rate};

use crate::auth::{Hashing, Logouts, SignUpPolicy, Tokens};
use crate::queue::Queue;
use crate::queue::hub::Hub;
use crate::registration::Registration;
use crate::search::sync::Search;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub registration: Registration,
    /// For plain reads (the catalog, profiles) and readiness.
    pub store: Arc<dyn Store>,
    /// Course search and the sync that keeps it on the catalog.
    pub search: Arc<Search>,
    /// Course JSON rendered once, for the catalog's pages.
    pub rendered: Arc<courses::RenderedCourses>,
    pub queue: Arc<dyn Queue>,
    pub hub: Arc<Hub>,
    pub tokens: Arc<Tokens>,
    pub logouts: Arc<Logouts>,
    /// The bounded pool every password hash goes through.
    pub hashing: Arc<Hashing>,
    /// Whether session cookies are marked `Secure`.
    pub cookie_secure: bool,
    /// Who may sign up.
    pub signup: SignUpPolicy,
    /// Requests being handled right now.
    pub in_flight: InFlightRequestsCounter,
    /// Rate limits per student and per client address.
    pub limits: Arc<ClientLimits>,
    /// The limits of the queue's WebSockets.
    pub live: queue::LiveLimits,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Classmate",
        description = "수강신청 API. Every error has the shape \
            `{\"error\": {\"code\": \"COURSE_FULL\", \"message\": \"정원이 마감되었습니다\", \"details\": {}}}` \
            with a stable English `code` and a Korean `message`."
    ),
    tags(
        (name = "auth", description = "Sign up, log in, log out"),
        (name = "courses", description = "The course catalog"),
        (name = "cart", description = "장바구니: plan before enrolling"),
        (name = "enrollments", description = "수강신청 and cancellation"),
        (name = "queue", description = "The fair waiting queue: tickets, live position"),
        (name = "admin", description = "Catalog and registration-day administration (admin role)"),
        (name = "health", description = "Probes"),
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(extract::SESSION_COOKIE))),
        );
    }
}

/// Every documented route, and the document describing them, built from the same handlers.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::admin_login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(courses::list_courses))
        .routes(routes!(courses::search_courses))
        .routes(routes!(courses::suggest_courses))
        .routes(routes!(courses::get_course))
        .routes(routes!(cart::get_cart, cart::add_to_cart))
        .routes(routes!(cart::remove_from_cart))
        .routes(routes!(enrollments::list_enrollments, enrollments::enroll))
        .routes(routes!(enrollments::cancel))
        .routes(routes!(admin::create_course))
        .routes(routes!(admin::update_course))
        .routes(routes!(admin::queue_overview, admin::change_queue))
        .routes(routes!(admin::search_status))
        .routes(routes!(admin::reindex_search))
        .routes(routes!(tickets::list_tickets))
        .routes(routes!(tickets::get_ticket, tickets::leave_queue))
        .routes(routes!(queue::status))
        .routes(routes!(queue::live))
}

/// The OpenAPI document served at `/api/openapi.json`.
pub fn openapi() -> OpenApiDoc {
    api().split_for_parts().1
}

/// The whole HTTP application: the API, and `pages` (the web UI, which sits on top of the API
/// and is handed in, so this module does not import it).
pub fn router(state: AppState, request_timeout: Duration, pages: Router<AppState>) -> Router {
    let state_in_flight = state.in_flight.clone();
    let (routes, document) = api().split_for_parts();
    let routes = routes.merge(pages);
    // Serialised once: the document only changes with the code.
    let document = bytes::Bytes::from(document.to_json().expect("the OpenAPI document serializes"));
    let routes = routes
        .route(
            "/api/openapi.json",
            get(move || async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    document.clone(),
                )
            }),
        )
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state);

    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            let id = request
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path())
        })
        // Each request's start at debug level (`CLASSMATE_LOG=info,tower_http=debug`), its end
        // with status and latency at info. A failed answer is logged by the error itself, at the
        // level it deserves (a 503 NOT_READY while the queue is restored at start-up is a warning,
        // a 500 an error), so the layer's own line about it is a warning too.
        .on_request(DefaultOnRequest::new().level(Level::DEBUG))
        .on_response(DefaultOnResponse::new().level(Level::INFO))
        .on_failure(DefaultOnFailure::new().level(Level::WARN));

    let in_flight = InFlightRequestsLayer::new(state_in_flight);
    routes.layer(
        ServiceBuilder::new()
            .layer(in_flight)
            .layer(middleware::from_fn(sane_request_id))
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(trace)
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            // Answers carry personal data and live seat counts: nothing may cache them, and
            // browsers must not guess their type.
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(middleware::from_fn(origin::refuse_cross_site_writes))
            .layer(CatchPanicLayer::custom(error::panic_response))
            .layer(middleware::from_fn_with_state(request_timeout, deadline))
            .layer(DefaultBodyLimit::max(error::BODY_LIMIT_BYTES)),
    )
}

/// The longest request id a client may give.
const MAX_REQUEST_ID_LEN: usize = 64;

/// Drops a client's `x-request-id` that is long or not printable ASCII, so that a generated one
/// takes its place: the id goes into every log line of the request.
async fn sane_request_id(mut request: Request, next: Next) -> Response {
    let sane = request.headers().get(REQUEST_ID).is_none_or(|id| {
        id.len() <= MAX_REQUEST_ID_LEN && id.as_bytes().iter().all(u8::is_ascii_graphic)
    });
    if !sane {
        request.headers_mut().remove(REQUEST_ID);
    }
    next.run(request).await
}

/// Answers `TIMEOUT` when a request takes longer than configured. Dropping the handler's future
/// drops its transaction, which rolls back.
async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => AppError::Timeout.into_response(),
    }
}
