//! Course search over HTTP: the search and suggest endpoints, the sync from the database, live
//! seats, and hostile queries on every endpoint that takes `q`.

use std::time::{Duration, Instant};

use classmate_server::domain::Weekday::*;
use classmate_server::domain::{CourseSpec, CourseSpecInput, Weekday};
use classmate_server::search::SearchBackend;
use serde_json::Value;

use classmate_testkit::{Backend, Reply, TestApp, course_input, eventually, on_both_backends};

on_both_backends!(
    search_pages_by_cursor_with_facets_and_highlights,
    suggest_completes_what_was_typed,
    every_endpoint_taking_q_refuses_or_finds_nothing_for_hostile_queries,
    courses_written_to_the_database_are_found_within_a_second,
    seats_in_hits_follow_enrollments_without_a_reindex,
    administrators_see_the_index_and_rebuild_it_while_it_answers,
    a_replaced_catalog_is_noticed_and_the_index_rebuilt,
    the_database_baseline_answers_the_same_endpoints,
);

fn titled(code: &str, title: &str, professor: &str, day: Weekday) -> CourseSpecInput {
    let mut input = course_input(code, 3, 40, &[(day, 540, 615)]);
    input.title = title.into();
    input.professor = professor.into();
    input
}

async fn get(app: &TestApp, path: &str, params: &[(&str, &str)]) -> Reply {
    app.send(app.client.get(app.url(path)).query(params), None)
        .await
}

fn hit_codes(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["course"]["code"].as_str().unwrap())
        .collect()
}

