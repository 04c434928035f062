//! The OpenAPI document covers every endpoint and its error responses.

use serde_json::Value;

use classmate_testkit::{Backend, TestApp, on_both_backends};

on_both_backends!(the_document_covers_every_endpoint);

const ENDPOINTS: [(&str, &str); 28] = [
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("post", "/api/v1/auth/signup"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/admin/login"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/courses"),
    ("get", "/api/v1/courses/{id}"),
    ("get", "/api/v1/courses/search"),
    ("get", "/api/v1/courses/suggest"),
    ("get", "/api/v1/cart"),
    ("post", "/api/v1/cart"),
    ("delete", "/api/v1/cart/{course_id}"),
    ("get", "/api/v1/enrollments"),
    ("post", "/api/v1/enrollments"),
    ("delete", "/api/v1/enrollments/{course_id}"),
    ("post", "/api/v1/admin/courses"),
    ("put", "/api/v1/admin/courses/{id}"),
    ("get", "/api/v1/admin/queue"),
    ("put", "/api/v1/admin/queue"),
    ("get", "/api/v1/admin/search"),
    ("post", "/api/v1/admin/search/reindex"),
    ("get", "/api/v1/tickets"),
    ("get", "/api/v1/tickets/{id}"),
    ("delete", "/api/v1/tickets/{id}"),
    ("get", "/api/v1/queue/status"),
    ("get", "/api/v1/queue/ws"),
];

fn error_schema_ref(response: &Value) -> Option<&str> {
    response["content"]["application/json"]["schema"]["$ref"].as_str()
}

async fn the_document_covers_every_endpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reply = app.get("/api/openapi.json", None).await;
    assert_eq!(reply.headers["content-type"], "application/json");
    let doc = reply.expect(200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));

    let mut documented = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            assert!(
                ENDPOINTS.contains(&(method.as_str(), path.as_str())),
                "{method} {path} is documented but not expected here"
            );
            documented += 1;
        }
    }
    assert_eq!(documented, ENDPOINTS.len());

    for (method, path) in ENDPOINTS {
        let operation = &doc["paths"][path][method];
        let responses = operation["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path}"));
        let errors: Vec<_> = responses
            .iter()
            .filter(|(status, _)| !status.starts_with('2') && *status != "101")
            .collect();
        assert!(
            path == "/healthz" || !errors.is_empty(),
            "{method} {path} documents its errors"
        );
        for (status, response) in errors {
            assert_eq!(
                error_schema_ref(response),
                Some("#/components/schemas/ErrorBody"),
                "{method} {path} {status} uses the error shape"
            );
        }
        let secured = operation["security"].is_array();
        let public = path.starts_with("/healthz")
            || path.starts_with("/readyz")
            || path.starts_with("/api/v1/courses")
            || path == "/api/v1/auth/signup"
            || path.ends_with("login");
        assert_eq!(secured, !public, "{method} {path} declares who may call it");
        if secured {
            assert!(
                responses.contains_key("401") && responses.contains_key("403"),
                "{method} {path}"
            );
        }
        if operation["requestBody"].is_object() {
            for status in ["400", "413", "415", "422"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} documents {status}"
                );
            }
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["securitySchemes"]["cookie"].is_object());
}
