//! A scheduler lock with a fencing epoch: exactly one process drains the queue at a time.
//!
//! [`RedisLock`] keeps the lock in ShedLock's own Redis format, so ShedLock tooling and
//! `classmate lock` read and release it: key `job-lock:<env>:<name>`, value
//! `ADDED:<ISO-8601 UTC with ms>@<hostname>:<uuid>` (ShedLock 6.7+), taken with `SET NX PX`,
//! renewed and released only by its holder (compare in Lua).
//!
//! ShedLock has no fencing. Every acquisition therefore also increments a separate counter,
//! `job-lock-epoch:<env>:<name>`, and the holder's [`Lease`] carries the value. The queue's
//! scripts and the database transaction of each drain batch refuse an epoch that is not the
//! current one, so a holder paused past its lease cannot change anything when it wakes up.
//! [`MemoryLock`] gives one process the same contract.

mod inspect;
mod memory;
mod redis;

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

pub use inspect::{LockInfo, LockInspector, Released, ValueFormat};
pub use memory::MemoryLock;
pub use redis::RedisLock;

/// The prefix ShedLock puts before every key.
pub const KEY_PREFIX: &str = "job-lock";

/// The environment ShedLock uses when none is configured.
pub const DEFAULT_ENV: &str = "default";

/// The lock the queue's drain worker takes.
pub const DRAIN_LOCK: &str = "classmate-drain";

/// ShedLock's key for lock `name` in `env`.
pub fn lock_key(env: &str, name: &str) -> String {
    format!("{KEY_PREFIX}:{env}:{name}")
}

/// The fencing counter beside lock `name` in `env`. Outside `job-lock:*`, so ShedLock's own
/// scans never see it.
pub fn epoch_key(env: &str, name: &str) -> String {
    format!("{KEY_PREFIX}-epoch:{env}:{name}")
}

/// A held lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    /// The value stored under the key; renewals and release compare against it.
    pub value: String,
    /// The fencing epoch of this acquisition.
    pub epoch: u64,
}

impl Lease {
    /// The UUID part of the value (what ShedLock 6.7+ adds to tell holders on one host apart).
    pub fn lock_id(&self) -> String {
        LockValue::parse(&self.value)
            .and_then(|v| v.lock_id)
            .unwrap_or_default()
    }
}

/// A lock value ShedLock wrote or would write, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockValue {
    pub locked_at: OffsetDateTime,
    pub host: String,
    /// Present in ShedLock 6.7+ values.
    pub lock_id: Option<String>,
}

impl LockValue {
    /// A fresh value for this host, as ShedLock 6.7+ writes it.
    pub fn new_for_this_host() -> LockValue {
        LockValue {
            locked_at: OffsetDateTime::now_utc(),
            host: hostname(),
            lock_id: Some(uuid::Uuid::new_v4().to_string()),
        }
    }

    /// `ADDED:2026-11-26T07:00:00.123Z@host:uuid` (or without `:uuid` for the old format).
    pub fn render(&self) -> String {
        let t = self.locked_at.to_offset(time::UtcOffset::UTC);
        let stamp = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        );
        match &self.lock_id {
            Some(id) => format!("ADDED:{stamp}@{}:{id}", self.host),
            None => format!("ADDED:{stamp}@{}", self.host),
        }
    }

    /// Reads a value in either ShedLock format; `None` if it is neither.
    pub fn parse(raw: &str) -> Option<LockValue> {
        let rest = raw.strip_prefix("ADDED:")?;
        let (stamp, holder) = rest.split_once('@')?;
        let locked_at =
            OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).ok()?;
        // A UUID has a fixed shape; a host name may itself contain ':' only in odd setups, so
        // the id is recognised by its shape rather than by the last ':'.
        let (host, lock_id) = match holder.rsplit_once(':') {
            Some((host, id)) if uuid::Uuid::try_parse(id).is_ok() => {
                (host.to_owned(), Some(id.to_owned()))
            }
            _ => (holder.to_owned(), None),
        };
        Some(LockValue {
            locked_at,
            host,
            lock_id,
        })
    }
}

/// This machine's host name, as ShedLock records it.
pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Why a lock operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the lock backend is unavailable: {0}")]
    Unavailable(String),
}

/// A named lock with leases and fencing epochs.
#[async_trait]
pub trait SchedulerLock: Send + Sync {
    /// Takes lock `name` for at most `lease` unless someone holds it. Each success increments
    /// the epoch.
    async fn try_acquire(&self, name: &str, lease: Duration) -> Result<Option<Lease>, LockError>;

    /// Extends the lease to `lease` from now if the lock is still this one; false if it is not
    /// (it expired, or someone released it).
    async fn renew(&self, lease: &Lease, duration: Duration) -> Result<bool, LockError>;

    /// Releases the lock if it is still this one.
    async fn release(&self, lease: &Lease) -> Result<bool, LockError>;

    /// The current epoch of lock `name` (0 if it was never taken).
    async fn epoch(&self, name: &str) -> Result<u64, LockError>;

