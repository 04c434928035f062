//! Sign up, log in, tokens and cookies, log out, and who may call what.

use classmate_server::auth::{Role, SignUpPolicy};
use serde_json::json;
use time::OffsetDateTime;

use classmate_server::domain::Weekday;
use classmate_testkit::{Backend, TestApp, course_input, on_both_backends};

on_both_backends!(
    sign_up_log_in_browse_cart_enroll_cancel,
    sign_up_claims_a_roster_entry_once_with_one_answer_for_every_miss,
    open_sign_up_refuses_bad_forms_and_taken_numbers,
    log_in_refuses_wrong_passwords_and_unknown_numbers,
    the_session_cookie_is_http_only_and_works,
    log_out_revokes_the_token_and_clears_the_cookie,
    a_logged_out_session_cannot_press_enroll,
    expired_forged_and_missing_tokens_are_refused,
    roles_are_checked,
    admins_log_in_and_see_themselves,
    a_login_rush_past_the_hashing_pool_is_told_busy_and_the_catalog_keeps_answering,
);

async fn sign_up_log_in_browse_cart_enroll_cancel(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let course = app
        .course(course_input(
            "CSE2010-01",
            3,
            30,
            &[(Weekday::Mon, 630, 705), (Weekday::Wed, 630, 705)],
        ))
        .await;

    app.on_roster("2024000123", "박지훈", "컴퓨터공학과", 1)
        .await;
    // A department and year in the form are not the student's to choose: the roster's count.
    let signed_up = app
        .post(
            "/api/v1/auth/signup",
            None,
            &json!({"student_number": "2024000123", "name": "박지훈", "password": "수강신청-화이팅!",
                    "department": "의예과", "year": 6}),
        )
        .await
        .expect(201);
    assert_eq!(signed_up["student_number"], "2024000123");
    assert_eq!(
        (signed_up["department"].as_str(), signed_up["year"].as_u64()),
        (Some("컴퓨터공학과"), Some(1))
    );
    assert!(signed_up.get("password").is_none() && signed_up.get("password_hash").is_none());

    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"student_number": "2024000123", "password": "수강신청-화이팅!"}),
        )
        .await
        .expect(200);
    let token = login["token"].as_str().unwrap().to_owned();
    assert_eq!(login["token_type"], "Bearer");
    assert_eq!(login["profile"]["name"], "박지훈");

    let me = app.get("/api/v1/me", Some(&token)).await.expect(200);
    assert_eq!(
        (me["role"].as_str(), me["year"].as_u64()),
        (Some("student"), Some(1))
    );

    let catalog = app.get("/api/v1/courses", None).await.expect(200);
    assert_eq!(catalog["total"], 1);
    assert_eq!(
        catalog["items"][0]["meetings"][1]["label"],
        "수 10:30-11:45"
    );

    let cart = app.add_to_cart(&token, course.id).await.expect(201);
    assert_eq!(cart["cart_credits"], 3);

    let enrolled = app.enroll(&token, course.id).await.expect(201);
    assert_eq!(enrolled["course"]["code"], "CSE2010-01");
    assert_eq!(enrolled["course"]["seats_left"], 29);
    let cart = app.get("/api/v1/cart", Some(&token)).await.expect(200);
    assert_eq!(
        cart["items"][0]["enrolled"], true,
        "the cart shows it is held"
    );
    assert_eq!(
        (
            cart["cart_credits"].as_u64(),
            cart["enrolled_credits"].as_u64()
        ),
        (Some(0), Some(3))
    );

    app.delete(&format!("/api/v1/enrollments/{}", course.id), Some(&token))
        .await
        .expect(204);
    let after = app
        .get(&format!("/api/v1/courses/{}", course.id), None)
        .await
        .expect(200);
    assert_eq!(after["seats_left"], 30, "cancel gives the seat back");
    let held = app
        .get("/api/v1/enrollments", Some(&token))
        .await
        .expect(200);
    assert_eq!(held["items"], json!([]));
    assert_eq!(held["total_credits"], 0);
}

