//! `classmate search`: a running server's index, seen and rebuilt as an operator would.

mod support;

use support::{Server, classmate};

#[test]
fn status_and_reindex_through_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let seeded = classmate(dir.path())
        .args([
            "seed",
            "--courses",
            "700",
            "--students",
            "10",
            "--unclaimed",
            "0",
        ])
        .output()
        .unwrap();
    assert!(seeded.status.success(), "{seeded:?}");
    let admin = [
        ("CLASSMATE_ADMIN_USERNAME", "operator"),
        ("CLASSMATE_ADMIN_PASSWORD", "a long operator password"),
    ];
    let server = Server::start(dir.path(), &admin);
    let search = |command: &str, env: &[(&str, &str)]| {
        classmate(dir.path())
            .args(["search", command, "--target", &server.base])
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };

    let status = search("status", &admin);
    let printed = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{status:?}");
    assert!(printed.contains("backend    tantivy"), "{printed}");
    assert!(
        printed.contains("documents  700"),
        "the seeded catalog, filled at start: {printed}"
    );

    let reindex = search("reindex", &admin);
    let printed = String::from_utf8_lossy(&reindex.stdout);
    assert!(reindex.status.success(), "{reindex:?}");
    assert!(
        printed.contains("색인을 다시 만들었습니다: 700 courses"),
        "{printed}"
    );

    let refused = search(
        "status",
        &[
            ("CLASSMATE_ADMIN_USERNAME", "operator"),
            ("CLASSMATE_ADMIN_PASSWORD", "not the password"),
        ],
    );
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("log-in refused"), "{said}");
    assert!(
        !said.contains("not the password"),
        "no secret in the output: {said}"
    );
}