    /// Sets the epoch of lock `name` to at least `floor` if `lease` still holds it, returning
    /// the epoch now in force. After a loss of Redis the counter restarts; the drain raises it
    /// past the last epoch the database saw so its batches pass the database's fence.
    async fn raise_epoch(&self, lease: &Lease, floor: u64) -> Result<Option<u64>, LockError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_render_as_shedlock_writes_them() {
        let value = LockValue {
            locked_at: time::macros::datetime!(2026-11-26 07:00:00.123 UTC),
            host: "reg-01".into(),
            lock_id: Some("4f8c2a1e-8f0b-4c1d-9a7e-2b3c4d5e6f70".into()),
        };
        let rendered = value.render();
        assert_eq!(
            rendered,
            "ADDED:2026-11-26T07:00:00.123Z@reg-01:4f8c2a1e-8f0b-4c1d-9a7e-2b3c4d5e6f70"
        );
        assert_eq!(LockValue::parse(&rendered), Some(value));
    }

    #[test]
    fn old_values_without_an_id_parse() {
        let parsed =
            LockValue::parse("ADDED:2021-05-12T13:31:45.006Z@lixin-macbook.local").unwrap();
        assert_eq!(parsed.host, "lixin-macbook.local");
        assert_eq!(parsed.lock_id, None);
        assert_eq!(parsed.locked_at.millisecond(), 6);
        assert!(LockValue::parse("LOCKED").is_none());
        assert!(LockValue::parse("ADDED:yesterday@host").is_none());
    }

    #[test]
    fn keys_follow_shedlock() {
        assert_eq!(
            lock_key("default", DRAIN_LOCK),
            "job-lock:default:classmate-drain"
        );
        assert_eq!(
            epoch_key("default", DRAIN_LOCK),
            "job-lock-epoch:default:classmate-drain"
        );
    }
}

/// The lock's contract, run against Redis and in process.
#[cfg(test)]
mod contract {
    use std::sync::Arc;
    use std::time::Duration;

    use classmate_testkit::{RedisNamespace, eventually};

    use super::*;

    /// Takes, renews, releases and fences lock `name` on `lock`.
    async fn leases_are_exclusive_and_fenced(lock: Arc<dyn SchedulerLock>, name: &str) {
        let lease = Duration::from_millis(400);
        let first = lock.try_acquire(name, lease).await.unwrap().expect("free");
        assert_eq!(first.epoch, lock.epoch(name).await.unwrap());
        assert!(LockValue::parse(&first.value).is_some_and(|v| v.lock_id.is_some()));
        assert!(
            lock.try_acquire(name, lease).await.unwrap().is_none(),
            "held"
        );
        assert!(lock.renew(&first, lease).await.unwrap());

        // Past its lease the lock is free, the next holder gets a newer epoch, and the old
        // holder can neither renew, release nor move the epoch.
        let second = eventually(Duration::from_secs(5), "the lease runs out", || async {
            lock.try_acquire(name, lease).await.unwrap()
        })
        .await;
        assert_eq!(second.epoch, first.epoch + 1);
        assert!(!lock.renew(&first, lease).await.unwrap());
        assert!(!lock.release(&first).await.unwrap());
        assert_eq!(lock.raise_epoch(&first, 99).await.unwrap(), None);

        // The holder raises the epoch past a floor, never below what it is.
        assert_eq!(lock.raise_epoch(&second, 10).await.unwrap(), Some(10));
        assert_eq!(lock.raise_epoch(&second, 3).await.unwrap(), Some(10));
        assert_eq!(lock.epoch(name).await.unwrap(), 10);

        assert!(lock.release(&second).await.unwrap());
        let third = lock
            .try_acquire(name, lease)
            .await
            .unwrap()
            .expect("released");
        assert_eq!(third.epoch, 11);
        assert!(lock.release(&third).await.unwrap());
    }

    #[tokio::test]
    async fn memory_lock_keeps_the_contract() {
        leases_are_exclusive_and_fenced(Arc::new(MemoryLock::new()), DRAIN_LOCK).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_lock_keeps_the_contract_in_shedlock_format() {
        let namespace = RedisNamespace::new("l");
        let conn = crate::redis_conn::connect(&namespace.url)
            .await
            .unwrap_or_else(|e| panic!("the lock tests need Redis at {}: {e}", namespace.url));
        let env = namespace.name.as_str();
        let lock = Arc::new(RedisLock::new(conn.clone(), env));

        // While held, the key and value are exactly what ShedLock writes and reads.
        let held = lock
            .try_acquire("report-job", Duration::from_secs(5))
            .await
            .unwrap()
            .unwrap();
        let (value, ttl_ms): (String, i64) = ::redis::pipe()
            .cmd("GET")
            .arg(lock_key(env, "report-job"))
            .cmd("PTTL")
            .arg(lock_key(env, "report-job"))
            .query_async(&mut conn.clone())
            .await
            .unwrap();
        assert_eq!(value, held.value);
        assert!(
            ttl_ms > 4_000 && ttl_ms <= 5_000,
            "PX lockAtMostFor: {ttl_ms}"
        );
        let (stamp, holder) = value
            .strip_prefix("ADDED:")
            .unwrap()
            .split_once('@')
            .unwrap();
        assert_eq!(stamp.len(), "2026-11-26T07:00:00.123Z".len(), "{stamp}");
        assert!(
            stamp.ends_with('Z') && stamp.as_bytes()[19] == b'.',
            "{stamp}"
        );
        assert_eq!(holder, format!("{}:{}", hostname(), held.lock_id()));
        assert!(lock.release(&held).await.unwrap());

        leases_are_exclusive_and_fenced(lock, DRAIN_LOCK).await;
    }
}
