//! PostgreSQL: production, shared by several server processes.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, Postgres};

use super::dialect::Dialect;
use super::relational::SqlStore;
use super::{Backend, StoreError};

/// The store on PostgreSQL.
pub type PgStore = SqlStore<Postgres>;

impl Dialect for Postgres {
    const BACKEND: Backend = Backend::Postgres;
    const BEGIN: &'static str = "BEGIN";
    /// The row lock is the per-student serialisation that keeps two concurrent enrollments of
    /// one student from both passing the credit cap or the clash check.
    const LOCK_STUDENT: &'static str =
        "SELECT id, student_number, name, department, year FROM students WHERE id = $1 FOR UPDATE";
    const LOCK_ROWS: &'static str = " FOR UPDATE";
    const NUMBERED_PARAMS: bool = true;
    const RESET: &'static [&'static str] =
        // Identities continue: an id is never given to a second student (or course).
        &[
            "TRUNCATE enrollments, ticket_decisions, cart_items, courses, students, roster \
             CONTINUE IDENTITY",
        ];

    fn json_rows(n: usize, alias: &str, columns: &[(&str, &str)]) -> String {
        let columns: Vec<String> = columns
            .iter()
            .map(|(name, kind)| format!("{name} {kind}"))
            .collect();
        format!(
            "json_to_recordset(${n}::json) AS {alias}({})",
            columns.join(", ")
        )
    }
}

impl PgStore {
    /// Connects to `url` and brings the schema up to date.
    pub async fn connect(url: &str, max_connections: u32) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        Self::connect_with(options, max_connections).await
    }

    /// Connects with prepared options (tests use them to pick a schema) and migrates.
    pub async fn connect_with(
        options: PgConnectOptions,
        max_connections: u32,
    ) -> Result<PgStore, StoreError> {
        // One plain connection first: if the server is down or refuses us, say why at once
        // instead of after the pool's acquire timeout.
        PgConnection::connect_with(&options).await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        // The migrator holds an advisory lock, so processes starting together migrate once.
        sqlx::migrate!("src/store/migrations/postgres")
            .run(&pool)
            .await?;
        Ok(SqlStore {
            writer: pool.clone(),
            reader: pool,
            seats: Default::default(),
            checkpointer: None,
        })
    }
}
