//! `classmate serve` and `classmate admin` as an operator runs them: a real process, real signals.

mod support;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use sqlx::{Connection, Executor};

use support::{Server, classmate, post, wait_for};

/// The environment variables `text` names: `CLASSMATE_` and capitals, digits or `_`.
fn variables(text: &str) -> std::collections::BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .filter(|word| word.starts_with("CLASSMATE_") && word.len() > "CLASSMATE_".len())
        .map(str::to_owned)
        .collect()
}

#[test]
fn serve_help_lists_every_setting_with_its_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = classmate(dir.path())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    // The README's configuration table and --help name the same settings.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let table = readme
        .split("## Configuration")
        .nth(1)
        .and_then(|s| s.split("\n\n").find(|p| p.starts_with("| Variable")))
        .expect("the README's configuration table");
    let documented = variables(table);
    let offered: std::collections::BTreeSet<String> = help
        .split("[env: ")
        .skip(1)
        .filter_map(|s| s.split(['=', ']']).next())
        .map(str::to_owned)
        .collect();
    assert!(documented.len() >= 20, "{documented:?}");
    assert_eq!(documented, offered, "the README's table against --help");
    for default in [
        "[default: sqlite://data/classmate.db]",
        "[default: 127.0.0.1:8080]",
        "[default: 18]",
        "[default: 2h]",
        "[default: auto]",
        "[default: 30s]",
    ] {
        assert!(help.contains(default), "{default} in --help");
    }
}

#[test]
fn a_bad_database_url_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "mysql://localhost/db",
        "postgres://postgres:serve-secret@127.0.0.1:1/nothing",
    ] {
        let out = classmate(dir.path())
            .args(["serve", "--database-url", url])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{url}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("classmate: "), "{stderr}");
        assert!(stderr.contains("database"), "{stderr}");
        assert!(!stderr.contains("serve-secret"), "no password: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_default_serves_logs_json_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();

    // An administrator made with `classmate admin create`, the password on standard input.
    let mut create = classmate(dir.path())
        .args(["admin", "create", "--username", "registrar"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    create
        .stdin
        .take()
        .unwrap()
        .write_all(b"registrar-password\n")
        .unwrap();
    let created = create.wait_with_output().unwrap();
    assert!(created.status.success(), "{created:?}");
    assert!(
        dir.path().join("data/classmate.db").exists(),
        "the embedded database"
    );

    // Each request's start is logged too, so the test can tell when one is in flight.
    // Open sign-up: this database has no roster.
    let mut server = Server::start(
        dir.path(),
        &[
            ("CLASSMATE_LOG", "info,tower_http=debug"),
            ("CLASSMATE_SIGNUP", "open"),
        ],
    );
    assert!(
        dir.path().join("data/jwt.key").exists(),
        "the generated key beside the database"
    );
    // The database (with its WAL files) and the key are this user's alone.
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [
            "classmate.db",
            "classmate.db-wal",
            "classmate.db-shm",
            "jwt.key",
        ] {
            let path = dir.path().join("data").join(file);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{file} is mode {mode:o}");
        }
    }
    let api = |path: &str| format!("{}{path}", server.base);

    let (status, admin) = post(
        &client,
        api("/api/v1/auth/admin/login"),
        None,
        json!({"username": "registrar", "password": "registrar-password"}),
    )
    .await;
    assert_eq!(status, 200);
    let admin_token = admin["token"].as_str().unwrap().to_owned();
    let (status, course) = post(&client, api("/api/v1/admin/courses"), Some(&admin_token), json!({
        "code": "SIG1000-01", "title": "운영체제", "department": "컴퓨터공학과", "professor": "이교수",
        "credits": 3, "capacity": 10,
        "meetings": [{"weekday": "FRI", "start_min": 540, "end_min": 615, "room": "IT관 101"}]
    })).await;
    assert_eq!(status, 201, "{course}");
    let (status, _) = post(
        &client,
        api("/api/v1/auth/signup"),
        None,
        json!({
            "student_number": "2025000001", "name": "한가람", "password": "password-123",
            "department": "컴퓨터공학과", "year": 1
        }),
    )
    .await;
    assert_eq!(status, 201);
    let (_, login) = post(
        &client,
        api("/api/v1/auth/login"),
        None,
        json!({"student_number": "2025000001", "password": "password-123"}),
    )
    .await;
    let token = login["token"].as_str().unwrap().to_owned();

    // Every request is logged as JSON with its request id.
    let logged = wait_for(&server.logs, |l| {
        l["message"] == "finished processing request"
    });
    assert!(
        logged["span"]["request_id"]
            .as_str()
            .is_some_and(|id| id.len() == 36),
        "{logged}"
    );
    assert!(
        logged["status"].is_number() && logged["latency"].is_string(),
        "{logged}"
    );

    // Hold SQLite's write lock from another connection so a write (a cart change) is in flight.
    let url = format!(
        "sqlite://{}",
        dir.path().join("data/classmate.db").display()
    );
    let mut blocker = sqlx::SqliteConnection::connect(&url).await.unwrap();
    blocker.execute("BEGIN IMMEDIATE").await.unwrap();
    let in_flight = {
        let (client, url, token) = (client.clone(), api("/api/v1/cart"), token.clone());
        let body = json!({"course_id": course["id"]});
        tokio::spawn(async move { post(&client, url, Some(&token), body).await })
    };
    wait_for(&server.logs, |l| {
        l["message"] == "started processing request" && l["span"]["path"] == "/api/v1/cart"
    });

    server.terminate();
    wait_for(&server.logs, |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("shutting down"))
    });
    assert!(
        server.wait(Duration::from_millis(300)).is_none(),
        "it waits for the request in flight"
    );
    blocker.execute("ROLLBACK").await.unwrap();

    let (status, enrolled) = in_flight.await.unwrap();
    assert_eq!(
        status, 201,
        "the in-flight cart change finished: {enrolled}"
    );
    let exit = server.wait(Duration::from_secs(10)).expect("it stops");
    assert!(exit.success(), "{exit:?}");

    // The key was kept: a token from the first run works on the next.
    let again = Server::start(dir.path(), &[]);
    let me = client
        .get(format!("{}/api/v1/me", again.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}
