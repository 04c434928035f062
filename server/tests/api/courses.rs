//! The catalog: filters and paging.

use classmate_server::domain::Weekday::*;
use serde_json::Value;

use crate::kit::{Backend, TestApp, course_input};

on_both_backends!(catalog_filters_and_pages, catalog_refuses_bad_queries);

fn codes(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect()
}

async fn catalog_filters_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut business = course_input("BUS1010-01", 2, 50, &[(Tue, 540, 615), (Thu, 540, 615)]);
    business.department = "경영학과".into();
    app.course(business).await;
    app.course(course_input(
        "CSE1010-01",
        3,
        40,
        &[(Mon, 540, 615), (Wed, 540, 615)],
    ))
    .await;
    app.course(course_input(
        "CSE1010-02",
        3,
        40,
        &[(Tue, 780, 855), (Thu, 780, 855)],
    ))
    .await;
    let full = app
        .course(course_input("CSE3010-01", 3, 1, &[(Fri, 780, 960)]))
        .await;
    let student = app.student().await;
    app.enroll(&student.token, full.id).await.expect(201);

    let all = app.get("/api/v1/courses", None).await.expect(200);
    assert_eq!(
        codes(&all),
        ["BUS1010-01", "CSE1010-01", "CSE1010-02", "CSE3010-01"]
    );
    assert_eq!(
        (
            all["total"].as_u64(),
            all["page"].as_u64(),
            all["per_page"].as_u64()
        ),
        (Some(4), Some(1), Some(20))
    );

    let cases: [(&str, &[&str]); 7] = [
        (
            "department=%EA%B2%BD%EC%98%81%ED%95%99%EA%B3%BC",
            &["BUS1010-01"],
        ),
        ("weekday=TUE", &["BUS1010-01", "CSE1010-02"]),
        ("weekday=MON", &["CSE1010-01"]),
        ("credits=2", &["BUS1010-01"]),
        (
            "has_seats=true",
            &["BUS1010-01", "CSE1010-01", "CSE1010-02"],
        ),
        (
            "department=%EC%BB%B4%ED%93%A8%ED%84%B0%EA%B3%B5%ED%95%99%EA%B3%BC&weekday=THU&has_seats=true",
            &["CSE1010-02"],
        ),
        ("weekday=SAT", &[]),
    ];
    for (query, expected) in cases {
        let page = app
            .get(&format!("/api/v1/courses?{query}"), None)
            .await
            .expect(200);
        assert_eq!(codes(&page), expected, "{query}");
        assert_eq!(
            page["total"].as_u64(),
            Some(expected.len() as u64),
            "{query}"
        );
    }

    let second = app
        .get("/api/v1/courses?per_page=3&page=2", None)
        .await
        .expect(200);
    assert_eq!(codes(&second), ["CSE3010-01"]);
    assert_eq!(second["total"], 4);
    let beyond = app
        .get("/api/v1/courses?per_page=3&page=9", None)
        .await
        .expect(200);
    assert_eq!(
        (codes(&beyond).len(), beyond["total"].as_u64()),
        (0, Some(4))
    );

    let one = app
        .get(&format!("/api/v1/courses/{}", full.id), None)
        .await
        .expect(200);
    assert_eq!(
        (one["enrolled"].as_u64(), one["seats_left"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(one["meetings"][0]["label"], "금 13:00-16:00");
}

async fn catalog_refuses_bad_queries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for query in [
        "weekday=SUN",
        "weekday=1",
        "credits=7",
        "credits=three",
        "has_seats=maybe",
        "page=0",
        "page=-1",
        "per_page=101",
        "per_page=0",
        "page=99999999999",
    ] {
        app.get(&format!("/api/v1/courses?{query}"), None)
            .await
            .assert_error(400, "INVALID_QUERY");
    }
    app.get("/api/v1/courses/999999", None)
        .await
        .assert_error(404, "COURSE_NOT_FOUND");
    app.get("/api/v1/courses/-5", None)
        .await
        .assert_error(404, "COURSE_NOT_FOUND");
    app.get("/api/v1/courses/abc", None)
        .await
        .assert_error(400, "INVALID_PATH");
}
