//! Builds the whole server from one [`Config`] and runs it until asked to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::auth::key::KeyError;
use crate::auth::{self, AuthError, SigningKey, Tokens};
use crate::config::Config;
use crate::http::{self, AppState};
use crate::registration::Rules;
use crate::store::{self, Store, StoreError, Taken};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing key")]
    Key(#[from] KeyError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("administrator from configuration")]
    Admin(#[from] AuthError),
    #[error("server")]
    Serve(#[source] std::io::Error),
}

/// A server bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    config: Config,
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
        let key = match &config.jwt_secret {
            Some(secret) => SigningKey::from_secret(secret.expose())?,
            None => {
                let path = config.key_file();
                let (key, created) = SigningKey::load_or_generate(&path)?;
                if created {
                    tracing::info!(path = %path.display(), "generated a new token signing key");
                }
                key
            }
        };
        if let (Some(username), Some(password)) = (&config.admin_username, &config.admin_password) {
            match auth::create_admin(store.as_ref(), username, password.expose().to_owned()).await {
                Ok(admin) => {
                    tracing::info!(username = %admin.username, "created the configured administrator")
                }
                Err(AuthError::Store(StoreError::Taken(Taken::AdminUsername))) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let listener =
            TcpListener::bind(config.bind)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.bind,
                    source,
                })?;
        let state = AppState {
            store,
            tokens: Arc::new(Tokens::new(key, config.token_ttl)),
            rules: Rules {
                credit_cap: config.credit_cap,
                cart_limit: config.cart_limit,
            },
            cookie_secure: config.cookie_secure,
        };
        Ok(Application {
            listener,
            state,
            config,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The shared state: store, token issuer, rules.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting and lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let store = self.state.store.clone();
        let router = http::router(self.state, self.config.request_timeout);
        let served = axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(StartupError::Serve);
        store.close().await;
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
