//! The lock in Redis, in ShedLock's format, with the fencing epoch beside it.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;

use super::{Lease, LockError, LockValue, SchedulerLock, epoch_key, lock_key};

static ACQUIRE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/acquire.lua")));
static RENEW: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/renew.lua")));
static RELEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/release.lua")));
static RAISE_EPOCH: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/raise_epoch.lua")));

/// ShedLock-compatible locks in one Redis, under one environment.
#[derive(Clone)]
pub struct RedisLock {
    conn: ConnectionManager,
    env: String,
}

impl RedisLock {
    /// Locks in `env` (ShedLock's environment, `default` unless configured) over `conn`.
    pub fn new(conn: ConnectionManager, env: &str) -> RedisLock {
        RedisLock {
            conn,
            env: env.to_owned(),
        }
    }
}

fn unavailable(error: redis::RedisError) -> LockError {
    LockError::Unavailable(error.to_string())
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

#[async_trait]
impl SchedulerLock for RedisLock {
    async fn try_acquire(&self, name: &str, lease: Duration) -> Result<Option<Lease>, LockError> {
        let value = LockValue::new_for_this_host().render();
        let epoch: u64 = ACQUIRE
            .key(lock_key(&self.env, name))
            .key(epoch_key(&self.env, name))
            .arg(&value)
            .arg(millis(lease))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok((epoch > 0).then(|| Lease {
            name: name.to_owned(),
            value,
            epoch,
        }))
    }

    async fn renew(&self, lease: &Lease, duration: Duration) -> Result<bool, LockError> {
        let renewed: i64 = RENEW
            .key(lock_key(&self.env, &lease.name))
            .arg(&lease.value)
            .arg(millis(duration))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(renewed == 1)
    }

    async fn release(&self, lease: &Lease) -> Result<bool, LockError> {
        let released: i64 = RELEASE
            .key(lock_key(&self.env, &lease.name))
            .arg(&lease.value)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(released == 1)
    }

    async fn epoch(&self, name: &str) -> Result<u64, LockError> {
        let epoch: Option<u64> = redis::cmd("GET")
            .arg(epoch_key(&self.env, name))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(epoch.unwrap_or(0))
    }

    async fn raise_epoch(&self, lease: &Lease, floor: u64) -> Result<Option<u64>, LockError> {
        let epoch: i64 = RAISE_EPOCH
            .key(lock_key(&self.env, &lease.name))
            .key(epoch_key(&self.env, &lease.name))
            .arg(&lease.value)
            .arg(floor)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(u64::try_from(epoch).ok())
    }
}
