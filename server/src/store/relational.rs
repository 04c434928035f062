//! The one `Store` implementation, shared by PostgreSQL and SQLite.
//!
//! Both run the same statements (`sql.rs`); what differs between them is a [`Dialect`]: how a
//! write transaction begins and how a student's row is locked. SQLite keeps one writer and a pool
//! of readers; PostgreSQL uses one pool for both. The audit and bulk loading are implemented for
//! the same type in `audit.rs` and `bulk.rs`.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, FromRow, IntoArguments, Pool, Transaction,
    Type,
};
use time::OffsetDateTime;

use super::catalog_search::{self, HitRow};
use super::dialect::Dialect;
use super::drain::{self, DrainReads, DrainTx};
use super::rows::{
    AdminCredentialsRow, AdminRow, CartRow, ChangedCourseRow, CourseColumns, CourseRow,
    CredentialsRow, DecisionRow, EnrollmentRow, SettingsRow, StudentCourseRow, StudentRow,
    convert_all,
};
use super::{
    Admin, Backend, CartAdd, CartEntry, CatalogHits, CatalogQuery, ChangedCourse, Enrollment,
    EnrollmentRecord, Generation, QueueSettings, SeatBoard, SeatRead, SettingsChange, Store,
    StoreError, StudentTx, Taken, is_unique_violation, sql,
};
use crate::clock::unix_ms;
use crate::domain::{
    Course, CourseId, CourseSpec, NewStudent, RosterClaim, Student, StudentId, StudentNumber,
    Ticket, TicketId,
};

/// A store on a sqlx database: writes through `writer`, reads through `reader` (the same pool
/// on PostgreSQL).
pub struct SqlStore<DB: Database> {
    pub(super) writer: Pool<DB>,
    pub(super) reader: Pool<DB>,
    pub(super) seats: Arc<SeatBoard>,
    /// SQLite: the connection that copies the write-ahead log into the database file
    /// ([`Store::checkpoint`]), so that writers do not.
    pub(super) checkpointer: Option<Pool<DB>>,
}

impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        SqlStore {
            writer: self.writer.clone(),
            reader: self.reader.clone(),
            seats: self.seats.clone(),
            checkpointer: self.checkpointer.clone(),
        }
    }
}

async fn course_in<'e, DB, E>(executor: E, id: CourseId) -> Result<Option<Course>, StoreError>
where
    DB: Database,
    E: Executor<'e, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> CourseRow: FromRow<'r, DB::Row>,
{
    let row: Option<CourseRow> = sqlx::query_as(sql::COURSE_BY_ID)
        .bind(id.0)
        .fetch_optional(executor)
        .await?;
    row.map(Course::try_from).transpose()
}

