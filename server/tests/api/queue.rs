//! The fair waiting queue through HTTP: admission, the drain, tickets, leaving, the operator's
//! settings, on PostgreSQL + Redis and on the embedded default. The load-sized queue tests (and
//! the thousand WebSockets) are in `tests/load`.

use std::collections::BTreeMap;
use std::time::Duration;

use classmate_server::clock::now_ms;
use classmate_server::domain::{Course, CourseId, Settled, Ticket, TicketId, TicketState, Weekday};
use classmate_server::store::{AuditScope, EnrollmentMode};
use classmate_testkit::{Backend, TestApp, course_input, eventually, on_both_backends};
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

on_both_backends!(
    an_admitted_ticket_is_decided_by_the_drain,
    the_queue_enforces_every_rule,
    one_pair_admitted_fifty_times_makes_one_ticket,
    a_student_can_leave_the_queue_until_the_drain_takes_the_ticket,
    enrollment_waits_for_the_opening_time,
    the_admission_rate_limit_answers_429,
    a_cancellation_reopens_a_sold_out_course,
    operators_see_and_steer_the_queue,
    a_pause_mid_drain_leaves_no_decided_ticket_unsettled,
    a_ticket_waiting_past_its_lifetime_expires,
    bad_input_to_the_queue_writes_nothing,
    the_audit_finds_what_was_broken,
    the_database_refuses_a_batch_that_would_overfill_a_course,
    a_ticket_whose_student_is_gone_is_decided_and_the_drain_moves_on,
    a_stale_duplicate_check_does_not_keep_a_student_out,
);

/// A 3-credit, 30-seat course on Mondays 10:00–11:15: what most queue tests enroll in.
async fn a_course(app: &TestApp) -> Course {
    app.course(course_input(
        "CSE2010-01",
        3,
        30,
        &[(Weekday::Mon, 600, 675)],
    ))
    .await
}

async fn admit(
    app: &TestApp,
    token: &str,
    course_id: impl serde::Serialize,
) -> classmate_testkit::Reply {
    app.enroll(token, course_id).await
}

async fn an_admitted_ticket_is_decided_by_the_drain(backend: Backend) {
    let app = TestApp::spawn_queued(backend).await;
    let course = a_course(&app).await;
    let student = app.student().await;

    let before = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let ticket = admit(&app, &student.token, course.id).await.expect(202);
    assert_eq!(ticket["state"], "queued");
    assert_eq!(ticket["course_id"], course.id.0);
    let id = ticket["id"].as_str().unwrap().to_owned();
    assert_eq!(
        id,
        format!("{}-{}", ticket["generation"], ticket["seq"]),
        "{ticket}"
    );
    assert!(ticket["position"].is_u64(), "{ticket}");

    let decided = app.settled_ticket(&student.token, &id).await;
    assert_eq!(decided["state"], "enrolled", "{decided}");
    assert_eq!(decided["message"], "수강신청되었습니다");
    assert!(decided["decided_at_ms"].is_i64());
    // The drain's batch stamps the counters it moves, for other processes' seat boards.
    let stamped = app
        .integers(&format!(
            "SELECT seats_changed_ms FROM courses WHERE id = {}",
            course.id
        ))
        .await;
    assert!(i128::from(stamped[0]) >= before, "{stamped:?} < {before}");

    let enrolled = app
        .get("/api/v1/enrollments", Some(&student.token))
        .await
        .expect(200);
    assert_eq!(enrolled["items"][0]["course"]["id"], course.id.0);
    // The enrollment row carries its ticket, and the decision is on record.
    let carried = app
        .integers(&format!(
            "SELECT count(*) FROM enrollments WHERE ticket_id = '{id}'"
        ))
        .await;
    assert_eq!(carried, [1]);
    assert_eq!(
        app.decisions().await,
        [(id.clone(), "enrolled".to_owned(), None)]
    );
    let listed = app
        .get("/api/v1/tickets", Some(&student.token))
        .await
        .expect(200);
    assert_eq!(listed["items"][0]["id"], id.as_str());

    // Once enrolled, the same course is refused at admission.
    admit(&app, &student.token, course.id)
        .await
        .assert_error(409, "ALREADY_ENROLLED");
    // Someone else's ticket is not found, and junk ids are not tickets.
    let other = app.student().await;
    app.get(&format!("/api/v1/tickets/{id}"), Some(&other.token))
        .await
        .assert_error(404, "TICKET_NOT_FOUND");
    for junk in ["abc", "1-", "1-2-3", "%27%20OR%201%3D1"] {
        app.get(&format!("/api/v1/tickets/{junk}"), Some(&student.token))
            .await
            .assert_error(404, "TICKET_NOT_FOUND");
    }
    // An unknown course gets no ticket at all.
    let before = app.row_counts().await;
    admit(&app, &student.token, 999_999)
        .await
        .assert_error(404, "COURSE_NOT_FOUND");
    assert_eq!(app.state.queue.status().await.unwrap().last_seq, 1);
    assert_eq!(app.row_counts().await, before);
    // A course added after the server loaded the course ids is found all the same.
    let added = app
        .course(course_input(
            "CSE3010-01",
            3,
            30,
            &[(Weekday::Tue, 600, 675)],
        ))
        .await;
    admit(&app, &student.token, added.id).await.expect(202);
}

