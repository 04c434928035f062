//! `classmate seed` as an operator runs it, on SQLite and on a real PostgreSQL.

mod support;

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};
use support::{Server, classmate, get, post};

fn seed(dir: &Path, args: &[&str]) -> Output {
    classmate(dir).arg("seed").args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("data/seed-manifest.json")).unwrap()).unwrap()
}

/// Logs the first student of the seed in `dir` in with the manifest's password; their token.
async fn log_in_first_student(
    client: &reqwest::Client,
    base: &str,
    dir: &Path,
    manifest: &Value,
) -> String {
    let students = std::fs::read_to_string(dir.join("data/seed-students.csv")).unwrap();
    let first = students.lines().nth(1).unwrap();
    let number = first.split(',').nth(1).unwrap();
    let (status, login) = post(
        client,
        format!("{base}/api/v1/auth/login"),
        None,
        json!({ "student_number": number, "password": manifest["password"] }),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    login["token"].as_str().unwrap().to_owned()
}

async fn rows(url: &str, sql: &str) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let rows: Vec<(String,)> = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
    rows.into_iter().map(|(r,)| r).collect()
}

#[tokio::test]
async fn the_same_seed_gives_the_same_data_and_a_working_system() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&a, &b] {
        let out = seed(
            dir.path(),
            &["--courses", "400", "--students", "300", "--seed", "5"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("400 courses"));
    }
    let dump = "SELECT subject || '-' || section || '|' || title || '|' || professor || '|' || \
                capacity || '|' || meetings FROM courses ORDER BY id";
    let url = |dir: &tempfile::TempDir| {
        format!(
            "sqlite://{}",
            dir.path().join("data/classmate.db").display()
        )
    };
    let courses = rows(&url(&a), dump).await;
    assert_eq!(courses.len(), 400);
    assert_eq!(
        courses,
        rows(&url(&b), dump).await,
        "same seed, same catalog"
    );
    let people = "SELECT student_number || name || department || year FROM students ORDER BY id";
    assert_eq!(rows(&url(&a), people).await, rows(&url(&b), people).await);

    let (ma, mb) = (manifest(a.path()), manifest(b.path()));
    assert_eq!(ma["hot_courses"], mb["hot_courses"]);
    assert_eq!(ma["courses"], 400);
    assert_eq!(ma["students"], 300);
    assert_eq!(ma["seed"], 5);
    assert!(!ma["hot_courses"].as_array().unwrap().is_empty());
    let students = std::fs::read_to_string(a.path().join("data/seed-students.csv")).unwrap();
    assert_eq!(students.lines().count(), 301);
    // 100 more on the roster, listed for trying sign-up; nobody among them has an account.
    assert_eq!(ma["unclaimed"], 100);
    let unclaimed = std::fs::read_to_string(a.path().join("data/seed-unclaimed.csv")).unwrap();
    assert_eq!(unclaimed.lines().count(), 101);
    assert_eq!(
        rows(&url(&a), "SELECT CAST(count(*) AS TEXT) FROM roster").await,
        ["400"]
    );

    // Again without --reset: refused, nothing changed. --reset needs --yes off a terminal.
    let out = seed(a.path(), &["--courses", "10", "--students", "10"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--reset"), "{}", stderr(&out));
    let out = seed(
        a.path(),
        &["--courses", "10", "--students", "10", "--reset"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(
        rows(&url(&a), "SELECT CAST(count(*) AS TEXT) FROM courses").await,
        ["400"]
    );

    // A seeded student logs in with the manifest's password and queues for a hot course.
    let server = Server::start(a.path(), &[]);
    let client = reqwest::Client::new();
    let token = log_in_first_student(&client, &server.base, a.path(), &ma).await;
    let hot = ma["hot_courses"][0]["id"].as_i64().unwrap();
    let (status, ticket) = post(
        &client,
        format!("{}/api/v1/enrollments", server.base),
        Some(&token),
        json!({ "course_id": hot }),
    )
    .await;
    assert_eq!(status, 202, "{ticket}");

    // An unclaimed entry signs up once, with the roster's department and year.
    let entry: Vec<&str> = unclaimed.lines().nth(1).unwrap().split(',').collect();
    let form = json!({"student_number": entry[0], "name": entry[1], "password": "my-own-password"});
    let signup = format!("{}/api/v1/auth/signup", server.base);
    let (status, student) = post(&client, signup.clone(), None, form.clone()).await;
    assert_eq!(status, 201, "{student}");
    assert_eq!(student["department"], entry[2]);
    let (status, again) = post(&client, signup, None, form).await;
    assert_eq!(
        (status, &again["error"]["code"]),
        (403, &json!("NOT_ON_ROSTER"))
    );

    // --reset --yes replaces everything.
    drop(server);
    let last_before_reset: i64 = rows(&url(&a), "SELECT CAST(max(id) AS TEXT) FROM students").await
        [0]
    .parse()
    .unwrap();
    let out = seed(
        a.path(),
        &["--courses", "50", "--students", "20", "--reset", "--yes"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        rows(&url(&a), "SELECT CAST(count(*) AS TEXT) FROM courses").await,
        ["50"]
    );
    assert_eq!(
        rows(&url(&a), "SELECT CAST(count(*) AS TEXT) FROM enrollments").await,
        ["0"]
    );
    // A token from before the reset does not act as a new student: ids are never given twice.
    let server = Server::start(a.path(), &[]);
    let me = client
        .get(format!("{}/api/v1/me", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    let first = rows(&url(&a), "SELECT CAST(min(id) AS TEXT) FROM students").await;
    assert!(
        first[0].parse::<i64>().unwrap() > last_before_reset,
        "new students got new ids, after the {last_before_reset} before: {first:?}"
    );
    assert_eq!(
        rows(&url(&a), "SELECT CAST(count(*) AS TEXT) FROM roster").await,
        ["120"],
        "the old roster went with the reset"
    );
}

#[tokio::test]
async fn carts_are_planned_and_loaded_with_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let out = seed(
        dir.path(),
        &["--courses", "200", "--students", "300", "--carts", "5..3"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("low ≤ high"), "{}", stderr(&out));
    let args = [
        "--courses",
        "200",
        "--students",
        "300",
        "--carts",
        "3..5",
        "--seed",
        "9",
    ];
    let out = seed(dir.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let url = format!(
        "sqlite://{}",
        dir.path().join("data/classmate.db").display()
    );
    let sizes = rows(
        &url,
        "SELECT CAST(count(*) AS TEXT) || ',' || CAST(count(DISTINCT course_id) AS TEXT) || ',' \
         || CAST(max(slot) AS TEXT) FROM cart_items GROUP BY student_id",
    )
    .await;
    assert_eq!(sizes.len(), 300, "every student has a cart");
    let mut entries = 0;
    for cart in &sizes {
        let [n, distinct, top]: [u64; 3] = cart
            .split(',')
            .map(|v| v.parse().unwrap())
            .collect::<Vec<_>>()
            .try_into()
            .unwrap();
        assert!((3..=5).contains(&n), "{cart}");
        assert_eq!((distinct, top), (n, n - 1), "each course once, slots 0..n");
        entries += n;
    }
    let m = manifest(dir.path());
    assert_eq!(m["carts"]["entries"], entries);
    assert_eq!(m["carts"]["students"], 300);
    // Every hot course is wanted by at least ten times its seats (as far as 60% of 300 allows
    // for the first).
    let hot = m["hot_courses"][0]["id"].as_i64().unwrap();
    let wanting = rows(
        &url,
        &format!("SELECT CAST(count(*) AS TEXT) FROM cart_items WHERE course_id = {hot}"),
    )
    .await;
    assert!(wanting[0].parse::<u64>().unwrap() >= 10, "{wanting:?}");

    // The server sees the loaded cart, and adds after it into the next free slot.
    let server = Server::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    let token = &log_in_first_student(&client, &server.base, dir.path(), &m).await;
    let (status, cart) = get(&client, format!("{}/api/v1/cart", server.base), token).await;
    assert_eq!(status, 200, "{cart}");
    let held = cart["items"].as_array().unwrap().len();
    assert!((3..=5).contains(&held), "{cart}");
    let in_cart: Vec<i64> = cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["course"]["id"].as_i64().unwrap())
        .collect();
    let other = (m["first_course_id"].as_i64().unwrap()..)
        .find(|id| !in_cart.contains(id))
        .unwrap();
    let (status, cart) = post(
        &client,
        format!("{}/api/v1/cart", server.base),
        Some(token),
        json!({ "course_id": other }),
    )
    .await;
    assert_eq!(status, 201, "{cart}");
    assert_eq!(cart["items"].as_array().unwrap().len(), held + 1);
}

#[tokio::test]
async fn a_real_roster_is_imported_whole_or_not_at_all_and_claimed_by_signing_up() {
    let dir = tempfile::tempdir().unwrap();
    let header = "student_number,name,department,year\n";
    let bad = format!(
        "{header}2026000001,김민준,컴퓨터공학과,1\n\
         2026000002,,경영학과,2\n\
         2026000001,이서연,경영학과,9\n"
    );
    std::fs::write(dir.path().join("bad.csv"), bad).unwrap();
    let out = seed(
        dir.path(),
        &["--courses", "10", "--students-csv", "bad.csv"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("bad.csv:3: name"), "{err}");
    assert!(err.contains("bad.csv:4: year"), "{err}");
    assert!(err.contains("nothing written"), "{err}");
    assert!(
        !dir.path().join("data/classmate.db").exists(),
        "not even opened"
    );
    let out = seed(
        dir.path(),
        &["--students-csv", "bad.csv", "--students", "10"],
    );
    assert!(
        !out.status.success(),
        "a roster or generated students, not both"
    );

    let good = format!(
        "{header}2026000001,김민준,컴퓨터공학과,1\n\
         2023000002,이서연,경영학과,4\n"
    );
    std::fs::write(dir.path().join("roster.csv"), good).unwrap();
    let out = seed(
        dir.path(),
        &["--courses", "10", "--students-csv", "roster.csv"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let m = manifest(dir.path());
    assert_eq!(
        (m["students"].as_u64(), m["unclaimed"].as_u64()),
        (Some(0), Some(2))
    );
    assert!(m["unclaimed_file"].is_null(), "a real roster is not copied");

    let server = Server::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    let signup = format!("{}/api/v1/auth/signup", server.base);
    let (status, student) = post(
        &client,
        signup.clone(),
        None,
        json!({
            "student_number": "2023000002", "name": "이서연", "password": "my-own-password"
        }),
    )
    .await;
    assert_eq!(status, 201, "{student}");
    assert_eq!(
        (student["department"].as_str(), student["year"].as_u64()),
        (Some("경영학과"), Some(4))
    );
    // Not on the roster: no account, whatever the form says.
    let (status, refused) = post(
        &client,
        signup,
        None,
        json!({
            "student_number": "2026009999", "name": "홍길동", "password": "my-own-password",
            "department": "경영학과", "year": 1
        }),
    )
    .await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (403, &json!("NOT_ON_ROSTER"))
    );
}

#[tokio::test]
async fn postgres_is_seeded_in_one_go() {
    let isolated = support::Isolated::new("s").await;
    let url = isolated.schema.url();
    let dir = tempfile::tempdir().unwrap();
    let out = seed(
        dir.path(),
        &[
            "--courses",
            "5000",
            "--students",
            "5000",
            "--database-url",
            &url,
        ],
    );
    let m: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("data/seed-manifest.json")).unwrap_or_default(),
    )
    .unwrap_or(Value::Null);
    let counts: (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM courses), (SELECT count(*) FROM students)")
            .fetch_one(&isolated.schema.pool().await)
            .await
            .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(m["backend"], "postgres");
    assert_eq!(m["courses"], 5000);
    assert_eq!(
        m["last_course_id"].as_i64().unwrap() - m["first_course_id"].as_i64().unwrap(),
        4999
    );
    assert_eq!(m["students"], 5000);
    assert_eq!(counts, (5000, 5000));
}

#[test]
fn a_csv_catalog_loads_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let header = "code,title,department,professor,credits,capacity,meetings,years,own_department_only,is_open\n";
    let bad = format!(
        "{header}CSE2010-01,자료구조,컴퓨터공학과,김민준,3,60,월 10:30-11:45 공학관 305,,,\n\
         CSE2020-01,알고리즘,컴퓨터공학과,김민준,7,60,화 10:30-11:45 공학관 305,,,\n\
         CSE3010-01,운영체제,컴퓨터공학과,김민준,3,60,월 25:00-26:00 공학관 305,,,\n"
    );
    std::fs::write(dir.path().join("bad.csv"), bad).unwrap();
    let out = seed(dir.path(), &["--from-csv", "bad.csv", "--students", "5"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("bad.csv:3: credits"), "{err}");
    assert!(err.contains("bad.csv:4: meetings"), "{err}");
    assert!(err.contains("nothing written"), "{err}");
    assert!(
        !dir.path().join("data/classmate.db").exists(),
        "not even opened"
    );

    let good = format!(
        "{header}CSE2010-01,자료구조,컴퓨터공학과,김민준,3,60,\"월 10:30-11:45 공학관 305; 수 10:30-11:45 공학관 305\",,false,true\n\
         GEN1001-01,글쓰기의 기초,교양학부,이서연,2,40,TUE 13:00-14:50 교양관 201,1;2,,\n"
    );
    std::fs::write(dir.path().join("good.csv"), good).unwrap();
    let out = seed(dir.path(), &["--from-csv", "good.csv", "--students", "5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = manifest(dir.path());
    assert_eq!(m["courses"], 2);
    assert!(m["seed"].is_null());
}

#[test]
fn an_unreachable_database_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = seed(
        dir.path(),
        &[
            "--database-url",
            "postgres://nobody:seed-secret@127.0.0.1:1/none",
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("cannot open the database"), "{err}");
    assert!(
        !err.contains("seed-secret"),
        "no password in the output: {err}"
    );
}
