//! The operator's settings, read from the database and kept at hand: every request checks the
//! opening time and the mode, and a database read per request would be the bottleneck.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::store::{QueueSettings, SettingsChange, Store, StoreError};

/// How stale the settings of another process's change can be here.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// The settings, refreshed from the database every [`REFRESH_EVERY`].
#[derive(Clone)]
pub struct LiveSettings {
    current: Arc<watch::Sender<QueueSettings>>,
}

impl LiveSettings {
    /// Reads the settings once.
    pub async fn load(store: &dyn Store) -> Result<LiveSettings, StoreError> {
        let settings = store.queue_settings().await?;
        Ok(LiveSettings {
            current: Arc::new(watch::Sender::new(settings)),
        })
    }

    /// The settings as last read.
    pub fn get(&self) -> QueueSettings {
        self.current.borrow().clone()
    }

    /// Re-reads the settings.
    pub async fn refresh(&self, store: &dyn Store) -> Result<(), StoreError> {
        let settings = store.queue_settings().await?;
        self.current.send_replace(settings);
        Ok(())
    }

    /// Applies an operator's change; this process sees it at once, others within a second.
    pub async fn change(
        &self,
        store: &dyn Store,
        change: &SettingsChange,
    ) -> Result<QueueSettings, StoreError> {
        let settings = store.change_settings(change).await?;
        self.current.send_replace(settings.clone());
        Ok(settings)
    }

    /// Refreshes until `stop` turns true.
    pub async fn keep_fresh(self, store: Arc<dyn Store>, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(REFRESH_EVERY) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            if let Err(e) = self.refresh(store.as_ref()).await {
                tracing::warn!(error = %e, "could not refresh the registration settings");
            }
        }
    }
}