async fn the_queue_enforces_every_rule(backend: Backend) {
    let app = TestApp::spawn_queued(backend).await;
    let monday = a_course(&app).await;
    let clashing = app
        .course(course_input(
            "CSE2020-01",
            3,
            30,
            &[(Weekday::Mon, 630, 700)],
        ))
        .await;
    let mut seniors = course_input("CSE4010-01", 3, 30, &[(Weekday::Fri, 600, 675)]);
    seniors.restrictions.years = Some(vec![4]);
    let seniors = app.course(seniors).await;
    let mut big = course_input("CSE3010-01", 6, 30, &[(Weekday::Sat, 540, 700)]);
    big.credits = 6;
    let big = app.course(big).await;
    let student = app.student().await;

    let mut expected = BTreeMap::new();
    for (course, outcome) in [
        (monday.id, ("enrolled", None)),
        (clashing.id, ("rejected", Some("TIME_CLASH"))),
        (seniors.id, ("rejected", Some("YEAR_RESTRICTED"))),
        (big.id, ("enrolled", None)),
    ] {
        let ticket = admit(&app, &student.token, course).await.expect(202);
        expected.insert(ticket["id"].as_str().unwrap().to_owned(), outcome);
    }
    for (id, (state, code)) in &expected {
        let ticket = app.settled_ticket(&student.token, id).await;
        assert_eq!(ticket["state"], *state, "{ticket}");
        assert_eq!(ticket["code"].as_str(), *code, "{ticket}");
        if let Some(code) = code {
            let message = ticket["message"].as_str().unwrap();
            assert!(message.contains('다'), "{code}: {message}");
        }
    }

    // The credit cap counts what the drain enrolled: 9 credits held, cap 18.
    let mut more = Vec::new();
    for (i, day) in [Weekday::Tue, Weekday::Wed, Weekday::Thu]
        .iter()
        .enumerate()
    {
        let mut input = course_input(&format!("CSE50{i}0-01"), 4, 30, &[(*day, 600, 675)]);
        input.credits = 4;
        more.push(app.course(input).await);
    }
    let mut states = Vec::new();
    for course in &more {
        let ticket = admit(&app, &student.token, course.id).await.expect(202);
        let id = ticket["id"].as_str().unwrap().to_owned();
        let decided = app.settled_ticket(&student.token, &id).await;
        states.push((decided["state"].clone(), decided["code"].clone()));
    }
    assert_eq!(
        states,
        [
            (json!("enrolled"), Value::Null),
            (json!("enrolled"), Value::Null),
            (json!("rejected"), json!("CREDIT_LIMIT_EXCEEDED"))
        ]
    );
    app.assert_audit_clean(true).await;
}

