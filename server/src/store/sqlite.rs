//! SQLite: the embedded default, one process, one file.
//!
//! SQLite has one writer at a time. The store keeps one write connection, so writes queue in
//! process instead of failing with SQLITE_BUSY, and a pool of read-only connections that WAL
//! lets read while it writes.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Acquire, Executor, Sqlite};

use super::dialect::Dialect;
use super::relational::SqlStore;
use super::{Backend, StoreError};

/// The store on a SQLite file.
pub type SqliteStore = SqlStore<Sqlite>;

impl Dialect for Sqlite {
    const BACKEND: Backend = Backend::Sqlite;
    /// IMMEDIATE takes the write lock up front. That is what serialises a student's
    /// transactions here, and it spares a read-then-write transaction the busy error a
    /// deferred one gets when another connection wrote in between.
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
    const LOCK_STUDENT: &'static str =
        "SELECT id, student_number, name, department, year FROM students WHERE id = $1";
    const LOCK_ROWS: &'static str = "";
    const NUMBERED_PARAMS: bool = false;
    const RESET: &'static [&'static str] = &[
        "DELETE FROM enrollments",
        "DELETE FROM ticket_decisions",
        "DELETE FROM cart_items",
        "DELETE FROM courses",
        "DELETE FROM students",
        "DELETE FROM roster",
    ];

    /// SQLite keeps no column types: a JSON number reads as an integer, a string as text.
    fn json_rows(n: usize, alias: &str, columns: &[(&str, &str)]) -> String {
        let columns: Vec<String> = columns
            .iter()
            .map(|(name, _)| format!("value ->> '$.{name}' AS {name}"))
            .collect();
        format!(
            "(SELECT {} FROM json_each(${n})) AS {alias}",
            columns.join(", ")
        )
    }
}

/// Creates the database file, and its directory, readable by this user only, unless it exists.
/// SQLite gives its `-wal` and `-shm` files the same permissions.
fn create_private(file: &std::path::Path) -> std::io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Rebuilds the tables that let a student id be given twice (see `sqlite_rebuild.sql`), once.
async fn never_reuse_ids(writer: &sqlx::SqlitePool) -> Result<(), StoreError> {
    let mut conn = writer.acquire().await?;
    let students: Option<String> = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'students'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    if students.is_some_and(|sql| sql.contains("AUTOINCREMENT")) {
        return Ok(());
    }
    // Foreign keys can be turned off only outside a transaction; the rebuild is inside one.
    conn.execute("PRAGMA foreign_keys = OFF").await?;
    let rebuilt = async {
        let mut tx = conn.begin().await?;
        tx.execute(include_str!("sqlite_rebuild.sql")).await?;
        tx.commit().await
    }
    .await;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    rebuilt?;
    Ok(())
}

/// Rows the write connection's thread may hand over before its reader takes them (sqlx's
/// default is 50). A drain batch reads thousands of rows in one statement; with 50, SQLite's
/// thread stopped every 50 rows until the drain's thread had run, and on a busy machine each
/// of those waits was a trip through the scheduler. Bounded: one statement at a time runs on
/// the writer.
const WRITER_ROW_BUFFER: usize = 8192;

/// The write-ahead log's size, in 4 KiB pages, past which a commit copies it into the database
/// file itself (SQLite's default is 1,000). Below it, the checkpointer does, beside the writer
/// ([`super::Store::checkpoint`]): a drain batch writes more than 1,000 pages, so with the
/// default every batch's commit also copied the log and waited for the file to be synced, a
/// quarter of the batch's time.
const WRITER_CHECKPOINT_PAGES: &str = "16384";

/// The size, in bytes, the write-ahead log's file is cut back to when it starts over.
const WAL_FILE_LIMIT: &str = "67108864";

impl SqliteStore {
    /// Opens (creating if needed) the file `url` names and brings the schema up to date.
    pub async fn connect(url: &str, max_connections: u32) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let file = options.get_filename();
        if !in_memory {
            create_private(file).map_err(|e| StoreError::Unavailable(e.into()))?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(
                options
                    .clone()
                    .row_buffer_size(WRITER_ROW_BUFFER)
                    .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)
                    .pragma("journal_size_limit", WAL_FILE_LIMIT),
            )
            .await?;
        sqlx::migrate!("src/store/migrations/sqlite")
            .run(&writer)
            .await?;
        never_reuse_ids(&writer).await?;
        // An in-memory database exists once per connection, so it cannot have separate readers.
        let reader = match in_memory {
            true => writer.clone(),
            false => {
                SqlitePoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options.clone().read_only(true))
                    .await?
            }
        };
        let checkpointer = match in_memory {
            true => None,
            false => Some(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?,
            ),
        };
        Ok(SqlStore {
            writer,
            reader,
            seats: Default::default(),
            checkpointer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn size(file: &std::path::Path) -> u64 {
        std::fs::metadata(file).unwrap().len()
    }

    #[tokio::test]
    async fn the_checkpointer_not_the_writer_copies_the_log_into_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("classmate.db");
        let url = format!("sqlite://{}", file.display());
        let store = SqliteStore::connect(&url, 2).await.unwrap();
        store.checkpoint().await.unwrap();
        let before = size(&file);

        // About 2,500 pages in one commit: past SQLite's own threshold of 1,000 pages, below ours.
        sqlx::query("CREATE TABLE filler (b BLOB)")
            .execute(&store.writer)
            .await
            .unwrap();
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) \
             INSERT INTO filler SELECT randomblob(4000) FROM n",
        )
        .execute(&store.writer)
        .await
        .unwrap();
        assert_eq!(size(&file), before, "the commit copied the log itself");

        store.checkpoint().await.unwrap();
        assert!(
            size(&file) >= before + 2500 * 4000,
            "{} bytes after the checkpoint, {before} before",
            size(&file)
        );
    }
}
