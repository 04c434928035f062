//! Macros and bots: the limits on one student's presses of 신청 and open tickets, on log-ins and
//! sign-ups from one address, and the bounded ticket list, on PostgreSQL + Redis and embedded.

use classmate_server::domain::CourseId;
use classmate_server::store::EnrollmentMode;
use classmate_testkit::{
    Backend, PASSWORD, Reply, TestApp, non_clashing_courses, on_both_backends,
};
use futures_util::future::join_all;
use serde_json::{Value, json};

on_both_backends!(
    an_honest_student_presses_a_whole_cart_in_one_second,
    a_macro_pressing_faster_than_its_rate_is_told_when_to_retry,
    a_student_never_has_more_open_tickets_than_allowed,
    log_ins_and_sign_ups_from_one_address_are_limited,
    only_a_trusted_proxy_names_the_client_address,
    the_ticket_list_is_bounded_however_many_tickets_a_student_had,
);

async fn courses(app: &TestApp, prefix: &str, count: usize) -> Vec<CourseId> {
    let mut ids = Vec::new();
    for input in non_clashing_courses(prefix, count) {
        ids.push(app.course(input).await.id);
    }
    ids
}

/// The student presses 신청 for every course at once.
async fn press_all(app: &TestApp, token: &str, courses: &[CourseId]) -> Vec<Reply> {
    join_all(courses.iter().map(|course| app.enroll(token, *course))).await
}

/// The Retry-After header in seconds, checked against the body's copy.
#[track_caller]
fn retry_after(reply: &Reply) -> u64 {
    let header: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        reply.body["error"]["details"]["retry_after_seconds"], header,
        "{}",
        reply.body
    );
    header
}

async fn an_honest_student_presses_a_whole_cart_in_one_second(backend: Backend) {
    // The defaults: a cart of 30 courses, 5 presses per second per student.
    let app = TestApp::spawn_queued(backend).await;
    let cart = courses(&app, "CRT", 30).await;
    let student = app.student().await;
    let answers = press_all(&app, &student.token, &cart).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status.as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
}

async fn a_macro_pressing_faster_than_its_rate_is_told_when_to_retry(backend: Backend) {
    let app = TestApp::spawn_in(backend, EnrollmentMode::Queue, |config| {
        config.cart_limit = 3;
        config.student_admission_rate = "1/h".parse().unwrap();
    })
    .await;
    let offered = courses(&app, "MAC", 5).await;
    let student = app.student().await;
    for course in &offered[..3] {
        app.enroll(&student.token, *course).await.expect(202);
    }
    let refused = app.enroll(&student.token, offered[3]).await;
    refused.assert_error(429, "RATE_LIMITED");
    assert_eq!(refused.body["error"]["details"]["scope"], "student");
    // One cell of an hourly rate comes back within the hour, not at once.
    let wait = retry_after(&refused);
    assert!((1000..=3600).contains(&wait), "Retry-After {wait}");
    // Nothing was queued for the refused press, and other students press as they like.
    let mine = app
        .get("/api/v1/tickets", Some(&student.token))
        .await
        .expect(200);
    assert_eq!(mine["items"].as_array().unwrap().len(), 3, "{mine}");
    let other = app.student().await;
    app.enroll(&other.token, offered[4]).await.expect(202);
}

async fn a_student_never_has_more_open_tickets_than_allowed(backend: Backend) {
    let app = TestApp::spawn_in(backend, EnrollmentMode::Queue, |config| {
        config.open_tickets = Some(4);
    })
    .await;
    // Nothing is decided, so nothing frees a place while the presses race.
    app.settings(json!({ "paused": true })).await;
    let offered = courses(&app, "OPN", 20).await;
    let student = app.student().await;
    let answers = press_all(&app, &student.token, &offered).await;
    let mut queued = Vec::new();
    for answer in &answers {
        match answer.status.as_u16() {
            202 => queued.push(answer.body["id"].as_str().unwrap().to_owned()),
            _ => {
                answer.assert_error(409, "TOO_MANY_TICKETS");
                assert_eq!(answer.body["error"]["details"]["limit"], 4);
            }
        }
    }
    assert_eq!(queued.len(), 4, "twenty presses at once, four places");

    // Leaving the queue gives a place back.
    app.delete(
        &format!("/api/v1/tickets/{}", queued[0]),
        Some(&student.token),
    )
    .await
    .expect(200);
    let waiting: Vec<&CourseId> = offered
        .iter()
        .filter(|c| {
            !answers
                .iter()
                .any(|a| a.status == 202 && a.body["course_id"] == c.0)
        })
        .collect();
    app.enroll(&student.token, *waiting[0]).await.expect(202);
    app.enroll(&student.token, *waiting[1])
        .await
        .assert_error(409, "TOO_MANY_TICKETS");
}