async fn one_pair_admitted_fifty_times_makes_one_ticket(backend: Backend) {
    // The queue's own duplicate check, without the student's rate limit in front of it
    // (fifty presses at once are more than a student may make: tests/api/limits.rs).
    let app = TestApp::spawn_in(backend, EnrollmentMode::Queue, |config| {
        config.student_admission_rate = classmate_server::http::Rate::Off;
    })
    .await;
    let course = a_course(&app).await;
    let student = app.student().await;
    app.settings(json!({ "paused": true })).await;

    let replies: Vec<classmate_testkit::Reply> = stream::iter(0..50)
        .map(|_| admit(&app, &student.token, course.id))
        .buffer_unordered(50)
        .collect()
        .await;
    let accepted: Vec<&Value> = replies
        .iter()
        .filter(|r| r.status == 202)
        .map(|r| &r.body)
        .collect();
    assert_eq!(accepted.len(), 1, "one ticket");
    let id = accepted[0]["id"].as_str().unwrap();
    for reply in replies.iter().filter(|r| r.status != 202) {
        reply.assert_error(409, "ALREADY_QUEUED");
        assert_eq!(reply.body["error"]["details"]["ticket_id"], id);
    }
    app.settings(json!({ "paused": false })).await;
    assert_eq!(
        app.settled_ticket(&student.token, id).await["state"],
        "enrolled"
    );
    assert_eq!(app.integers("SELECT count(*) FROM enrollments").await, [1]);
}

async fn a_student_can_leave_the_queue_until_the_drain_takes_the_ticket(backend: Backend) {
    let app = TestApp::spawn_queued(backend).await;
    let course = a_course(&app).await;
    let student = app.student().await;
    app.settings(json!({ "paused": true })).await;

    let first = admit(&app, &student.token, course.id).await.expect(202);
    let first_id = first["id"].as_str().unwrap().to_owned();
    // Nobody else can take it out of the queue.
    let other = app.student().await;
    app.delete(&format!("/api/v1/tickets/{first_id}"), Some(&other.token))
        .await
        .assert_error(404, "TICKET_NOT_FOUND");
    let left = app
        .delete(&format!("/api/v1/tickets/{first_id}"), Some(&student.token))
        .await
        .expect(200);
    assert_eq!(left["state"], "cancelled");
    app.delete(&format!("/api/v1/tickets/{first_id}"), Some(&student.token))
        .await
        .assert_error(409, "TICKET_ALREADY_DECIDED");

    // Having left, the student may queue again; the new ticket is behind the old one.
    let second = admit(&app, &student.token, course.id).await.expect(202);
    assert!(second["seq"].as_u64() > first["seq"].as_u64());
    app.settings(json!({ "paused": false })).await;
    let second_id = second["id"].as_str().unwrap();
    assert_eq!(
        app.settled_ticket(&student.token, second_id).await["state"],
        "enrolled"
    );
    app.drained(Duration::from_secs(10)).await;
    let first = app
        .get(&format!("/api/v1/tickets/{first_id}"), Some(&student.token))
        .await
        .expect(200);
    assert_eq!(first["state"], "cancelled", "{first}");
    let decisions = app.decisions().await;
    assert_eq!(decisions.len(), 2, "{decisions:?}");
    assert_eq!(decisions[0].1, "cancelled");
    assert_eq!(decisions[1].1, "enrolled");
    app.delete(
        &format!("/api/v1/tickets/{second_id}"),
        Some(&student.token),
    )
    .await
    .assert_error(409, "TICKET_ALREADY_DECIDED");
}

async fn enrollment_waits_for_the_opening_time(backend: Backend) {
    let app = TestApp::spawn_queued(backend).await;
    let course = a_course(&app).await;
    let student = app.student().await;
    let settings = app
        .settings(json!({ "opens_at": "2099-02-10T10:00:00+09:00" }))
        .await;
    assert_eq!(settings["settings"]["opens_at"], "2099-02-10T01:00:00Z");

    let before = app.row_counts().await;
    let refused = admit(&app, &student.token, course.id).await;
    refused.assert_error(403, "REGISTRATION_NOT_OPEN");
    assert_eq!(
        refused.body["error"]["details"]["opens_at"],
        "2099-02-10T01:00:00Z"
    );
    assert!(
        refused.body["error"]["details"]["seconds_left"]
            .as_f64()
            .unwrap()
            > 1e9
    );
    assert_eq!(app.row_counts().await, before);
    assert_eq!(app.state.queue.status().await.unwrap().last_seq, 0);

    let token = app.admin_token().await;
    app.put(
        "/api/v1/admin/queue",
        Some(&token),
        &json!({ "opens_at": "tomorrow" }),
    )
    .await
    .assert_error(422, "VALIDATION_FAILED");
    app.put(
        "/api/v1/admin/queue",
        Some(&token),
        &json!({ "paused": "yes" }),
    )
    .await
    .assert_error(422, "INVALID_BODY");

    app.settings(json!({ "opens_at": null })).await;
    admit(&app, &student.token, course.id).await.expect(202);
}

