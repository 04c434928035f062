//! Loading a whole catalog and student body at once, for `classmate seed`: multi-row inserts in
//! one transaction (PostgreSQL and SQLite alike), after an optional reset in the same
//! transaction, so a failed load leaves the database as it was.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::{Database, Executor, IntoArguments, Transaction};
use time::OffsetDateTime;

use super::StoreError;
use super::dialect::Dialect;
use super::relational::SqlStore;
use super::rows::CourseColumns;
use super::sql::{self, placeholders};
use crate::domain::{CourseId, CourseSpec, RosterEntry, StudentId};

/// Rows per insert statement: 14 course columns × 500 stays under SQLite's 32,766 parameters.
const CHUNK: usize = 500;

/// How many rows the tables that a seed fills hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataCounts {
    pub courses: u64,
    pub students: u64,
    pub enrollments: u64,
    /// Roster entries, claimed or not.
    pub roster: u64,
}

impl DataCounts {
    /// Whether there is nothing a seed would collide with.
    pub fn is_empty(&self) -> bool {
        self.courses == 0 && self.students == 0 && self.enrollments == 0 && self.roster == 0
    }
}

/// Seeding a database: what it holds, and loading rows in bulk.
#[async_trait]
pub trait Seeding: Send + Sync {
    /// How many courses, students, enrollments and roster entries there are.
    async fn data_counts(&self) -> Result<DataCounts, StoreError>;

    /// Opens one transaction that loads rows in bulk; with `reset`, it first empties every
    /// table a seed fills (administrators stay).
    async fn begin_bulk(&self, reset: bool) -> Result<Box<dyn BulkLoad>, StoreError>;
}

/// An open bulk load; dropping it without `commit` rolls everything back.
#[async_trait]
pub trait BulkLoad: Send {
    /// Inserts courses; returns their ids in the same order.
    async fn courses(&mut self, specs: &[CourseSpec]) -> Result<Vec<CourseId>, StoreError>;

    /// Inserts roster entries: who may sign up.
    async fn roster(&mut self, entries: &[RosterEntry]) -> Result<(), StoreError>;

    /// Inserts students who all log in with `password_hash`; returns their ids in order. They
    /// are not put on the roster: `roster` does that.
    async fn students(
        &mut self,
        students: &[RosterEntry],
        password_hash: &str,
    ) -> Result<Vec<StudentId>, StoreError>;

    /// Puts each student's courses in their cart, in order (the cart limit is not checked: the
    /// plan keeps to it).
    async fn carts(&mut self, carts: &[(StudentId, Vec<CourseId>)]) -> Result<(), StoreError>;