async fn log_in(app: &TestApp, number: &str, password: &str, forwarded: Option<&str>) -> Reply {
    let body = json!({ "student_number": number, "password": password });
    let mut request = app.client.post(app.url("/api/v1/auth/login")).json(&body);
    if let Some(forwarded) = forwarded {
        request = request.header("x-forwarded-for", forwarded);
    }
    app.send(request, None).await
}

async fn log_ins_and_sign_ups_from_one_address_are_limited(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.logins_per_address = "3/h".parse().unwrap();
        config.signups_per_address = "2/h".parse().unwrap();
    })
    .await;
    let student = app.student().await;
    for _ in 0..3 {
        log_in(&app, &student.number, "wrong-password", None)
            .await
            .assert_error(401, "INVALID_CREDENTIALS");
    }
    // Past the limit even the right password waits: guessing gets no further.
    let refused = log_in(&app, &student.number, PASSWORD, None).await;
    refused.assert_error(429, "RATE_LIMITED");
    assert_eq!(refused.body["error"]["details"]["scope"], "address");
    assert!(retry_after(&refused) >= 1000);
    // A client that is not a trusted proxy cannot name another address to get around it.
    log_in(&app, &student.number, PASSWORD, Some("203.0.113.7"))
        .await
        .assert_error(429, "RATE_LIMITED");
    // Administrators log in through the same limit.
    let admin = json!({ "username": "nobody", "password": "wrong-password" });
    app.post("/api/v1/auth/admin/login", None, &admin)
        .await
        .assert_error(429, "RATE_LIMITED");

    let form = |n: u32| {
        json!({
            "student_number": format!("20269{n:05}"),
            "name": "김민준",
            "password": "a-long-enough-password",
        })
    };
    for n in 0..2 {
        app.post("/api/v1/auth/signup", None, &form(n))
            .await
            .assert_error(403, "NOT_ON_ROSTER");
    }
    app.post("/api/v1/auth/signup", None, &form(2))
        .await
        .assert_error(429, "RATE_LIMITED");
    assert_eq!(
        app.integers("SELECT count(*) FROM students").await,
        [1],
        "no refused sign-up wrote a student"
    );
}

async fn only_a_trusted_proxy_names_the_client_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.logins_per_address = "1/h".parse().unwrap();
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let student = app.student().await;
    let through = |client: &'static str| log_in(&app, &student.number, PASSWORD, Some(client));
    through("203.0.113.1").await.expect(200);
    through("203.0.113.1")
        .await
        .assert_error(429, "RATE_LIMITED");
    // What a client prepends itself does not count: the proxy's own entry is the last one.
    through("203.0.113.1, 203.0.113.2").await.expect(200);
    through("198.51.100.9, 203.0.113.1")
        .await
        .assert_error(429, "RATE_LIMITED");
}

async fn the_ticket_list_is_bounded_however_many_tickets_a_student_had(backend: Backend) {
    let app = TestApp::spawn_queued(backend).await;
    let course = courses(&app, "LST", 1).await[0];
    let student = app.student().await;
    // 150 decided tickets, as a student pressing and leaving all day would leave behind.
    let rows: Vec<String> = (1..=150)
        .map(|seq| {
            format!(
                "('1-{seq}', 1, {seq}, {}, {}, 'cancelled', NULL, 1, 2, 1)",
                student.id.0, course.0
            )
        })
        .collect();
    app.execute(&format!(
        "INSERT INTO ticket_decisions (ticket_id, generation, seq, student_id, course_id, state, \
         code, admitted_at_ms, decided_at_ms, epoch) VALUES {}",
        rows.join(", ")
    ))
    .await;
    let seqs = |page: &Value| -> Vec<u64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["seq"].as_u64().unwrap())
            .collect()
    };
    let default = app
        .get("/api/v1/tickets", Some(&student.token))
        .await
        .expect(200);
    assert_eq!(
        seqs(&default),
        (101..=150).collect::<Vec<_>>(),
        "the newest 50, in order"
    );
    let most = app
        .get("/api/v1/tickets?limit=100", Some(&student.token))
        .await
        .expect(200);
    assert_eq!(seqs(&most), (51..=150).collect::<Vec<_>>());
    for bad in ["0", "101", "-1", "many"] {
        app.get(
            &format!("/api/v1/tickets?limit={bad}"),
            Some(&student.token),
        )
        .await
        .assert_error(400, "INVALID_QUERY");
    }
}
