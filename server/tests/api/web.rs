//! The web pages over HTTP: Korean pages that send strangers to log in, forms that work without
//! JavaScript, and cross-site forms and WebSockets refused. The browser tests (`e2e/`) drive the
//! same pages in chromium.

use classmate_server::domain::Weekday;
use classmate_testkit::{Backend, TestApp, course_input, on_both_backends};
use reqwest::redirect::Policy;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

on_both_backends!(
    pages_are_korean_and_send_strangers_to_log_in,
    forms_log_in_fill_the_cart_enroll_and_cancel_without_javascript,
    cross_site_posts_are_refused_and_write_nothing,
    cross_origin_websockets_are_refused,
    over_https_the_session_cookie_is_host_prefixed_and_secure,
);

/// A client that shows redirects instead of following them, as a test must see them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("a client")
}

fn location(reply: &reqwest::Response) -> String {
    reply.headers()["location"].to_str().unwrap().to_owned()
}

/// Logs `number` in through the log-in form; the session cookie's `name=value`.
async fn log_in_with_form(app: &TestApp, number: &str) -> String {
    let reply = browser()
        .post(app.url("/login"))
        .form(&[
            ("student_number", number),
            ("password", classmate_testkit::PASSWORD),
            ("next", "/cart"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 303);
    assert_eq!(location(&reply), "/cart");
    let cookie = reply.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("classmate_session="), "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

async fn pages_are_korean_and_send_strangers_to_log_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = browser();
    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(
        (home.status().as_u16(), location(&home)),
        (303, "/login".into())
    );
    let login = client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    let policy = login.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"),
        "{policy}"
    );
    let html = login.text().await.unwrap();
    assert!(html.contains(r#"<html lang="ko">"#));
    assert!(html.contains(r#"<label for="student_number">학번</label>"#));
    for page in [
        "/cart",
        "/courses?q=%EC%9E%90%EB%A3%8C",
        "/queue",
        "/timetable",
    ] {
        let reply = client.get(app.url(page)).send().await.unwrap();
        assert_eq!(reply.status(), 303, "{page}");
        assert!(location(&reply).starts_with("/login?next=%2F"), "{page}");
    }
    let admin = client.get(app.url("/admin")).send().await.unwrap();
    assert!(location(&admin).starts_with("/admin/login"));
    // A student is no administrator.
    let student = app.student().await;
    let cookie = log_in_with_form(&app, &student.number).await;
    let admin = client
        .get(app.url("/admin"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(location(&admin).starts_with("/admin/login"));
    // An empty form is answered in Korean beside its fields, and logs nobody in.
    let empty = client
        .post(app.url("/login"))
        .form(&[("student_number", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 422);
    assert!(empty.headers().get("set-cookie").is_none());
    let html = empty.text().await.unwrap();
    assert!(html.contains("학번을 입력해 주세요") && html.contains("비밀번호를 입력해 주세요"));
    assert!(html.contains(r#"aria-invalid="true""#));
    let static_js = client.get(app.url("/static/app.js")).send().await.unwrap();
    assert_eq!(
        static_js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let missing = client
        .get(app.url("/static/../Cargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

async fn forms_log_in_fill_the_cart_enroll_and_cancel_without_javascript(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let course = app
        .course(course_input(
            "CSE2010-01",
            3,
            30,
            &[(Weekday::Mon, 540, 615)],
        ))
        .await;
    let student = app.student().await;
    let cookie = log_in_with_form(&app, &student.number).await;
    let client = browser();
    let post = |path: &str, form: Vec<(&'static str, String)>| {
        client
            .post(app.url(path))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let id = course.id.0.to_string();
    let added = post(
        "/cart",
        vec![("course_id", id.clone()), ("back", "/courses?q=CSE".into())],
    )
    .await
    .unwrap();
    assert_eq!(
        (added.status().as_u16(), location(&added)),
        (303, "/courses?q=CSE".into())
    );
    let cart = app
        .get("/api/v1/cart", Some(&student.token))
        .await
        .expect(200);
    assert_eq!(cart["items"][0]["course"]["id"], course.id.0);
    // The search page marks what matched.
    let found = client
        .get(app.url("/courses?q=CSE2010"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(
        found
            .text()
            .await
            .unwrap()
            .contains("<mark>CSE2010</mark>-01")
    );
    // The cart page shows it, with the notice the form left.
    let page = client
        .get(app.url("/cart"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("강좌 CSE2010-01"));
    // 신청 (direct mode here), then 수강 취소.
    let asked = post("/enroll", vec![("course_id", id.clone())])
        .await
        .unwrap();
    assert_eq!(
        (asked.status().as_u16(), location(&asked)),
        (303, "/timetable".into())
    );
    let held = app
        .get("/api/v1/enrollments", Some(&student.token))
        .await
        .expect(200);
    assert_eq!(held["items"][0]["course"]["id"], course.id.0);
    let grid = client
        .get(app.url("/timetable"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(
        grid.text().await.unwrap().contains("d0 r0 s5"),
        "Monday 09:00-10:15 on the grid"
    );
    let cancelled = post("/timetable/cancel", vec![("course_id", id)])
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 303);
    let held = app
        .get("/api/v1/enrollments", Some(&student.token))
        .await
        .expect(200);
    assert_eq!(held["items"], json!([]));
    // A form that is not one is refused in the one error shape.
    let bad = client
        .post(app.url("/cart"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("course_id=%FF%FE")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let body: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["code"], "INVALID_BODY");
}

async fn cross_site_posts_are_refused_and_write_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let course = app
        .course(course_input(
            "CSE2010-01",
            3,
            30,
            &[(Weekday::Mon, 540, 615)],
        ))
        .await;
    let student = app.student().await;
    let cookie = log_in_with_form(&app, &student.number).await;
    let client = browser();
    let host = app.address.trim_start_matches("http://").to_owned();
    let id = course.id.0.to_string();
    let foreign: [(&str, &str); 4] = [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "http://evil.test"),
        ("origin", "null"),
    ];
    for (name, value) in foreign {
        let form = client
            .post(app.url("/cart"))
            .header("cookie", &cookie)
            .header(name, value)
            .form(&[("course_id", id.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), 403, "{name}: {value}");
        let body: serde_json::Value = form.json().await.unwrap();
        assert_eq!(body["error"]["code"], "CROSS_SITE_REQUEST");
        assert_eq!(
            body["error"]["message"],
            "다른 사이트에서 보낸 요청은 받지 않습니다"
        );
        let api = app
            .send(
                app.client
                    .post(app.url("/api/v1/cart"))
                    .header("cookie", &cookie)
                    .header(name, value)
                    .json(&json!({"course_id": course.id.0})),
                None,
            )
            .await;
        api.assert_error(403, "CROSS_SITE_REQUEST");
        let logout = client
            .post(app.url("/logout"))
            .header("cookie", &cookie)
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), 403);
    }
    let cart = app
        .get("/api/v1/cart", Some(&student.token))
        .await
        .expect(200);
    assert_eq!(cart["items"], json!([]), "nothing was written");
    // The same post from this server's own page goes through.
    let own = client
        .post(app.url("/cart"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .header("origin", format!("http://{host}"))
        .form(&[("course_id", id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 303);
    let cart = app
        .get("/api/v1/cart", Some(&student.token))
        .await
        .expect(200);
    assert_eq!(cart["items"][0]["course"]["id"], course.id.0);
}

async fn cross_origin_websockets_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let student = app.student().await;
    let cookie = log_in_with_form(&app, &student.number).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let open = |origin: String| {
        let mut request = app
            .url("/api/v1/queue/ws")
            .replacen("http", "ws", 1)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    match open("http://evil.test".into()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
            let body = response.body().as_deref().unwrap_or_default();
            assert!(String::from_utf8_lossy(body).contains("CROSS_SITE_REQUEST"));
        }
        other => panic!(
            "a cross-origin socket was not refused: {:?}",
            other.map(|_| ())
        ),
    }
    let (mut socket, _) = open(format!("http://{host}"))
        .await
        .expect("this server's own page may");
    socket.close(None).await.ok();
}

async fn over_https_the_session_cookie_is_host_prefixed_and_secure(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.cookie_secure = true).await;
    let student = app.student().await;
    let reply = browser()
        .post(app.url("/login"))
        .form(&[
            ("student_number", student.number.as_str()),
            ("password", classmate_testkit::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let cookie = reply.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-classmate_session="), "{cookie}");
    for attribute in ["; Secure", "; Path=/", "; HttpOnly", "; SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    let me = app
        .send(
            app.client
                .get(app.url("/api/v1/me"))
                .header("cookie", &pair),
            None,
        )
        .await;
    assert_eq!(me.status, 200);
    // The unprefixed name, which any subdomain could set, is not read.
    let token = pair.split_once('=').unwrap().1;
    let plain = app
        .send(
            app.client
                .get(app.url("/api/v1/me"))
                .header("cookie", format!("classmate_session={token}")),
            None,
        )
        .await;
    plain.assert_error(401, "UNAUTHENTICATED");
}
