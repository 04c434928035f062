//! Every setting of the server, read once from `CLASSMATE_*` environment variables or flags.
//!
//! With nothing set, Classmate runs embedded: a SQLite file under `./data` and a signing key
//! generated beside it on first start.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::auth::key::KeyError;
use crate::auth::{SignUpPolicy, SigningKey};

use crate::domain::CreditCap;
use crate::http::Rate;
use crate::search::{IndexLocation, SearchBackend};

/// The database settings, shared by `serve` and the tools that open the database. Its `Debug`
/// hides the URL's password.
#[derive(Args, Clone)]
pub struct DatabaseConfig {
    /// Database URL: `postgres://user@host/db` or `sqlite://path/to/file.db`.
    #[arg(
        long = "database-url",
        env = "CLASSMATE_DATABASE_URL",
        default_value = "sqlite://data/classmate.db"
    )]
    pub url: String,

    /// Most database connections this process opens (SQLite: readers; it has one writer).
    #[arg(
        long = "db-max-connections",
        env = "CLASSMATE_DB_MAX_CONNECTIONS",
        default_value_t = 16,
        value_parser = clap::value_parser!(u32).range(1..=1000)
    )]
    pub max_connections: u32,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// JSON when standard output is not a terminal, readable text when it is.
    Auto,
    Json,
    Pretty,
}

/// A configured secret. `Debug` and `--help` never show it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

fn parse_secret(raw: &str) -> Result<Secret, String> {
    Ok(Secret(raw.to_owned()))
}

fn parse_credit_cap(raw: &str) -> Result<CreditCap, String> {
    raw.parse::<u16>()
        .ok()
        .and_then(CreditCap::new)
        .ok_or_else(|| "a whole number of credits from 1 to 40".to_owned())
}

/// The server's whole configuration.
#[derive(Args, Debug, Clone)]
pub struct Config {
    #[command(flatten)]
    pub database: DatabaseConfig,

    /// Address and port the HTTP server listens on (port 0 picks a free one).
    #[arg(long, env = "CLASSMATE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Secret that signs session tokens, at least 32 bytes. Every server process sharing a
    /// database needs the same one. Unset: a key generated once and kept in --jwt-key-file.
    #[arg(long, env = "CLASSMATE_JWT_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub jwt_secret: Option<Secret>,

    /// Where the generated signing key is kept when no secret is set
    /// [default: jwt.key beside the SQLite file, or ./data/jwt.key].
    #[arg(long, env = "CLASSMATE_JWT_KEY_FILE")]
    pub jwt_key_file: Option<PathBuf>,

    /// How long a login lasts, e.g. `2h`, `30m`.
    #[arg(long, env = "CLASSMATE_TOKEN_TTL", default_value = "2h", value_parser = humantime::parse_duration)]
    pub token_ttl: Duration,

    /// Most credits a student may hold (the original system used 20).
    #[arg(long, env = "CLASSMATE_CREDIT_CAP", default_value = "18", value_parser = parse_credit_cap)]
    pub credit_cap: CreditCap,

    /// Most courses a cart may hold.
    #[arg(long, env = "CLASSMATE_CART_LIMIT", default_value_t = 30)]
    pub cart_limit: u32,

    /// Most tickets one student may have waiting in the queue at once, across every process;
    /// beyond them 409 TOO_MANY_TICKETS [default: the cart limit].
    #[arg(long, env = "CLASSMATE_OPEN_TICKETS")]
    pub open_tickets: Option<u32>,

    /// Presses of 신청 per student, per process, e.g. `5/s` (a whole cart may come at once);
    /// beyond it 429 RATE_LIMITED with Retry-After. `off` turns it off.
    #[arg(long, env = "CLASSMATE_STUDENT_ADMISSION_RATE", default_value = "5/s")]
    pub student_admission_rate: Rate,

    /// Log-in attempts (students and administrators) per client address, per process, all of
    /// them at once if need be; beyond it 429 RATE_LIMITED. `off` turns it off.
    #[arg(long, env = "CLASSMATE_LOGINS_PER_ADDRESS", default_value = "600/min")]
    pub logins_per_address: Rate,

