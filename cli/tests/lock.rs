//! `classmate lock` against a real Redis, on locks written exactly as ShedLock writes them.

mod support;

use std::process::Output;

use serde_json::Value;
use support::{RedisNamespace, classmate};

/// A lock environment of this test's own, whose keys go with it.
struct Env {
    namespace: RedisNamespace,
    conn: redis::Connection,
}

impl Env {
    fn new() -> Env {
        let namespace = RedisNamespace::new("l");
        let conn = redis::Client::open(namespace.url.as_str())
            .and_then(|c| c.get_connection())
            .unwrap_or_else(|e| panic!("the lock tests need Redis at {}: {e}", namespace.url));
        Env { namespace, conn }
    }

    /// `SET job-lock:<env>:<name> <value> PX <ms>`, as ShedLock's providers do.
    fn write(&mut self, name: &str, value: &str, px: u64) {
        let _: () = redis::cmd("SET")
            .arg(format!("job-lock:{}:{name}", self.namespace.name))
            .arg(value)
            .arg("PX")
            .arg(px)
            .query(&mut self.conn)
            .unwrap();
    }

    fn get(&mut self, name: &str) -> Option<String> {
        redis::cmd("GET")
            .arg(format!("job-lock:{}:{name}", self.namespace.name))
            .query(&mut self.conn)
            .unwrap()
    }

    fn lock(&self, args: &[&str]) -> Output {
        let dir = tempfile::tempdir().unwrap();
        classmate(dir.path())
            .arg("lock")
            .args(args)
            .args(["--redis-url", &self.namespace.url])
            .args(["--env", &self.namespace.name])
            .output()
            .unwrap()
    }
}

const OLD: &str = "ADDED:2021-05-12T13:31:45.006Z@lixin-macbook.local";
const NEW: &str =
    "ADDED:2026-11-26T07:00:00.123Z@reg-01.example.ac.kr:4f8c2a1e-8f0b-4c1d-9a7e-2b3c4d5e6f70";

#[test]
fn both_shedlock_formats_are_listed_and_shown() {
    let mut env = Env::new();
    env.write("nightly-report", OLD, 60_000);
    env.write("grade-sync", NEW, 30_000);

    let out = env.lock(&["list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let locks: Value = serde_json::from_slice(&out.stdout).unwrap();
    let locks = locks.as_array().unwrap();
    assert_eq!(locks.len(), 2, "{locks:?}");
    let sync = &locks[0];
    assert_eq!(sync["name"], "grade-sync");
    assert_eq!(sync["value"], NEW, "byte for byte");
    assert_eq!(sync["format"], "6.7+");
    assert_eq!(sync["host"], "reg-01.example.ac.kr");
    assert_eq!(sync["lock_id"], "4f8c2a1e-8f0b-4c1d-9a7e-2b3c4d5e6f70");
    assert_eq!(sync["locked_at"], "2026-11-26T07:00:00.123Z");
    assert!(sync["time_left_ms"].as_i64().unwrap() > 25_000);
    let report = &locks[1];
    assert_eq!(report["format"], "<=6.6");
    assert_eq!(report["host"], "lixin-macbook.local");
    assert!(report["lock_id"].is_null());

    let out = env.lock(&["list"]);
    let table = String::from_utf8(out.stdout).unwrap();
    let header = table.lines().next().unwrap();
    for column in [
        "NAME",
        "ENV",
        "HOST",
        "LOCK ID",
        "LOCKED AT",
        "TIME LEFT",
        "EPOCH",
        "FORMAT",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(table.contains("grade-sync") && table.contains("6.7+") && table.contains("<=6.6"));

    let out = env.lock(&["show", "grade-sync", "--json"]);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["value"], NEW);
    let out = env.lock(&["show", "no-such-lock"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no lock"));
}

#[test]
fn release_and_extend_act_on_the_value_just_read() {
    let mut env = Env::new();
    env.write("grade-sync", NEW, 30_000);

    let out = env.lock(&["extend", "grade-sync", "--for", "90s"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("job-lock:{}:grade-sync", env.namespace.name))
        .query(&mut env.conn)
        .unwrap();
    assert!(ttl > 80_000, "{ttl}");
    assert_eq!(
        env.get("grade-sync").as_deref(),
        Some(NEW),
        "extending keeps the value"
    );

    let out = env.lock(&["release", "grade-sync"]);
    assert!(out.status.success());
    assert_eq!(env.get("grade-sync"), None);
    let out = env.lock(&["release", "grade-sync"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("not held"));
    let out = env.lock(&["extend", "grade-sync", "--for", "30s"]);
    assert!(!out.status.success());
}

#[test]
fn a_bad_redis_url_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = classmate(dir.path())
        .args([
            "lock",
            "list",
            "--redis-url",
            "redis://:lock-secret@127.0.0.1:1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot reach Redis"), "{stderr}");
    assert!(!stderr.contains("lock-secret"), "no password: {stderr}");
}
