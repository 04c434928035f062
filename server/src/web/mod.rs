//! The students' and operators' pages, in Korean, served at `/`.
//!
//! Server-rendered (askama templates under `templates/`), so every form works without
//! JavaScript: log in, sign up, search, 담기, 신청, leave the queue, 수강 취소, the operator's
//! settings. `static/app.js`, written here, makes them live: autocomplete, the queue over the
//! WebSocket (polling the shared status frame when a socket cannot be had) and the operator's
//! figures. Each page handler calls the same API handler a client would, so the rules, limits
//! and Korean error messages are the API's own; the pages only lay them out.
//!
//! Every form posts to this server only: the cross-site check of [`crate::http::origin`]
//! refuses another site's posts before they reach a handler, and the session cookie is
//! `HttpOnly` and `SameSite=Lax` (and `__Host-`, `Secure` over HTTPS).

mod account;
mod admin;
mod assets;
mod cart;
mod catalog;
mod grid;
mod layout;
mod queue;
mod session;
mod timetable;

use axum::Router;
use axum::routing::{get, post};

use crate::http::AppState;

/// Every page and form target, and the static files they use.
pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/", get(account::home))
        .route("/login", get(account::login_page).post(account::login))
        .route("/signup", get(account::signup_page).post(account::signup))
        .route("/logout", post(account::logout))
        .route("/courses", get(catalog::search_page))
        .route("/cart", get(cart::cart_page).post(catalog::add_to_cart))
        .route("/cart/remove", post(cart::remove))
        .route("/enroll", post(cart::enroll))
        .route("/enroll/all", post(cart::enroll_all))
        .route("/queue", get(queue::queue_page))
        .route("/queue/leave", post(queue::leave))
        .route("/timetable", get(timetable::timetable_page))
        .route(
            "/timetable/cancel",
            get(timetable::cancel_page).post(timetable::cancel),
        )
        .route(
            "/admin/login",
            get(account::admin_login_page).post(account::admin_login),
        )
        .route("/admin", get(admin::overview_page))
        .route("/admin/queue", post(admin::change_queue))
        .route("/admin/courses", get(admin::courses_page))
        .route(
            "/admin/courses/{id}",
            get(admin::course_page).post(admin::update_course),
        )
        .route("/static/{file}", get(assets::file))
}