async fn sign_up_claims_a_roster_entry_once_with_one_answer_for_every_miss(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.on_roster("2023111111", "최유나", "경영학과", 3).await;
    app.on_roster("2023111112", "Smith John", "경영학과", 2)
        .await;
    let form = |number: &str, name: &str| json!({"student_number": number, "name": name, "password": "password-1"});
    // Unknown, misspelt and (below) claimed get the same answer, so it tells nobody which
    // numbers exist.
    let unknown = app
        .post("/api/v1/auth/signup", None, &form("2023999999", "최유나"))
        .await;
    unknown.assert_error(403, "NOT_ON_ROSTER");
    let misspelt = app
        .post("/api/v1/auth/signup", None, &form("2023111111", "최유리"))
        .await;
    assert_eq!(
        (misspelt.status, &misspelt.body),
        (unknown.status, &unknown.body)
    );
    assert_eq!(app.row_counts().await["students"], 0);

    // Many at once for one entry: the first claim wins, the rest are told as above.
    let claim = form("2023111111", "최유나");
    let claims = (0..8).map(|_| app.post("/api/v1/auth/signup", None, &claim));
    let replies = futures_util::future::join_all(claims).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    for reply in replies.iter().filter(|r| r.status != 201) {
        assert_eq!((reply.status, &reply.body), (unknown.status, &unknown.body));
    }
    // Runs of spaces in a name are one space.
    app.post(
        "/api/v1/auth/signup",
        None,
        &form("2023111112", " Smith   John "),
    )
    .await
    .expect(201);
    assert_eq!(app.row_counts().await["students"], 2);

    let bad = json!({"student_number": "12", "name": " ", "password": "short"});
    let reply = app.post("/api/v1/auth/signup", None, &bad).await;
    reply.assert_error(422, "VALIDATION_FAILED");
    assert_eq!(
        reply.invalid_fields(),
        ["student_number", "name", "password"]
    );
    assert_eq!(app.row_counts().await["students"], 2);
}

async fn open_sign_up_refuses_bad_forms_and_taken_numbers(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.signup = SignUpPolicy::Open).await;
    let form = json!({"student_number": "2023111111", "name": "최유나", "password": "password-1",
                      "department": "경영학과", "year": 3});
    app.post("/api/v1/auth/signup", None, &form)
        .await
        .expect(201);
    app.post("/api/v1/auth/signup", None, &form)
        .await
        .assert_error(409, "STUDENT_NUMBER_TAKEN");

    let bad = json!({"student_number": "12", "name": " ", "password": "short",
                     "department": "", "year": 9});
    let reply = app.post("/api/v1/auth/signup", None, &bad).await;
    reply.assert_error(422, "VALIDATION_FAILED");
    let fields = reply.invalid_fields();
    assert_eq!(
        fields,
        ["student_number", "name", "department", "year", "password"]
    );
    // Open sign-up needs the department and year the roster would have given.
    let bare = json!({"student_number": "2023111112", "name": "최유나", "password": "password-1"});
    let reply = app.post("/api/v1/auth/signup", None, &bare).await;
    reply.assert_error(422, "VALIDATION_FAILED");
    assert_eq!(reply.invalid_fields(), ["department", "year"]);
    assert_eq!(app.row_counts().await["students"], 1);
}

async fn log_in_refuses_wrong_passwords_and_unknown_numbers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let student = app.student().await;
    let attempts = [
        json!({"student_number": student.number, "password": "wrong-password"}),
        json!({"student_number": "2099999999", "password": classmate_testkit::PASSWORD}),
        json!({"student_number": "not-a-number", "password": classmate_testkit::PASSWORD}),
    ];
    for attempt in attempts {
        let reply = app.post("/api/v1/auth/login", None, &attempt).await;
        reply.assert_error(401, "INVALID_CREDENTIALS");
        assert!(reply.headers.get("set-cookie").is_none());
    }
    let ok = json!({"student_number": student.number, "password": classmate_testkit::PASSWORD});
    app.post("/api/v1/auth/login", None, &ok).await.expect(200);
}

async fn the_session_cookie_is_http_only_and_works(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let student = app.student().await;
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"student_number": student.number, "password": classmate_testkit::PASSWORD}),
        )
        .await;
    let cookie = login.headers["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=7200"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(
        pair,
        format!(
            "classmate_session={}",
            login.body["token"].as_str().unwrap()
        )
    );
    let me = app
        .send(
            app.client
                .get(app.url("/api/v1/me"))
                .header("cookie", format!("theme=dark; {pair}")),
            None,
        )
        .await
        .expect(200);
    assert_eq!(me["id"], student.id.0);
}

