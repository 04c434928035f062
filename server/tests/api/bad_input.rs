//! Bad input gets a clear 4xx in the one error shape and writes nothing. Never a 500.

use classmate_server::domain::Weekday::*;
use reqwest::Method;
use serde_json::json;

use classmate_testkit::{Backend, TestApp, course_input, on_both_backends};

on_both_backends!(
    bad_requests_are_refused_and_write_nothing,
    injection_strings_are_only_data
);

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    /// Send the student's token.
    student: bool,
    status: u16,
    code: &'static str,
}

fn case(
    name: &'static str,
    method: Method,
    path: &str,
    body: &[u8],
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name,
        method,
        path: path.into(),
        content_type: Some("application/json"),
        body: body.to_vec(),
        student: true,
        status,
        code,
    }
}

async fn bad_requests_are_refused_and_write_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let course = app
        .course(course_input("BAD1000-01", 3, 10, &[(Mon, 540, 615)]))
        .await;
    let student = app.student().await;
    let before = app.row_counts().await;

    let enroll = "/api/v1/enrollments";
    let signup = "/api/v1/auth/signup";
    let oversized = format!(
        r#"{{"course_id": {}, "pad": "{}"}}"#,
        course.id,
        "가".repeat(30_000)
    );
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let long_name = json!({"student_number": "2023999999", "name": "가".repeat(20_000),
                           "password": "password-ok", "department": "국문학과", "year": 1});
    let nul_name = json!({"student_number": "2023999998", "name": "홍\u{0}길동",
                          "password": "password-ok", "department": "국문학과", "year": 1});
    let cases = vec![
        case("truncated JSON", Method::POST, enroll, br#"{"course_id": "#, 400, "MALFORMED_JSON"),
        case("empty body", Method::POST, enroll, b"", 400, "MALFORMED_JSON"),
        case("not JSON at all", Method::POST, enroll, b"course_id=1", 400, "MALFORMED_JSON"),
        case("invalid UTF-8", Method::POST, enroll, b"{\"course_id\": \"\xff\xfe\"}", 400, "MALFORMED_JSON"),
        case("nested five thousand deep", Method::POST, enroll, deep.as_bytes(), 422, "INVALID_BODY"),
        case("string id", Method::POST, enroll, br#"{"course_id": "1"}"#, 422, "INVALID_BODY"),
        case("fractional id", Method::POST, enroll, br#"{"course_id": 1.5}"#, 422, "INVALID_BODY"),
        case("null id", Method::POST, enroll, br#"{"course_id": null}"#, 422, "INVALID_BODY"),
        case("id past i64", Method::POST, enroll, br#"{"course_id": 99999999999999999999}"#, 422, "INVALID_BODY"),
        case("array body", Method::POST, enroll, b"[1]", 422, "INVALID_BODY"),
        case("missing field", Method::POST, enroll, b"{}", 422, "INVALID_BODY"),
        case("unknown field", Method::POST, enroll, br#"{"course_id": 1, "seat": 3}"#, 422, "INVALID_BODY"),
        case("duplicate field", Method::POST, enroll, br#"{"course_id": 1, "course_id": 2}"#, 422, "INVALID_BODY"),
        case("body over 64 KiB", Method::POST, enroll, oversized.as_bytes(), 413, "PAYLOAD_TOO_LARGE"),
        Case {
            content_type: None,
            ..case("no content type", Method::POST, enroll, br#"{"course_id": 1}"#, 415, "UNSUPPORTED_MEDIA_TYPE")
        },
        Case {
            content_type: Some("text/plain"),
            ..case("text content type", Method::POST, enroll, br#"{"course_id": 1}"#, 415, "UNSUPPORTED_MEDIA_TYPE")
        },
        case("unknown course", Method::POST, enroll, br#"{"course_id": 987654}"#, 404, "COURSE_NOT_FOUND"),
        case("negative course", Method::POST, enroll, br#"{"course_id": -1}"#, 404, "COURSE_NOT_FOUND"),
        case("non-numeric path id", Method::DELETE, "/api/v1/enrollments/abc", b"", 400, "INVALID_PATH"),
        case("fractional path id", Method::DELETE, "/api/v1/cart/1.5", b"", 400, "INVALID_PATH"),
        case("path id past i64", Method::GET, "/api/v1/courses/99999999999999999999", b"", 400, "INVALID_PATH"),
        case("invalid UTF-8 in the path", Method::GET, "/api/v1/courses/%FF%FE", b"", 400, "INVALID_PATH"),
        case("injection in the path", Method::DELETE, "/api/v1/enrollments/1%20OR%201=1", b"", 400, "INVALID_PATH"),
        case("unknown enrollment", Method::DELETE, "/api/v1/enrollments/987654", b"", 404, "NOT_ENROLLED"),
        case("unknown route", Method::GET, "/api/v1/students/1/enrollments", b"", 404, "ROUTE_NOT_FOUND"),
        case("wrong method", Method::PATCH, enroll, b"", 405, "METHOD_NOT_ALLOWED"),
        Case {
            student: false,
            ..case("sign-up with a name of 20,000 characters", Method::POST, signup, long_name.to_string().as_bytes(), 422, "VALIDATION_FAILED")
        },
        Case {
            student: false,
            ..case("sign-up with a NUL in the name", Method::POST, signup, nul_name.to_string().as_bytes(), 422, "VALIDATION_FAILED")
        },
        Case {
            student: false,
            ..case("sign-up with a missing password", Method::POST, signup,
                   br#"{"student_number": "2023999997", "name": "a", "department": "b", "year": 1}"#, 422, "INVALID_BODY")
        },
        Case {
            student: false,
            ..case("sign-up with a string year", Method::POST, signup,
                   br#"{"student_number": "2023999996", "name": "a", "password": "password-ok", "department": "b", "year": "1"}"#, 422, "INVALID_BODY")
        },
        Case {
            student: false,
            ..case("injection as student number", Method::POST, signup,
                   br#"{"student_number": "' OR '1'='1", "name": "a", "password": "password-ok", "department": "b", "year": 1}"#, 422, "VALIDATION_FAILED")
        },
        Case {
            student: false,
            ..case("injection as a roster name", Method::POST, signup,
                   br#"{"student_number": "2023999995", "name": "a' OR '1'='1", "password": "password-ok"}"#, 403, "NOT_ON_ROSTER")
        },
        Case {
            student: false,
            ..case("injection at log-in", Method::POST, "/api/v1/auth/login",
                   br#"{"student_number": "2026000000' OR '1'='1' --", "password": "x' OR '1'='1"}"#, 401, "INVALID_CREDENTIALS")
        },
    ];

    for c in &cases {
        let mut request = app
            .client
            .request(c.method.clone(), app.url(&c.path))
            .body(c.body.clone());
        if let Some(content_type) = c.content_type {
            request = request.header("content-type", content_type);
        }
        let token = c.student.then_some(student.token.as_str());
        let reply = app.send(request, token).await;
        assert!(
            reply.status.is_client_error(),
            "{}: {} {}",
            c.name,
            reply.status,
            reply.body
        );
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (c.status, c.code),
            "{}: {}",
            c.name,
            reply.body
        );
        reply.assert_error(c.status, c.code);
    }
    assert_eq!(
        app.row_counts().await,
        before,
        "no refused request wrote anything"
    );
    let now = app
        .get(&format!("/api/v1/courses/{}", course.id), None)
        .await
        .expect(200);
    assert_eq!(now["enrolled"], 0);
    // Not bad input: a whole number written `2.0` is the integer 2 to JSON Schema, as the
    // OpenAPI document's `integer` promises.
    let whole = format!(r#"{{"course_id": {}.0}}"#, course.id.0);
    let request = app
        .client
        .post(app.url("/api/v1/cart"))
        .header("content-type", "application/json")
        .body(whole);
    app.send(request, Some(&student.token)).await.expect(201);
}

async fn injection_strings_are_only_data(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let hostile = "'); DROP TABLE students; --";
    let mut input = course_input("INJ1000-01", 3, 10, &[(Mon, 540, 615)]);
    input.title = format!("<script>alert(1)</script>{hostile}");
    input.department = hostile.into();
    let created = app
        .post(
            "/api/v1/admin/courses",
            Some(&admin),
            &serde_json::to_value(input).unwrap(),
        )
        .await
        .expect(201);
    assert_eq!(created["department"], hostile, "stored verbatim");

    let by_department = app
        .send(
            app.client
                .get(app.url("/api/v1/courses"))
                .query(&[("department", hostile)]),
            None,
        )
        .await
        .expect(200);
    assert_eq!(by_department["total"], 1, "matched as a plain string");
    let other = app
        .send(
            app.client
                .get(app.url("/api/v1/courses"))
                .query(&[("department", "x' OR '1'='1")]),
            None,
        )
        .await
        .expect(200);
    assert_eq!(other["total"], 0);
    let lossy = app
        .get("/api/v1/courses?department=%FF", None)
        .await
        .expect(200);
    assert_eq!(lossy["total"], 0);

    // Every table is still there and still works.
    let student = app.student().await;
    app.enroll(&student.token, created["id"].as_i64().unwrap())
        .await
        .expect(201);
    assert_eq!(app.row_counts().await["students"], 1);
}