    /// Sign-ups per client address, per process; beyond it 429 RATE_LIMITED.
    #[arg(long, env = "CLASSMATE_SIGNUPS_PER_ADDRESS", default_value = "60/min")]
    pub signups_per_address: Rate,

    /// Addresses of reverse proxies (nginx) whose X-Forwarded-For names the client, comma
    /// separated. Requests from anyone else are limited by their own address.
    #[arg(long, env = "CLASSMATE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,

    /// Log format.
    #[arg(long, env = "CLASSMATE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,

    /// Log filter in tracing's EnvFilter syntax, e.g. `info` or `classmate_server=debug`.
    #[arg(long, env = "CLASSMATE_LOG", default_value = "info")]
    pub log: String,

    /// Creates this administrator at start-up if it does not exist (with --admin-password).
    #[arg(long, env = "CLASSMATE_ADMIN_USERNAME", requires = "admin_password")]
    pub admin_username: Option<String>,

    /// Password of --admin-username. Prefer the environment variable: flags show in `ps`.
    #[arg(long, env = "CLASSMATE_ADMIN_PASSWORD", hide_env_values = true, value_parser = parse_secret)]
    pub admin_password: Option<Secret>,

    /// Mark the session cookie `Secure` (set it when serving over HTTPS).
    #[arg(long, env = "CLASSMATE_COOKIE_SECURE", default_value_t = false)]
    pub cookie_secure: bool,

    /// Who may sign up: `roster` (the registrar's students, as `classmate seed` imported them)
    /// or `open` (anyone, with any department and year: for demos).
    #[arg(long, env = "CLASSMATE_SIGNUP", value_enum, default_value_t = SignUpPolicy::Roster)]
    pub signup: SignUpPolicy,

    /// Most password hashes (log-ins, sign-ups) computed at once, each on a thread of its own
    /// with 19 MiB, at a lower priority than requests; 0 is one per core.
    #[arg(long, env = "CLASSMATE_HASH_WORKERS", default_value_t = 0)]
    pub hash_workers: usize,

    /// Most log-ins and sign-ups waiting for a hashing worker; beyond them the server answers
    /// 503 BUSY with Retry-After.
    #[arg(long, env = "CLASSMATE_HASH_QUEUE", default_value_t = 64)]
    pub hash_queue: usize,

    /// Most connections open at once, WebSockets included; one more is answered 503
    /// TOO_MANY_CONNECTIONS with Retry-After and closed.
    #[arg(long, env = "CLASSMATE_HTTP_CONNECTIONS", default_value_t = 10_000)]
    pub http_connections: usize,

    /// Longest a client may take to send a request's headers, and longest a keep-alive
    /// connection may stay idle, before it is closed (against slowloris).
    #[arg(long, env = "CLASSMATE_HEADER_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_timeout: Duration,

    /// A queue WebSocket that has sent nothing (not even the answer to a ping, sent every
    /// third of this) for this long is closed.
    #[arg(long, env = "CLASSMATE_WS_IDLE_TIMEOUT", default_value = "45s", value_parser = humantime::parse_duration)]
    pub ws_idle_timeout: Duration,

    /// Most queue WebSockets one student may have open on this process; one more is refused
    /// with 429 TOO_MANY_SOCKETS.
    #[arg(long, env = "CLASSMATE_WS_PER_STUDENT", default_value_t = 5)]
    pub ws_per_student: u32,

    /// Longest a request may take before the server answers 503.
    #[arg(long, env = "CLASSMATE_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// What answers course searches: `tantivy`, an index in this process on disk, `database`,
    /// the database's own LIKE over pg_trgm trigram indexes (the baseline), or `elasticsearch`
    /// [default: elasticsearch when CLASSMATE_ELASTICSEARCH_URL is set, else tantivy].
    #[arg(long = "search-backend", env = "CLASSMATE_SEARCH_BACKEND", value_enum)]
    pub search: Option<SearchBackend>,

    /// Elasticsearch to search with (`http://host:9200`, or `https://user:password@host:9200`);
    /// it needs the analysis-nori plugin. One index, shared by every server process.
    #[arg(long, env = "CLASSMATE_ELASTICSEARCH_URL", value_parser = parse_secret)]
    pub elasticsearch_url: Option<Secret>,

