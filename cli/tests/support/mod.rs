//! Running `classmate` as an operator would: real processes, their JSON logs, real signals.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_classmate");

/// A `classmate` command in `dir` with no CLASSMATE_* variable inherited from the shell.
pub fn classmate(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("CLASSMATE_") {
            command.env_remove(key);
        }
    }
    command
}

/// A server process and its JSON log lines.
pub struct Server {
    pub child: Child,
    pub logs: mpsc::Receiver<Value>,
    pub base: String,
}

impl Server {
    /// Starts `classmate serve` on a free port in `dir` and waits for it to listen.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut child = classmate(dir)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start classmate serve");
        let stdout = child.stdout.take().unwrap();
        let (sender, logs) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let parsed = serde_json::from_str(&line)
                    .unwrap_or_else(|_| panic!("a JSON log line, got {line:?}"));
                if sender.send(parsed).is_err() {
                    break;
                }
            }
        });
        let listening = wait_for(&logs, |l| l["message"] == "listening");
        let base = format!("http://{}", listening["addr"].as_str().unwrap());
        Server { child, logs, base }
    }

    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_for(logs: &mpsc::Receiver<Value>, matches: impl Fn(&Value) -> bool) -> Value {
    loop {
        let line = logs
            .recv_timeout(Duration::from_secs(20))
            .expect("the expected log line in time");
        if matches(&line) {
            return line;
        }
    }
}

/// `GET url` with a bearer token: the status and the JSON body (`Null` if none).
pub async fn get(client: &reqwest::Client, url: String, token: &str) -> (u16, Value) {
    let response = client.get(url).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn post(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `<prefix>_<time>_<pid>_<n>`: a name no other test, in this process or another, uses at the
/// same time (PostgreSQL schemas, Redis lock environments).
pub fn unique_name(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}_{nanos:x}_{}_{n}", std::process::id())
}

/// The PostgreSQL the tests use.
pub fn postgres_url() -> String {
    std::env::var("CLASSMATE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The Redis the tests use.
pub fn redis_url() -> String {
    std::env::var("CLASSMATE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A PostgreSQL schema of the test's own, whose name is also its Redis lock environment; the
/// schema and the environment's Redis keys go when it is dropped.
pub struct Isolated {
    pub name: String,
    /// `postgres://…` with this schema as the search path.
    pub database_url: String,
    pub redis_url: String,
}

impl Isolated {
    /// Creates the schema; fails loudly when PostgreSQL is unreachable.
    pub async fn new(prefix: &str, redis_url: String) -> Isolated {
        use sqlx::{Connection, Executor};
        let name = unique_name(prefix);
        let base = postgres_url();
        let mut admin = sqlx::PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {base} is unreachable: {e}"));
        admin
            .execute(format!("CREATE SCHEMA {name}").as_str())
            .await
            .unwrap();
        Isolated {
            database_url: format!("{base}?options=-c%20search_path%3D{name}"),
            name,
            redis_url,
        }
    }

    /// Connection options on the schema.
    pub fn options(&self) -> sqlx::postgres::PgConnectOptions {
        use std::str::FromStr;
        sqlx::postgres::PgConnectOptions::from_str(&postgres_url())
            .unwrap()
            .options([("search_path", self.name.as_str())])
    }

    /// A pool on the schema.
    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect_with(self.options()).await.unwrap()
    }
}

impl Drop for Isolated {
    fn drop(&mut self) {
        if let Ok(mut conn) =
            redis::Client::open(self.redis_url.as_str()).and_then(|c| c.get_connection())
        {
            let mut keys = vec![
                format!("job-lock:{}:classmate-drain", self.name),
                format!("job-lock-epoch:{}:classmate-drain", self.name),
            ];
            if let Ok(found) = redis::Commands::scan_match::<_, String>(
                &mut conn,
                format!("classmate:{}:*", self.name),
            ) {
                keys.extend(found.filter_map(Result::ok));
            }
            let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            use sqlx::{Connection, Executor};
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_url()).await {
                    let _ = conn
                        .execute(format!("DROP SCHEMA IF EXISTS {name} CASCADE").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}
