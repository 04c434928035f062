//! Logged-out tokens in Redis, shared by every server process: `classmate:<env>:revoked:<jti>`
//! with the token's own expiry, and the `revocations:loaded` mark (see `revocations.lua`).

use std::sync::LazyLock;

use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;

use super::{RevocationError, Revocations};
use crate::redis_conn::one_line;

static SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("revocations.lua")));

/// Tokens written per refill call: small enough that no call blocks Redis for long.
const FILL_CHUNK: usize = 2_500;

/// How long a refill may take before another process may start one over it.
const LOADING_LEASE_MS: u64 = 60_000;

/// The cache in Redis, under the queue's namespace of environment `env`.
pub struct RedisRevocations {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisRevocations {
    /// The cache of environment `env` over an open connection.
    pub fn new(conn: ConnectionManager, env: &str) -> RedisRevocations {
        RedisRevocations {
            conn,
            prefix: format!("classmate:{env}:"),
        }
    }

    /// Runs one operation of the script; returns its status word.
    async fn run(&self, op: &str, args: &[String]) -> Result<String, RevocationError> {
        let reply: Vec<String> = SCRIPT
            .prepare_invoke()
            .arg(&self.prefix)
            .arg(op)
            .arg(args)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| RevocationError(one_line(&e)))?;
        reply
            .into_iter()
            .next()
            .ok_or_else(|| RevocationError(format!("{op} answered nothing")))
    }

    /// Claims the refill under `token`.
    async fn begin(&self, token: &str) -> Result<(), RevocationError> {
        self.run("begin", &[token.to_owned(), LOADING_LEASE_MS.to_string()])
            .await
            .map(drop)
    }

    /// Writes one chunk; false if the data was lost since `begin`.
    async fn fill(&self, token: &str, chunk: &[(String, i64)]) -> Result<bool, RevocationError> {
        let mut args = Vec::with_capacity(1 + 2 * chunk.len());
        args.push(token.to_owned());
        for (jti, until_ms) in chunk {
            args.push(jti.clone());
            args.push(until_ms.to_string());
        }
        Ok(self.run("fill", &args).await? == "OK")
    }

    /// Marks the cache loaded; false if the data was lost since `begin`.
    async fn finish(&self, token: &str) -> Result<bool, RevocationError> {
        Ok(self.run("finish", &[token.to_owned()]).await? == "OK")
    }
}

#[async_trait]
impl Revocations for RedisRevocations {
    async fn revoke(&self, jti: &str, until_ms: i64) -> Result<(), RevocationError> {
        self.run("revoke", &[jti.to_owned(), until_ms.to_string()])
            .await
            .map(drop)
    }

    async fn is_revoked(&self, jti: &str) -> Result<Option<bool>, RevocationError> {
        match self.run("check", &[jti.to_owned()]).await?.as_str() {
            "REVOKED" => Ok(Some(true)),
            "VALID" => Ok(Some(false)),
            "UNKNOWN" => Ok(None),
            other => Err(RevocationError(format!("check answered {other:?}"))),
        }
    }

    async fn refill(&self, live: &[(String, i64)]) -> Result<bool, RevocationError> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.begin(&token).await?;
        for chunk in live.chunks(FILL_CHUNK) {
            if !self.fill(&token, chunk).await? {
                return Ok(false);
            }
        }
        self.finish(&token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CourseId, StudentId};
    use crate::lock::{DRAIN_LOCK, epoch_key};
    use crate::queue::{Admission, AdmitLimits, Queue, RedisQueue, Restore};
    use crate::redis_conn::connect;

    /// The admission script reads the very keys this cache writes: a logged-out session is
    /// refused in the admission's own step, and nothing is admitted while the cache is unloaded.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_queue_refuses_a_logged_out_session_in_the_admission_itself() {
        let namespace = classmate_testkit::RedisNamespace::new("rq");
        let conn = connect(&namespace.url)
            .await
            .unwrap_or_else(|e| panic!("this test needs Redis at {}: {e}", namespace.url));
        let cache = RedisRevocations::new(conn.clone(), &namespace.name);
        let queue = RedisQueue::new(conn.clone(), &namespace.name);
        let _: () = ::redis::cmd("SET")
            .arg(epoch_key(&namespace.name, DRAIN_LOCK))
            .arg(1)
            .query_async(&mut conn.clone())
            .await
            .unwrap();
        let restore = Restore {
            generation: 1,
            ..Restore::default()
        };
        queue.restore(1, &restore).await.unwrap();
        let limits = AdmitLimits {
            per_second: 0,
            open_tickets: 0,
            now_ms: 1_000,
        };
        let press = |jti: &'static str, course: i64| {
            queue.admit_session(jti, StudentId(1), CourseId(course), limits)
        };

        // Not loaded: the queue cannot tell, and admits nothing.
        assert_eq!(press("gone", 10).await.unwrap(), None);
        let far = i64::MAX / 2;
        assert!(cache.refill(&[("gone".into(), far)]).await.unwrap());
        assert_eq!(press("gone", 10).await.unwrap(), Some(Admission::LoggedOut));
        let admitted = press("fine", 10).await.unwrap();
        assert!(
            matches!(admitted, Some(Admission::Queued(_))),
            "{admitted:?}"
        );
        cache.revoke("fine", far).await.unwrap();
        assert_eq!(press("fine", 11).await.unwrap(), Some(Admission::LoggedOut));
        assert_eq!(queue.status().await.unwrap().last_seq, 1, "one ticket only");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_loss_during_a_refill_leaves_the_cache_unloaded() {
        let namespace = classmate_testkit::RedisNamespace::new("rv");
        let conn = connect(&namespace.url)
            .await
            .unwrap_or_else(|e| panic!("this test needs Redis at {}: {e}", namespace.url));
        let cache = RedisRevocations::new(conn, &namespace.name);
        cache.begin("mine").await.unwrap();
        assert!(
            cache
                .fill("mine", &[("a".into(), i64::MAX / 2)])
                .await
                .unwrap()
        );
        // The data goes between two calls of the refill.
        namespace.delete_keys();
        assert!(
            !cache
                .fill("mine", &[("b".into(), i64::MAX / 2)])
                .await
                .unwrap()
        );
        assert!(!cache.finish("mine").await.unwrap());
        assert_eq!(cache.is_revoked("a").await.unwrap(), None);
        // Another refill that began later wins over a stale one.
        cache.begin("first").await.unwrap();
        cache.begin("second").await.unwrap();
        assert!(!cache.finish("first").await.unwrap());
        assert!(cache.finish("second").await.unwrap());
        assert_eq!(cache.is_revoked("a").await.unwrap(), Some(false));
    }
}