    /// The alias searches go to in Elasticsearch; the indices behind it are `<alias>-<ms>`.
    #[arg(
        long,
        env = "CLASSMATE_ELASTICSEARCH_INDEX",
        default_value = "classmate-courses"
    )]
    pub elasticsearch_index: String,

    /// Where the search index lives; give every server process its own [default: a directory
    /// beside the SQLite file, e.g. data/classmate.search; with PostgreSQL a temporary
    /// directory, filled from the database at each start].
    #[arg(long, env = "CLASSMATE_SEARCH_DIR")]
    pub search_dir: Option<PathBuf>,

    #[command(flatten)]
    pub queue: QueueConfig,
}

/// The waiting queue's settings, shared by `serve` and the lock tools. Its `Debug` hides the
/// Redis URL's password.
#[derive(Args, Clone)]
pub struct QueueConfig {
    /// Redis URL (`redis://host:6379/0`) for the queue, the drain lock and sold-out flags, shared
    /// by every server process. Unset: an in-process queue and lock (one process only).
    #[arg(long = "redis-url", env = "CLASSMATE_REDIS_URL")]
    pub redis_url: Option<String>,

    /// ShedLock environment: the `<env>` in `job-lock:<env>:classmate-drain`, and the namespace
    /// of the queue's keys (`classmate:<env>:…`).
    #[arg(
        long = "lock-env",
        env = "CLASSMATE_LOCK_ENV",
        default_value = "default"
    )]
    pub lock_env: String,

    /// Whether this process competes for the drain lock (exactly one holder drains).
    #[arg(long, env = "CLASSMATE_DRAIN", default_value_t = true, action = clap::ArgAction::Set)]
    pub drain: bool,

    /// Most tickets the drain decides in one database transaction. A batch costs a fixed
    /// number of round trips to the database and Redis whatever its size, so a large one keeps
    /// up with a rush; an empty queue's next ticket is decided at once whatever this is. On
    /// SQLite a batch of 5,000 decided a 100,000-student rush's last ticket 5–7 s sooner than
    /// one of 2,000; on PostgreSQL + Redis the queue was never that deep.
    #[arg(
        long = "drain-batch",
        env = "CLASSMATE_DRAIN_BATCH",
        default_value_t = 5_000,
        value_parser = clap::value_parser!(u32).range(1..=5000)
    )]
    pub drain_batch: u32,

    /// How long the drain lock outlives a holder that stops renewing it (ShedLock's
    /// lockAtMostFor); another process takes over within this plus a quarter second.
    #[arg(long = "drain-lease", env = "CLASSMATE_DRAIN_LEASE", default_value = "2s", value_parser = humantime::parse_duration)]
    pub drain_lease: Duration,

    /// Tickets still waiting this long when their turn comes are `expired`.
    #[arg(long = "ticket-ttl", env = "CLASSMATE_TICKET_TTL", default_value = "10m", value_parser = humantime::parse_duration)]
    pub ticket_ttl: Duration,
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl fmt::Debug for QueueConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueConfig")
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("lock_env", &self.lock_env)
            .field("drain", &self.drain)
            .field("drain_batch", &self.drain_batch)
            .field("drain_lease", &self.drain_lease)
            .field("ticket_ttl", &self.ticket_ttl)
            .finish()
    }
}

