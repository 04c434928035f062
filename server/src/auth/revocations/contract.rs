//! The revocation cache's contract, run against Redis and in process.

use std::sync::Arc;
use std::time::Duration;

use classmate_testkit::{RedisNamespace, eventually};

use super::*;
use crate::clock::now_ms;

/// A cache under test, and a way to make it lose everything it knows.
struct Harness {
    cache: Arc<dyn Revocations>,
    /// Redis: the test's namespace, whose keys a loss deletes. In process, a loss is a new cache.
    namespace: Option<RedisNamespace>,
}

impl Harness {
    async fn redis() -> Harness {
        let namespace = RedisNamespace::new("rv");
        let conn = crate::redis_conn::connect(&namespace.url)
            .await
            .unwrap_or_else(|e| panic!("these tests need Redis at {}: {e}", namespace.url));
        Harness {
            cache: Arc::new(RedisRevocations::new(conn, &namespace.name)),
            namespace: Some(namespace),
        }
    }

    fn memory() -> Harness {
        Harness {
            cache: Arc::new(MemoryRevocations::new()),
            namespace: None,
        }
    }

    fn lose(&mut self) {
        match &self.namespace {
            Some(namespace) => namespace.delete_keys(),
            None => self.cache = Arc::new(MemoryRevocations::new()),
        }
    }
}

macro_rules! contract_tests {
    ($($test:ident),* $(,)?) => {
        mod redis_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Harness::redis().await).await;
                }
            )*
        }
        mod memory_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Harness::memory()).await;
                }
            )*
        }
    };
}

contract_tests!(
    nothing_is_known_until_a_refill,
    a_loss_forgets_everything_until_the_next_refill,
    a_revocation_is_forgotten_once_the_token_expires,
);

const LATER: Duration = Duration::from_secs(3600);

fn later() -> i64 {
    now_ms() + LATER.as_millis() as i64
}

async fn nothing_is_known_until_a_refill(h: Harness) {
    let cache = &h.cache;
    assert_eq!(cache.is_revoked("a").await.unwrap(), None);
    // Revoking works even then, and the refill does not forget it.
    cache.revoke("a", later()).await.unwrap();
    assert_eq!(cache.is_revoked("a").await.unwrap(), None);
    assert!(cache.refill(&[("b".into(), later())]).await.unwrap());
    assert_eq!(cache.is_revoked("a").await.unwrap(), Some(true));
    assert_eq!(cache.is_revoked("b").await.unwrap(), Some(true));
    assert_eq!(cache.is_revoked("c").await.unwrap(), Some(false));
    // Thousands at once, over several of the refill's calls.
    let many: Vec<(String, i64)> = (0..6_000).map(|i| (format!("m{i}"), later())).collect();
    assert!(cache.refill(&many).await.unwrap());
    assert_eq!(cache.is_revoked("m5999").await.unwrap(), Some(true));
}

async fn a_loss_forgets_everything_until_the_next_refill(mut h: Harness) {
    assert!(h.cache.refill(&[("a".into(), later())]).await.unwrap());
    assert_eq!(h.cache.is_revoked("a").await.unwrap(), Some(true));
    h.lose();
    // Not "valid": the cache no longer knows, so the caller must ask the database.
    assert_eq!(h.cache.is_revoked("a").await.unwrap(), None);
    assert!(h.cache.refill(&[("a".into(), later())]).await.unwrap());
    assert_eq!(h.cache.is_revoked("a").await.unwrap(), Some(true));
}

async fn a_revocation_is_forgotten_once_the_token_expires(h: Harness) {
    assert!(h.cache.refill(&[]).await.unwrap());
    h.cache.revoke("short", now_ms() + 200).await.unwrap();
    h.cache.revoke("long", later()).await.unwrap();
    assert_eq!(h.cache.is_revoked("short").await.unwrap(), Some(true));
    eventually(
        Duration::from_secs(5),
        "the expired token is forgotten",
        || async { (h.cache.is_revoked("short").await.unwrap() == Some(false)).then_some(()) },
    )
    .await;
    assert_eq!(h.cache.is_revoked("long").await.unwrap(), Some(true));
}
