//! The drain's side of the database: one transaction per batch, behind the epoch fence.
//!
//! A batch costs a fixed handful of round trips whatever its size: the fence, the replay check,
//! the students, their schedules and the courses (each one `IN (…)` query), one multi-row insert
//! of enrollments, one conditional seat update per course, one multi-row insert of decisions, and
//! the commit.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::query::Query;
use sqlx::{Database, Executor, FromRow, IntoArguments, Transaction};
use time::OffsetDateTime;

use super::dialect::Dialect;
use super::rows::{CourseRow, DecisionRow, StudentCourseRow, StudentRow, convert_all};
use super::sql::placeholders;
use super::{SeatBoard, StoreError, sql};
use crate::clock::unix_ms;
use crate::domain::{Course, CourseId, Settled, Student, StudentId, Ticket, TicketState};

/// What a drain batch decides on, as the database holds it inside the batch's transaction.
#[derive(Debug, Default)]
pub struct DrainReads {
    /// Tickets of the batch the database already decided (a replay after a crash).
    pub decided: Vec<Ticket>,
    /// The batch's students, locked.
    pub students: Vec<Student>,
    /// The courses those students hold: (student, course).
    pub schedules: Vec<(StudentId, Course)>,
    /// The batch's courses, locked, with their seat counters.
    pub courses: Vec<Course>,
}

/// The open transaction of one drain batch.
#[async_trait]
pub trait DrainTx: Send {
    /// Writes the batch's new decisions: an enrollment row (carrying its ticket id) per enrolled
    /// ticket, the seats they take (refused with `SeatsChanged` if a course has fewer free seats
    /// than that), and a decision row per ticket.
    async fn record(
        &mut self,
        epoch: u64,
        decisions: &[(Ticket, Settled)],
    ) -> Result<(), StoreError>;