async fn the_admission_rate_limit_answers_429(backend: Backend) {
    let app = TestApp::spawn_queued(backend).await;
    let courses: Vec<CourseId> = {
        let mut ids = Vec::new();
        for input in classmate_testkit::non_clashing_courses("RAT", 12) {
            ids.push(app.course(input).await.id);
        }
        ids
    };
    let student = app.student().await;
    app.settings(json!({ "admission_rate": 3 })).await;

    let mut limited = 0;
    let mut queued = 0;
    for course in &courses {
        let reply = admit(&app, &student.token, *course).await;
        match reply.status.as_u16() {
            202 => queued += 1,
            _ => {
                reply.assert_error(429, "RATE_LIMITED");
                assert_eq!(reply.headers["retry-after"], "1");
                assert_eq!(reply.body["error"]["details"]["scope"], "queue");
                limited += 1;
            }
        }
    }
    // Twelve requests span at most a few one-second windows of three each.
    assert!(
        queued >= 3 && limited >= 1,
        "{queued} queued, {limited} limited"
    );
    app.settings(json!({ "admission_rate": 0 })).await;
}

async fn a_cancellation_reopens_a_sold_out_course(backend: Backend) {
    let app = TestApp::spawn_queued(backend).await;
    let course = app
        .course(course_input(
            "CSE2010-01",
            3,
            1,
            &[(Weekday::Mon, 600, 675)],
        ))
        .await;
    let [first, second, third] = [
        app.student().await,
        app.student().await,
        app.student().await,
    ];

    let won = admit(&app, &first.token, course.id).await.expect(202);
    let lost = admit(&app, &second.token, course.id).await.expect(202);
    assert_eq!(
        app.settled_ticket(&first.token, won["id"].as_str().unwrap())
            .await["state"],
        "enrolled"
    );
    let lost = app
        .settled_ticket(&second.token, lost["id"].as_str().unwrap())
        .await;
    assert_eq!(
        (lost["state"].as_str(), lost["code"].as_str()),
        (Some("rejected"), Some("COURSE_FULL"))
    );

    // The course is flagged sold out: answered at admission, with no ticket.
    let refused = admit(&app, &third.token, course.id).await;
    refused.assert_error(409, "COURSE_FULL");
    assert_eq!(refused.body["error"]["details"]["fast_path"], true);

    app.delete(
        &format!("/api/v1/enrollments/{}", course.id),
        Some(&first.token),
    )
    .await
    .expect(204);
    let retry = admit(&app, &third.token, course.id).await.expect(202);
    assert_eq!(
        app.settled_ticket(&third.token, retry["id"].as_str().unwrap())
            .await["state"],
        "enrolled"
    );
    // The first student cancelled and may queue again; the seat is gone by now.
    let again = admit(&app, &first.token, course.id).await;
    assert!(
        again.status == 202 || again.code() == "COURSE_FULL",
        "{}",
        again.body
    );
    app.assert_audit_clean(false).await;
}

async fn operators_see_and_steer_the_queue(backend: Backend) {
    let app = TestApp::spawn_queued(backend).await;
    let course = a_course(&app).await;
    let students = app.students(5).await;
    let token = app.admin_token().await;
    app.get("/api/v1/admin/queue", Some(&students[0].token))
        .await
        .assert_error(403, "FORBIDDEN");
    app.get("/api/v1/admin/queue", None)
        .await
        .assert_error(401, "UNAUTHENTICATED");

    app.settings(json!({ "paused": true })).await;
    for student in &students {
        admit(&app, &student.token, course.id).await.expect(202);
    }
    // The hub reads the queue every 250 ms; the oldest ticket's wait grows with each read.
    let overview = overview_when(&app, &token, |o| {
        o["queue"]["last_seq"] == 5 && o["queue"]["oldest_wait_seconds"].as_f64() > Some(0.1)
    })
    .await;
    assert_eq!(overview["settings"]["paused"], true, "{overview}");
    assert_eq!(overview["queue"]["depth"], 5, "{overview}");
    assert_eq!(overview["queue"]["last_seq"], 5, "{overview}");
    assert_eq!(
        overview["backend"],
        match backend {
            Backend::Postgres => "redis",
            Backend::Sqlite => "memory",
        }
    );
    let status = app
        .get("/api/v1/queue/status", Some(&students[0].token))
        .await
        .expect(200);
    assert_eq!(status["depth"], 5);
    app.get("/api/v1/queue/status", None)
        .await
        .assert_error(401, "UNAUTHENTICATED");

    app.settings(json!({ "paused": false })).await;
    app.drained(Duration::from_secs(10)).await;
    let overview = overview_when(&app, &token, |o| o["queue"]["serving_seq"] == 5).await;
    assert_eq!(overview["queue"]["depth"], 0, "{overview}");
    assert_eq!(overview["queue"]["serving_seq"], 5, "{overview}");
    assert_eq!(overview["queue"]["decided_total"], 5, "{overview}");

    // Direct mode decides in the request.
    app.settings(json!({ "mode": "direct" })).await;
    let other = app
        .course(course_input(
            "CSE3010-01",
            3,
            30,
            &[(Weekday::Fri, 600, 675)],
        ))
        .await;
    app.enroll(&students[0].token, other.id).await.expect(201);
}

