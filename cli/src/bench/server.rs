//! The server under test: started in this process on the configured database and queue, or a
//! running one reached at `--target` (with its database and Redis, for the audit).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use classmate_server::auth::Tokens;
use classmate_server::config::redact_url;
use classmate_server::queue::Queue;
use classmate_server::startup::Shared;
use classmate_server::store::Database;
use classmate_server::{Application, Config};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The server a run drives, and what the bench needs of it besides HTTP.
pub struct Server {
    /// `http://host:port`.
    pub base: String,
    /// Its database, for the audit.
    pub database: Arc<dyn Database>,
    /// Its queue, for the audit; `None` for an embedded server in another process.
    pub queue: Option<Arc<dyn Queue>>,
    /// Mints tokens with the server's own key.
    pub tokens: Arc<Tokens>,
    /// What the report calls it, with every password hidden.
    pub description: String,
    running: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Server {
    /// Starts the server in this process on port 0, over `database`.
    pub async fn start(config: &Config, database: Arc<dyn Database>) -> anyhow::Result<Server> {
        let mut config = config.clone();
        config.bind = "127.0.0.1:0".parse()?;
        let app = Application::with_store(config.clone(), database.clone())
            .await
            .context("cannot start the server")?;
        let state = app.state().clone();
        let base = format!("http://{}", app.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = app
                .run_until(async {
                    let _ = stopped.await;
                })
                .await;
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while state.queue.generation().await?.is_none() {
            if std::time::Instant::now() > deadline {
                bail!("the queue did not start");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let db = redact_url(&config.database.url);
        let backends = match &config.queue.redis_url {
            Some(url) => format!("{db} and Redis {}", redact_url(url)),
            None => format!("{db}, in-process queue"),
        };
        Ok(Server {
            description: format!("in-process server on {base} ({backends})"),
            base,
            database,
            queue: Some(state.queue.clone()),
            tokens: state.tokens.clone(),
            running: Some((stop, task)),
        })
    }

    /// A running server at `url`. `config` must be the server's: its database, Redis and
    /// signing key.
    pub async fn reach(
        config: &Config,
        url: &str,
        database: Arc<dyn Database>,
    ) -> anyhow::Result<Server> {
        let base = url.trim_end_matches('/').to_owned();
        let health = reqwest::get(format!("{base}/healthz"))
            .await
            .with_context(|| format!("cannot reach {base}"))?;
        if !health.status().is_success() {
            bail!("{base}/healthz answered {}", health.status());
        }
        let queue = match &config.queue.redis_url {
            Some(_) => Some(Shared::open(&config.queue).await?.queue),
            // An embedded server's queue lives in its own process: only the database is audited.
            None => None,
        };
        let key = config
            .signing_key()
            .context("cannot load the signing key")?;
        Ok(Server {
            description: base.clone(),
            base,
            database,
            queue,
            tokens: Arc::new(Tokens::new(key, config.token_ttl)),
            running: None,
        })
    }

    /// Whether the server runs in this process (so its memory is this process's).
    pub fn in_process(&self) -> bool {
        self.running.is_some()
    }

    /// Stops a server this process started.
    pub async fn stop(self) {
        if let Some((stop, task)) = self.running {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}
