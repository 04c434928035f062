//! The bench as an operator: registration day's settings and the queue's depth, through the
//! admin API the operators' tools use.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::Value;

/// The admin API of one server.
pub struct Operator {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl Operator {
    /// The admin API at `base`, as the administrator whose token is `token`.
    pub fn new(base: &str, token: String) -> Operator {
        Operator {
            client: reqwest::Client::new(),
            url: format!("{base}/api/v1/admin/queue"),
            token,
        }
    }

    /// `GET /api/v1/admin/queue`: the settings and the queue's statistics.
    async fn overview(&self) -> anyhow::Result<Value> {
        Ok(self
            .client
            .get(&self.url)
            .bearer_auth(&self.token)
            .send()
            .await?
            .json()
            .await?)
    }

    /// Changes registration day's settings; returns them as they were before.
    pub async fn change_settings(&self, change: Value) -> anyhow::Result<Value> {
        let before = self.overview().await?;
        let response = self
            .client
            .put(&self.url)
            .bearer_auth(&self.token)
            .json(&change)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!(
                "PUT /api/v1/admin/queue answered {}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        Ok(before["settings"].clone())
    }

    /// Waits until the queue has decided every ticket, for at most `limit`; the audit that
    /// follows reports whatever is left undecided.
    pub async fn drained(&self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let depth = self.overview().await?["queue"]["depth"]
                .as_u64()
                .unwrap_or(0);
            if depth == 0 || Instant::now() > deadline {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
