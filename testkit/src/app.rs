//! [`TestApp`]: a real server on port 0 over a fresh PostgreSQL schema (with a Redis namespace of
//! its own) or a fresh SQLite file, a client, and shortcuts that create students and courses
//! through the store.
//!
//! Students share one password hash computed once per test process, and their tokens are minted
//! with the app's own key: hashing is slow on purpose and is tested on its own.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use classmate_server::auth::{Role, password};
use classmate_server::config::Config;
use classmate_server::domain::{
    Course, CourseSpec, CourseSpecInput, MeetingInput, NewStudent, Password, RestrictionsInput,
    RosterEntry, StudentId, StudentNumber, Weekday, Year,
};
use classmate_server::http::AppState;
use classmate_server::store::{
    AuditScope, Database, EnrollmentMode, PgStore, SettingsChange, SqliteStore,
};
use classmate_server::{Application, StartupError};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::{Connection, Executor};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::isolation::Isolated;
use crate::wait::eventually;

/// The password every kit-made student has.
pub const PASSWORD: &str = "load-test-password";

static PASSWORD_HASH: LazyLock<String> = LazyLock::new(|| {
    password::hash(&Password::parse(PASSWORD.into()).unwrap()).expect("hash the shared password")
});

/// Every table, for counting rows before and after a request that must write nothing.
const TABLES: [&str; 8] = [
    "students",
    "roster",
    "admins",
    "courses",
    "cart_items",
    "enrollments",
    "revoked_tokens",
    "ticket_decisions",
];

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL, with the queue, lock and revocations in Redis: production.
    Postgres,
    /// SQLite with everything in process: the embedded default.
    Sqlite,
}

/// Where the app's data lives, and the kit's own connection to it; cleaned up when the app is
/// dropped.
enum Data {
    Postgres {
        pool: PgPool,
        // Declared after the pool so the pool closes before the schema is dropped.
        _isolated: Isolated,
    },
    Sqlite {
        pool: SqlitePool,
        dir: tempfile::TempDir,
    },
}

/// A student made through the store, with a minted token.
#[derive(Debug, Clone)]
pub struct TestStudent {
    pub id: StudentId,
    pub number: String,
    pub token: String,
}

/// A response: status, headers and the body parsed as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The error code of an error reply, or "" for a success.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Asserts this is an error in the one shape, with `status` and `code`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{code}: {}", self.body);
        assert_eq!(self.code(), code, "{}", self.body);
        let message = self.body["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.chars().any(|c| ('가'..='힣').contains(&c)),
            "the message is Korean: {}",
            self.body
        );
        assert!(self.body["error"]["details"].is_object(), "{}", self.body);
        assert_eq!(
            self.body.as_object().map(|o| o.len()),
            Some(1),
            "only `error` at the top: {}",
            self.body
        );
    }

    /// The fields a `VALIDATION_FAILED` error names, in order.
    pub fn invalid_fields(&self) -> Vec<&str> {
        self.body["error"]["details"]["fields"]
            .as_array()
            .map(|fields| fields.iter().filter_map(|f| f["field"].as_str()).collect())
            .unwrap_or_default()
    }

    /// Asserts the status is `status` and returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        self.body
    }
}

/// A running server and everything a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    database: Arc<dyn Database>,
    next_student: AtomicU32,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), StartupError>>>,
    data: Data,
}

impl TestApp {
    /// A server with the default configuration on `backend`, enrolling in direct mode (each
    /// request decided at once), which most tests of the rules use.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// A server enrolling through the waiting queue, the production default.
    pub async fn spawn_queued(backend: Backend) -> TestApp {
        Self::spawn_in(backend, EnrollmentMode::Queue, |_| {}).await
    }

