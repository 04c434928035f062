//! Builds the whole server from one [`Config`] and runs it until asked to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::key::KeyError;
use crate::auth::{
    self, AuthError, Hashing, Logouts, MemoryRevocations, RedisRevocations, Revocations, Tokens,
};
use crate::config::{Config, QueueConfig};
use crate::http::listener::{self, ConnectionLimits};
use crate::http::{self, AppState, ClientLimits, InFlightRequestsCounter, LimitSettings};
use crate::lock::{MemoryLock, RedisLock, SchedulerLock};
use crate::queue::hub::Hub;
use crate::queue::{MemoryQueue, Queue, QueueError, RedisQueue};
use crate::registration::{DrainConfig, Drainer, LiveSettings, Registration, Rules};
use crate::search::database::DatabaseSearch;
use crate::search::elastic::ElasticIndex;
use crate::search::sync::{Search, SyncError};
use crate::search::tantivy_index::TantivyIndex;
use crate::search::{SearchBackend, SearchError, SearchIndex};
use crate::store::{self, Store, StoreError, Taken};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("queue")]
    Queue(#[from] QueueError),
    #[error("signing key")]
    Key(#[from] KeyError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("administrator from configuration")]
    Admin(#[from] AuthError),
    #[error("search index")]
    Search(#[from] SearchError),
    #[error("search index sync")]
    SearchSync(#[from] SyncError),
    #[error("cannot start the drain's thread")]
    DrainThread(#[source] std::io::Error),
    #[error("server")]
    Serve(#[source] std::io::Error),
}

/// A server bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    lock: Arc<dyn SchedulerLock>,
    config: Config,
}

/// What the server processes share: the queue, the drain lock and the revocation cache, all
/// in one Redis (over one connection), or all in this process.
#[derive(Clone)]
pub struct Shared {
    pub queue: Arc<dyn Queue>,
    pub lock: Arc<dyn SchedulerLock>,
    pub revocations: Arc<dyn Revocations>,
}

impl Shared {
    /// Opens what `config` asks for: Redis when it names one, else this process.
    pub async fn open(config: &QueueConfig) -> Result<Shared, QueueError> {
        match &config.redis_url {
            Some(url) => {
                let queue = RedisQueue::connect(url, &config.lock_env).await?;
                let conn = queue.connection();
                let env = &config.lock_env;
                Ok(Shared {
                    queue: Arc::new(queue),
                    lock: Arc::new(RedisLock::new(conn.clone(), env)),
                    revocations: Arc::new(RedisRevocations::new(conn, env)),
                })
            }
            None => {
                let lock = Arc::new(MemoryLock::new());
                Ok(Shared {
                    queue: Arc::new(MemoryQueue::new(lock.clone())),
                    lock,
                    revocations: Arc::new(MemoryRevocations::new()),
                })
            }
        }
    }
}

impl Application {
    /// Opens the configured database and builds the server on it.
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        let store = store::connect(&config.database.url, config.database.max_connections).await?;
        Self::with_store(config, store).await
    }

    /// Builds the server on an already opened store (tests pick their own schema this way).
    pub async fn with_store(
        config: Config,
        store: Arc<dyn Store>,
    ) -> Result<Application, StartupError> {
        let key = config.signing_key()?;
        let hashing = Arc::new(Hashing::new(config.hash_workers, config.hash_queue));
        if let (Some(username), Some(password)) = (&config.admin_username, &config.admin_password) {
            let password = password.expose().to_owned();
            match auth::create_admin(store.as_ref(), &hashing, username, password).await {
                Ok(admin) => {
                    tracing::info!(username = %admin.username, "created the configured administrator")
                }
                Err(AuthError::Store(StoreError::Taken(Taken::AdminUsername))) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let shared = Shared::open(&config.queue).await?;
        let index: Arc<dyn SearchIndex> = match config.search_backend() {
            SearchBackend::Tantivy => Arc::new(TantivyIndex::open(&config.search_location())?),
            SearchBackend::Database => Arc::new(DatabaseSearch::new(store.clone()).await?),
            SearchBackend::Elasticsearch => {
                let url = config.elasticsearch_url.as_ref().ok_or_else(|| {
                    SearchError::Index(
                        "the elasticsearch backend needs CLASSMATE_ELASTICSEARCH_URL".into(),
                    )
                })?;
                Arc::new(ElasticIndex::open(url.expose(), &config.elasticsearch_index).await?)
            }
        };
        let search = Search::new(index, store.clone()).await?;
        // Searches answer from the first request: an empty index is filled now, in bulk.
        search.catch_up().await?;
        store.refresh_seats().await?;
        let settings = LiveSettings::load(store.as_ref()).await?;
        let listener = http::listener::bind(config.bind).map_err(|source| StartupError::Bind {
            addr: config.bind,
            source,
        })?;
        let rules = Rules {
            credit_cap: config.credit_cap,
            cart_limit: config.cart_limit,
            open_tickets: config.open_tickets.unwrap_or(config.cart_limit),
        };
        let limits = Arc::new(ClientLimits::new(&LimitSettings {
            admissions_per_student: config.student_admission_rate,
            cart_limit: config.cart_limit,
            logins_per_address: config.logins_per_address,
            signups_per_address: config.signups_per_address,
            trusted_proxies: config.trusted_proxies.clone(),
        }));
        let state = AppState {
            registration: Registration::new(store.clone(), shared.queue.clone(), settings, rules),
            logouts: Arc::new(Logouts::new(shared.revocations, store.clone())),
            store,
            search,
            rendered: Arc::default(),
            queue: shared.queue,
            hub: Hub::new(),
            tokens: Arc::new(Tokens::new(key, config.token_ttl)),
            hashing,
            cookie_secure: config.cookie_secure,
            signup: config.signup,
            in_flight: InFlightRequestsCounter::default(),
            limits,
            live: http::queue::LiveLimits {
                idle_timeout: config.ws_idle_timeout,
                per_student: config.ws_per_student,
            },
        };
        Ok(Application {
            listener,
            state,
            lock: shared.lock,
            config,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// What the handlers share: the use cases, the store, the queue, the token issuer.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting and lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let state = self.state.clone();
        let registration = &state.registration;
        let (stop, stopped) = watch::channel(false);
        // The drain's thread first: failing to start it leaves nothing else running.
        let drain = if self.config.queue.drain {
            let drainer = Drainer {
                store: registration.store.clone(),
                queue: registration.queue.clone(),
                lock: self.lock.clone(),
                settings: registration.settings.clone(),
                rules: registration.rules,
                config: DrainConfig {
                    batch_max: self.config.queue.drain_batch as usize,
                    lease: self.config.queue.drain_lease,
                    ticket_ttl: self.config.queue.ticket_ttl,
                    ..DrainConfig::default()
                },
            };
            Some(
                drainer
                    .spawn(stopped.clone())
                    .map_err(StartupError::DrainThread)?,
            )
        } else {
            None
        };
        let mut workers = vec![
            tokio::spawn(
                registration
                    .settings
                    .clone()
                    .keep_fresh(state.store.clone(), stopped.clone()),
            ),
            tokio::spawn(state.hub.clone().run(state.queue.clone(), stopped.clone())),
            tokio::spawn(tidy_limits(state.limits.clone(), stopped.clone())),
            tokio::spawn(checkpoints(state.store.clone(), stopped.clone())),
            tokio::spawn(state.search.clone().run(stopped)),
        ];
        workers.extend(drain);
        let router = http::router(self.state, self.config.request_timeout, crate::web::pages());
        let limits = ConnectionLimits {
            max_connections: self.config.http_connections,
            header_timeout: self.config.header_timeout,
            shutdown_grace: self.config.request_timeout + std::time::Duration::from_secs(1),
        };
        let served = listener::serve(self.listener, router, limits, shutdown)
            .await
            .map_err(StartupError::Serve);
        // The drain finishes its batch and releases the lock, so another process takes over at
        // once instead of after the lease.
        let _ = stop.send(true);
        for worker in workers {
            let _ = worker.await;
        }
        state.store.close().await;
        served
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// Builds the server from `config` and serves until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> Result<(), StartupError> {
    let app = Application::build(config).await?;
    tracing::info!(
        addr = %app.local_addr(),
        backend = ?app.state().store.backend(),
        "listening"
    );
    app.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Every [`store::CHECKPOINT_EVERY`], copies the database's write-ahead log into its file.
async fn checkpoints(store: Arc<dyn Store>, stopped: watch::Receiver<bool>) {
    every(store::CHECKPOINT_EVERY, stopped, || async {
        if let Err(e) = store.checkpoint().await {
            tracing::warn!(error = %e, "could not checkpoint the database's log");
        }
    })
    .await
}

/// Every few seconds, forgets the clients whose rate limits have filled up again, so the
/// limiters' memory follows the clients of the last minutes, not every one ever seen.
async fn tidy_limits(limits: Arc<ClientLimits>, stopped: watch::Receiver<bool>) {
    every(std::time::Duration::from_secs(10), stopped, || async {
        limits.tidy()
    })
    .await
}

/// Runs `work` at once and then every `period`, until `stopped` turns true.
async fn every<F, W>(period: std::time::Duration, mut stopped: watch::Receiver<bool>, mut work: F)
where
    F: FnMut() -> W,
    W: Future<Output = ()>,
{
    let mut ticks = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        work().await;
    }
}
