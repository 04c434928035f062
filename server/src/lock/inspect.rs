//! The operator's view of ShedLock locks in Redis: list, show, release, extend. Works on any
//! ShedLock lock (ours or a Java service's), in either of ShedLock's value formats.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use serde::Serialize;

use super::{LockError, LockValue};
use crate::redis_conn::scan_keys;

static RELEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/release.lua")));
static RENEW: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/renew.lua")));

/// Which ShedLock wrote a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ValueFormat {
    /// `ADDED:<time>@<host>`, ShedLock up to 6.6.
    #[serde(rename = "<=6.6")]
    UpTo6_6,
    /// `ADDED:<time>@<host>:<uuid>`, ShedLock 6.7 and later.
    #[serde(rename = "6.7+")]
    From6_7,
    /// Neither: written by something else.
    #[serde(rename = "unknown")]
    Unknown,
}

/// One lock as Redis holds it now.
#[derive(Debug, Clone, Serialize)]
pub struct LockInfo {
    pub key: String,
    pub env: String,
    pub name: String,
    /// The raw value, byte for byte.
    pub value: String,
    pub format: ValueFormat,
    pub host: Option<String>,
    pub lock_id: Option<String>,
    /// RFC 3339.
    pub locked_at: Option<String>,
    /// Milliseconds until Redis expires the key; `None` if it has no expiry.
    pub time_left_ms: Option<i64>,
    /// The fencing epoch beside the lock (Classmate's addition; absent for plain ShedLock).
    pub epoch: Option<u64>,
}

/// What a release did.
#[derive(Debug, Clone)]
pub enum Released {
    /// Deleted: it still held the value that was read.
    Released(LockInfo),
    /// There was no such lock.
    NotHeld,
    /// Its value changed between the read and the delete (another holder took it); kept.
    Changed(LockInfo),
}

/// Locks under one key prefix (ShedLock's `job-lock` unless configured otherwise).
pub struct LockInspector {
    conn: ConnectionManager,
    prefix: String,
}

fn unavailable(error: redis::RedisError) -> LockError {
    LockError::Unavailable(error.to_string())
}

impl LockInspector {
    /// Inspects locks under `prefix` over `conn`.
    pub fn new(conn: ConnectionManager, prefix: &str) -> LockInspector {
        LockInspector {
            conn,
            prefix: prefix.to_owned(),
        }
    }

    fn key(&self, env: &str, name: &str) -> String {
        format!("{}:{env}:{name}", self.prefix)
    }

    /// The fencing counter's key. Classmate writes it only beside its own prefix.
    fn epoch_key(&self, env: &str, name: &str) -> String {
        format!("{}-epoch:{env}:{name}", self.prefix)
    }

    /// Every lock in `env` (every environment when `None`), by key.
    pub async fn list(&self, env: Option<&str>) -> Result<Vec<LockInfo>, LockError> {
        let pattern = format!("{}:{}:*", self.prefix, env.unwrap_or("*"));
        let keys = scan_keys(&mut self.conn.clone(), &pattern)
            .await
            .map_err(unavailable)?;
        let mut locks = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(rest) = key.strip_prefix(&format!("{}:", self.prefix)) else {
                continue;
            };
            let Some((env, name)) = rest.split_once(':') else {
                continue;
            };
            if let Some(info) = self.show(env, name).await? {
                locks.push(info);
            }
        }
        Ok(locks)
    }

    /// Lock `name` in `env`, if held.
    pub async fn show(&self, env: &str, name: &str) -> Result<Option<LockInfo>, LockError> {
        let key = self.key(env, name);
        let (value, ttl, epoch): (Option<String>, i64, Option<u64>) = redis::pipe()
            .cmd("GET")
            .arg(&key)
            .cmd("PTTL")
            .arg(&key)
            .cmd("GET")
            .arg(self.epoch_key(env, name))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let Some(value) = value else {
            return Ok(None);
        };
        let parsed = LockValue::parse(&value);
        let format = match &parsed {
            Some(v) if v.lock_id.is_some() => ValueFormat::From6_7,
            Some(_) => ValueFormat::UpTo6_6,
            None => ValueFormat::Unknown,
        };
        Ok(Some(LockInfo {
            env: env.to_owned(),
            name: name.to_owned(),
            format,
            host: parsed.as_ref().map(|v| v.host.clone()),
            lock_id: parsed.as_ref().and_then(|v| v.lock_id.clone()),
            locked_at: parsed.as_ref().and_then(|v| {
                v.locked_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .ok()
            }),
            time_left_ms: (ttl >= 0).then_some(ttl),
            epoch,
            key,
            value,
        }))
    }

    /// Releases lock `name`. Without `force`, compare-and-delete against the value just read,
    /// so a lock taken over in between is not stolen; with `force`, whatever holds it.
    pub async fn release(&self, env: &str, name: &str, force: bool) -> Result<Released, LockError> {
        match self.show(env, name).await? {
            Some(info) => self.release_read(info, force).await,
            None => Ok(Released::NotHeld),
        }
    }

    /// Releases the lock `info` was read from, if it still holds `info.value` (or at all, with
    /// `force`).
    pub async fn release_read(&self, info: LockInfo, force: bool) -> Result<Released, LockError> {
        let deleted: i64 = match force {
            true => redis::cmd("DEL")
                .arg(&info.key)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(unavailable)?,
            false => RELEASE
                .key(&info.key)
                .arg(&info.value)
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(unavailable)?,
        };
        Ok(match deleted {
            1 => Released::Released(info),
            _ => match self.show(&info.env, &info.name).await? {
                Some(now) => Released::Changed(now),
                None => Released::NotHeld,
            },
        })
    }

    /// Sets lock `name` to expire `by` from now, if it still holds the value just read.
    pub async fn extend(
        &self,
        env: &str,
        name: &str,
        by: Duration,
    ) -> Result<Option<LockInfo>, LockError> {
        let Some(info) = self.show(env, name).await? else {
            return Ok(None);
        };
        let extended: i64 = RENEW
            .key(&info.key)
            .arg(&info.value)
            .arg(u64::try_from(by.as_millis()).unwrap_or(u64::MAX).max(1))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        match extended {
            1 => self.show(env, name).await,
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lock_taken_over_after_the_read_is_not_released() {
        let namespace = classmate_testkit::RedisNamespace::new("i");
        let conn = crate::redis_conn::connect(&namespace.url)
            .await
            .unwrap_or_else(|e| panic!("this test needs Redis at {}: {e}", namespace.url));
        let env = namespace.name.clone();
        let inspector = LockInspector::new(conn.clone(), "job-lock");
        let key = format!("job-lock:{env}:job");
        let set = |value: &'static str| {
            let mut conn = conn.clone();
            let key = key.clone();
            async move {
                let _: () = redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("PX")
                    .arg(60_000)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
            }
        };
        set("ADDED:2026-11-26T07:00:00.000Z@a").await;
        let read = inspector.show(&env, "job").await.unwrap().unwrap();
        // Another holder takes the lock between the operator's read and the release.
        set("ADDED:2026-11-26T07:00:05.000Z@b").await;
        match inspector.release_read(read.clone(), false).await.unwrap() {
            Released::Changed(now) => assert_eq!(now.host.as_deref(), Some("b")),
            other => panic!("{other:?}"),
        }
        assert!(inspector.show(&env, "job").await.unwrap().is_some(), "kept");
        // --force deletes whatever holds it.
        assert!(matches!(
            inspector.release_read(read, true).await.unwrap(),
            Released::Released(_)
        ));
        assert!(inspector.show(&env, "job").await.unwrap().is_none());
    }
}
