//! Logged-out session tokens. The database keeps every logout for good; a [`Revocations`] cache
//! (Redis, shared by every process, or in this process) answers the check each request makes
//! without a database read. [`Logouts`] puts the two together: it writes the database first,
//! and asks the database whenever the cache does not know (it lost its data, or the process
//! just started) while it refills the cache in the background.

#[cfg(test)]
mod contract;
mod memory;
mod redis;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

pub use memory::MemoryRevocations;
pub use redis::RedisRevocations;

use super::{AuthError, Claims};
use crate::clock::unix_ms;
use crate::store::Store;

/// Why the cache could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the revocation cache is unavailable: {0}")]
pub struct RevocationError(pub String);

/// A cache of logged-out tokens, with the same contract in Redis and in process.
#[async_trait]
pub trait Revocations: Send + Sync {
    /// Remembers that token `jti` was logged out, until `until_ms` (when it expires anyway).
    /// Works whether or not the cache is loaded.
    async fn revoke(&self, jti: &str, until_ms: i64) -> Result<(), RevocationError>;

    /// Whether token `jti` was logged out; `None` while the cache is not loaded.
    async fn is_revoked(&self, jti: &str) -> Result<Option<bool>, RevocationError>;

    /// Loads what the database holds (jti, expiry in Unix ms) and marks the cache loaded,
    /// unless the cache lost its data again meanwhile. Returns whether it is loaded now.
    async fn refill(&self, live: &[(String, i64)]) -> Result<bool, RevocationError>;
}

/// Logouts: the database's record and the cache in front of it.
pub struct Logouts {
    cache: Arc<dyn Revocations>,
    store: Arc<dyn Store>,
    refilling: Arc<AtomicBool>,
}

impl Logouts {
    /// Logouts kept in `store`, checked through `cache`.
    pub fn new(cache: Arc<dyn Revocations>, store: Arc<dyn Store>) -> Logouts {
        Logouts {
            cache,
            store,
            refilling: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Logs the token out until it would have expired anyway: in the database first, then in
    /// the cache. If the cache write fails the logout fails too (a token the database revoked
    /// but the cache does not know would still be accepted); logging out again is harmless.
    pub async fn record(&self, claims: &Claims) -> Result<(), AuthError> {
        let expires_at = claims.expires_at();
        self.store.revoke_token(&claims.jti, expires_at).await?;
        self.cache
            .revoke(&claims.jti, unix_ms(expires_at))
            .await
            .map_err(|e| AuthError::Unavailable(e.0))?;
        Ok(())
    }

    /// Whether token `jti` was logged out: the cache's answer, or the database's when the cache
    /// does not know or cannot be reached.
    pub async fn is_revoked(&self, jti: &str) -> Result<bool, AuthError> {
        match self.cache.is_revoked(jti).await {
            Ok(Some(revoked)) => return Ok(revoked),
            Ok(None) => self.refill_in_background(),
            Err(e) => tracing::debug!(error = %e, "asking the database about a token"),
        }
        Ok(self.store.is_token_revoked(jti).await?)
    }

    /// Starts one refill of the cache from the database, unless one is running.
    fn refill_in_background(&self) {
        if self.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        let (cache, store, refilling) = (
            self.cache.clone(),
            self.store.clone(),
            self.refilling.clone(),
        );
        tokio::spawn(async move {
            let outcome = match store.live_revocations().await {
                Ok(live) => cache.refill(&live).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(true) => tracing::info!("loaded the logged-out tokens into the cache"),
                Ok(false) => tracing::warn!("the revocation cache lost its data while loading"),
                Err(e) => tracing::warn!(error = %e, "could not load the revocation cache"),
            }
            refilling.store(false, Ordering::Release);
        });
    }
}
