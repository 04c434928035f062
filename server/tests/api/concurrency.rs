//! Capacity rules hold under many concurrent clients.

use std::sync::Arc;
use std::time::Instant;

use classmate_server::domain::{CourseId, Weekday};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use classmate_testkit::{Backend, TestApp, course_input, non_clashing_courses, on_both_backends};

on_both_backends!(
    a_thousand_students_race_for_a_hundred_seats,
    one_student_cannot_race_past_the_credit_cap,
    one_student_cannot_race_past_the_cart_limit,
    concurrent_cancels_and_enrollments_keep_the_counter_true,
);

/// Fires `count` requests at once (released together by a barrier) and returns
/// (status, error code) of each, in the order of `i`.
async fn fire<F, Fut>(count: usize, request: F) -> Vec<(u16, String)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = (u16, String)> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(count));
    let mut tasks = JoinSet::new();
    for i in 0..count {
        let barrier = barrier.clone();
        let fut = request(i);
        tasks.spawn(async move {
            barrier.wait().await;
            (i, fut.await)
        });
    }
    let mut results = tasks.join_all().await;
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

fn enroll_request(
    app: &TestApp,
    token: String,
    course_id: CourseId,
) -> impl std::future::Future<Output = (u16, String)> + Send + 'static {
    course_request(app, "/api/v1/enrollments", token, course_id)
}

/// `POST path {course_id}` as `token`, answering (status, error code).
fn course_request(
    app: &TestApp,
    path: &str,
    token: String,
    course_id: CourseId,
) -> impl std::future::Future<Output = (u16, String)> + Send + 'static {
    let request = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&serde_json::json!({ "course_id": course_id }));
    async move {
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
        (status, code)
    }
}

fn tally(results: &[(u16, String)], status: u16, code: &str) -> usize {
    results
        .iter()
        .filter(|(s, c)| *s == status && c == code)
        .count()
}

async fn a_thousand_students_race_for_a_hundred_seats(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let course = app
        .course(course_input(
            "HOT1000-01",
            3,
            100,
            &[(Weekday::Tue, 630, 705)],
        ))
        .await;
    let students = app.students(1000).await;

    let started = Instant::now();
    let results = fire(students.len(), |i| {
        enroll_request(&app, students[i].token.clone(), course.id)
    })
    .await;
    let elapsed = started.elapsed();

    assert_eq!(tally(&results, 201, ""), 100, "exactly the seats were sold");
    assert_eq!(
        tally(&results, 409, "COURSE_FULL"),
        900,
        "everyone else was told it is full"
    );
    let now = app
        .get(&format!("/api/v1/courses/{}", course.id), None)
        .await
        .expect(200);
    assert_eq!(now["enrolled"], 100);
    assert_eq!(now["seats_left"], 0);
    assert_eq!(
        app.row_counts().await["enrollments"],
        100,
        "one row per seat"
    );
    app.assert_audit_clean(true).await;
    eprintln!(
        "[{backend:?}] 1000 concurrent enrollments into 100 seats over HTTP: {:.0} ms, \
         {:.0} requests/s",
        elapsed.as_secs_f64() * 1000.0,
        1000.0 / elapsed.as_secs_f64()
    );
}

async fn one_student_cannot_race_past_the_credit_cap(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut course_ids = Vec::new();
    for input in non_clashing_courses("CAP", 20) {
        course_ids.push(app.course(input).await.id);
    }
    let student = app.student().await;

    let results = fire(course_ids.len(), |i| {
        enroll_request(&app, student.token.clone(), course_ids[i])
    })
    .await;

    assert_eq!(
        tally(&results, 201, ""),
        6,
        "18 credits of 3-credit courses"
    );
    assert_eq!(tally(&results, 409, "CREDIT_LIMIT_EXCEEDED"), 14);
    let held = app
        .get("/api/v1/enrollments", Some(&student.token))
        .await
        .expect(200);
    assert_eq!(held["total_credits"], 18);
    assert_eq!(held["items"].as_array().unwrap().len(), 6);
    app.assert_audit_clean(true).await;
}

/// Thirty adds at once, ten of them for the same course: the cart ends with exactly its limit,
/// that course once, with no lock on the student (one statement and a unique slot per course).
async fn one_student_cannot_race_past_the_cart_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.cart_limit = 5).await;
    let mut course_ids = Vec::new();
    for input in non_clashing_courses("CRT", 21) {
        course_ids.push(app.course(input).await.id);
    }
    let student = app.student().await;
    let wanted = |i: usize| course_ids[i.saturating_sub(9)];

    let results = fire(30, |i| {
        course_request(&app, "/api/v1/cart", student.token.clone(), wanted(i))
    })
    .await;

    assert_eq!(tally(&results, 201, ""), 5, "{results:?}");
    assert_eq!(
        tally(&results, 409, "CART_FULL") + tally(&results, 409, "ALREADY_IN_CART"),
        25,
        "{results:?}"
    );
    let added_first = results[..10].iter().filter(|(s, _)| *s == 201).count();
    assert!(
        added_first <= 1,
        "the same course added {added_first} times"
    );
    let cart = app
        .get("/api/v1/cart", Some(&student.token))
        .await
        .expect(200);
    let items = cart["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(app.row_counts().await["cart_items"], 5);
}

async fn concurrent_cancels_and_enrollments_keep_the_counter_true(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let course = app
        .course(course_input(
            "FLP1000-01",
            3,
            20,
            &[(Weekday::Wed, 540, 615)],
        ))
        .await;
    let holders = app.students(20).await;
    for s in &holders {
        app.enroll(&s.token, course.id).await.expect(201);
    }
    let waiting = app.students(40).await;

    // Half the holders cancel while forty others try to take the freed seats.
    let results = fire(50, |i| {
        let request = match i {
            0..10 => app
                .client
                .delete(app.url(&format!("/api/v1/enrollments/{}", course.id)))
                .bearer_auth(&holders[i].token),
            _ => app
                .client
                .post(app.url("/api/v1/enrollments"))
                .bearer_auth(&waiting[i - 10].token)
                .json(&serde_json::json!({ "course_id": course.id })),
        };
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), String::new())
        }
    })
    .await;

    let cancelled = results[..10].iter().filter(|(s, _)| *s == 204).count();
    let enrolled = results[10..].iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(cancelled, 10);
    assert!(
        enrolled <= 10,
        "no more seats were sold than were freed: {enrolled}"
    );
    let now = app
        .get(&format!("/api/v1/courses/{}", course.id), None)
        .await
        .expect(200);
    assert_eq!(now["enrolled"].as_u64().unwrap() as usize, 10 + enrolled);
    assert!(now["enrolled"].as_u64().unwrap() <= 20);
    app.assert_audit_clean(true).await;
}
