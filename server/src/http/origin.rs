//! Cross-site request forgery: a browser's state-changing request, and its WebSocket, must come
//! from this server's own pages.
//!
//! The check follows the browsers' own signals, as Go's `http.CrossOriginProtection` does: a
//! `Sec-Fetch-Site` header (every current browser sends it) must say `same-origin` or `none` (typed
//! into the address bar); without it, an `Origin` header must name this very host. A request
//! with neither did not come from a browser's cross-site page (browsers send `Origin` on every
//! cross-origin POST and WebSocket), so API clients holding a bearer token pass. The session
//! cookie is also `SameSite=Lax`, which stops most cross-site posts before they get here.

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::AppError;

/// Refuses a state-changing request (anything but GET, HEAD, OPTIONS, TRACE) from another site
/// with 403 `CROSS_SITE_REQUEST`, before any handler reads it.
pub async fn refuse_cross_site_writes(request: Request, next: Next) -> Response {
    if !request.method().is_safe() && !is_same_origin(request.headers()) {
        return AppError::CrossSite.into_response();
    }
    next.run(request).await
}

/// Whether a request came from this server's own pages (or from no browser page at all).
pub fn is_same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    match headers.get(ORIGIN) {
        None => true,
        Some(origin) => {
            let host = headers.get(HOST).and_then(|h| h.to_str().ok());
            match (origin.to_str().ok(), host) {
                (Some(origin), Some(host)) => origin_is_host(origin, host),
                _ => false,
            }
        }
    }
}

/// Whether `origin` (`scheme://host[:port]`) names `host` (the Host header, `host[:port]`),
/// either one leaving out the scheme's default port.
fn origin_is_host<'a>(origin: &'a str, host: &'a str) -> bool {
    let (authority, default_port) = match origin.split_once("://") {
        Some(("http", rest)) => (rest, ":80"),
        Some(("https", rest)) => (rest, ":443"),
        _ => return false,
    };
    let bare = |value: &'a str| value.strip_suffix(default_port).unwrap_or(value);
    bare(authority).eq_ignore_ascii_case(bare(host))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn browsers_say_where_a_request_came_from() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], true),
            (&[("sec-fetch-site", "same-origin")], true),
            (&[("sec-fetch-site", "none")], true),
            (&[("sec-fetch-site", "cross-site")], false),
            (&[("sec-fetch-site", "same-site")], false),
            // Sec-Fetch-Site wins over Origin: it cannot be set by a page.
            (
                &[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "http://a.test"),
                    ("host", "a.test"),
                ],
                false,
            ),
            (
                &[("origin", "http://a.test:8080"), ("host", "a.test:8080")],
                true,
            ),
            (
                &[("origin", "http://A.test:8080"), ("host", "a.test:8080")],
                true,
            ),
            (
                &[("origin", "https://a.test"), ("host", "a.test:443")],
                true,
            ),
            (&[("origin", "http://a.test"), ("host", "a.test:80")], true),
            (&[("origin", "http://evil.test"), ("host", "a.test")], false),
            (
                &[("origin", "http://a.test:8081"), ("host", "a.test:8080")],
                false,
            ),
            (
                &[("origin", "https://a.test"), ("host", "a.test:80")],
                false,
            ),
            (&[("origin", "null"), ("host", "a.test")], false),
            (&[("origin", "http://a.test")], false),
        ];
        for (pairs, expected) in cases {
            let map = headers(pairs);
            assert_eq!(is_same_origin(&map), *expected, "{pairs:?}");
        }
    }
}
