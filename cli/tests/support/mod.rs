//! Running `classmate` as an operator would: real processes, their JSON logs, real signals. The
//! isolation (a schema and a Redis namespace per test) and the waiting come from the shared
//! test kit.
#![allow(dead_code, unused_imports)]

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

/// `POST /api/v1/enrollments` for `course` as `token` on the server at `base`.
pub async fn enroll(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    course: i64,
) -> (u16, Value) {
    let url = format!("{base}/api/v1/enrollments");
    post(
        client,
        url,
        Some(token),
        serde_json::json!({ "course_id": course }),
    )
    .await
}

pub use classmate_testkit::{Isolated, RedisNamespace, eventually, redis_url};
