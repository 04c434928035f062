//! The pages' style sheet and script, compiled into the binary and served by the server itself
//! (no CDN, nothing copied from elsewhere).

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use crate::http::AppError;
use crate::http::extract::Path;

const STYLE: &str = include_str!("static/app.css");
const SCRIPT: &str = include_str!("static/app.js");

/// `/static/app.css` and `/static/app.js`; anything else is `ROUTE_NOT_FOUND`.
pub async fn file(Path(name): Path<String>) -> Result<Response, AppError> {
    let (kind, body) = match name.as_str() {
        "app.css" => ("text/css; charset=utf-8", STYLE),
        "app.js" => ("text/javascript; charset=utf-8", SCRIPT),
        _ => return Err(AppError::RouteNotFound),
    };
    // Revalidated every time: a new release's files are picked up at once.
    Ok(([(CONTENT_TYPE, kind), (CACHE_CONTROL, "no-cache")], body).into_response())
}
