//! The queue across real server processes: drainers racing for the lock, one frozen past its
//! lease, one killed mid-batch, Redis losing its data, the embedded process killed. Each run ends
//! with the same audit of the database.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use classmate_server::auth::{Role, SigningKey, Tokens};
use classmate_server::store::{Audit, AuditScope, PgStore, Store};
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use sqlx::postgres::PgPool;
use support::{Isolated, Server, enroll, eventually, get, post, redis_url};

const SECRET: &str = "drain-processes-test-secret-0123456789abcdef";

/// Server processes sharing one PostgreSQL schema and one Redis lock environment.
struct Fleet {
    isolated: Isolated,
    pool: PgPool,
    dir: tempfile::TempDir,
    tokens: Tokens,
}

impl Fleet {
    async fn new(redis_url: String) -> Fleet {
        let isolated = Isolated::on_redis("p", redis_url).await;
        let pool = isolated.schema.pool().await;
        Fleet {
            isolated,
            pool,
            dir: tempfile::tempdir().unwrap(),
            tokens: Tokens::new(
                SigningKey::from_secret(SECRET).unwrap(),
                Duration::from_secs(3600),
            ),
        }
    }

    fn start(&self, extra: &[(&str, &str)]) -> Server {
        let database_url = self.isolated.schema.url();
        let mut env = vec![
            ("CLASSMATE_DATABASE_URL", database_url.as_str()),
            ("CLASSMATE_REDIS_URL", self.isolated.redis.url.as_str()),
            ("CLASSMATE_LOCK_ENV", self.isolated.name()),
            ("CLASSMATE_JWT_SECRET", SECRET),
            ("CLASSMATE_LOG", "info"),
        ];
        env.extend_from_slice(extra);
        Server::start(self.dir.path(), &env)
    }

    /// Courses of the given capacities, each on its own day so none clash.
    async fn courses(&self, capacities: &[i64]) -> Vec<i64> {
        let mut ids = Vec::new();
        for (i, capacity) in capacities.iter().enumerate() {
            let meetings = format!(
                r#"[{{"weekday":"{}","start_min":600,"end_min":675,"room":"IT관 101"}}]"#,
                ["MON", "TUE", "WED", "THU", "FRI", "SAT"][i % 6]
            );
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO courses (subject, section, title, department, professor, credits, \
                 capacity, meetings, weekday_mask, created_at, updated_at) \
                 VALUES ($1, '01', '인기 강좌', '컴퓨터공학과', '김교수', 3, $2, $3, 1, now(), now()) \
                 RETURNING id",
            )
            .bind(format!("HOT{}", 1000 + i))
            .bind(*capacity as i32)
            .bind(meetings)
            .fetch_one(&self.pool)
            .await
            .unwrap();
            ids.push(id);
        }
        ids
    }

    /// `count` students and their tokens, inserted in bulk.
    async fn students(&self, count: usize) -> Vec<(i64, String)> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO students (student_number, name, department, year, password_hash, created_at) \
             SELECT (4026000000 + (SELECT count(*) FROM students) + n)::text, '학생' || n, \
             '컴퓨터공학과', 2, 'unused', now() FROM generate_series(1, $1) AS n RETURNING id",
        )
        .bind(count as i64)
        .fetch_all(&self.pool)
        .await
        .unwrap();
        ids.into_iter()
            .map(|id| (id, self.tokens.issue(id, Role::Student).token))
            .collect()
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    /// Pauses or resumes draining through the admin API of `server`, which applies it at once
    /// (other processes follow within a second).
    async fn set_paused(&self, server: &Server, paused: bool) {
        set_paused(&self.tokens, server, paused).await;
    }

    /// Waits until the database holds `count` decisions.
    async fn decided(&self, count: i64, limit: Duration) {
        let what = format!("{count} tickets decided");
        eventually(limit, &what, || async {
            let decided = self.count("SELECT count(*) FROM ticket_decisions").await;
            (decided >= count).then_some(())
        })
        .await
    }

    /// Nothing oversold, nothing twice, no FIFO inversion, every enrollment carried by its
    /// enrolled ticket (the audit `classmate bench` runs), and the reverse: no enrolled ticket
    /// without its enrollment (nothing here cancels).
    async fn audit(&self) {
        let store = PgStore::connect_with(self.isolated.schema.options(), 2)
            .await
            .unwrap();
        let findings = store.audit(AuditScope { fifo: true }).await.unwrap();
        store.close().await;
        assert!(findings.is_empty(), "audit findings: {findings:?}");
        let orphans = self
            .count(
                "SELECT count(*) FROM ticket_decisions d WHERE d.state = 'enrolled' AND NOT \
                 EXISTS (SELECT 1 FROM enrollments e WHERE e.ticket_id = d.ticket_id)",
            )
            .await;
        assert_eq!(orphans, 0, "an enrolled ticket without its enrollment");
    }
}