// The bounds list what both sqlx drivers provide: executors on pools and transactions, and
// encoders and decoders for the column types. Rust cannot name such a set once, so the
// `StudentTx` implementation below lists the part of it that it uses.
#[async_trait]
impl<DB: Dialect> Store for SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> i16: Encode<'q, DB> + Type<DB>,
    for<'q> i32: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> Option<i16>: Encode<'q, DB>,
    for<'q> OffsetDateTime: Encode<'q, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB>,
    for<'r> bool: Decode<'r, DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> OffsetDateTime: Decode<'r, DB>,
    for<'r> CourseRow: FromRow<'r, DB::Row>,
    for<'r> StudentRow: FromRow<'r, DB::Row>,
    for<'r> CredentialsRow: FromRow<'r, DB::Row>,
    for<'r> AdminRow: FromRow<'r, DB::Row>,
    for<'r> AdminCredentialsRow: FromRow<'r, DB::Row>,
    for<'r> CartRow: FromRow<'r, DB::Row>,
    for<'r> EnrollmentRow: FromRow<'r, DB::Row>,
    for<'r> SettingsRow: FromRow<'r, DB::Row>,
    for<'r> DecisionRow: FromRow<'r, DB::Row>,
    for<'r> StudentCourseRow: FromRow<'r, DB::Row>,
    for<'r> (i64, String, String): FromRow<'r, DB::Row>,
    for<'r> (i64, String): FromRow<'r, DB::Row>,
    for<'r> (i64, i64, i64): FromRow<'r, DB::Row>,
    for<'r> (i64, i32): FromRow<'r, DB::Row>,
    for<'r> ChangedCourseRow: FromRow<'r, DB::Row>,
    for<'r> HitRow: FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (i64, i64): FromRow<'r, DB::Row>,
    for<'r> (i64, i64, i64, i64, i64, i64): FromRow<'r, DB::Row>,
    for<'r> (i64, bool, bool, bool): FromRow<'r, DB::Row>,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    usize: ColumnIndex<DB::Row>,
{
    fn backend(&self) -> Backend {
        DB::BACKEND
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    async fn insert_student(
        &self,
        student: &NewStudent,
        password_hash: &str,
    ) -> Result<Student, StoreError> {
        let id: Option<i64> = sqlx::query_scalar(sql::INSERT_STUDENT)
            .bind(student.number.as_str())
            .bind(student.name.as_str())
            .bind(student.department.as_str())
            .bind(i16::from(student.year.get()))
            .bind(password_hash)
            .bind(OffsetDateTime::now_utc())
            .fetch_optional(&self.writer)
            .await?;
        let id = id.ok_or(StoreError::Taken(Taken::StudentNumber))?;
        Ok(Student {
            id: StudentId(id),
            number: student.number.clone(),
            name: student.name.clone(),
            department: student.department.clone(),
            year: student.year,
        })
    }

    async fn claim_roster_entry(
        &self,
        claim: &RosterClaim,
        password_hash: &str,
    ) -> Result<Option<Student>, StoreError> {
        let row: Option<StudentRow> = sqlx::query_as(sql::CLAIM_ROSTER_ENTRY)
            .bind(claim.number.as_str())
            .bind(claim.name.as_str())
            .bind(password_hash)
            .bind(OffsetDateTime::now_utc())
            .fetch_optional(&self.writer)
            .await?;
        row.map(Student::try_from).transpose()
    }

    async fn student_credentials(
        &self,
        number: &StudentNumber,
    ) -> Result<Option<(Student, String)>, StoreError> {
        let row: Option<CredentialsRow> = sqlx::query_as(sql::STUDENT_CREDENTIALS)
            .bind(number.as_str())
            .fetch_optional(&self.reader)
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn student(&self, id: StudentId) -> Result<Option<Student>, StoreError> {
        let row: Option<StudentRow> = sqlx::query_as(sql::STUDENT_BY_ID)
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await?;
        row.map(Student::try_from).transpose()
    }

    async fn insert_admin(&self, username: &str, password_hash: &str) -> Result<Admin, StoreError> {
        let id: Option<i64> = sqlx::query_scalar(sql::INSERT_ADMIN)
            .bind(username)
            .bind(password_hash)
            .bind(OffsetDateTime::now_utc())
            .fetch_optional(&self.writer)
            .await?;
        let id = id.ok_or(StoreError::Taken(Taken::AdminUsername))?;
        Ok(Admin {
            id,
            username: username.to_owned(),
        })
    }

    async fn admin_credentials(
        &self,
        username: &str,
    ) -> Result<Option<(Admin, String)>, StoreError> {
        let row: Option<AdminCredentialsRow> = sqlx::query_as(sql::ADMIN_CREDENTIALS)
            .bind(username)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(Into::into))
    }

    async fn admin(&self, id: i64) -> Result<Option<Admin>, StoreError> {
        let row: Option<AdminRow> = sqlx::query_as(sql::ADMIN_BY_ID)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(Into::into))
    }

    async fn revoke_token(&self, jti: &str, expires_at: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query(sql::PRUNE_REVOKED)
            .bind(OffsetDateTime::now_utc())
            .execute(&self.writer)
            .await?;
        sqlx::query(sql::REVOKE_TOKEN)
            .bind(jti)
            .bind(expires_at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar::<_, bool>(sql::IS_REVOKED)
            .bind(jti)
            .fetch_one(&self.reader)
            .await?)
    }

    async fn live_revocations(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let revoked: Vec<(String, OffsetDateTime)> = sqlx::query_as(sql::LIVE_REVOCATIONS)
            .bind(OffsetDateTime::now_utc())
            .fetch_all(&self.reader)
            .await?;
        Ok(revoked
            .into_iter()
            .map(|(jti, until)| (jti, unix_ms(until)))
            .collect())
    }

    async fn insert_course(&self, spec: &CourseSpec) -> Result<Course, StoreError> {
        let columns = CourseColumns::from(spec);
        let mut tx = self.writer.begin_with(DB::BEGIN).await?;
        let id: Option<i64> = columns
            .bind(sqlx::query_scalar(sql::INSERT_COURSE))
            .bind(OffsetDateTime::now_utc())
            .fetch_optional(&mut *tx)
            .await?;
        let id = id.ok_or(StoreError::Taken(Taken::CourseCode))?;
        let course = course_in(&mut *tx, CourseId(id)).await?;
        tx.commit().await?;
        course.ok_or(StoreError::CourseNotFound)
    }

    async fn update_course(&self, id: CourseId, spec: &CourseSpec) -> Result<Course, StoreError> {
        let columns = CourseColumns::from(spec);
        let mut tx = self.writer.begin_with(DB::BEGIN).await?;
        let updated: Option<i64> = columns
            .bind(sqlx::query_scalar(sql::UPDATE_COURSE).bind(id.0))
            .bind(OffsetDateTime::now_utc())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| match is_unique_violation(&e) {
                true => StoreError::Taken(Taken::CourseCode),
                false => e.into(),
            })?;
        let course = course_in(&mut *tx, id)
            .await?
            .ok_or(StoreError::CourseNotFound)?;
        if updated.is_none() {
            return Err(StoreError::CapacityBelowEnrolled {
                capacity: spec.capacity,
                enrolled: course.enrolled,
            });
        }
        tx.commit().await?;
        Ok(course)
    }

    async fn course(&self, id: CourseId) -> Result<Option<Course>, StoreError> {
        course_in(&self.reader, id).await
    }

    async fn course_ids(&self) -> Result<Vec<CourseId>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(sql::COURSE_IDS)
            .fetch_all(&self.reader)
            .await?;
        Ok(ids.into_iter().map(CourseId).collect())
    }

    async fn courses_changed(
        &self,
        after: (OffsetDateTime, CourseId),
        limit: u32,
    ) -> Result<Vec<ChangedCourse>, StoreError> {
        let rows: Vec<ChangedCourseRow> = sqlx::query_as(sql::COURSES_CHANGED)
            .bind(after.0)
            .bind(after.1.0)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        convert_all(rows)
    }

    async fn catalog_fingerprint(&self) -> Result<(u64, i64, i64), StoreError> {
        let (count, min, max): (i64, i64, i64) = sqlx::query_as(sql::CATALOG_FINGERPRINT)
            .fetch_one(&self.reader)
            .await?;
        Ok((count.unsigned_abs(), min, max))
    }

    async fn search_catalog(&self, query: &CatalogQuery) -> Result<CatalogHits, StoreError> {
        catalog_search::search(&self.reader, query).await
    }

    async fn prepare_catalog_search(&self) -> Result<(), StoreError> {
        if self.backend() == Backend::Postgres {
            for statement in catalog_search::TRIGRAM_INDEXES {
                sqlx::query(statement).execute(&self.writer).await?;
            }
        }
        Ok(())
    }

    fn seats(&self) -> &Arc<SeatBoard> {
        &self.seats
    }

    async fn refresh_seats(&self) -> Result<(), StoreError> {
        let mark = self.seats.begin_refresh(OffsetDateTime::now_utc());
        let rows: Vec<(i64, i32)> = match mark.read() {
            SeatRead::All => sqlx::query_as(sql::SEAT_COUNTS),
            SeatRead::ChangedSince(at) => sqlx::query_as(sql::SEAT_CHANGES).bind(unix_ms(at)),
        }
        .fetch_all(&self.reader)
        .await?;
        self.seats.refresh(
            mark,
            rows.into_iter()
                .map(|(id, enrolled)| (CourseId(id), u32::try_from(enrolled).unwrap_or(0))),
        );
        Ok(())
    }

    async fn cart(&self, student: StudentId) -> Result<Vec<CartEntry>, StoreError> {
        let rows: Vec<CartRow> = sqlx::query_as(sql::CART)
            .bind(student.0)
            .fetch_all(&self.reader)
            .await?;
        convert_all(rows)
    }

    async fn add_to_cart(
        &self,
        student: StudentId,
        course: CourseId,
        limit: u32,
    ) -> Result<CartAdd, StoreError> {
        // Each attempt that writes nothing while the cart has room and lacks the course lost a
        // slot to another add of the same student that committed, which fills a slot: so after
        // `limit` such losses the cart is full, and the loop ends.
        for _ in 0..=limit {
            let added: Option<i64> = sqlx::query_scalar(sql::ADD_TO_CART)
                .bind(student.0)
                .bind(course.0)
                .bind(i64::from(limit))
                .bind(OffsetDateTime::now_utc())
                .fetch_optional(&self.writer)
                .await?;
            if added.is_some() {
                return Ok(CartAdd::Added);
            }
            let (len, present, course_exists, student_exists): (i64, bool, bool, bool) =
                sqlx::query_as(sql::CART_STANDING)
                    .bind(student.0)
                    .bind(course.0)
                    .fetch_one(&self.writer)
                    .await?;
            if !student_exists {
                return Ok(CartAdd::StudentNotFound);
            }
            if !course_exists {
                return Ok(CartAdd::CourseNotFound);
            }
            if present {
                return Ok(CartAdd::AlreadyInCart);
            }
            if len >= i64::from(limit) {
                return Ok(CartAdd::Full);
            }
        }
        Ok(CartAdd::Full)
    }

    async fn remove_from_cart(
        &self,
        student: StudentId,
        course: CourseId,
    ) -> Result<bool, StoreError> {
        let done: Option<i64> = sqlx::query_scalar(sql::REMOVE_FROM_CART)
            .bind(student.0)
            .bind(course.0)
            .fetch_optional(&self.writer)
            .await?;
        Ok(done.is_some())
    }

    async fn enrollments(&self, student: StudentId) -> Result<Vec<Enrollment>, StoreError> {
        let rows: Vec<EnrollmentRow> = sqlx::query_as(sql::ENROLLMENTS)
            .bind(student.0)
            .fetch_all(&self.reader)
            .await?;
        convert_all(rows)
    }

    async fn begin_student(
        &self,
        student: StudentId,
    ) -> Result<Option<Box<dyn StudentTx>>, StoreError> {
        let mut tx = self.writer.begin_with(DB::BEGIN).await?;
        let row: Option<StudentRow> = sqlx::query_as(DB::LOCK_STUDENT)
            .bind(student.0)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Box::new(SqlStudentTx::<DB> {
            student: row.try_into()?,
            tx,
            seats: self.seats.clone(),
            seen: Vec::new(),
        })))
    }

    async fn queue_settings(&self) -> Result<QueueSettings, StoreError> {
        let row: SettingsRow = sqlx::query_as(sql::QUEUE_SETTINGS)
            .fetch_one(&self.reader)
            .await?;
        row.try_into()
    }

    async fn change_settings(&self, change: &SettingsChange) -> Result<QueueSettings, StoreError> {
        let mut tx = self.writer.begin_with(DB::BEGIN).await?;
        let row: SettingsRow = sqlx::query_as(sql::QUEUE_SETTINGS)
            .fetch_one(&mut *tx)
            .await?;
        let mut settings = QueueSettings::try_from(row)?;
        if let Some(opens_at_ms) = change.opens_at_ms {
            settings.opens_at_ms = opens_at_ms;
        }
        settings.paused = change.paused.unwrap_or(settings.paused);
        settings.admission_rate = change.admission_rate.unwrap_or(settings.admission_rate);
        settings.mode = change.mode.unwrap_or(settings.mode);
        sqlx::query(sql::UPDATE_SETTINGS)
            .bind(settings.opens_at_ms)
            .bind(settings.paused)
            .bind(i32::try_from(settings.admission_rate).unwrap_or(i32::MAX))
            .bind(settings.mode.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(settings)
    }

    async fn begin_drain(
        &self,
        epoch: u64,
        tickets: &[Ticket],
    ) -> Result<(Box<dyn DrainTx>, DrainReads), StoreError> {
        let tx = self.writer.begin_with(DB::BEGIN).await?;
        let (tx, reads) = drain::begin(tx, self.seats.clone(), epoch, tickets).await?;
        Ok((Box::new(tx), reads))
    }

    async fn start_generation(&self, epoch: u64) -> Result<Generation, StoreError> {
        let mut tx = self.writer.begin_with(DB::BEGIN).await?;
        let signed = i64::try_from(epoch).map_err(|_| StoreError::Fenced { epoch })?;
        let generation: Option<i64> = sqlx::query_scalar(sql::NEXT_GENERATION)
            .bind(signed)
            .fetch_optional(&mut *tx)
            .await?;
        let generation = generation.ok_or(StoreError::Fenced { epoch })?;
        let enrolled: Vec<(i64, i64)> = sqlx::query_as(sql::ENROLLED_PAIRS)
            .fetch_all(&mut *tx)
            .await?;
        let full: Vec<i64> = sqlx::query_scalar(sql::FULL_COURSES)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Generation {
            number: generation.unsigned_abs(),
            enrolled: enrolled
                .into_iter()
                .map(|(student, course)| (StudentId(student), CourseId(course)))
                .collect(),
            full: full.into_iter().map(CourseId).collect(),
        })
    }

    async fn checkpoint(&self) -> Result<(), StoreError> {
        if let Some(pool) = &self.checkpointer {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    async fn full_courses(&self) -> Result<Vec<CourseId>, StoreError> {
        let full: Vec<i64> = sqlx::query_scalar(sql::FULL_COURSES)
            .fetch_all(&self.reader)
            .await?;
        Ok(full.into_iter().map(CourseId).collect())
    }

    async fn decided_ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        let row: Option<DecisionRow> = sqlx::query_as(sql::DECIDED_TICKET)
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.map(Ticket::try_from).transpose()
    }

    async fn highest_decided_seq(&self, generation: u64) -> Result<u64, StoreError> {
        let generation = i64::try_from(generation).unwrap_or(i64::MAX);
        let seq: i64 = sqlx::query_scalar(sql::HIGHEST_DECIDED_SEQ)
            .bind(generation)
            .fetch_one(&self.reader)
            .await?;
        Ok(seq.unsigned_abs())
    }

    async fn decided_tickets_of(
        &self,
        student: StudentId,
        limit: usize,
    ) -> Result<Vec<Ticket>, StoreError> {
        let mut rows: Vec<DecisionRow> = sqlx::query_as(sql::DECIDED_TICKETS_OF)
            .bind(student.0)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.reader)
            .await?;
        rows.reverse();
        convert_all(rows)
    }
}

