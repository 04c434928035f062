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
    /// The in-process server's own threads.
    _runtime: Option<Threads>,
}

/// A runtime of its own for the in-process server. Sharing the generator's worker threads, a
/// search ranking on one of them held up every lane scheduled there, and the lanes' sends held
/// up the server: with threads of its own, the kernel shares the cores between the two as it
/// does between a server and a generator in separate processes.
struct Threads(Option<tokio::runtime::Runtime>);

impl Drop for Threads {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            // Dropped from async code: the server's tasks are not waited for.
            runtime.shutdown_background();
        }
    }
}

/// The in-process server's worker threads: as many as the machine has cores, as `classmate
/// serve` would have.
fn server_threads() -> anyhow::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("classmate-server")
        .enable_all()
        .build()
        .context("cannot start the server's threads")
}

impl Server {
    /// Starts the server in this process on port 0, over `database`.
    pub async fn start(config: &Config, database: Arc<dyn Database>) -> anyhow::Result<Server> {
        let mut config = config.clone();
        config.bind = "127.0.0.1:0".parse()?;
        let runtime = server_threads()?;
        let app = runtime
            .spawn(Application::with_store(config.clone(), database.clone()))
            .await
            .context("the server's start panicked")?
            .context("cannot start the server")?;
        let state = app.state().clone();
        let base = format!("http://{}", app.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = runtime.spawn(async move {
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
            _runtime: Some(Threads(Some(runtime))),
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
            _runtime: None,
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
