//! The lock within one process, for the embedded default: the same leases and epochs, no Redis.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Lease, LockError, LockValue, SchedulerLock};

#[derive(Default)]
struct Entry {
    holder: Option<(String, Instant)>,
    epoch: u64,
}

/// Named locks held in this process.
#[derive(Default)]
pub struct MemoryLock {
    locks: Mutex<HashMap<String, Entry>>,
}

impl MemoryLock {
    /// No lock held, every epoch 0.
    pub fn new() -> MemoryLock {
        MemoryLock::default()
    }

    /// The current epoch of lock `name`, for the in-process queue's fencing.
    pub fn current_epoch(&self, name: &str) -> u64 {
        self.with(name, |entry| entry.epoch)
    }

    /// Sets the epoch of lock `name`, as if it had been taken that often (for tests).
    #[cfg(test)]
    pub(crate) fn force_epoch(&self, name: &str, epoch: u64) {
        self.with(name, |entry| entry.epoch = epoch);
    }

    fn with<T>(&self, name: &str, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        let entry = locks.entry(name.to_owned()).or_default();
        if entry
            .holder
            .as_ref()
            .is_some_and(|(_, until)| *until <= Instant::now())
        {
            entry.holder = None;
        }
        f(entry)
    }
}

fn held_by(entry: &Entry, value: &str) -> bool {
    entry.holder.as_ref().is_some_and(|(v, _)| v == value)
}

#[async_trait]
impl SchedulerLock for MemoryLock {
    async fn try_acquire(&self, name: &str, lease: Duration) -> Result<Option<Lease>, LockError> {
        Ok(self.with(name, |entry| {
            if entry.holder.is_some() {
                return None;
            }
            let value = LockValue::new_for_this_host().render();
            entry.holder = Some((value.clone(), Instant::now() + lease));
            entry.epoch += 1;
            Some(Lease {
                name: name.to_owned(),
                value,
                epoch: entry.epoch,
            })
        }))
    }

    async fn renew(&self, lease: &Lease, duration: Duration) -> Result<bool, LockError> {
        Ok(self.with(&lease.name, |entry| {
            let ours = held_by(entry, &lease.value);
            if ours {
                entry.holder = Some((lease.value.clone(), Instant::now() + duration));
            }
            ours
        }))
    }

    async fn release(&self, lease: &Lease) -> Result<bool, LockError> {
        Ok(self.with(&lease.name, |entry| {
            let ours = held_by(entry, &lease.value);
            if ours {
                entry.holder = None;
            }
            ours
        }))
    }

    async fn epoch(&self, name: &str) -> Result<u64, LockError> {
        Ok(self.current_epoch(name))
    }

    async fn raise_epoch(&self, lease: &Lease, floor: u64) -> Result<Option<u64>, LockError> {
        Ok(self.with(&lease.name, |entry| {
            held_by(entry, &lease.value).then(|| {
                entry.epoch = entry.epoch.max(floor);
                entry.epoch
            })
        }))
    }
}