struct SqlStudentTx<DB: Database> {
    tx: Transaction<'static, DB>,
    student: Student,
    seats: Arc<SeatBoard>,
    /// Seat counters this transaction left, for the board once it commits.
    seen: Vec<(CourseId, u32)>,
}

impl<DB: Database> SqlStudentTx<DB> {
    fn saw(&mut self, counter: Option<(i64, i32)>) -> bool {
        match counter {
            Some((id, enrolled)) => {
                self.seen
                    .push((CourseId(id), u32::try_from(enrolled).unwrap_or(0)));
                true
            }
            None => false,
        }
    }
}

#[async_trait]
impl<DB: Dialect> StudentTx for SqlStudentTx<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> OffsetDateTime: Encode<'q, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB>,
    for<'r> CourseRow: FromRow<'r, DB::Row>,
    for<'r> (i64, i32): FromRow<'r, DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    fn student(&self) -> &Student {
        &self.student
    }

    async fn course(&mut self, course: CourseId) -> Result<Option<Course>, StoreError> {
        course_in(&mut *self.tx, course).await
    }

    async fn enrolled_courses(&mut self) -> Result<Vec<Course>, StoreError> {
        let rows: Vec<CourseRow> = sqlx::query_as(sql::ENROLLED_COURSES)
            .bind(self.student.id.0)
            .fetch_all(&mut *self.tx)
            .await?;
        convert_all(rows)
    }

    async fn insert_enrollment(
        &mut self,
        course: CourseId,
    ) -> Result<Option<EnrollmentRecord>, StoreError> {
        let enrolled_at = OffsetDateTime::now_utc();
        let id: Option<i64> = sqlx::query_scalar(sql::INSERT_ENROLLMENT)
            .bind(self.student.id.0)
            .bind(course.0)
            .bind(enrolled_at)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(id.map(|id| EnrollmentRecord { id, enrolled_at }))
    }

    async fn take_seat(&mut self, course: CourseId) -> Result<bool, StoreError> {
        let counter: Option<(i64, i32)> = sqlx::query_as(sql::TAKE_SEAT)
            .bind(course.0)
            .bind(unix_ms(OffsetDateTime::now_utc()))
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(self.saw(counter))
    }

    async fn delete_enrollment(&mut self, course: CourseId) -> Result<bool, StoreError> {
        let done: Option<i64> = sqlx::query_scalar(sql::DELETE_ENROLLMENT)
            .bind(self.student.id.0)
            .bind(course.0)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(done.is_some())
    }

    async fn release_seat(&mut self, course: CourseId) -> Result<(), StoreError> {
        let counter: Option<(i64, i32)> = sqlx::query_as(sql::RELEASE_SEAT)
            .bind(course.0)
            .bind(unix_ms(OffsetDateTime::now_utc()))
            .fetch_optional(&mut *self.tx)
            .await?;
        match self.saw(counter) {
            true => Ok(()),
            false => Err(StoreError::Corrupt(format!(
                "course {course}: an enrollment existed but the seat counter was 0"
            ))),
        }
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().await?;
        self.seats.record(&self.seen);
        Ok(())
    }
}
