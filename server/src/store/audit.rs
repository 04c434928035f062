//! The audit: what must hold in the database after any run, however many processes raced.
//! `classmate bench` runs it after every enrolling scenario; the multi-process tests after each
//! of theirs.

use async_trait::async_trait;
use serde::Serialize;
use sqlx::{Database, Executor, IntoArguments};

use super::StoreError;
use super::dialect::Dialect;
use super::relational::SqlStore;

/// One broken guarantee, with how often and a few examples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable name, e.g. `course_over_capacity`.
    pub check: &'static str,
    pub count: i64,
    /// Up to ten ids (course, student or ticket ids, as the check says).
    pub examples: Vec<String>,
}

/// Each check: a name and a query returning one text column per violation.
const CHECKS: [(&str, &str); 6] = [
    (
        "course_over_capacity",
        "SELECT CAST(id AS TEXT) FROM courses WHERE enrolled > capacity",
    ),
    (
        "seat_counter_unequal_to_rows",
        "SELECT CAST(c.id AS TEXT) FROM courses c WHERE c.enrolled <> \
         (SELECT count(*) FROM enrollments e WHERE e.course_id = c.id)",
    ),
    (
        "duplicate_enrollment",
        "SELECT CAST(student_id AS TEXT) || ':' || CAST(course_id AS TEXT) FROM enrollments \
         GROUP BY student_id, course_id HAVING count(*) > 1",
    ),
    (
        "enrollment_without_its_enrolled_ticket",
        "SELECT e.ticket_id FROM enrollments e WHERE e.ticket_id IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM ticket_decisions d WHERE d.ticket_id = e.ticket_id AND d.state = 'enrolled')",
    ),
    (
        "decision_not_terminal",
        "SELECT ticket_id FROM ticket_decisions WHERE state NOT IN \
         ('enrolled', 'rejected', 'cancelled', 'expired')",
    ),
    (
        // A later ticket won a seat in a course an earlier ticket of the same generation was
        // refused as full. Only meaningful for runs without cancellations, which free seats.
        "fifo_inversion",
        "SELECT f.ticket_id FROM ticket_decisions f WHERE f.code = 'COURSE_FULL' AND EXISTS \
         (SELECT 1 FROM ticket_decisions e WHERE e.state = 'enrolled' AND e.course_id = \
         f.course_id AND e.generation = f.generation AND e.seq > f.seq)",
    ),
];

/// Which checks to run.
#[derive(Debug, Clone, Copy)]
pub struct AuditScope {
    /// Include `fifo_inversion`; leave it out when the run cancelled enrollments.
    pub fifo: bool,
}

/// The database's side of the audit; the queue's side is in [`crate::audit`].
#[async_trait]
pub trait Audit: Send + Sync {
    /// Every broken guarantee the database shows: capacity, seat counters, duplicates, tickets
    /// and (in scope) FIFO order. Empty when all is well.
    async fn audit(&self, scope: AuditScope) -> Result<Vec<Finding>, StoreError>;
}

#[async_trait]
impl<DB: Dialect> Audit for SqlStore<DB>
where
    for<'c> &'c mut <DB as Database>::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> String: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    async fn audit(&self, scope: AuditScope) -> Result<Vec<Finding>, StoreError> {
        let mut findings = Vec::new();
        for (check, query) in CHECKS {
            if check == "fifo_inversion" && !scope.fifo {
                continue;
            }
            let examples: Vec<String> = sqlx::query_scalar(query).fetch_all(&self.reader).await?;
            if !examples.is_empty() {
                findings.push(Finding {
                    check,
                    count: examples.len() as i64,
                    examples: examples.into_iter().take(10).collect(),
                });
            }
        }
        Ok(findings)
    }
}
