//! Logged-out tokens within one process, for the embedded default. It starts unloaded, as a
//! restarted process does, and is loaded from the database on first use.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{RevocationError, Revocations};
use crate::clock::now_ms;

/// Entries kept before expired ones are dropped.
const PRUNE_AT: usize = 10_000;

#[derive(Default)]
struct State {
    loaded: bool,
    /// Token id → when it expires anyway, Unix ms.
    revoked: HashMap<String, i64>,
}

/// The in-process cache.
#[derive(Default)]
pub struct MemoryRevocations {
    state: Mutex<State>,
}

/// Drops the entries that expired before now, once there are many.
fn prune(revoked: &mut HashMap<String, i64>) {
    if revoked.len() >= PRUNE_AT {
        let now = now_ms();
        revoked.retain(|_, until| *until > now);
    }
}

impl MemoryRevocations {
    /// An empty, unloaded cache.
    pub fn new() -> MemoryRevocations {
        MemoryRevocations::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Revocations for MemoryRevocations {
    async fn revoke(&self, jti: &str, until_ms: i64) -> Result<(), RevocationError> {
        let mut state = self.state();
        prune(&mut state.revoked);
        state.revoked.insert(jti.to_owned(), until_ms);
        Ok(())
    }

    async fn is_revoked(&self, jti: &str) -> Result<Option<bool>, RevocationError> {
        let state = self.state();
        Ok(state.loaded.then(|| {
            state
                .revoked
                .get(jti)
                .is_some_and(|until| *until > now_ms())
        }))
    }

    async fn refill(&self, live: &[(String, i64)]) -> Result<bool, RevocationError> {
        let mut state = self.state();
        state.revoked.extend(live.iter().cloned());
        prune(&mut state.revoked);
        state.loaded = true;
        Ok(true)
    }
}