async fn search_pages_by_cursor_with_facets_and_highlights(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for n in 1..=5 {
        app.course(titled(&format!("CSE20{n}0-01"), "자료구조", "김철수", Mon))
            .await;
    }
    app.course(titled("CSE3010-01", "고급 자료구조", "이영희", Tue))
        .await;
    let mut business = titled("BUS1010-01", "경영 자료구조", "박민수", Tue);
    business.department = "경영학과".into();
    app.course(business).await;

    let first = get(
        &app,
        "/api/v1/courses/search",
        &[("q", "ㅈㄹㄱㅈ"), ("limit", "3")],
    )
    .await
    .expect(200);
    assert_eq!(first["total"], 7);
    assert_eq!(
        hit_codes(&first),
        ["BUS1010-01", "CSE2010-01", "CSE2020-01"]
    );
    assert_eq!(
        first["items"][0]["highlight"]["title"],
        serde_json::json!([{ "start": 3, "end": 7 }]),
        "경영 [자료구조]"
    );
    assert_eq!(
        first["facets"]["department"],
        serde_json::json!([
            { "value": "컴퓨터공학과", "count": 6 },
            { "value": "경영학과", "count": 1 }
        ])
    );
    assert_eq!(
        first["facets"]["weekday"],
        serde_json::json!([{ "value": "MON", "count": 5 }, { "value": "TUE", "count": 2 }])
    );
    let mut seen: Vec<String> = hit_codes(&first).iter().map(|c| c.to_string()).collect();
    let mut cursor = first["next_cursor"].as_str().unwrap().to_owned();
    loop {
        let page = get(
            &app,
            "/api/v1/courses/search",
            &[("q", "ㅈㄹㄱㅈ"), ("limit", "3"), ("cursor", &cursor)],
        )
        .await
        .expect(200);
        seen.extend(hit_codes(&page).iter().map(|c| c.to_string()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "{seen:?}");

    let words = get(
        &app,
        "/api/v1/courses/search",
        &[("q", "자료구조"), ("department", "컴퓨터공학과")],
    )
    .await
    .expect(200);
    assert_eq!(words["total"], 6);
    assert_eq!(hit_codes(&words)[5], "CSE3010-01", "the exact titles first");
    assert_eq!(words["next_cursor"], Value::Null);
    let hit = &words["items"][0];
    assert_eq!(hit["course"]["seats_left"], 40);
    assert_eq!(hit["highlight"]["professor"], serde_json::json!([]));
    let by_code = get(&app, "/api/v1/courses/search", &[("q", "cse 2010")])
        .await
        .expect(200);
    assert_eq!(hit_codes(&by_code), ["CSE2010-01"]);
    assert_eq!(
        by_code["items"][0]["highlight"]["code"],
        serde_json::json!([{ "start": 0, "end": 7 }])
    );

    for bad in [
        vec![("cursor", "not-a-cursor")],
        vec![("cursor", "MS4xLjI")],
        vec![("limit", "0")],
        vec![("limit", "101")],
        vec![("credits", "9")],
        vec![("weekday", "SUN")],
        vec![("has_seats", "maybe")],
    ] {
        get(&app, "/api/v1/courses/search", &bad)
            .await
            .assert_error(400, "INVALID_QUERY");
    }
}

async fn suggest_completes_what_was_typed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.course(titled("CSE2010-01", "자료구조", "김철수", Mon))
        .await;
    app.course(titled("CSE2010-02", "자료구조", "이영희", Tue))
        .await;
    app.course(titled("CSE3020-01", "운영체제", "김영수", Wed))
        .await;
    let entries = |reply: Value| -> Vec<(String, String)> {
        reply["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_owned(),
                    e["text"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let titles = get(&app, "/api/v1/courses/suggest", &[("q", "자료")])
        .await
        .expect(200);
    assert_eq!(entries(titles), [("title".into(), "자료구조".into())]);
    let codes = get(&app, "/api/v1/courses/suggest", &[("q", "CSE20")])
        .await
        .expect(200);
    assert_eq!(codes["items"].as_array().unwrap().len(), 2);
    assert_eq!(codes["items"][0]["kind"], "code");
    assert!(codes["items"][0]["course_id"].is_i64());
    let professors = get(
        &app,
        "/api/v1/courses/suggest",
        &[("q", "김"), ("limit", "1")],
    )
    .await
    .expect(200);
    assert_eq!(professors["items"].as_array().unwrap().len(), 1);
    assert_eq!(professors["items"][0]["kind"], "professor");
    let blank = get(&app, "/api/v1/courses/suggest", &[("q", "   ")])
        .await
        .expect(200);
    assert_eq!(blank["items"], serde_json::json!([]));
    for bad in [
        vec![],
        vec![("q", "자료"), ("limit", "11")],
        vec![("q", "자료"), ("limit", "0")],
    ] {
        get(&app, "/api/v1/courses/suggest", &bad)
            .await
            .assert_error(400, "INVALID_QUERY");
    }
}

async fn every_endpoint_taking_q_refuses_or_finds_nothing_for_hostile_queries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.course(titled("CSE2010-01", "자료구조", "김철수", Mon))
        .await;
    let before = app.row_counts().await;
    // 10 KB of text.
    let long = "자".repeat(10 * 1024 / 3);
    let refused = [long.as_str(), "a\u{0}b", "자료\n구조"];
    let nothing = [
        "*?~^\"():!",
        "AND OR NOT",
        "((((",
        "\\\\",
        "' OR '1'='1",
        "%_%",
        "🙂🙂",
        "title:*",
        "NOT 자료구조",
        "a b c d e f g h i j k l m n o p",
    ];
    for path in [
        "/api/v1/courses",
        "/api/v1/courses/search",
        "/api/v1/courses/suggest",
    ] {
        for q in refused {
            get(&app, path, &[("q", q)])
                .await
                .assert_error(400, "INVALID_QUERY");
        }
        for q in nothing {
            let reply = get(&app, path, &[("q", q)]).await.expect(200);
            assert_eq!(reply["items"], serde_json::json!([]), "{path}?q={q}");
        }
    }
    // Invalid UTF-8 in the query string is refused before any search.
    for path in [
        "/api/v1/courses",
        "/api/v1/courses/search",
        "/api/v1/courses/suggest",
    ] {
        app.send(app.client.get(app.url(&format!("{path}?q=%FF%FE"))), None)
            .await
            .assert_error(400, "INVALID_QUERY");
    }
    assert_eq!(app.row_counts().await, before, "no search wrote anything");
}

/// How long after `write` a search for `q` first shows what `check` wants.
async fn found_after(app: &TestApp, q: &str, check: impl Fn(&Value) -> bool) -> Duration {
    let started = Instant::now();
    eventually(
        Duration::from_secs(5),
        "the sync shows the change",
        || async {
            let page = get(app, "/api/v1/courses/search", &[("q", q)])
                .await
                .expect(200);
            check(&page).then_some(())
        },
    )
    .await;
    started.elapsed()
}

async fn courses_written_to_the_database_are_found_within_a_second(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Written as `classmate seed` or another server process would: not through this one.
    let spec = CourseSpec::parse(&titled("CSE2010-01", "컴파일러", "송지훈", Mon)).unwrap();
    let course = app.store().insert_course(&spec).await.unwrap();
    let created = found_after(&app, "컴파일러", |page| page["total"] == 1).await;

    let mut edited = spec.clone();
    edited.title = "고급 컴파일러".into();
    edited.is_open = false;
    app.store().update_course(course.id, &edited).await.unwrap();
    let closed = found_after(&app, "고급 컴파일러", |page| {
        page["items"][0]["course"]["is_open"] == false
    })
    .await;
    let old_title = get(&app, "/api/v1/courses/search", &[("q", "컴파일러")])
        .await
        .expect(200);
    assert_eq!(
        old_title["total"], 1,
        "the edit replaced the course, it did not add one"
    );
    // The sync ticks every 200 ms: a second is the promise, 5 s the test's patience.
    for (what, lag) in [("created", created), ("edited and closed", closed)] {
        eprintln!("{what}: found after {lag:?}");
        assert!(lag < Duration::from_secs(2), "{what} after {lag:?}");
    }
}

async fn seats_in_hits_follow_enrollments_without_a_reindex(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut input = titled("CSE2010-01", "자료구조", "김철수", Mon);
    input.capacity = 2;
    let course = app.course(input).await;
    let seats = |page: Value| page["items"][0]["course"]["seats_left"].as_u64();
    let student = app.student().await;
    app.enroll(&student.token, course.id).await.expect(201);
    // This process committed the seat: the next search shows it.
    let page = get(&app, "/api/v1/courses/search", &[("q", "자료구조")])
        .await
        .expect(200);
    assert_eq!(seats(page), Some(1));

    // Another process takes the last seat: the periodic read of the counters brings it.
    app.execute(&format!(
        "UPDATE courses SET enrolled = 2 WHERE id = {}",
        course.id
    ))
    .await;
    eventually(
        Duration::from_secs(5),
        "the counter is read again",
        || async {
            let page = get(&app, "/api/v1/courses/search", &[("q", "자료구조")])
                .await
                .expect(200);
            (seats(page) == Some(0)).then_some(())
        },
    )
    .await;
    let open_only = get(
        &app,
        "/api/v1/courses/search",
        &[("q", "자료구조"), ("has_seats", "true")],
    )
    .await
    .expect(200);
    assert_eq!(open_only["total"], 0);
    let listing = get(&app, "/api/v1/courses", &[("has_seats", "true")])
        .await
        .expect(200);
    assert_eq!(listing["total"], 0);
}

async fn administrators_see_the_index_and_rebuild_it_while_it_answers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for n in 0..300 {
        let spec = CourseSpec::parse(&titled(
            &format!("CSE{:04}-01", 1000 + n),
            "자료구조",
            "김철수",
            Mon,
        ))
        .unwrap();
        app.store().insert_course(&spec).await.unwrap();
    }
    let admin = app.admin_token().await;
    let status = eventually(
        Duration::from_secs(5),
        "the sync takes the courses",
        || async {
            let status = app
                .get("/api/v1/admin/search", Some(&admin))
                .await
                .expect(200);
            (status["documents"] == 300).then_some(status)
        },
    )
    .await;
    assert_eq!(status["backend"], "tantivy");
    assert!(status["watermark"].is_string());
    assert!(status["lag_ms"].as_u64().unwrap() < 5_000);

    let student = app.student().await;
    app.get("/api/v1/admin/search", Some(&student.token))
        .await
        .assert_error(403, "FORBIDDEN");
    app.post("/api/v1/admin/search/reindex", None, &Value::Null)
        .await
        .assert_error(401, "UNAUTHENTICATED");

    // A rebuild of its own may be under way (the sync's first catch-up): the one asked for is
    // done when the count has moved on and none is running or waiting.
    let before = status["rebuild"]["finished"].as_u64().unwrap();
    let asked = app
        .post("/api/v1/admin/search/reindex", Some(&admin), &Value::Null)
        .await
        .expect(202);
    assert_eq!(asked["rebuild"]["running"], true);
    // Searches answer in full all through the rebuild.
    let mut searches = 0;
    loop {
        let page = get(&app, "/api/v1/courses/search", &[("q", "자료구조")])
            .await
            .expect(200);
        assert_eq!(page["total"], 300, "during the rebuild");
        searches += 1;
        let status = app
            .get("/api/v1/admin/search", Some(&admin))
            .await
            .expect(200);
        if status["rebuild"]["running"] == false {
            assert!(status["rebuild"]["finished"].as_u64().unwrap() > before);
            assert_eq!(status["documents"], 300);
            break;
        }
        assert!(searches < 10_000, "the rebuild finishes");
    }
}

async fn a_replaced_catalog_is_noticed_and_the_index_rebuilt(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.course(titled("CSE2010-01", "자료구조", "김철수", Mon))
        .await;
    app.course(titled("CSE2020-01", "운영체제", "이영희", Tue))
        .await;
    // As `classmate seed --reset` does: every course goes, new ones (new ids) come.
    app.execute("DELETE FROM courses").await;
    let spec = CourseSpec::parse(&titled("CSE3030-01", "데이터베이스", "한지우", Wed)).unwrap();
    app.store().insert_course(&spec).await.unwrap();
    eventually(
        Duration::from_secs(10),
        "the index forgets the old catalog",
        || async {
            let all = get(&app, "/api/v1/courses", &[]).await.expect(200);
            (all["total"] == 1 && all["items"][0]["code"] == "CSE3030-01").then_some(())
        },
    )
    .await;
}

async fn the_database_baseline_answers_the_same_endpoints(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.search = Some(SearchBackend::Database)
    })
    .await;
    app.course(titled("CSE2010-01", "자료구조", "김철수", Mon))
        .await;
    app.course(titled("CSE3010-01", "고급 자료구조", "이영희", Tue))
        .await;
    // Written to the database, so searched at once: there is no copy to sync.
    let spec = CourseSpec::parse(&titled("CSE2020-01", "운영체제", "박민수", Wed)).unwrap();
    app.store().insert_course(&spec).await.unwrap();
    let found = get(
        &app,
        "/api/v1/courses/search",
        &[("q", "구조"), ("limit", "1")],
    )
    .await
    .expect(200);
    assert_eq!(found["total"], 2);
    assert_eq!(hit_codes(&found), ["CSE2010-01"]);
    assert_eq!(
        found["facets"]["weekday"],
        serde_json::json!([
            { "value": "MON", "count": 1 }, { "value": "TUE", "count": 1 }
        ])
    );
    let cursor = found["next_cursor"].as_str().unwrap();
    let next = get(
        &app,
        "/api/v1/courses/search",
        &[("q", "구조"), ("limit", "1"), ("cursor", cursor)],
    )
    .await
    .expect(200);
    assert_eq!(hit_codes(&next), ["CSE3010-01"]);
    let listing = get(&app, "/api/v1/courses", &[("q", "운영체제")])
        .await
        .expect(200);
    assert_eq!(listing["total"], 1);
    let admin = app.admin_token().await;
    let status = app
        .get("/api/v1/admin/search", Some(&admin))
        .await
        .expect(200);
    assert_eq!(
        (status["backend"].as_str(), status["documents"].as_u64()),
        (Some("database"), Some(3))
    );
    for q in ["ㅈㄹㄱㅈ", "*?~^\"():!"] {
        let reply = get(&app, "/api/v1/courses/search", &[("q", q)])
            .await
            .expect(200);
        assert_eq!(reply["total"], 0, "{q}: the baseline has no 초성");
    }
}