async fn log_out_revokes_the_token_and_clears_the_cookie(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let student = app.student().await;
    let other = app.token_of(student.id);
    let reply = app
        .post("/api/v1/auth/logout", Some(&student.token), &json!({}))
        .await;
    assert_eq!(reply.status, 204);
    let cleared = reply.headers["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("classmate_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    app.get("/api/v1/me", Some(&student.token))
        .await
        .assert_error(401, "TOKEN_REVOKED");
    app.get("/api/v1/cart", Some(&student.token))
        .await
        .assert_error(401, "TOKEN_REVOKED");
    // Only that session ended.
    app.get("/api/v1/me", Some(&other)).await.expect(200);
}

/// Presses of 신청 check the session in the queue's admission itself (on Redis) or before it:
/// a logged-out token is refused either way, with nothing queued, in queue and direct mode.
async fn a_logged_out_session_cannot_press_enroll(backend: Backend) {
    let app = TestApp::spawn_queued(backend).await;
    let seen = app
        .course(course_input(
            "OUT1000-01",
            3,
            30,
            &[(Weekday::Mon, 540, 600)],
        ))
        .await;
    let unseen = app
        .course(course_input(
            "OUT1001-01",
            3,
            30,
            &[(Weekday::Tue, 540, 600)],
        ))
        .await;
    let (student, classmate) = (app.student().await, app.student().await);
    // This process has seen the course, so the next presses for it ask the queue at once.
    app.enroll(&classmate.token, seen.id).await.expect(202);
    let still_in = app.token_of(student.id);
    app.post("/api/v1/auth/logout", Some(&student.token), &json!({}))
        .await
        .expect(204);

    app.enroll(&student.token, seen.id)
        .await
        .assert_error(401, "TOKEN_REVOKED");
    app.enroll(&student.token, unseen.id)
        .await
        .assert_error(401, "TOKEN_REVOKED");
    let tickets = app
        .get("/api/v1/tickets", Some(&still_in))
        .await
        .expect(200);
    assert_eq!(tickets["items"].as_array().unwrap().len(), 0, "{tickets}");
    // The student's other session still presses.
    app.enroll(&still_in, seen.id).await.expect(202);

    app.settings(json!({ "mode": "direct" })).await;
    app.enroll(&student.token, unseen.id)
        .await
        .assert_error(401, "TOKEN_REVOKED");
    app.enroll(&still_in, unseen.id).await.expect(201);
}

async fn expired_forged_and_missing_tokens_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let student = app.student().await;
    let course = app
        .course(course_input(
            "TOK1000-01",
            3,
            5,
            &[(Weekday::Fri, 540, 600)],
        ))
        .await;
    let before = app.row_counts().await;

    let expired = app
        .state
        .tokens
        .issue_at(
            student.id.0,
            Role::Student,
            OffsetDateTime::now_utc() - time::Duration::hours(3),
        )
        .token;
    let (head, rest) = student.token.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    use base64::Engine;
    let promoted = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        r#"{{"sub":{},"role":"admin","iat":0,"exp":9999999999,"jti":"x","iss":"classmate"}}"#,
        student.id
    ));
    let forged = format!("{head}.{promoted}.{signature}");
    let none_alg = format!(
        "{}.{promoted}.",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
    );
    let body = json!({"course_id": course.id});
    let cases: [(Option<&str>, u16, &str); 5] = [
        (None, 401, "UNAUTHENTICATED"),
        (Some(&expired), 401, "TOKEN_EXPIRED"),
        (Some(&forged), 401, "INVALID_TOKEN"),
        (Some(&none_alg), 401, "INVALID_TOKEN"),
        (Some("garbage"), 401, "INVALID_TOKEN"),
    ];
    for (token, status, code) in cases {
        let reply = app.post("/api/v1/enrollments", token, &body).await;
        reply.assert_error(status, code);
        assert_eq!(reply.headers["www-authenticate"], "Bearer");
        app.post("/api/v1/admin/courses", token, &json!({}))
            .await
            .assert_error(status, code);
    }
    let basic = app
        .send(
            app.client
                .get(app.url("/api/v1/me"))
                .header("authorization", "Basic dXNlcjpwYXNz"),
            None,
        )
        .await;
    basic.assert_error(401, "INVALID_TOKEN");
    assert_eq!(app.row_counts().await, before, "nothing was written");
}