impl Config {
    /// The defaults every flag documents, with `url` as the database and no environment read:
    /// what tests start from, whatever CLASSMATE_* variables the shell has.
    pub fn with_database(url: impl Into<String>) -> Config {
        use clap::{CommandFactory, FromArgMatches, Parser};
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            config: Config,
        }
        let matches = Defaults::command()
            .mut_args(|arg| arg.env(None::<&'static str>))
            .get_matches_from(["classmate"]);
        let mut config = Defaults::from_arg_matches(&matches)
            .expect("the defaults parse")
            .config;
        config.database.url = url.into();
        config
    }

    /// Where the generated signing key lives: the configured file, else `jwt.key` beside the
    /// SQLite database, else `./data/jwt.key`.
    pub fn key_file(&self) -> PathBuf {
        if let Some(path) = &self.jwt_key_file {
            return path.clone();
        }
        sqlite_path(&self.database.url)
            .and_then(|db| db.parent().map(|dir| dir.join("jwt.key")))
            .unwrap_or_else(|| Path::new("data").join("jwt.key"))
    }

    /// The search backend: as configured, else Elasticsearch when its URL is set, else tantivy.
    pub fn search_backend(&self) -> SearchBackend {
        match (self.search, &self.elasticsearch_url) {
            (Some(backend), _) => backend,
            (None, Some(_)) => SearchBackend::Elasticsearch,
            (None, None) => SearchBackend::Tantivy,
        }
    }

    /// Where the search index lives: `--search-dir`, else beside the SQLite file, else a
    /// temporary directory.
    pub fn search_location(&self) -> IndexLocation {
        if let Some(dir) = &self.search_dir {
            return IndexLocation::Dir(dir.clone());
        }
        match sqlite_path(&self.database.url) {
            Some(db) => IndexLocation::Dir(db.with_extension("search")),
            None => IndexLocation::Temporary,
        }
    }

    /// The key that signs session tokens: the configured secret, else the key kept in
    /// [`Config::key_file`], generated there on first use.
    pub fn signing_key(&self) -> Result<SigningKey, KeyError> {
        if let Some(secret) = &self.jwt_secret {
            return SigningKey::from_secret(secret.expose());
        }
        let path = self.key_file();
        let (key, created) = SigningKey::load_or_generate(&path)?;
        if created {
            tracing::info!(path = %path.display(), "generated a new token signing key");
        }
        Ok(key)
    }
}

/// `url` with its password, if it has one, written as `***`: fit for logs and reports.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The file a `sqlite:` URL points at, if it names one.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_index_sits_beside_the_sqlite_file() {
        let at = |url: &str| Config::with_database(url).search_location();
        assert_eq!(
            at("sqlite://data/classmate.db"),
            IndexLocation::Dir(PathBuf::from("data/classmate.search"))
        );
        assert_eq!(at("sqlite::memory:"), IndexLocation::Temporary);
        assert_eq!(at("postgres://localhost/test"), IndexLocation::Temporary);
        let mut config = Config::with_database("postgres://localhost/test");
        config.search_dir = Some(PathBuf::from("/srv/search"));
        assert_eq!(
            config.search_location(),
            IndexLocation::Dir(PathBuf::from("/srv/search"))
        );
    }

    #[test]
    fn the_key_file_sits_beside_the_sqlite_file() {
        let key = |url: &str| Config::with_database(url).key_file();
        assert_eq!(
            key("sqlite://data/classmate.db"),
            PathBuf::from("data/jwt.key")
        );
        assert_eq!(
            key("sqlite:///var/lib/cm/db.sqlite?mode=rwc"),
            PathBuf::from("/var/lib/cm/jwt.key")
        );
        assert_eq!(
            key("postgres://localhost/test"),
            PathBuf::from("data/jwt.key")
        );
        assert_eq!(key("sqlite::memory:"), PathBuf::from("data/jwt.key"));
    }

    #[test]
    fn passwords_in_urls_are_hidden() {
        assert_eq!(
            redact_url("redis://:s3cret@host:6379"),
            "redis://:***@host:6379"
        );
        assert_eq!(
            redact_url("postgres://app:pw@db/classmate"),
            "postgres://app:***@db/classmate"
        );
        assert_eq!(
            redact_url("sqlite://data/classmate.db"),
            "sqlite://data/classmate.db"
        );
        assert_eq!(redact_url("redis://user@host"), "redis://user@host");
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let mut config = Config::with_database("postgres://app:db-pass@db/classmate");
        config.queue.redis_url = Some("redis://:redis-pass@cache:6379".into());
        config.jwt_secret = Some("jwt-secret-0123456789abcdef0123456789".to_owned().into());
        config.admin_password = Some("admin-pass".to_owned().into());
        let shown = format!("{config:?}");
        for secret in ["db-pass", "redis-pass", "jwt-secret", "admin-pass"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("postgres://app:***@db/classmate"), "{shown}");
    }

    #[test]
    fn defaults_are_the_embedded_ones() {
        let config = Config::with_database("sqlite://x.db");
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.credit_cap.get(), 18);
        assert_eq!(config.token_ttl, Duration::from_secs(7200));
        assert!(config.jwt_secret.is_none());
    }
}