/// The drain settles a batch while it decides the next, so at any moment one batch may be in the
/// database and not yet in the queue. A pause must not leave it there: every ticket the database
/// decided shows its outcome while the pause lasts.
async fn a_pause_mid_drain_leaves_no_decided_ticket_unsettled(backend: Backend) {
    let app = TestApp::spawn_in(backend, EnrollmentMode::Queue, |config| {
        config.queue.drain_batch = 5;
    })
    .await;
    let course = app
        .course(course_input(
            "CSE2010-01",
            3,
            1000,
            &[(Weekday::Mon, 600, 675)],
        ))
        .await;
    let students = app.many_students(600).await;
    app.settings(json!({ "paused": true })).await;
    let tickets: Vec<TicketId> = stream::iter(&students)
        .map(|student| async {
            let ticket = admit(&app, &student.token, course.id).await.expect(202);
            ticket["id"].as_str().unwrap().parse::<TicketId>().unwrap()
        })
        .buffer_unordered(32)
        .collect()
        .await;

    app.settings(json!({ "paused": false })).await;
    eventually(Duration::from_secs(10), "the drain decides", || async {
        let decided = app.integers("SELECT count(*) FROM ticket_decisions").await[0];
        (decided >= 50).then_some(())
    })
    .await;
    app.settings(json!({ "paused": true })).await;

    // While it drains, a batch claimed ahead is always `deciding`; once paused, none may be. The
    // drain finishes its batches at once when it sees the pause; within 2 s, because its
    // periodic round (every 5 s) would finish them too.
    let states = eventually(
        Duration::from_secs(2),
        "the paused drain leaves no ticket deciding",
        || async {
            let mut states = BTreeMap::new();
            for id in &tickets {
                let ticket = app.state.queue.ticket(*id).await.unwrap().unwrap();
                *states.entry(ticket.state.as_str()).or_insert(0_u64) += 1;
            }
            (!states.contains_key("deciding")).then_some(states)
        },
    )
    .await;
    let decided = app.integers("SELECT count(*) FROM ticket_decisions").await[0];
    let status = app.state.queue.status().await.unwrap();
    let queued = states.get("queued").copied().unwrap_or(0);
    assert!(
        queued > 0,
        "the pause came after the drain had finished: nothing was tested"
    );
    // Every ticket the database decided is settled in the queue, and no other.
    assert_eq!(
        states["enrolled"],
        u64::try_from(decided).unwrap(),
        "{states:?}"
    );
    assert_eq!(
        status.decided_total,
        u64::try_from(decided).unwrap(),
        "{status:?}"
    );
    assert_eq!(status.depth, queued, "{status:?}");
}

/// `GET /api/v1/admin/queue` once the hub's frame shows what `ready` waits for.
async fn overview_when(app: &TestApp, token: &str, ready: impl Fn(&Value) -> bool) -> Value {
    eventually(
        Duration::from_secs(5),
        "the hub shows the queue",
        || async {
            let overview = app
                .get("/api/v1/admin/queue", Some(token))
                .await
                .expect(200);
            ready(&overview).then_some(overview)
        },
    )
    .await
}