async fn roles_are_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let student = app.student().await;
    let admin = app.admin_token().await;
    let course = app
        .course(course_input(
            "ROL1000-01",
            3,
            5,
            &[(Weekday::Fri, 540, 600)],
        ))
        .await;
    let input = serde_json::to_value(course_input(
        "ROL2000-01",
        3,
        5,
        &[(Weekday::Fri, 700, 760)],
    ))
    .unwrap();

    app.post("/api/v1/admin/courses", Some(&student.token), &input)
        .await
        .assert_error(403, "FORBIDDEN");
    app.put(
        &format!("/api/v1/admin/courses/{}", course.id),
        Some(&student.token),
        &input,
    )
    .await
    .assert_error(403, "FORBIDDEN");
    app.enroll(&admin, course.id)
        .await
        .assert_error(403, "FORBIDDEN");
    app.get("/api/v1/cart", Some(&admin))
        .await
        .assert_error(403, "FORBIDDEN");
    assert_eq!(app.row_counts().await["courses"], 1);
}

async fn admins_log_in_and_see_themselves(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.admin_username = Some("registrar".into());
        config.admin_password = Some("registrar-password".to_owned().into());
    })
    .await;
    let login = app
        .post(
            "/api/v1/auth/admin/login",
            None,
            &json!({"username": "registrar", "password": "registrar-password"}),
        )
        .await
        .expect(200);
    let token = login["token"].as_str().unwrap();
    let me = app.get("/api/v1/me", Some(token)).await.expect(200);
    assert_eq!(
        (me["role"].as_str(), me["username"].as_str()),
        (Some("admin"), Some("registrar"))
    );
    app.post(
        "/api/v1/auth/admin/login",
        None,
        &json!({"username": "registrar", "password": "wrong-password"}),
    )
    .await
    .assert_error(401, "INVALID_CREDENTIALS");
}

/// One hashing worker and a line of two: of many simultaneous log-ins, those past the line are
/// answered 503 BUSY at once (with Retry-After), the rest log in, nothing else comes back, and
/// the catalog answers while they wait.
async fn a_login_rush_past_the_hashing_pool_is_told_busy_and_the_catalog_keeps_answering(
    backend: Backend,
) {
    let app = TestApp::spawn_with(backend, |config| {
        config.hash_workers = 1;
        config.hash_queue = 2;
    })
    .await;
    let students = app.many_students(24).await;
    let logins = students.iter().map(|student| {
        let body =
            json!({"student_number": student.number, "password": classmate_testkit::PASSWORD});
        let request = app.client.post(app.url("/api/v1/auth/login")).json(&body);
        app.send(request, None)
    });
    let catalog = async {
        let mut statuses = Vec::new();
        for _ in 0..10 {
            statuses.push(app.get("/api/v1/courses", None).await.status.as_u16());
        }
        statuses
    };
    let (replies, catalog) =
        futures_util::future::join(futures_util::future::join_all(logins), catalog).await;

    let mut logged_in = 0;
    let mut busy = 0;
    for reply in &replies {
        match reply.status.as_u16() {
            200 => logged_in += 1,
            _ => {
                reply.assert_error(503, "BUSY");
                let after = &reply.body["error"]["details"]["retry_after_seconds"];
                assert!((1..=30).contains(&after.as_u64().unwrap()), "{after}");
                assert_eq!(reply.headers["retry-after"], after.to_string().as_str());
                busy += 1;
            }
        }
    }
    println!("{backend:?}: {logged_in} logged in, {busy} told BUSY");
    assert!(
        logged_in >= 3,
        "the workers and the line log in: {logged_in}"
    );
    assert!(busy >= 1, "past the line, BUSY: {logged_in} logged in");
    assert_eq!(catalog, [200; 10], "the catalog answered meanwhile");
    // The pool is free again afterwards.
    let again =
        json!({"student_number": students[0].number, "password": classmate_testkit::PASSWORD});
    app.post("/api/v1/auth/login", None, &again)
        .await
        .expect(200);
}