    /// Makes the load durable.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// The open transaction of one bulk load.
pub struct SqlBulk<DB: Database> {
    tx: Transaction<'static, DB>,
}

#[async_trait]
impl<DB: Dialect> Seeding for SqlStore<DB>
where
    SqlBulk<DB>: BulkLoad,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> (i64, i64, i64, i64): sqlx::FromRow<'r, DB::Row>,
{
    async fn data_counts(&self) -> Result<DataCounts, StoreError> {
        let (courses, students, enrollments, roster): (i64, i64, i64, i64) =
            sqlx::query_as(sql::DATA_COUNTS)
                .fetch_one(&self.reader)
                .await?;
        Ok(DataCounts {
            courses: courses.unsigned_abs(),
            students: students.unsigned_abs(),
            enrollments: enrollments.unsigned_abs(),
            roster: roster.unsigned_abs(),
        })
    }

    async fn begin_bulk(&self, reset: bool) -> Result<Box<dyn BulkLoad>, StoreError> {
        let mut tx = self.writer.begin_with(DB::BEGIN).await?;
        if reset {
            // In the load's own transaction: a load that fails leaves the old data in place.
            for statement in DB::RESET {
                sqlx::query::<DB>(statement).execute(&mut *tx).await?;
            }
        }
        Ok(Box::new(SqlBulk { tx }))
    }
}

#[async_trait]
impl<DB> BulkLoad for SqlBulk<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i16: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> OffsetDateTime: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> (i64, String, String): sqlx::FromRow<'r, DB::Row>,
    for<'r> (i64, String): sqlx::FromRow<'r, DB::Row>,
{
    async fn courses(&mut self, specs: &[CourseSpec]) -> Result<Vec<CourseId>, StoreError> {
        let now = OffsetDateTime::now_utc();
        let mut ids = Vec::with_capacity(specs.len());
        for chunk in specs.chunks(CHUNK) {
            let columns: Vec<CourseColumns> = chunk.iter().map(CourseColumns::from).collect();
            let statement = format!(
                "{}{} RETURNING id, subject, section",
                sql::BULK_COURSES,
                placeholders(chunk.len(), 14, DB::NUMBERED_PARAMS)
            );
            let mut query = sqlx::query_as::<DB, (i64, String, String)>(&statement);
            for c in &columns {
                query = query
                    .bind(c.subject)
                    .bind(c.section)
                    .bind(c.title)
                    .bind(c.department)
                    .bind(c.professor)
                    .bind(c.credits)
                    .bind(c.capacity)
                    .bind(c.meetings.clone())
                    .bind(c.weekday_mask)
                    .bind(c.allowed_years)
                    .bind(c.own_department_only)
                    .bind(c.is_open)
                    .bind(now)
                    .bind(now);
            }
            // RETURNING promises no order, so ids are matched back by code.
            let rows = query.fetch_all(&mut *self.tx).await?;
            let by_code: HashMap<(String, String), i64> =
                rows.into_iter().map(|(id, s, n)| ((s, n), id)).collect();
            for c in &columns {
                let id = by_code
                    .get(&(c.subject.to_owned(), c.section.to_owned()))
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("{}-{} not inserted", c.subject, c.section))
                    })?;
                ids.push(CourseId(*id));
            }
        }
        Ok(ids)
    }

    async fn roster(&mut self, entries: &[RosterEntry]) -> Result<(), StoreError> {
        for chunk in entries.chunks(CHUNK * 2) {
            let statement = format!(
                "{}{}",
                sql::BULK_ROSTER,
                placeholders(chunk.len(), 4, DB::NUMBERED_PARAMS)
            );
            let mut query = sqlx::query::<DB>(&statement);
            for e in chunk {
                query = query
                    .bind(e.number.as_str().to_owned())
                    .bind(e.name.clone())
                    .bind(e.department.clone())
                    .bind(i16::from(e.year.get()));
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn students(
        &mut self,
        students: &[RosterEntry],
        password_hash: &str,
    ) -> Result<Vec<StudentId>, StoreError> {
        let now = OffsetDateTime::now_utc();
        let mut ids = Vec::with_capacity(students.len());
        for chunk in students.chunks(CHUNK * 2) {
            let statement = format!(
                "{}{} RETURNING id, student_number",
                sql::BULK_STUDENTS,
                placeholders(chunk.len(), 6, DB::NUMBERED_PARAMS)
            );
            let mut query = sqlx::query_as::<DB, (i64, String)>(&statement);
            for s in chunk {
                query = query
                    .bind(s.number.as_str().to_owned())
                    .bind(s.name.clone())
                    .bind(s.department.clone())
                    .bind(i16::from(s.year.get()))
                    .bind(password_hash.to_owned())
                    .bind(now);
            }
            let by_number: HashMap<String, i64> = query
                .fetch_all(&mut *self.tx)
                .await?
                .into_iter()
                .map(|(id, number)| (number, id))
                .collect();
            for s in chunk {
                let id = by_number.get(s.number.as_str()).ok_or_else(|| {
                    StoreError::Corrupt(format!("student {} not inserted", s.number.as_str()))
                })?;
                ids.push(StudentId(*id));
            }
        }
        Ok(ids)
    }

    async fn carts(&mut self, carts: &[(StudentId, Vec<CourseId>)]) -> Result<(), StoreError> {
        let now = OffsetDateTime::now_utc();
        let items: Vec<(i64, i64, i16)> = carts
            .iter()
            .flat_map(|(student, courses)| {
                courses
                    .iter()
                    .enumerate()
                    .map(move |(slot, course)| (student.0, course.0, slot as i16))
            })
            .collect();
        // Four columns: ten times the courses' rows per statement, still under SQLite's limit.
        for chunk in items.chunks(CHUNK * 10) {
            let statement = format!(
                "{}{}",
                sql::BULK_CART_ITEMS,
                placeholders(chunk.len(), 4, DB::NUMBERED_PARAMS)
            );
            let mut query = sqlx::query::<DB>(&statement);
            for &(student, course, slot) in chunk {
                query = query.bind(student).bind(course).bind(slot).bind(now);
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}