/// Pauses or resumes draining through the admin API of `server`, as an administrator.
async fn set_paused(tokens: &Tokens, server: &Server, paused: bool) {
    let admin = tokens.issue(0, Role::Admin).token;
    let response = reqwest::Client::new()
        .put(format!("{}/api/v1/admin/queue", server.base))
        .bearer_auth(admin)
        .json(&json!({ "paused": paused }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

/// Waits until `server` answers `/readyz` with 200: its queue has a generation (before that,
/// admissions are answered `503 QUEUE_RECOVERING`, as they should be).
async fn ready(server: &Server) {
    let url = format!("{}/readyz", server.base);
    eventually(Duration::from_secs(20), "the server is ready", || async {
        let status = reqwest::get(&url).await.ok()?.status();
        (status == 200).then_some(())
    })
    .await
}

/// Admits each student to `courses[i % len]` through the given servers; returns every 202 ticket
/// id with its student's token, and how many were answered COURSE_FULL at once.
async fn admit_all(
    bases: &[String],
    students: &[(i64, String)],
    courses: &[i64],
) -> (Vec<(String, String)>, usize) {
    let client = reqwest::Client::new();
    let requests: Vec<(String, String, Value)> = students
        .iter()
        .enumerate()
        .map(|(i, (_, token))| {
            (
                format!("{}/api/v1/enrollments", bases[i % bases.len()]),
                token.clone(),
                json!({ "course_id": courses[i % courses.len()] }),
            )
        })
        .collect();
    let replies: Vec<(u16, Value, String)> = stream::iter(requests)
        .map(|(url, token, body)| {
            let client = client.clone();
            async move {
                let (status, body) = post(&client, url, Some(&token), body).await;
                (status, body, token)
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let mut tickets = Vec::new();
    let mut fast_path = 0;
    for (status, body, token) in replies {
        match (status, body["error"]["code"].as_str()) {
            (202, _) => tickets.push((body["id"].as_str().unwrap().to_owned(), token)),
            (409, Some("COURSE_FULL")) => fast_path += 1,
            other => panic!("admission answered {other:?}: {body}"),
        }
    }
    (tickets, fast_path)
}

fn signal(server: &Server, name: &str) {
    let status = Command::new("kill")
        .args([name, &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {name}");
}

/// Which of `servers` first logs one of `messages`, within `limit`.
fn first_to_log(servers: &[&Server], messages: &[&str], limit: Duration) -> Option<usize> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        for (i, server) in servers.iter().enumerate() {
            while let Ok(line) = server.logs.try_recv() {
                if messages.iter().any(|m| line["message"] == *m) {
                    return Some(i);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_drainers_race_and_a_frozen_holder_cannot_commit() {
    let fleet = Fleet::new(redis_url()).await;
    let servers = [fleet.start(&[]), fleet.start(&[]), fleet.start(&[])];
    let refs: Vec<&Server> = servers.iter().collect();
    let holder = first_to_log(&refs, &["holding the drain lock"], Duration::from_secs(10))
        .expect("one process takes the drain lock");
    let courses = fleet.courses(&[100, 100, 100, 100, 100]).await;
    let students = fleet.students(3_000).await;
    let others: Vec<String> = (0..3)
        .filter(|i| *i != holder)
        .map(|i| servers[i].base.clone())
        .collect();

    let admissions = tokio::spawn({
        let others = others.clone();
        async move { admit_all(&others, &students, &courses).await }
    });
    // Freeze the holder once it is deciding.
    fleet.decided(1, Duration::from_secs(30)).await;
    signal(&servers[holder], "-STOP");
    let frozen_at = Instant::now();
    let rest: Vec<&Server> = (0..3)
        .filter(|i| *i != holder)
        .map(|i| &servers[i])
        .collect();
    first_to_log(&rest, &["holding the drain lock"], Duration::from_secs(10))
        .expect("another process takes over");
    let takeover = frozen_at.elapsed();
    assert!(
        takeover < Duration::from_secs(3),
        "took over after {takeover:?}"
    );

    // Thaw it now that a newer epoch is in force: whatever the frozen holder was doing, it must
    // find itself fenced out. (Its successor may be waiting for it: frozen in the middle of a
    // batch, it still holds that transaction's lock on the fence row.)
    signal(&servers[holder], "-CONT");
    let (tickets, fast_path) = admissions.await.unwrap();
    fleet
        .decided(tickets.len() as i64, Duration::from_secs(120))
        .await;
    fleet.audit().await;
    assert_eq!(
        fleet.count("SELECT count(*) FROM ticket_decisions").await,
        tickets.len() as i64
    );
    assert_eq!(fleet.count("SELECT count(*) FROM enrollments").await, 500);
    assert_eq!(tickets.len() + fast_path, 3_000);
    let woke = first_to_log(
        &[&servers[holder]],
        &[
            "the drain lock expired or was taken",
            "fenced out: another process drains now",
        ],
        Duration::from_secs(10),
    );
    assert!(woke.is_some(), "the thawed holder noticed it lost the lock");
    println!(
        "takeover after {takeover:?}; {} tickets, {fast_path} fast-path rejections",
        tickets.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drainer_killed_mid_batch_leaves_nothing_twice_and_nothing_open() {
    let fleet = Fleet::new(redis_url()).await;
    let batch = [("CLASSMATE_DRAIN_BATCH", "100")];
    let mut drainer = fleet.start(&batch);
    ready(&drainer).await;
    let courses = fleet.courses(&[300, 300]).await;
    let students = fleet.students(2_000).await;
    fleet.set_paused(&drainer, true).await;
    let (tickets, _) = admit_all(std::slice::from_ref(&drainer.base), &students, &courses).await;
    assert_eq!(
        tickets.len(),
        2_000,
        "nothing is full before the drain runs"
    );

    sqlx::query("UPDATE queue_state SET paused = FALSE")
        .execute(&fleet.pool)
        .await
        .unwrap();
    fleet.decided(250, Duration::from_secs(30)).await;
    drainer.child.kill().unwrap();
    drainer.child.wait().unwrap();
    let at_kill = fleet.count("SELECT count(*) FROM ticket_decisions").await;
    assert!(at_kill < 2_000, "killed before the end ({at_kill} decided)");

    let restarted = fleet.start(&batch);
    fleet.decided(2_000, Duration::from_secs(60)).await;
    fleet.audit().await;
    assert_eq!(fleet.count("SELECT count(*) FROM enrollments").await, 600);
    // Every ticket reads as terminal through the API too.
    let client = reqwest::Client::new();
    for (ticket, token) in tickets.iter().step_by(97) {
        let (_, reply) = get(
            &client,
            format!("{}/api/v1/tickets/{ticket}", restarted.base),
            token,
        )
        .await;
        assert!(
            ["enrolled", "rejected"].contains(&reply["state"].as_str().unwrap()),
            "{reply}"
        );
    }
}

/// A Redis of this test's own, so FLUSHALL touches nobody else; its snapshot (`SAVE`) goes to
/// a directory of its own, and a restart loads it, as a Redis restored from a backup would.
struct OwnRedis {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
    url: String,
}

impl OwnRedis {
    fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let child = OwnRedis::spawn(port, dir.path());
        OwnRedis {
            child,
            port,
            dir,
            url: format!("redis://127.0.0.1:{port}"),
        }
    }

    fn spawn(port: u16, dir: &std::path::Path) -> std::process::Child {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--dir", dir.to_str().unwrap(), "--dbfilename", "dump.rdb"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// Writes the snapshot now.
    fn save(&self) {
        let _: () = redis::cmd("SAVE").query(&mut self.connection()).unwrap();
    }

    /// Stops without saving and starts again from the last snapshot.
    fn restart_from_snapshot(&mut self) {
        let _ = self.child.kill();
        self.child.wait().unwrap();
        self.child = OwnRedis::spawn(self.port, self.dir.path());
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_losing_its_data_mid_run_loses_tickets_visibly_and_oversells_nothing() {
    let redis = OwnRedis::start();
    let fleet = Fleet::new(redis.url.clone()).await;
    let server = fleet.start(&[("CLASSMATE_DRAIN_BATCH", "50")]);
    ready(&server).await;
    let courses = fleet.courses(&[20, 200, 200]).await;
    let students = fleet.students(1_500).await;
    fleet.set_paused(&server, true).await;
    let (tickets, _) = admit_all(std::slice::from_ref(&server.base), &students, &courses).await;
    sqlx::query("UPDATE queue_state SET paused = FALSE")
        .execute(&fleet.pool)
        .await
        .unwrap();
    fleet.decided(100, Duration::from_secs(30)).await;
    let client = reqwest::Client::new();
    let (_, logged_out) = fleet.students(1).await.remove(0);
    let (status, _) = post(
        &client,
        format!("{}/api/v1/auth/logout", server.base),
        Some(&logged_out),
        json!({}),
    )
    .await;
    assert_eq!(status, 204);

    let mut conn = redis::Client::open(redis.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();

    // Until the queue is rebuilt, admission says so; then it admits again.
    let newcomer = fleet.students(1).await.remove(0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut saw_recovering = false;
    let retry = loop {
        let (status, body) = enroll(&client, &server.base, &newcomer.1, courses[2]).await;
        match status {
            503 => {
                assert_eq!(body["error"]["code"], "QUEUE_RECOVERING");
                saw_recovering = true;
            }
            202 => break body,
            // Pressing every 10 ms runs into the student's own rate: wait as told.
            429 => {
                assert_eq!(body["error"]["details"]["scope"], "student", "{body}");
                let wait = body["error"]["details"]["retry_after_seconds"]
                    .as_u64()
                    .unwrap();
                tokio::time::sleep(Duration::from_secs(wait)).await;
            }
            other => panic!("{other}: {body}"),
        }
        assert!(Instant::now() < deadline, "the queue never came back");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(retry["generation"], 2, "{retry}");
    // A token logged out before the loss stays logged out: revocations are rebuilt too.
    let (status, _) = get(&client, format!("{}/api/v1/me", server.base), &logged_out).await;
    assert_eq!(status, 401);
    println!("saw QUEUE_RECOVERING: {saw_recovering}");

    // Every first-generation ticket is either decided in the database or reported lost. The
    // second generation began only after the drain's last first-generation batch (it waits
    // for the batch's lock on the fence row), so no first-generation decision is still to come.
    let mut lost = 0;
    for (ticket, token) in &tickets {
        let (_, reply) = get(
            &client,
            format!("{}/api/v1/tickets/{ticket}", server.base),
            token,
        )
        .await;
        match reply["state"].as_str().unwrap() {
            "enrolled" | "rejected" => {}
            "lost" => lost += 1,
            other => panic!("ticket {ticket} is {other}: {reply}"),
        }
    }
    let decided_first = fleet
        .count("SELECT count(*) FROM ticket_decisions WHERE generation = 1")
        .await;
    assert_eq!(decided_first + lost, tickets.len() as i64);
    assert!(lost > 0, "the flush caught tickets in the queue");

    // The rebuilt duplicate check and sold-out flags come from the database.
    let enrolled_student: i64 = fleet
        .count("SELECT min(student_id) FROM enrollments WHERE course_id = (SELECT min(id) FROM courses)")
        .await;
    let (_, token) = students
        .iter()
        .find(|(id, _)| *id == enrolled_student)
        .unwrap();
    let (status, body) = enroll(&client, &server.base, token, courses[0]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("ALREADY_ENROLLED")),
        "{body}"
    );
    let (status, body) = enroll(&client, &server.base, &newcomer.1, courses[0]).await;
    assert_eq!(
        body["error"]["details"]["fast_path"], true,
        "{status} {body}"
    );
    fleet
        .decided(decided_first + 1, Duration::from_secs(30))
        .await;
    fleet.audit().await;
    println!(
        "{lost} of {} tickets lost with Redis's data, {decided_first} decided",
        tickets.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_server_killed_and_restarted_reports_its_queued_tickets_lost() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("CLASSMATE_JWT_SECRET", SECRET)];
    let mut server = Server::start(dir.path(), &env);
    let client = reqwest::Client::new();
    let tokens = Tokens::new(
        SigningKey::from_secret(SECRET).unwrap(),
        Duration::from_secs(3600),
    );
    let db = dir.path().join("data/classmate.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let course: i64 = sqlx::query_scalar(
        "INSERT INTO courses (subject, section, title, department, professor, credits, capacity, \
         meetings, weekday_mask, created_at, updated_at) VALUES ('CSE2010', '01', '자료구조', \
         '컴퓨터공학과', '김교수', 3, 30, '[]', 0, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z') \
         RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let student: i64 = sqlx::query_scalar(
        "INSERT INTO students (student_number, name, department, year, password_hash, created_at) \
         VALUES ('2026000001', '홍길동', '컴퓨터공학과', 2, 'unused', '2026-01-01T00:00:00Z') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let token = tokens.issue(student, Role::Student).token;
    set_paused(&tokens, &server, true).await;
    let url = |base: &str, path: &str| format!("{base}{path}");
    let (status, ticket) = post(
        &client,
        url(&server.base, "/api/v1/enrollments"),
        Some(&token),
        json!({ "course_id": course }),
    )
    .await;
    assert_eq!(status, 202, "{ticket}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    sqlx::query("UPDATE queue_state SET paused = 0")
        .execute(&pool)
        .await
        .unwrap();
    let again = Server::start(dir.path(), &env);
    eventually(
        Duration::from_secs(10),
        "the restarted server is ready",
        || async {
            let ready = client.get(url(&again.base, "/readyz")).send().await;
            ready.is_ok_and(|r| r.status() == 200).then_some(())
        },
    )
    .await;
    let id = ticket["id"].as_str().unwrap();
    let (_, reply) = get(
        &client,
        url(&again.base, &format!("/api/v1/tickets/{id}")),
        &token,
    )
    .await;
    assert_eq!(reply["state"], "lost", "{reply}");
    assert!(reply["message"].as_str().unwrap().contains("다시 신청"));
    let (status, fresh) = post(
        &client,
        url(&again.base, "/api/v1/enrollments"),
        Some(&token),
        json!({ "course_id": course }),
    )
    .await;
    assert_eq!(
        (status, fresh["generation"].as_u64()),
        (202, Some(2)),
        "{fresh}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_stopped_gracefully_hands_over_at_once() {
    let fleet = Fleet::new(redis_url()).await;
    let servers = [fleet.start(&[]), fleet.start(&[])];
    let refs: Vec<&Server> = servers.iter().collect();
    let holder = first_to_log(&refs, &["holding the drain lock"], Duration::from_secs(10))
        .expect("one process takes the drain lock");
    let other = 1 - holder;

    // The lock sits in Redis under ShedLock's key, in ShedLock 6.7+'s value format.
    let mut redis = redis::Client::open(redis_url().as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let key = format!("job-lock:{}:classmate-drain", fleet.isolated.name());
    let value: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    let parsed = classmate_server::lock::LockValue::parse(&value).expect("a ShedLock value");
    assert!(parsed.lock_id.is_some(), "{value}");

    servers[holder].terminate();
    let stopped_at = Instant::now();
    first_to_log(
        &[&servers[other]],
        &["holding the drain lock"],
        Duration::from_secs(5),
    )
    .expect("the other process takes over");
    let handover = stopped_at.elapsed();
    // Released on shutdown, so well within the 2 s lease.
    assert!(
        handover < Duration::from_millis(1500),
        "handed over after {handover:?}"
    );
    let value_now: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_ne!(value_now, value);
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .arg(format!(
            "job-lock-epoch:{}:classmate-drain",
            fleet.isolated.name()
        ))
        .query_async(&mut redis)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_lock_shows_in_lock_list_and_a_forced_release_hands_it_over() {
    let fleet = Fleet::new(redis_url()).await;
    let servers = [fleet.start(&[]), fleet.start(&[])];
    let refs: Vec<&Server> = servers.iter().collect();
    let holder = first_to_log(&refs, &["holding the drain lock"], Duration::from_secs(10))
        .expect("one process takes the drain lock");
    let lock = |args: &[&str]| {
        support::classmate(fleet.dir.path())
            .arg("lock")
            .args(args)
            .args([
                "--redis-url",
                &fleet.isolated.redis.url,
                "--env",
                fleet.isolated.name(),
            ])
            .output()
            .unwrap()
    };

    let out = lock(&["list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let drain = &listed[0];
    assert_eq!(drain["name"], "classmate-drain", "{listed}");
    assert_eq!(drain["format"], "6.7+");
    let epoch = drain["epoch"].as_u64().expect("the fencing epoch is shown");
    assert!(drain["time_left_ms"].as_i64().unwrap() > 0);

    let out = lock(&["release", "classmate-drain", "--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let other = 1 - holder;
    first_to_log(
        &[&servers[other]],
        &["holding the drain lock"],
        Duration::from_secs(5),
    )
    .expect("the other process takes over");
    let out = lock(&["show", "classmate-drain", "--json"]);
    let now: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(now["epoch"].as_u64().unwrap() > epoch, "{now}");
    assert_ne!(now["lock_id"], drain["lock_id"]);
}

/// Redis comes back older than the database, with its generation intact but its sequence
/// behind (a snapshot restored, a failover to a lagging replica): new tickets would reuse ids
/// the database decided for other students. The drain notices, starts a new generation, and no
/// ticket ever shows another student's outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restored_from_an_older_snapshot_hands_no_student_another_ones_outcome() {
    let mut redis = OwnRedis::start();
    let fleet = Fleet::new(redis.url.clone()).await;
    let server = fleet.start(&[]);
    ready(&server).await;
    let courses = fleet.courses(&[1000]).await;
    let students = fleet.students(60).await;
    let (early, rest) = students.split_at(20);
    let (middle, late) = rest.split_at(20);

    let (first, _) = admit_all(std::slice::from_ref(&server.base), early, &courses).await;
    fleet.decided(20, Duration::from_secs(30)).await;
    redis.save();
    let (second, _) = admit_all(std::slice::from_ref(&server.base), middle, &courses).await;
    fleet.decided(40, Duration::from_secs(30)).await;
    assert_eq!((first.len(), second.len()), (20, 20));

    // Back to the snapshot: sequence 20 of generation 1, while the database decided up to 40.
    redis.restart_from_snapshot();
    let client = reqwest::Client::new();
    let mut late_tickets = Vec::new();
    for (_, token) in late {
        let ticket = eventually(Duration::from_secs(20), "admission answers", || async {
            let (status, body) = enroll(&client, &server.base, token, courses[0]).await;
            match status {
                202 => Some(body["id"].as_str().unwrap().to_owned()),
                503 => None,
                other => panic!("admission answered {other}: {body}"),
            }
        })
        .await;
        late_tickets.push((ticket, token.clone()));
    }

    // Every late ticket ends as its own student's outcome: enrolled exactly when the database
    // enrolled that student, or lost (a reused id from before the new generation began).
    for (ticket, token) in &late_tickets {
        let state = eventually(Duration::from_secs(30), "the late ticket ends", || async {
            let (_, reply) = get(
                &client,
                format!("{}/api/v1/tickets/{ticket}", server.base),
                token,
            )
            .await;
            let state = reply["state"].as_str().unwrap_or("").to_owned();
            (state != "queued").then_some(state)
        })
        .await;
        let (_, held) = get(
            &client,
            format!("{}/api/v1/enrollments", server.base),
            token,
        )
        .await;
        let enrolled = !held["items"].as_array().unwrap().is_empty();
        match state.as_str() {
            "enrolled" => assert!(enrolled, "ticket {ticket} shows a seat its student lacks"),
            "lost" => assert!(
                !enrolled,
                "ticket {ticket} lost, yet its student holds a seat"
            ),
            other => panic!("ticket {ticket} is {other}"),
        }
    }
    let generation: i64 = fleet.count("SELECT generation FROM queue_state").await;
    assert!(generation >= 2, "a new generation began: {generation}");
    fleet.audit().await;
}