async fn a_ticket_waiting_past_its_lifetime_expires(backend: Backend) {
    let app = TestApp::spawn_in(backend, EnrollmentMode::Queue, |config| {
        config.queue.ticket_ttl = Duration::from_millis(300);
    })
    .await;
    let course = a_course(&app).await;
    let student = app.student().await;
    app.settings(json!({ "paused": true })).await;
    let ticket = admit(&app, &student.token, course.id).await.expect(202);
    // The drain resumes only once the ticket has outlived its lifetime.
    let admitted_at_ms = ticket["admitted_at_ms"].as_i64().unwrap();
    eventually(
        Duration::from_secs(5),
        "the ticket outlives its lifetime",
        || async { (now_ms() > admitted_at_ms + 300).then_some(()) },
    )
    .await;
    app.settings(json!({ "paused": false })).await;

    let id = ticket["id"].as_str().unwrap();
    let expired = app.settled_ticket(&student.token, id).await;
    assert_eq!(expired["state"], "expired", "{expired}");
    assert!(expired["message"].as_str().unwrap().contains("다시 신청"));
    assert_eq!(app.integers("SELECT count(*) FROM enrollments").await, [0]);
    // An expired ticket frees the pair: the student may queue again, and in time this works.
    let again = admit(&app, &student.token, course.id).await.expect(202);
    let again = app
        .settled_ticket(&student.token, again["id"].as_str().unwrap())
        .await;
    assert_eq!(again["state"], "enrolled", "{again}");
}

/// (what, path, body, sent by `student` or `admin`, expected status, expected code).
type BadRequest = (
    &'static str,
    &'static str,
    &'static [u8],
    &'static str,
    u16,
    &'static str,
);

async fn bad_input_to_the_queue_writes_nothing(backend: Backend) {
    let app = TestApp::spawn_queued(backend).await;
    let student = app.student().await;
    let admin = app.admin_token().await;
    let before = app.row_counts().await;
    let settings_before = app.store().queue_settings().await.unwrap();

    let cases: [BadRequest; 10] = [
        (
            "admission, malformed",
            "/api/v1/enrollments",
            b"{\"course_id\": ",
            "student",
            400,
            "MALFORMED_JSON",
        ),
        (
            "admission, a string id",
            "/api/v1/enrollments",
            br#"{"course_id": "1 OR 1=1"}"#,
            "student",
            422,
            "INVALID_BODY",
        ),
        (
            "admission, an array",
            "/api/v1/enrollments",
            b"[1]",
            "student",
            422,
            "INVALID_BODY",
        ),
        (
            "admission, invalid UTF-8",
            "/api/v1/enrollments",
            b"{\"course_id\": \"\xff\"}",
            "student",
            400,
            "MALFORMED_JSON",
        ),
        (
            "admission by an admin",
            "/api/v1/enrollments",
            br#"{"course_id": 1}"#,
            "admin",
            403,
            "FORBIDDEN",
        ),
        (
            "settings, unknown field",
            "/api/v1/admin/queue",
            br#"{"pause": true}"#,
            "admin",
            422,
            "INVALID_BODY",
        ),
        (
            "settings, negative rate",
            "/api/v1/admin/queue",
            br#"{"admission_rate": -1}"#,
            "admin",
            422,
            "INVALID_BODY",
        ),
        (
            "settings, unknown mode",
            "/api/v1/admin/queue",
            br#"{"mode": "lottery"}"#,
            "admin",
            422,
            "INVALID_BODY",
        ),
        (
            "settings, injection as time",
            "/api/v1/admin/queue",
            br#"{"opens_at": "'; DROP TABLE courses; --"}"#,
            "admin",
            422,
            "VALIDATION_FAILED",
        ),
        (
            "settings by a student",
            "/api/v1/admin/queue",
            br#"{"paused": true}"#,
            "student",
            403,
            "FORBIDDEN",
        ),
    ];
    for (name, path, body, who, status, code) in cases {
        let method = match path {
            "/api/v1/admin/queue" => reqwest::Method::PUT,
            _ => reqwest::Method::POST,
        };
        let request = app
            .client
            .request(method, app.url(path))
            .header("content-type", "application/json")
            .body(body.to_vec());
        let token = match who {
            "admin" => admin.as_str(),
            _ => student.token.as_str(),
        };
        let reply = app.send(request, Some(token)).await;
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (status, code),
            "{name}: {}",
            reply.body
        );
        reply.assert_error(status, code);
    }
    for path in [
        "/api/v1/tickets/1-1",
        "/api/v1/tickets/0-0",
        "/api/v1/tickets/99999999999999999999-1",
    ] {
        app.delete(path, Some(&student.token))
            .await
            .assert_error(404, "TICKET_NOT_FOUND");
    }
    app.delete("/api/v1/tickets/1-1", None)
        .await
        .assert_error(401, "UNAUTHENTICATED");
    assert_eq!(app.row_counts().await, before);
    assert_eq!(app.store().queue_settings().await.unwrap(), settings_before);
    assert_eq!(app.state.queue.status().await.unwrap().last_seq, 0);
}

