//! `classmate bench` on the embedded default, as the README's first command runs it.

mod support;

use std::path::Path;

use serde_json::Value;
use support::classmate;

fn bench(dir: &Path, args: &[&str]) -> std::process::Output {
    classmate(dir).arg("bench").args(args).output().unwrap()
}

/// The report the last run wrote.
fn last_report(dir: &Path) -> Value {
    let mut runs: Vec<_> = std::fs::read_dir(dir.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    runs.sort();
    let last = runs.last().expect("a report directory");
    assert!(last.join("report.md").exists());
    serde_json::from_slice(&std::fs::read(last.join("report.json")).unwrap()).unwrap()
}

#[tokio::test]
async fn smoke_passes_on_a_fresh_machine_and_fails_on_a_broken_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = bench(dir.path(), &["--users", "120"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("seeding"),
        "an empty database is seeded first: {stdout}"
    );
    let report = last_report(dir.path());
    assert_eq!(report["version"], 1);
    assert_eq!(report["passed"], true, "{report}");
    assert!(report["audit"].as_array().unwrap().is_empty());
    let requests = report["requests"].as_array().unwrap();
    for name in [
        "GET courses",
        "GET course",
        "GET healthz",
        "POST cart",
        "GET cart",
        "DELETE cart",
        "POST enrollments",
        "GET queue status",
        "GET tickets",
        "GET enrollments",
        "GET me",
    ] {
        let r = requests
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(r["count"], 120, "{name}: {r}");
        assert_eq!(r["failures"], 0, "{name}: {r}");
        assert!(r["p99_ms"].as_f64().unwrap() > 0.0);
    }

    // Break a seat counter behind the application's back: the audit catches it and the run fails.
    let url = format!(
        "sqlite://{}",
        dir.path().join("data/classmate.db").display()
    );
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "UPDATE courses SET enrolled = enrolled + 1 WHERE id = (SELECT max(id) FROM courses)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let out = bench(dir.path(), &["--users", "20"]);
    assert!(!out.status.success());
    let report = last_report(dir.path());
    assert_eq!(report["passed"], false);
    assert_eq!(
        report["audit"][0]["check"], "seat_counter_unequal_to_rows",
        "{report}"
    );

    let out = bench(dir.path(), &["lottery"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scenario"));
}