    /// Makes the batch durable.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// Rows per multi-row insert; far below either database's limit on bound parameters.
const INSERT_CHUNK: usize = 500;

fn unique(ids: impl IntoIterator<Item = i64>) -> Vec<i64> {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

pub(super) struct SqlDrainTx<DB: Database> {
    pub(super) tx: Transaction<'static, DB>,
    pub(super) seats: Arc<SeatBoard>,
    /// Seat counters the batch left, for the board once it commits.
    pub(super) seen: Vec<(CourseId, u32)>,
}

/// Passes the fence and reads the batch's snapshot.
pub(super) async fn begin<DB>(
    mut tx: Transaction<'static, DB>,
    seats: Arc<SeatBoard>,
    epoch: u64,
    tickets: &[Ticket],
) -> Result<(SqlDrainTx<DB>, DrainReads), StoreError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> i64: sqlx::Decode<'r, DB>,
    for<'r> CourseRow: FromRow<'r, DB::Row>,
    for<'r> StudentRow: FromRow<'r, DB::Row>,
    for<'r> StudentCourseRow: FromRow<'r, DB::Row>,
    for<'r> DecisionRow: FromRow<'r, DB::Row>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    pass_fence(&mut tx, epoch).await?;
    if tickets.is_empty() {
        let tx = SqlDrainTx {
            tx,
            seats,
            seen: Vec::new(),
        };
        return Ok((tx, DrainReads::default()));
    }

    let statement = format!(
        "{}{}",
        sql::DRAIN_DECIDED,
        placeholders(1, tickets.len(), DB::NUMBERED_PARAMS)
    );
    let mut query = sqlx::query_as::<DB, DecisionRow>(&statement);
    for ticket in tickets {
        query = query.bind(ticket.id.to_string());
    }
    let decided = convert_all(query.fetch_all(&mut *tx).await?)?;

    let student_ids = unique(tickets.iter().map(|t| t.student_id.0));
    // Students in id order, so two lockers never wait on each other in a cycle.
    let tail = format!(" ORDER BY id{}", DB::LOCK_ROWS);
    let rows: Vec<StudentRow> =
        rows_for_ids(&mut tx, sql::DRAIN_STUDENTS, &student_ids, &tail).await?;
    let students = convert_all(rows)?;

    let rows: Vec<StudentCourseRow> =
        rows_for_ids(&mut tx, sql::DRAIN_SCHEDULES, &student_ids, "").await?;
    let schedules = convert_all(rows)?;

    let course_ids = unique(tickets.iter().map(|t| t.course_id.0));
    let tail = format!(" ORDER BY c.id{}", DB::LOCK_ROWS);
    let rows: Vec<CourseRow> =
        rows_for_ids(&mut tx, sql::DRAIN_COURSES, &course_ids, &tail).await?;
    let courses = convert_all(rows)?;
    let reads = DrainReads {
        decided,
        students,
        schedules,
        courses,
    };
    let tx = SqlDrainTx {
        tx,
        seats,
        seen: Vec::new(),
    };
    Ok((tx, reads))
}

/// Runs `head` followed by the placeholders of `rows` (`width` columns each) in chunks of
/// [`INSERT_CHUNK`] rows, binding each row with `bind`.
async fn insert_rows<DB, T>(
    tx: &mut Transaction<'static, DB>,
    head: &str,
    width: usize,
    rows: &[T],
    bind: impl for<'q> Fn(
        Query<'q, DB, <DB as Database>::Arguments<'q>>,
        &T,
    ) -> Query<'q, DB, <DB as Database>::Arguments<'q>>,
) -> Result<(), StoreError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    for chunk in rows.chunks(INSERT_CHUNK) {
        let statement = format!(
            "{head}{}",
            placeholders(chunk.len(), width, DB::NUMBERED_PARAMS)
        );
        let mut query = sqlx::query::<DB>(&statement);
        for row in chunk {
            query = bind(query, row);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The rows of `head (ids…) tail`, read inside `tx`.
async fn rows_for_ids<DB, R>(
    tx: &mut Transaction<'static, DB>,
    head: &str,
    ids: &[i64],
    tail: &str,
) -> Result<Vec<R>, StoreError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    R: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
{
    let statement = format!(
        "{head}{}{tail}",
        placeholders(1, ids.len(), DB::NUMBERED_PARAMS)
    );
    let mut query = sqlx::query_as::<DB, R>(&statement);
    for id in ids {
        query = query.bind(*id);
    }
    Ok(query.fetch_all(&mut **tx).await?)
}

/// Records `epoch` as the newest that committed, unless a newer one already did. The row stays
/// locked until the transaction ends, which also serialises batches (and a paused ex-holder's
/// batch cannot slip in after its successor's).
pub(super) async fn pass_fence<DB>(
    tx: &mut Transaction<'static, DB>,
    epoch: u64,
) -> Result<i64, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> i64: sqlx::Decode<'r, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let signed = i64::try_from(epoch).map_err(|_| StoreError::Fenced { epoch })?;
    let generation: Option<i64> = sqlx::query_scalar(sql::PASS_FENCE)
        .bind(signed)
        .fetch_optional(&mut **tx)
        .await?;
    generation.ok_or(StoreError::Fenced { epoch })
}

#[async_trait]
impl<DB> DrainTx for SqlDrainTx<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB>,
    for<'q> time::OffsetDateTime: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> i64: sqlx::Decode<'r, DB>,
    for<'r> (i64, i32): FromRow<'r, DB::Row>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    async fn record(
        &mut self,
        epoch: u64,
        decisions: &[(Ticket, Settled)],
    ) -> Result<(), StoreError> {
        let enrolled: Vec<&(Ticket, Settled)> = decisions
            .iter()
            .filter(|(_, settled)| settled.state == TicketState::Enrolled)
            .collect();
        let now = time::OffsetDateTime::now_utc();
        // No ON CONFLICT: the snapshot already excluded every pair and ticket the database
        // holds, so a conflict here means something raced the batch, and the batch fails.
        insert_rows(
            &mut self.tx,
            sql::INSERT_DRAIN_ENROLLMENTS,
            4,
            &enrolled,
            |query, (ticket, _)| {
                query
                    .bind(ticket.student_id.0)
                    .bind(ticket.course_id.0)
                    .bind(now)
                    .bind(ticket.id.to_string())
            },
        )
        .await?;

        let mut seats: HashMap<i64, i64> = HashMap::new();
        for (ticket, _) in &enrolled {
            *seats.entry(ticket.course_id.0).or_default() += 1;
        }
        let mut courses: Vec<(i64, i64)> = seats.into_iter().collect();
        courses.sort_unstable();
        // One statement for every course of the batch: the round trips of a batch stay fixed
        // whatever the number of courses in it.
        let now = unix_ms(OffsetDateTime::now_utc());
        for chunk in courses.chunks(INSERT_CHUNK) {
            let statement = format!(
                "{}{}{}",
                sql::TAKE_SEATS[0],
                placeholders(chunk.len(), 3, DB::NUMBERED_PARAMS),
                sql::TAKE_SEATS[1]
            );
            let mut query = sqlx::query_as::<DB, (i64, i32)>(&statement);
            for (course_id, taken) in chunk {
                query = query.bind(*course_id).bind(*taken).bind(now);
            }
            let done: Vec<(i64, i32)> = query.fetch_all(&mut *self.tx).await?;
            if let Some((course_id, _)) = chunk
                .iter()
                .find(|(id, _)| !done.iter().any(|(taken, _)| taken == id))
            {
                return Err(StoreError::SeatsChanged {
                    course_id: CourseId(*course_id),
                });
            }
            self.seen.extend(
                done.into_iter()
                    .map(|(id, enrolled)| (CourseId(id), u32::try_from(enrolled).unwrap_or(0))),
            );
        }

        let epoch = i64::try_from(epoch).map_err(|_| StoreError::Fenced { epoch })?;
        insert_rows(
            &mut self.tx,
            sql::INSERT_DECISIONS,
            10,
            decisions,
            |query, (ticket, settled)| {
                query
                    .bind(ticket.id.to_string())
                    .bind(i64::try_from(ticket.id.generation).unwrap_or(i64::MAX))
                    .bind(i64::try_from(ticket.id.seq).unwrap_or(i64::MAX))
                    .bind(ticket.student_id.0)
                    .bind(ticket.course_id.0)
                    .bind(settled.state.as_str().to_owned())
                    .bind(settled.state.code().map(|code| code.as_str().to_owned()))
                    .bind(ticket.admitted_at_ms)
                    .bind(settled.decided_at_ms)
                    .bind(epoch)
            },
        )
        .await
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().await?;
        self.seats.record(&self.seen);
        Ok(())
    }
}