/// The audit reports each broken guarantee when one is forged behind the application's back.
async fn the_audit_finds_what_was_broken(backend: Backend) {
    let app = TestApp::spawn_queued(backend).await;
    let course = a_course(&app).await;
    let [a, b] = [app.student().await, app.student().await];
    assert!(
        app.store()
            .audit(AuditScope { fifo: true })
            .await
            .unwrap()
            .is_empty()
    );

    let c = course.id;
    app.execute(&format!("UPDATE courses SET enrolled = 2 WHERE id = {c}"))
        .await;
    app.execute(&format!(
        "INSERT INTO enrollments (student_id, course_id, enrolled_at, ticket_id) \
         VALUES ({}, {c}, '2026-01-01T00:00:00Z', '1-2')",
        a.id
    ))
    .await;
    for (id, seq, student, state, code) in [
        ("1-1", 1, b.id, "rejected", "'COURSE_FULL'"),
        ("1-2", 2, a.id, "enrolled", "NULL"),
    ] {
        app.execute(&format!(
            "INSERT INTO ticket_decisions (ticket_id, generation, seq, student_id, course_id, \
             state, code, admitted_at_ms, decided_at_ms, epoch) \
             VALUES ('{id}', 1, {seq}, {student}, {c}, '{state}', {code}, 0, 0, 1)"
        ))
        .await;
    }
    let found = |findings: &[classmate_server::store::Finding]| {
        findings.iter().map(|f| f.check).collect::<Vec<_>>()
    };
    let findings = app.store().audit(AuditScope { fifo: true }).await.unwrap();
    assert_eq!(
        found(&findings),
        ["seat_counter_unequal_to_rows", "fifo_inversion"]
    );
    assert_eq!(findings[0].examples, [c.to_string()]);
    assert_eq!(findings[1].examples, ["1-1"]);
    let findings = app.store().audit(AuditScope { fifo: false }).await.unwrap();
    assert_eq!(found(&findings), ["seat_counter_unequal_to_rows"]);

    app.execute("UPDATE ticket_decisions SET state = 'queued' WHERE ticket_id = '1-2'")
        .await;
    let findings = app.store().audit(AuditScope { fifo: false }).await.unwrap();
    assert_eq!(
        found(&findings),
        [
            "seat_counter_unequal_to_rows",
            "enrollment_without_its_enrolled_ticket",
            "decision_not_terminal",
        ]
    );
}

/// Records `tickets` as enrolled in one drain transaction, committed if the store accepts it.
async fn record_enrolled(
    app: &TestApp,
    tickets: Vec<Ticket>,
) -> Result<(), classmate_server::store::StoreError> {
    let epoch = 1_000_000;
    let (mut tx, _) = app.store().begin_drain(epoch, &tickets).await.unwrap();
    let decisions: Vec<(Ticket, Settled)> = tickets
        .iter()
        .map(|t| (t.clone(), Settled::from(t)))
        .collect();
    tx.record(epoch, &decisions).await?;
    tx.commit().await
}