    /// A direct-mode server whose configuration `configure` adjusts first.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_in(backend, EnrollmentMode::Direct, configure).await
    }

    /// A server in `mode` whose configuration `configure` adjusts first.
    pub async fn spawn_in(
        backend: Backend,
        mode: EnrollmentMode,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        let (database, data, mut config): (Arc<dyn Database>, Data, Config) = match backend {
            Backend::Postgres => {
                let isolated = Isolated::new("t").await;
                let schema = &isolated.schema;
                let store = PgStore::connect_with(schema.options(), 16)
                    .await
                    .expect("open the PostgreSQL store");
                // The kit's own connections, apart from the app's pool, like another client's.
                let pool = schema.pool().await;
                let mut config = Config::with_database(schema.url());
                config.jwt_secret =
                    Some(format!("test-secret-{}-0123456789abcdef", isolated.name()).into());
                config.queue.redis_url = Some(isolated.redis.url.clone());
                config.queue.lock_env = isolated.name().to_owned();
                let data = Data::Postgres {
                    pool,
                    _isolated: isolated,
                };
                (Arc::new(store), data, config)
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("classmate.db").display());
                let store = SqliteStore::connect(&url, 8)
                    .await
                    .expect("open the SQLite store");
                let pool = SqlitePool::connect(&url).await.expect("a kit connection");
                let config = Config::with_database(url);
                (Arc::new(store), Data::Sqlite { pool, dir }, config)
            }
        };
        config.bind = "127.0.0.1:0".parse().unwrap();
        configure(&mut config);
        database
            .change_settings(&SettingsChange {
                mode: Some(mode),
                ..SettingsChange::default()
            })
            .await
            .expect("set the enrollment mode");
        let app = Application::with_store(config, database.clone())
            .await
            .expect("build the app");
        let address = format!("http://{}", app.local_addr());
        let state = app.state().clone();
        let (shutdown, stop) = oneshot::channel();
        let server = tokio::spawn(app.run_until(async {
            let _ = stop.await;
        }));
        // Ready as /readyz defines it: the drain has started the queue's generation.
        eventually(Duration::from_secs(10), "the queue starts", || async {
            state.queue.generation().await.ok().flatten()
        })
        .await;
        TestApp {
            address,
            client: reqwest::Client::new(),
            state,
            database,
            next_student: AtomicU32::new(0),
            shutdown: Some(shutdown),
            server: Some(server),
            data,
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The app's database: its store, audit and bulk loading.
    pub fn store(&self) -> &dyn Database {
        self.database.as_ref()
    }

    /// A new computer-science sophomore.
    pub async fn student(&self) -> TestStudent {
        self.student_in("컴퓨터공학과", 2).await
    }

    /// A new student of `department` in `year`.
    pub async fn student_in(&self, department: &str, year: i64) -> TestStudent {
        let n = self.next_student.fetch_add(1, Ordering::Relaxed);
        let number = format!("{}", 2_026_000_000_u64 + u64::from(n));
        let new = NewStudent {
            number: StudentNumber::parse(&number).unwrap(),
            name: format!("학생{n}"),
            department: department.into(),
            year: Year::new(year).unwrap(),
            password: Password::parse(PASSWORD.into()).unwrap(),
        };
        let student = self
            .store()
            .insert_student(&new, &PASSWORD_HASH)
            .await
            .expect("insert a student");
        TestStudent {
            id: student.id,
            number,
            token: self.token_of(student.id),
        }
    }

    /// Puts an unclaimed entry on the roster: someone who may sign up.
    pub async fn on_roster(&self, number: &str, name: &str, department: &str, year: i64) {
        let entry = RosterEntry::parse(number, name, department, year).expect("a valid entry");
        let mut load = self.store().begin_bulk(false).await.expect("begin a load");
        load.roster(&[entry]).await.expect("load the entry");
        load.commit().await.expect("commit the entry");
    }

    /// A session token of `student`, minted with the app's key.
    pub fn token_of(&self, student: StudentId) -> String {
        self.state.tokens.issue(student.0, Role::Student).token
    }

    /// `count` new students written with multi-row inserts, for tests that need thousands.
    pub async fn many_students(&self, count: usize) -> Vec<TestStudent> {
        let first = self.next_student.fetch_add(count as u32, Ordering::Relaxed);
        let numbers: Vec<String> = (0..count as u32)
            .map(|i| format!("{}", 3_026_000_000_u64 + u64::from(first + i)))
            .collect();
        for chunk in numbers.chunks(1000) {
            let mut sql = String::from(
                "INSERT INTO students (student_number, name, department, year, password_hash, \
                 created_at) VALUES ",
            );
            for (i, number) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "('{number}', '학생{number}', '컴퓨터공학과', 2, '{}', '2026-01-01T00:00:00Z')",
                    PASSWORD_HASH.as_str()
                ));
            }
            self.execute(&sql).await;
        }
        let mut students = Vec::with_capacity(count);
        for number in numbers {
            let student = self
                .store()
                .student_credentials(&StudentNumber::parse(&number).unwrap())
                .await
                .expect("read a student back")
                .expect("the student exists")
                .0;
            students.push(TestStudent {
                id: student.id,
                token: self.token_of(student.id),
                number,
            });
        }
        students
    }

    /// Asserts the database's audit finds nothing (FIFO order included unless the test
    /// cancelled enrollments, which legitimately frees seats for later tickets).
    pub async fn assert_audit_clean(&self, fifo: bool) {
        let findings = self
            .store()
            .audit(AuditScope { fifo })
            .await
            .expect("run the audit");
        assert!(findings.is_empty(), "audit findings: {findings:?}");
    }

    /// Runs `sql` on the kit's own connection.
    pub async fn execute(&self, sql: &str) {
        match &self.data {
            Data::Postgres { pool, .. } => pool.execute(sql).await.map(|_| ()),
            Data::Sqlite { pool, .. } => pool.execute(sql).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql:.80}: {e}"));
    }

    /// The first column of every row `sql` returns, as integers.
    pub async fn integers(&self, sql: &str) -> Vec<i64> {
        match &self.data {
            Data::Postgres { pool, .. } => sqlx::query_scalar(sql).fetch_all(pool).await,
            Data::Sqlite { pool, .. } => sqlx::query_scalar(sql).fetch_all(pool).await,
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// `(ticket_id, state, code)` of every decision the drain recorded.
    pub async fn decisions(&self) -> Vec<(String, String, Option<String>)> {
        let sql = "SELECT ticket_id, state, code FROM ticket_decisions ORDER BY generation, seq";
        match &self.data {
            Data::Postgres { pool, .. } => sqlx::query_as(sql).fetch_all(pool).await,
            Data::Sqlite { pool, .. } => sqlx::query_as(sql).fetch_all(pool).await,
        }
        .expect("read the decisions")
    }

    /// Changes registration settings as an administrator would.
    pub async fn settings(&self, change: Value) -> Value {
        let token = self.admin_token().await;
        self.put("/api/v1/admin/queue", Some(&token), &change)
            .await
            .expect(200)
    }

    /// Polls `GET /api/v1/tickets/{id}` until the ticket is terminal, for at most 30 s.
    pub async fn settled_ticket(&self, token: &str, id: &str) -> Value {
        let what = format!("ticket {id} is decided");
        eventually(Duration::from_secs(30), &what, || async {
            let ticket = self
                .get(&format!("/api/v1/tickets/{id}"), Some(token))
                .await
                .expect(200);
            (ticket["state"] != "queued").then_some(ticket)
        })
        .await
    }

    /// Waits until the queue has nothing left to decide, for at most `limit`.
    pub async fn drained(&self, limit: Duration) {
        eventually(limit, "the queue drains", || async {
            let status = self.state.queue.status().await.expect("queue status");
            (status.depth == 0).then_some(())
        })
        .await
    }

    /// Waits until the server is handling at least `count` requests at once.
    pub async fn in_flight(&self, count: usize) {
        let what = format!("{count} requests in flight");
        eventually(Duration::from_secs(10), &what, || async {
            (self.state.in_flight.get() >= count).then_some(())
        })
        .await
    }

    /// `count` new students.
    pub async fn students(&self, count: usize) -> Vec<TestStudent> {
        let mut students = Vec::with_capacity(count);
        for _ in 0..count {
            students.push(self.student().await);
        }
        students
    }

    /// A token of a new administrator.
    pub async fn admin_token(&self) -> String {
        let n = self.next_student.fetch_add(1, Ordering::Relaxed);
        let admin = self
            .store()
            .insert_admin(&format!("admin{n}"), &PASSWORD_HASH)
            .await
            .expect("insert an admin");
        self.state.tokens.issue(admin.id, Role::Admin).token
    }

    /// Adds a course through the store and the search index.
    pub async fn course(&self, input: CourseSpecInput) -> Course {
        let spec = CourseSpec::parse(&input).expect("a valid course");
        let course = self
            .store()
            .insert_course(&spec)
            .await
            .expect("insert a course");
        // As an administrator's create does: found at once, not after the sync's next tick.
        self.state
            .search
            .written(std::slice::from_ref(&course))
            .await
            .expect("index the course");
        course
    }

    /// Rows in every table, to prove a refused request wrote nothing.
    pub async fn row_counts(&self) -> BTreeMap<&'static str, i64> {
        let mut counts = BTreeMap::new();
        for table in TABLES {
            let sql = format!("SELECT count(*) FROM {table}");
            counts.insert(table, self.integers(&sql).await[0]);
        }
        counts
    }

    /// Holds the student's row lock (PostgreSQL) or the database's write lock (SQLite) from
    /// another connection until the returned sender is used or dropped, so that a request on
    /// that student blocks. Returns once the lock is held.
    pub async fn hold_student_lock(&self, student: StudentId) -> oneshot::Sender<()> {
        let (release, released) = oneshot::channel::<()>();
        let (held, is_held) = oneshot::channel();
        match &self.data {
            Data::Postgres { pool, .. } => {
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("SELECT id FROM students WHERE id = $1 FOR UPDATE")
                    .bind(student.0)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tokio::spawn(async move {
                    let _ = held.send(());
                    let _ = released.await;
                    tx.rollback().await.unwrap();
                });
            }
            Data::Sqlite { dir, .. } => {
                let url = format!("sqlite://{}", dir.path().join("classmate.db").display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                conn.execute("BEGIN IMMEDIATE").await.unwrap();
                tokio::spawn(async move {
                    let _ = held.send(());
                    let _ = released.await;
                    conn.execute("ROLLBACK").await.unwrap();
                });
            }
        }
        is_held.await.unwrap();
        release
    }

    /// Closes the app's database pool, as if the database had gone away.
    pub async fn lose_database(&self) {
        self.store().close().await;
    }

    /// Starts shutting the server down without waiting.
    pub fn begin_shutdown(&mut self) -> JoinHandle<Result<(), StartupError>> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.server.take().expect("the server is running")
    }

    /// Sends `request` with `token` as a bearer token, if any, and parses the reply.
    pub async fn send(&self, request: reqwest::RequestBuilder, token: Option<&str>) -> Reply {
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body");
        let body = match bytes.is_empty() {
            true => Value::Null,
            false => serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("JSON body, got {:?}", String::from_utf8_lossy(&bytes))),
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(self.client.get(self.url(path)), token).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send_json(Method::POST, path, token, body).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send_json(Method::PUT, path, token, body).await
    }

    async fn send_json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Reply {
        let request = self.client.request(method, self.url(path)).json(body);
        self.send(request, token).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(self.client.delete(self.url(path)), token).await
    }

    /// `POST /api/v1/cart` for `course_id` (a `CourseId`, or any id a test makes up).
    pub async fn add_to_cart(&self, token: &str, course_id: impl serde::Serialize) -> Reply {
        let body = serde_json::json!({ "course_id": course_id });
        self.post("/api/v1/cart", Some(token), &body).await
    }

    /// `POST /api/v1/enrollments` for `course_id` (a `CourseId`, or any id a test makes up).
    pub async fn enroll(&self, token: &str, course_id: impl serde::Serialize) -> Reply {
        let body = serde_json::json!({ "course_id": course_id });
        self.post("/api/v1/enrollments", Some(token), &body).await
    }
}

/// A course input: `code`, `credits`, `capacity` and meetings as (day, start, end) in minutes.
pub fn course_input(
    code: &str,
    credits: i64,
    capacity: i64,
    meetings: &[(Weekday, i64, i64)],
) -> CourseSpecInput {
    CourseSpecInput {
        code: code.into(),
        title: format!("강좌 {code}"),
        department: "컴퓨터공학과".into(),
        professor: "김교수".into(),
        credits,
        capacity,
        meetings: meetings
            .iter()
            .map(|&(weekday, start_min, end_min)| MeetingInput {
                weekday,
                start_min,
                end_min,
                room: "IT관 101".into(),
            })
            .collect(),
        restrictions: RestrictionsInput::default(),
        is_open: true,
    }
}

/// `count` three-credit courses whose meetings never overlap: each its own day and 90-minute slot.
pub fn non_clashing_courses(prefix: &str, count: usize) -> Vec<CourseSpecInput> {
    (0..count)
        .map(|i| {
            let day = Weekday::ALL[i % 6];
            let start = 8 * 60 + (i / 6) as i64 * 90;
            course_input(
                &format!("{prefix}{:04}-01", 1000 + i),
                3,
                40,
                &[(day, start, start + 75)],
            )
        })
        .collect()
}
