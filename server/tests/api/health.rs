//! Probes, request ids and graceful shutdown.

use std::time::Duration;

use classmate_server::domain::Weekday;
use classmate_testkit::{Backend, TestApp, course_input, on_both_backends};

on_both_backends!(
    probes_answer,
    readiness_names_the_failing_database,
    every_response_carries_a_request_id_and_safety_headers,
    shutdown_lets_in_flight_requests_finish,
    a_request_past_its_deadline_answers_timeout_and_writes_nothing,
);

async fn probes_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.get("/healthz", None).await.expect(200)["status"], "ok");
    assert_eq!(
        app.get("/readyz", None).await.expect(200)["status"],
        "ready"
    );
}

async fn readiness_names_the_failing_database(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.lose_database().await;
    let reply = app.get("/readyz", None).await;
    reply.assert_error(503, "NOT_READY");
    assert_eq!(
        reply.body["error"]["details"]["failing"],
        serde_json::json!(["database"])
    );
    // The failing dependency is named; its raw error (which may name hosts and users) is not.
    let details = reply.body["error"]["details"].as_object().unwrap();
    assert_eq!(
        details.keys().collect::<Vec<_>>(),
        ["failing"],
        "{details:?}"
    );
    // Liveness does not depend on the database.
    app.get("/healthz", None).await.expect(200);
}

async fn every_response_carries_a_request_id_and_safety_headers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for reply in [
        app.get("/healthz", None).await,
        app.get("/nowhere", None).await,
    ] {
        let id = reply.headers.get("x-request-id").expect("a request id");
        assert_eq!(id.to_str().unwrap().len(), 36, "a UUID");
    }
    let given = app
        .send(
            app.client
                .get(app.url("/healthz"))
                .header("x-request-id", "trace-me-42"),
            None,
        )
        .await;
    assert_eq!(
        given.headers["x-request-id"], "trace-me-42",
        "a caller's id is kept"
    );
    // One that is long or not printable is replaced: it would go into every log line.
    let long = "x".repeat(65);
    for hostile in [long.as_str(), "two words", "tab\there"] {
        let request = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", hostile);
        let reply = app.send(request, None).await;
        let id = reply.headers["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 36, "{hostile:?} replaced by a UUID: {id}");
    }
}

async fn shutdown_lets_in_flight_requests_finish(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let course = app
        .course(course_input(
            "SHU1000-01",
            3,
            10,
            &[(Weekday::Mon, 540, 615)],
        ))
        .await;
    let student = app.student().await;
    let lock = app.hold_student_lock(student.id).await;

    // The enrollment starts and blocks on the lock held above.
    let client = app.client.clone();
    let url = app.url("/api/v1/enrollments");
    let token = student.token.clone();
    let in_flight = tokio::spawn(async move {
        client
            .post(url)
            .bearer_auth(token)
            .json(&serde_json::json!({ "course_id": course.id }))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    app.in_flight(1).await;
    assert!(!in_flight.is_finished(), "the request waits for the lock");

    // Shutting down while it waits: the server must not stop until the request is answered,
    // which it can be only once the lock is released.
    let server = app.begin_shutdown();
    assert!(
        !server.is_finished(),
        "the server waits for the request in flight"
    );

    drop(lock);
    let status = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .expect("the request finishes")
        .unwrap()
        .expect("it got an answer");
    assert_eq!(status, 201, "the in-flight enrollment completed");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops after it")
        .unwrap()
        .expect("a clean stop");
    assert_eq!(app.row_counts().await["enrollments"], 1);
}

async fn a_request_past_its_deadline_answers_timeout_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.request_timeout = Duration::from_millis(300);
    })
    .await;
    let course = app
        .course(course_input(
            "DLN1000-01",
            3,
            10,
            &[(Weekday::Mon, 540, 615)],
        ))
        .await;
    let student = app.student().await;

    let lock = app.hold_student_lock(student.id).await;
    app.enroll(&student.token, course.id)
        .await
        .assert_error(503, "TIMEOUT");
    drop(lock);

    // The connection it held is usable again, and the abandoned enrollment never committed:
    // had it, this one would be ALREADY_ENROLLED.
    app.enroll(&student.token, course.id).await.expect(201);
    assert_eq!(app.row_counts().await["enrollments"], 1);
    app.assert_audit_clean(true).await;
}
