//! The drain's side of the database: one transaction per batch, behind the epoch fence.
//!
//! A batch costs a fixed handful of round trips whatever its size: the fence, the replay check,
//! the students, their schedules and the courses, the enrollments, the seats of every course,
//! the decisions, and the commit. Each statement takes its batch as one JSON parameter
//! ([`DrainStatements`]), so its text never changes and each connection prepares it once.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use sqlx::{Database, Executor, FromRow, IntoArguments, Transaction};
use time::OffsetDateTime;

use super::dialect::Dialect;
use super::rows::{CourseRow, DecisionRow, StudentCourseRow, StudentRow, convert_all};
use super::sql::{self, DrainStatements};
use super::{SeatBoard, StoreError};
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
    statements: DrainStatements,
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
    let mut drain = SqlDrainTx {
        tx,
        seats,
        seen: Vec::new(),
        statements: DrainStatements::new::<DB>(),
    };
    if tickets.is_empty() {
        return Ok((drain, DrainReads::default()));
    }
    let (tx, statements) = (&mut drain.tx, &drain.statements);

    let ticket_ids = json_ids(tickets.iter().map(|t| t.id.to_string()));
    let rows: Vec<DecisionRow> = rows_for(tx, &statements.decided, ticket_ids).await?;
    let decided = convert_all(rows)?;

    // Students, then courses, each locked in id order, so two lockers never wait on each other
    // in a cycle.
    let student_ids = json_ids(unique(tickets.iter().map(|t| t.student_id.0)));
    let rows: Vec<StudentRow> = rows_for(tx, &statements.students, student_ids.clone()).await?;
    let students = convert_all(rows)?;
    let rows: Vec<StudentCourseRow> = rows_for(tx, &statements.schedules, student_ids).await?;
    let schedules = convert_all(rows)?;

    let course_ids = json_ids(unique(tickets.iter().map(|t| t.course_id.0)));
    let rows: Vec<CourseRow> = rows_for(tx, &statements.courses, course_ids).await?;
    let courses = convert_all(rows)?;
    let reads = DrainReads {
        decided,
        students,
        schedules,
        courses,
    };
    Ok((drain, reads))
}

/// The rows of `statement`, whose one parameter is the JSON `param`, read inside `tx`.
async fn rows_for<DB, R>(
    tx: &mut Transaction<'static, DB>,
    statement: &str,
    param: String,
) -> Result<Vec<R>, StoreError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    R: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
{
    Ok(sqlx::query_as::<DB, R>(statement)
        .bind(param)
        .fetch_all(&mut **tx)
        .await?)
}

/// `[{"id": …}, …]`, the parameter of a statement over a list of ids.
fn json_ids<T: Serialize>(ids: impl IntoIterator<Item = T>) -> String {
    #[derive(Serialize)]
    struct Id<T> {
        id: T,
    }
    let ids: Vec<Id<T>> = ids.into_iter().map(|id| Id { id }).collect();
    to_json(&ids)
}

fn to_json<T: Serialize>(rows: &[T]) -> String {
    serde_json::to_string(rows).expect("rows of numbers and strings serialise")
}

/// An enrollment row of [`DrainStatements::enrollments`].
#[derive(Serialize)]
struct EnrollmentJson {
    student_id: i64,
    course_id: i64,
    ticket_id: String,
}

/// A course's seats taken, for [`DrainStatements::take_seats`].
#[derive(Serialize)]
struct SeatsJson {
    course_id: i64,
    taken: i64,
}

/// A decision row of [`DrainStatements::decisions`].
#[derive(Serialize)]
struct DecisionJson {
    ticket_id: String,
    generation: i64,
    seq: i64,
    student_id: i64,
    course_id: i64,
    state: &'static str,
    code: Option<&'static str>,
    admitted_at_ms: i64,
    decided_at_ms: i64,
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
        let statements = &self.statements;
        let rows: Vec<EnrollmentJson> = enrolled
            .iter()
            .map(|(ticket, _)| EnrollmentJson {
                student_id: ticket.student_id.0,
                course_id: ticket.course_id.0,
                ticket_id: ticket.id.to_string(),
            })
            .collect();
        // No ON CONFLICT: the snapshot already excluded every pair and ticket the database
        // holds, so a conflict here means something raced the batch, and the batch fails.
        if !rows.is_empty() {
            sqlx::query(&statements.enrollments)
                .bind(to_json(&rows))
                .bind(OffsetDateTime::now_utc())
                .execute(&mut *self.tx)
                .await?;
        }

        let mut seats: HashMap<i64, i64> = HashMap::new();
        for (ticket, _) in &enrolled {
            *seats.entry(ticket.course_id.0).or_default() += 1;
        }
        let mut courses: Vec<SeatsJson> = seats
            .into_iter()
            .map(|(course_id, taken)| SeatsJson { course_id, taken })
            .collect();
        courses.sort_unstable_by_key(|c| c.course_id);
        if !courses.is_empty() {
            let done: Vec<(i64, i32)> = sqlx::query_as(&statements.take_seats)
                .bind(to_json(&courses))
                .bind(unix_ms(OffsetDateTime::now_utc()))
                .fetch_all(&mut *self.tx)
                .await?;
            if let Some(missing) = courses
                .iter()
                .find(|c| !done.iter().any(|(taken, _)| *taken == c.course_id))
            {
                return Err(StoreError::SeatsChanged {
                    course_id: CourseId(missing.course_id),
                });
            }
            self.seen.extend(
                done.into_iter()
                    .map(|(id, enrolled)| (CourseId(id), u32::try_from(enrolled).unwrap_or(0))),
            );
        }

        if decisions.is_empty() {
            return Ok(());
        }
        let epoch = i64::try_from(epoch).map_err(|_| StoreError::Fenced { epoch })?;
        let rows: Vec<DecisionJson> = decisions
            .iter()
            .map(|(ticket, settled)| DecisionJson {
                ticket_id: ticket.id.to_string(),
                generation: i64::try_from(ticket.id.generation).unwrap_or(i64::MAX),
                seq: i64::try_from(ticket.id.seq).unwrap_or(i64::MAX),
                student_id: ticket.student_id.0,
                course_id: ticket.course_id.0,
                state: settled.state.as_str(),
                code: settled.state.code().map(|code| code.as_str()),
                admitted_at_ms: ticket.admitted_at_ms,
                decided_at_ms: settled.decided_at_ms,
            })
            .collect();
        sqlx::query(&statements.decisions)
            .bind(to_json(&rows))
            .bind(epoch)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().await?;
        self.seats.record(&self.seen);
        Ok(())
    }
}
