//! A PostgreSQL schema and a Redis key namespace of a test's own, so tests run in parallel on one
//! database and one Redis, and leave nothing behind, pass or fail.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::{Connection, Executor};

/// The PostgreSQL the tests use: `CLASSMATE_TEST_DATABASE_URL`, else the local `test` database.
pub fn postgres_url() -> String {
    std::env::var("CLASSMATE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The Redis the tests use: `CLASSMATE_TEST_REDIS_URL`, else the local one.
pub fn redis_url() -> String {
    std::env::var("CLASSMATE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// `<prefix>_<time>_<pid>_<n>`: a name no other test, in this process or another, uses at the
/// same time. Lower case, digits and `_`, so it serves as a schema name and a key segment.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_nanos();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{nanos:x}_{}_{n}", std::process::id())
}

/// A schema of its own in the test database, dropped with this value.
pub struct Schema {
    pub name: String,
    base_url: String,
}

impl Schema {
    /// Creates a schema named after `prefix` in the test database; panics when PostgreSQL cannot
    /// be reached.
    pub async fn new(prefix: &str) -> Schema {
        let base_url = postgres_url();
        let name = unique_name(prefix);
        let mut admin = sqlx::PgConnection::connect(&base_url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL at {base_url} is unreachable ({e}). Start it or set \
                     CLASSMATE_TEST_DATABASE_URL."
                )
            });
        admin
            .execute(format!("CREATE SCHEMA {name}").as_str())
            .await
            .unwrap_or_else(|e| panic!("cannot create schema {name}: {e}"));
        Schema { name, base_url }
    }

    /// The database URL with this schema as the search path, for a server process.
    pub fn url(&self) -> String {
        let separator = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}options=-c%20search_path%3D{}",
            self.base_url, self.name
        )
    }

    /// Connection options on this schema.
    pub fn options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(&self.base_url)
            .expect("a valid PostgreSQL URL")
            .options([("search_path", self.name.as_str())])
    }

    /// A pool of the test's own on this schema, apart from any the app opens.
    pub async fn pool(&self) -> PgPool {
        PgPool::connect_with(self.options())
            .await
            .unwrap_or_else(|e| panic!("a connection to schema {}: {e}", self.name))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.base_url.clone(), self.name.clone());
        // Drop runs outside async (or inside a runtime that must not block): a short-lived
        // thread with its own runtime cleans up.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the clean-up");
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let _ = conn
                        .execute(format!("DROP SCHEMA IF EXISTS {name} CASCADE").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}

/// A Redis key namespace of its own: the lock environment `name`, whose keys (the queue's
/// `classmate:<name>:…`, the lock's `job-lock:<name>:…` and its epoch
/// `job-lock-epoch:<name>:…`) all hold `:<name>:`. They are deleted with this value.
pub struct RedisNamespace {
    pub name: String,
    pub url: String,
}

impl RedisNamespace {
    /// A fresh namespace named after `prefix` on the tests' Redis.
    pub fn new(prefix: &str) -> RedisNamespace {
        RedisNamespace::on(redis_url(), unique_name(prefix))
    }

    /// Namespace `name` on the Redis at `url` (a schema's name, say, or a Redis of the test's
    /// own).
    pub fn on(url: String, name: String) -> RedisNamespace {
        RedisNamespace { name, url }
    }

    /// Deletes every key of the namespace now, as a Redis that lost its data would have;
    /// panics when Redis cannot be reached.
    pub fn delete_keys(&self) {
        if let Err(e) = self.try_delete_keys() {
            panic!(
                "Redis at {} is unreachable or refused to delete the keys of {} ({e}). Start it \
                 or set CLASSMATE_TEST_REDIS_URL.",
                self.url, self.name
            );
        }
    }

    fn try_delete_keys(&self) -> redis::RedisResult<()> {
        let mut conn = redis::Client::open(self.url.as_str())?.get_connection()?;
        let keys: Vec<String> =
            redis::Commands::scan_match::<_, String>(&mut conn, format!("*:{}:*", self.name))?
                .filter_map(Result::ok)
                .collect();
        for chunk in keys.chunks(1000) {
            redis::cmd("DEL").arg(chunk).query::<()>(&mut conn)?;
        }
        Ok(())
    }
}

impl Drop for RedisNamespace {
    fn drop(&mut self) {
        // Blocking is fine here, and unlike an async clean-up it also runs when a test panics.
        if let Err(e) = self.try_delete_keys() {
            eprintln!(
                "could not delete the keys of test namespace {}: {e}",
                self.name
            );
        }
    }
}

/// A schema and a Redis namespace under one name: what a test's server processes share (the
/// schema as their database, the name as their lock environment). Both go with this value.
pub struct Isolated {
    pub schema: Schema,
    pub redis: RedisNamespace,
}

impl Isolated {
    /// A fresh schema named after `prefix`, and the namespace of that name on the tests' Redis.
    pub async fn new(prefix: &str) -> Isolated {
        Isolated::on_redis(prefix, redis_url()).await
    }

    /// The same, on the Redis at `redis_url` (a Redis of the test's own, say).
    pub async fn on_redis(prefix: &str, redis_url: String) -> Isolated {
        let schema = Schema::new(prefix).await;
        let redis = RedisNamespace::on(redis_url, schema.name.clone());
        Isolated { schema, redis }
    }

    /// The name of both: the schema's, and the lock environment's.
    pub fn name(&self) -> &str {
        &self.schema.name
    }
}
