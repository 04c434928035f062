//! What sets one database apart from the other for the one shared [`SqlStore`](super::SqlStore):
//! how a write transaction begins, how rows are locked, how parameters are written, how the
//! seeded tables are emptied. Each backend's file implements it for its sqlx driver.

use super::Backend;

/// One database's differences, as the constants the shared statements are built with.
pub trait Dialect: sqlx::Database {
    /// Which backend this is.
    const BACKEND: Backend;
    /// The statement that opens a write transaction.
    const BEGIN: &'static str;
    /// Reads a student by id (`$1`) and holds whatever lock serialises that student's
    /// transactions until the transaction ends.
    const LOCK_STUDENT: &'static str;
    /// Whether generated statements number their parameters (`$1`) or use plain `?`.
    const NUMBERED_PARAMS: bool;
    /// Statements that empty every table a seed fills, keeping administrators.
    const RESET: &'static [&'static str];
    /// Appended to a `SELECT` to lock its rows until the transaction ends ("" where the
    /// transaction's write lock already covers them).
    const LOCK_ROWS: &'static str;

    /// A table expression named `alias` over the JSON array of objects bound as parameter `$n`:
    /// a row per object, a column per `(name, SQL type)` of `columns`, read from the object's key
    /// of that name (a missing key or `null` reads as NULL).
    fn json_rows(n: usize, alias: &str, columns: &[(&str, &str)]) -> String;
}
