//! The fair waiting queue through HTTP: admission, the drain, tickets, leaving, the operator's
//! settings and the live WebSocket, on PostgreSQL + Redis and on the embedded default.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::kit::{Backend, TestApp, course_input};
use classmate_server::audit::audit;
use classmate_server::domain::{Course, Weekday};
use classmate_server::queue::{Settled, Ticket, TicketId, TicketState};
use classmate_server::store::{AuditScope, EnrollmentMode};

on_both_backends!(
    an_admitted_ticket_is_decided_by_the_drain,
    the_queue_enforces_every_rule,
    ten_thousand_students_for_one_hundred_seats,
    one_pair_admitted_fifty_times_makes_one_ticket,
    a_student_can_leave_the_queue_until_the_drain_takes_the_ticket,
    enrollment_waits_for_the_opening_time,
    the_admission_rate_limit_answers_429,
    a_cancellation_reopens_a_sold_out_course,
    operators_see_and_steer_the_queue,
    a_thousand_websockets_hear_each_drain_step,
    a_paused_backlog_drains_in_arrival_order,
    a_ticket_waiting_past_its_lifetime_expires,
    bad_input_to_the_queue_writes_nothing,
    the_audit_finds_what_was_broken,
    the_database_refuses_a_batch_that_would_overfill_a_course,
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

async fn admit(app: &TestApp, token: &str, course_id: i64) -> crate::kit::Reply {
    app.enroll(token, course_id).await
}

async fn an_admitted_ticket_is_decided_by_the_drain(backend: Backend) {
    let app = TestApp::spawn_queued(backend).await;
    let course = a_course(&app).await;
    let student = app.student().await;

    let ticket = admit(&app, &student.token, course.id).await.expect(202);
    assert_eq!(ticket["state"], "queued");
    assert_eq!(ticket["course_id"], course.id);
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

    let enrolled = app
        .get("/api/v1/enrollments", Some(&student.token))
        .await
        .expect(200);
    assert_eq!(enrolled["items"][0]["course"]["id"], course.id);
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

/// The issue's headline: 10,000 students at once for 100 seats.
async fn ten_thousand_students_for_one_hundred_seats(backend: Backend) {
    const STUDENTS: usize = 10_000;
    const SEATS: i64 = 100;
    let app = TestApp::spawn_queued(backend).await;
    let course = app
        .course(course_input(
            "HOT1000-01",
            3,
            SEATS,
            &[(Weekday::Tue, 600, 675)],
        ))
        .await;
    let students = app.many_students(STUDENTS).await;

    let started = Instant::now();
    let replies: Vec<(usize, crate::kit::Reply)> = stream::iter(students.iter().enumerate())
        .map(|(i, student)| {
            let app = &app;
            async move { (i, admit(app, &student.token, course.id).await) }
        })
        .buffer_unordered(256)
        .collect()
        .await;
    let admitted_in = started.elapsed();

    let mut tickets: BTreeMap<u64, (usize, String)> = BTreeMap::new();
    let mut fast_path = 0;
    for (i, reply) in &replies {
        match reply.status.as_u16() {
            202 => {
                let seq = reply.body["seq"].as_u64().unwrap();
                let id = reply.body["id"].as_str().unwrap().to_owned();
                assert!(tickets.insert(seq, (*i, id)).is_none(), "seq {seq} twice");
            }
            409 => {
                reply.assert_error(409, "COURSE_FULL");
                assert_eq!(reply.body["error"]["details"]["fast_path"], true);
                fast_path += 1;
            }
            other => panic!("admission answered {other}: {}", reply.body),
        }
    }
    assert_eq!(tickets.len() + fast_path, STUDENTS);

    app.drained(Duration::from_secs(120)).await;
    let decided_in = started.elapsed();

    // Every ticket is terminal and on record; the seats went to the lowest sequence numbers.
    let decisions = app.decisions().await;
    assert_eq!(decisions.len(), tickets.len(), "every ticket decided once");
    let by_id: BTreeMap<&str, (&str, Option<&str>)> = decisions
        .iter()
        .map(|(id, state, code)| (id.as_str(), (state.as_str(), code.as_deref())))
        .collect();
    let mut enrolled_seqs = Vec::new();
    let mut full = 0;
    for (seq, (_, id)) in &tickets {
        match by_id[id.as_str()] {
            ("enrolled", None) => enrolled_seqs.push(*seq),
            ("rejected", Some("COURSE_FULL")) => full += 1,
            other => panic!("ticket {id}: {other:?}"),
        }
    }
    let lowest: Vec<u64> = tickets.keys().copied().take(SEATS as usize).collect();
    assert_eq!(enrolled_seqs, lowest, "the 100 lowest sequence numbers won");
    assert_eq!(full + fast_path, STUDENTS - SEATS as usize);
    assert_eq!(
        app.integers(&format!(
            "SELECT CAST(enrolled AS BIGINT) FROM courses WHERE id = {}",
            course.id
        ))
        .await,
        [SEATS]
    );
    assert_eq!(
        app.integers("SELECT count(*) FROM enrollments").await,
        [SEATS]
    );
    let findings = audit(
        app.store(),
        app.state.queue.as_ref(),
        AuditScope { fifo: true },
    )
    .await
    .unwrap();
    assert!(findings.is_empty(), "{findings:?}");

    // Spot-check that students read the same outcome the database holds.
    for (seq, (i, id)) in tickets.iter().take(3).chain(tickets.iter().rev().take(3)) {
        let ticket = app.settled_ticket(&students[*i].token, id).await;
        assert_eq!(ticket["seq"], *seq);
        assert_eq!(ticket["state"], by_id[id.as_str()].0);
    }
    println!(
        "{backend:?}: {STUDENTS} admissions in {:.2} s ({:.0}/s), {} queued, {fast_path} \
         answered COURSE_FULL by the fast path, the last decided {:.2} s after the first admission",
        admitted_in.as_secs_f64(),
        STUDENTS as f64 / admitted_in.as_secs_f64(),
        tickets.len(),
        decided_in.as_secs_f64(),
    );
}

async fn one_pair_admitted_fifty_times_makes_one_ticket(backend: Backend) {
    let app = TestApp::spawn_queued(backend).await;
    let course = a_course(&app).await;
    let student = app.student().await;
    app.settings(json!({ "paused": true })).await;

    let replies: Vec<crate::kit::Reply> = stream::iter(0..50)
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
    let courses: Vec<i64> = {
        let mut ids = Vec::new();
        for input in crate::kit::non_clashing_courses("RAT", 12) {
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
    // The hub reads the queue every 250 ms.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let overview = app
        .get("/api/v1/admin/queue", Some(&token))
        .await
        .expect(200);
    assert_eq!(overview["settings"]["paused"], true, "{overview}");
    assert_eq!(overview["queue"]["depth"], 5, "{overview}");
    assert_eq!(overview["queue"]["last_seq"], 5, "{overview}");
    assert!(overview["queue"]["oldest_wait_seconds"].as_f64().unwrap() > 0.1);
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
    tokio::time::sleep(Duration::from_millis(600)).await;
    let overview = app
        .get("/api/v1/admin/queue", Some(&token))
        .await
        .expect(200);
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

/// 1,000 sockets; each must hear "now serving" pass a ticket within a second of the drain
/// step that decided it.
async fn a_thousand_websockets_hear_each_drain_step(backend: Backend) {
    const SOCKETS: usize = 1_000;
    let app = TestApp::spawn_queued(backend).await;
    let course = a_course(&app).await;
    let students = app.many_students(SOCKETS).await;
    let ws_url = app.url("/api/v1/queue/ws").replacen("http", "ws", 1);

    // A socket without a token is refused before the upgrade.
    let refused = tokio_tungstenite::connect_async(ws_url.as_str()).await;
    assert!(refused.is_err());

    let mut sockets = Vec::with_capacity(SOCKETS);
    for student in &students {
        let mut request = ws_url.as_str().into_client_request().unwrap();
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", student.token).parse().unwrap(),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("a WebSocket");
        sockets.push(socket);
    }
    app.settings(json!({ "paused": true })).await;
    let ticket = admit(&app, &students[0].token, course.id).await.expect(202);
    let seq = ticket["seq"].as_u64().unwrap();

    let waiters: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, mut socket)| {
            tokio::spawn(async move {
                let mut own_result = i != 0;
                let mut served_at = None;
                while served_at.is_none() || !own_result {
                    let Some(Ok(Message::Text(text))) = socket.next().await else {
                        panic!("socket {i} closed");
                    };
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    match frame["type"].as_str() {
                        Some("status") if frame["serving_seq"].as_u64() >= Some(seq) => {
                            served_at.get_or_insert_with(Instant::now);
                        }
                        Some("ticket") => {
                            assert_eq!(i, 0, "only the ticket's student hears of it");
                            assert_eq!(frame["state"], "enrolled");
                            own_result = true;
                        }
                        _ => {}
                    }
                }
                let _ = socket.send(Message::Close(None)).await;
                served_at.unwrap()
            })
        })
        .collect();

    let resumed = Instant::now();
    app.settings(json!({ "paused": false })).await;
    let mut latest = resumed;
    for waiter in waiters {
        let heard = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("every socket hears the step")
            .unwrap();
        latest = latest.max(heard);
    }
    // The drain's step itself takes milliseconds after resuming; allow it 250 ms on top of the
    // one second the issue gives the fan-out.
    let slowest = latest.duration_since(resumed);
    println!("{backend:?}: {SOCKETS} sockets heard the drain step within {slowest:?} of resuming");
    assert!(slowest < Duration::from_millis(1250), "{slowest:?}");
    let unique: BTreeSet<i64> = students.iter().map(|s| s.id).collect();
    assert_eq!(unique.len(), SOCKETS);
}

/// A backlog built while draining is paused, then drained: the drain's own rate, and FIFO per
/// course across many batches.
async fn a_paused_backlog_drains_in_arrival_order(backend: Backend) {
    const STUDENTS: usize = 4_000;
    let app = TestApp::spawn_queued(backend).await;
    let mut courses = Vec::new();
    for i in 0..20 {
        let day = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ][i % 5];
        let start = 540 + (i / 5) as i64 * 90;
        let input = course_input(
            &format!("BKL{:04}-01", 1000 + i),
            3,
            50,
            &[(day, start, start + 75)],
        );
        courses.push(app.course(input).await.id);
    }
    let students = app.many_students(STUDENTS).await;
    app.settings(json!({ "paused": true })).await;
    let started = Instant::now();
    let replies: Vec<crate::kit::Reply> = stream::iter(students.iter().enumerate())
        .map(|(i, student)| admit(&app, &student.token, courses[i % courses.len()]))
        .buffer_unordered(256)
        .collect()
        .await;
    let admitted_in = started.elapsed();
    assert!(replies.iter().all(|r| r.status == 202));

    let resumed = Instant::now();
    app.settings(json!({ "paused": false })).await;
    app.drained(Duration::from_secs(120)).await;
    let drained_in = resumed.elapsed();

    assert_eq!(app.decisions().await.len(), STUDENTS);
    assert_eq!(
        app.integers("SELECT count(*) FROM enrollments").await,
        [20 * 50]
    );
    let inversions = app
        .integers(
            "SELECT count(*) FROM ticket_decisions f WHERE f.code = 'COURSE_FULL' AND EXISTS \
             (SELECT 1 FROM ticket_decisions e WHERE e.state = 'enrolled' \
             AND e.course_id = f.course_id AND e.seq > f.seq)",
        )
        .await;
    assert_eq!(
        inversions,
        [0],
        "no later ticket won a seat an earlier one was refused"
    );
    app.assert_audit_clean(true).await;
    println!(
        "{backend:?}: {STUDENTS} admissions in {:.2} s ({:.0}/s); the backlog drained in {:.2} s \
         ({:.0} decisions/s)",
        admitted_in.as_secs_f64(),
        STUDENTS as f64 / admitted_in.as_secs_f64(),
        drained_in.as_secs_f64(),
        STUDENTS as f64 / drained_in.as_secs_f64(),
    );
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
    tokio::time::sleep(Duration::from_millis(500)).await;
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
    let batch = |courses: &[i64]| -> Vec<Ticket> {
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
                code: None,
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
