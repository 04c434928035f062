//! The catalog: filters and paging.

use classmate_server::domain::Weekday::*;
use classmate_server::domain::{CourseSpecInput, Weekday};
use serde_json::Value;

use std::time::Duration;

use classmate_testkit::{Backend, Reply, TestApp, course_input, eventually, on_both_backends};

on_both_backends!(
    catalog_filters_and_pages,
    seats_taken_elsewhere_reach_the_catalog,
    catalog_refuses_bad_queries,
    catalog_search_matches_title_professor_and_code,
    catalog_search_ignores_query_syntax_and_is_bounded,
);

fn codes(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect()
}

/// A three-credit course of `code` named `title`, taught by `professor`, meeting once on `day`.
fn titled(code: &str, title: &str, professor: &str, day: Weekday) -> CourseSpecInput {
    let mut input = course_input(code, 3, 40, &[(day, 540, 615)]);
    input.title = title.into();
    input.professor = professor.into();
    input
}

/// The query parameters of a catalog request and the codes it lists.
type Search<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);

/// `GET /api/v1/courses` with `params`, encoded as a browser would.
async fn catalog(app: &TestApp, params: &[(&str, &str)]) -> Reply {
    app.send(
        app.client.get(app.url("/api/v1/courses")).query(params),
        None,
    )
    .await
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

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Every statement that moves a seat counter stamps when, and the live seat board reads the
/// counters stamped since its last read: seats another process takes reach this one's catalog
/// within a refresh or two, long before the full read every 30 s.
async fn seats_taken_elsewhere_reach_the_catalog(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let course = app
        .course(course_input("SEA1000-01", 3, 40, &[(Mon, 540, 615)]))
        .await;
    let id = course.id.0;
    let stamp = || async {
        app.integers(&format!(
            "SELECT seats_changed_ms FROM courses WHERE id = {id}"
        ))
        .await[0]
    };
    let student = app.student().await;
    let before = now_ms();
    app.enroll(&student.token, course.id).await.expect(201);
    let taken = stamp().await;
    assert!(
        taken >= before,
        "a seat taken is stamped: {taken} < {before}"
    );
    app.delete(&format!("/api/v1/enrollments/{id}"), Some(&student.token))
        .await
        .expect(204);
    assert!(stamp().await >= taken, "a seat given back is stamped");

    // Another process takes two seats, stamping them as its statements do.
    app.execute(&format!(
        "UPDATE courses SET enrolled = enrolled + 2, seats_changed_ms = {} WHERE id = {id}",
        now_ms()
    ))
    .await;
    let seen = eventually(
        Duration::from_secs(5),
        "the seats taken elsewhere",
        || async {
            let one = app
                .get(&format!("/api/v1/courses/{id}"), None)
                .await
                .expect(200);
            (one["enrolled"] == 2).then_some(one)
        },
    )
    .await;
    assert_eq!(seen["seats_left"], 38);
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
        // No OFFSET of millions: past page 500 the search must be narrowed.
        "page=501",
        "page=1000000&per_page=100",
    ] {
        app.get(&format!("/api/v1/courses?{query}"), None)
            .await
            .assert_error(400, "INVALID_QUERY");
    }
    app.get("/api/v1/courses?page=500&per_page=100", None)
        .await
        .expect(200);
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

async fn catalog_search_matches_title_professor_and_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.course(titled("CSE2010-01", "운영체제", "김철수", Mon))
        .await;
    app.course(titled("CSE2010-02", "운영체제", "이영희", Tue))
        .await;
    app.course(titled("CSE3020-01", "고급 운영체제 설계", "박민수", Wed))
        .await;
    app.course(titled(
        "CSE4010-01",
        "Operating Systems Seminar",
        "Lee",
        Thu,
    ))
    .await;
    let mut business = titled("BUS1010-01", "경영학원론", "김영수", Tue);
    business.department = "경영학과".into();
    app.course(business).await;
    let before = app.row_counts().await;

    let every = [
        "BUS1010-01",
        "CSE2010-01",
        "CSE2010-02",
        "CSE3020-01",
        "CSE4010-01",
    ];
    let cases: [Search; 16] = [
        (
            &[("q", "운영체제")],
            &["CSE2010-01", "CSE2010-02", "CSE3020-01"],
        ),
        (&[("q", "체제 설")], &["CSE3020-01"]),
        (
            &[("q", "  운영체제\t")],
            &["CSE2010-01", "CSE2010-02", "CSE3020-01"],
        ),
        (&[("q", "김")], &["BUS1010-01", "CSE2010-01"]),
        (&[("q", "이영희")], &["CSE2010-02"]),
        (&[("q", "cse2010")], &["CSE2010-01", "CSE2010-02"]),
        (&[("q", "Cse40")], &["CSE4010-01"]),
        (&[("q", "2010")], &["CSE2010-01", "CSE2010-02"]),
        (&[("q", "cse-2010")], &["CSE2010-01", "CSE2010-02"]),
        (&[("q", "operating SYSTEMS")], &["CSE4010-01"]),
        (&[("q", "lee")], &["CSE4010-01"]),
        (&[("q", "데이터베이스")], &[]),
        (&[("q", "김"), ("department", "경영학과")], &["BUS1010-01"]),
        (&[("q", "운영체제"), ("weekday", "TUE")], &["CSE2010-02"]),
        (&[("q", "   ")], &every),
        (&[("q", "")], &every),
    ];
    for (params, expected) in cases {
        let page = catalog(&app, params).await.expect(200);
        assert_eq!(codes(&page), expected, "{params:?}");
        assert_eq!(
            page["total"].as_u64(),
            Some(expected.len() as u64),
            "{params:?}"
        );
    }

    let paged = [
        ("q", "운영체제"),
        ("department", "컴퓨터공학과"),
        ("per_page", "2"),
        ("page", "2"),
    ];
    let second = catalog(&app, &paged).await.expect(200);
    assert_eq!(codes(&second), ["CSE3020-01"]);
    assert_eq!(
        (second["total"].as_u64(), second["per_page"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(app.row_counts().await, before, "searching writes nothing");
}

async fn catalog_search_ignores_query_syntax_and_is_bounded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.course(titled("CSE2010-01", "운영체제", "김철수", Mon))
        .await;
    app.course(titled("CSE2020-01", "자료구조_실습 100%", "박민수", Tue))
        .await;
    let before = app.row_counts().await;

    // Wildcards and query syntax are not syntax: what is left of them are the words, and a
    // text of symbols only finds nothing.
    let cases: [(&str, &[&str]); 14] = [
        ("%", &[]),
        ("_", &[]),
        ("*?~^\"():!", &[]),
        ("0%", &[]),
        ("100%", &["CSE2020-01"]),
        ("구조_실", &["CSE2020-01"]),
        ("%%", &[]),
        ("운영%", &["CSE2010-01"]),
        ("운_체제", &["CSE2010-01"]),
        ("\\", &[]),
        ("\\%", &[]),
        ("' OR 1=1 --", &[]),
        ("'); DROP TABLE courses; --", &[]),
        ("운영체제 AND NOT 자료구조", &[]),
    ];
    for (q, expected) in cases {
        let page = catalog(&app, &[("q", q)]).await.expect(200);
        assert_eq!(codes(&page), expected, "{q}");
        assert_eq!(page["total"].as_u64(), Some(expected.len() as u64), "{q}");
    }

    let longest = "가".repeat(100);
    catalog(&app, &[("q", &longest)]).await.expect(200);
    catalog(&app, &[("q", &format!("  {longest}  "))])
        .await
        .expect(200);
    for q in [
        "가".repeat(101),
        "a".repeat(101),
        "%".repeat(101),
        "a\u{0}b".into(),
        "운영\n체제".into(),
    ] {
        catalog(&app, &[("q", &q)])
            .await
            .assert_error(400, "INVALID_QUERY");
    }
    // The department filter is text too: the same rules.
    for department in ["컴퓨터\u{0}공학과".to_owned(), "과".repeat(101)] {
        catalog(&app, &[("department", &department)])
            .await
            .assert_error(400, "INVALID_QUERY");
    }
    assert_eq!(app.row_counts().await, before, "no search wrote anything");
    let all = app.get("/api/v1/courses", None).await.expect(200);
    assert_eq!(all["total"], 2, "every course is still there");
}