/// The drain decides seats from its snapshot, but the database has the last word: a batch that
/// would put a course over capacity fails whole, and writes nothing.
async fn the_database_refuses_a_batch_that_would_overfill_a_course(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let small = app
        .course(course_input(
            "CSE2010-01",
            3,
            2,
            &[(Weekday::Mon, 600, 675)],
        ))
        .await;
    let roomy = app
        .course(course_input(
            "CSE2020-01",
            3,
            5,
            &[(Weekday::Tue, 600, 675)],
        ))
        .await;
    let students = app.many_students(3).await;
    let batch = |courses: &[CourseId]| -> Vec<Ticket> {
        courses
            .iter()
            .zip(&students)
            .enumerate()
            .map(|(i, (course_id, student))| Ticket {
                id: TicketId {
                    generation: 1,
                    seq: 100 + i as u64,
                },
                student_id: student.id,
                course_id: *course_id,
                state: TicketState::Enrolled,
                admitted_at_ms: 1,
                decided_at_ms: Some(2),
            })
            .collect()
    };

    // Three seats asked of a two-seat course, alongside a course with room.
    let over = record_enrolled(&app, batch(&[small.id, small.id, small.id])).await;
    assert!(
        matches!(over, Err(classmate_server::store::StoreError::SeatsChanged { course_id }) if course_id == small.id),
        "{over:?}"
    );
    assert_eq!(app.integers("SELECT count(*) FROM enrollments").await, [0]);
    assert_eq!(
        app.integers("SELECT count(*) FROM ticket_decisions").await,
        [0]
    );
    assert_eq!(
        app.integers("SELECT CAST(enrolled AS BIGINT) FROM courses ORDER BY id")
            .await,
        [0, 0]
    );

    // Within capacity, one statement takes the seats of both courses.
    record_enrolled(&app, batch(&[small.id, small.id, roomy.id]))
        .await
        .unwrap();
    assert_eq!(
        app.integers("SELECT CAST(enrolled AS BIGINT) FROM courses ORDER BY id")
            .await,
        [2, 1]
    );
    app.assert_audit_clean(true).await;
}

/// A student deleted while their ticket waits: the drain records `STUDENT_NOT_FOUND` (no foreign
/// key keeps a decision from outliving its student) and goes on with the tickets behind it,
/// instead of retrying the batch for ever.
async fn a_ticket_whose_student_is_gone_is_decided_and_the_drain_moves_on(backend: Backend) {
    let app = TestApp::spawn_queued(backend).await;
    let course = a_course(&app).await;
    let [gone, next] = [app.student().await, app.student().await];
    app.settings(json!({ "paused": true })).await;
    let first = admit(&app, &gone.token, course.id).await.expect(202);
    let second = admit(&app, &next.token, course.id).await.expect(202);
    app.execute(&format!("DELETE FROM students WHERE id = {}", gone.id))
        .await;
    app.settings(json!({ "paused": false })).await;

    let decided = app
        .settled_ticket(&next.token, second["id"].as_str().unwrap())
        .await;
    assert_eq!(decided["state"], "enrolled", "{decided}");
    app.drained(Duration::from_secs(10)).await;
    let first_id = first["id"].as_str().unwrap().to_owned();
    let decisions = app.decisions().await;
    assert_eq!(
        decisions[0],
        (
            first_id,
            "rejected".to_owned(),
            Some("STUDENT_NOT_FOUND".to_owned())
        )
    );
    app.assert_audit_clean(true).await;
}

/// The queue remembers an enrollment the database no longer has, as when its write after a
/// cancellation was lost (here the enrollment is removed behind the queue's back): the student
/// is admitted again, not told `ALREADY_ENROLLED` for good.
async fn a_stale_duplicate_check_does_not_keep_a_student_out(backend: Backend) {
    let app = TestApp::spawn_queued(backend).await;
    let course = a_course(&app).await;
    let student = app.student().await;
    let first = admit(&app, &student.token, course.id).await.expect(202);
    let first = app
        .settled_ticket(&student.token, first["id"].as_str().unwrap())
        .await;
    assert_eq!(first["state"], "enrolled");
    app.execute(&format!(
        "DELETE FROM enrollments WHERE student_id = {} AND course_id = {}",
        student.id, course.id
    ))
    .await;
    app.execute(&format!(
        "UPDATE courses SET enrolled = enrolled - 1 WHERE id = {}",
        course.id
    ))
    .await;

    let again = admit(&app, &student.token, course.id).await.expect(202);
    let again = app
        .settled_ticket(&student.token, again["id"].as_str().unwrap())
        .await;
    assert_eq!(again["state"], "enrolled", "{again}");
    // And one the database does hold is still refused at admission.
    admit(&app, &student.token, course.id)
        .await
        .assert_error(409, "ALREADY_ENROLLED");
    app.assert_audit_clean(false).await;
}
