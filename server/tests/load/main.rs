//! The load-sized tests: ten thousand admissions for a hundred seats, a thousand WebSockets
//! hearing each drain step, a four-thousand-ticket backlog drained in arrival order. Each runs
//! on PostgreSQL + Redis and on the embedded default. `cargo test --workspace` runs them; the
//! behaviour suite (`--test api`) does not wait for them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use classmate_server::audit::audit;
use classmate_server::domain::Weekday;
use classmate_server::store::AuditScope;
use classmate_testkit::{Backend, Reply, TestApp, course_input, on_both_backends};
use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

on_both_backends!(
    ten_thousand_students_for_one_hundred_seats,
    a_thousand_websockets_hear_each_drain_step,
    a_paused_backlog_drains_in_arrival_order,
);

/// A 3-credit, 30-seat course on Mondays 10:00–11:15.
async fn a_course(app: &TestApp) -> classmate_server::domain::Course {
    app.course(course_input(
        "CSE2010-01",
        3,
        30,
        &[(Weekday::Mon, 600, 675)],
    ))
    .await
}

async fn admit(app: &TestApp, token: &str, course_id: impl serde::Serialize) -> Reply {
    app.enroll(token, course_id).await
}

/// The headline: 10,000 students at once for 100 seats.
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
    let replies: Vec<(usize, Reply)> = stream::iter(students.iter().enumerate())
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
    // The figure itself is measured in release builds (the README's "Measured": 0.10–0.66 s).
    // Here, a debug build beside the other load tests on two shared cores, the bound is loose
    // (a CI run once took 1.36 s): it fails when the fan-out is broken (a socket that hears the
    // step only from its next timeout, or a frame per student), not when the machine is busy.
    let slowest = latest.duration_since(resumed);
    println!("{backend:?}: {SOCKETS} sockets heard the drain step within {slowest:?} of resuming");
    assert!(slowest < Duration::from_secs(3), "{slowest:?}");
    let unique: BTreeSet<_> = students.iter().map(|s| s.id).collect();
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
    let replies: Vec<Reply> = stream::iter(students.iter().enumerate())
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
