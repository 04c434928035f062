//! The SQLite store: the embedded default, one process, one file.
//!
//! SQLite has one writer at a time. The store keeps one write connection, so writes queue in
//! process instead of failing with SQLITE_BUSY, and a pool of read-only connections that WAL
//! lets read while it writes. Transactions begin IMMEDIATE: they take the write lock up front,
//! which is what serialises a student's enrollments here.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, Transaction};
use time::OffsetDateTime;

use super::rows::{
    AdminCredentialsRow, AdminRow, CartRow, CourseColumns, CourseRow, CredentialsRow,
    EnrollmentRow, SeatMismatchRow, StudentRow, convert_all,
};
use super::{
    Admin, Backend, CartEntry, CourseFilter, Enrollment, EnrollmentRecord, Page, PageRequest,
    SeatMismatch, Store, StoreError, StudentTx, Taken, is_unique_violation, sql,
};
use crate::domain::{Course, CourseSpec, NewStudent, Student, StudentNumber};

/// A store on a SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the file `url` names and brings the schema up to date.
    pub async fn connect(url: &str, max_connections: u32) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let file = options.get_filename().to_owned();
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory && let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Unavailable(e.into()))?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("src/store/migrations/sqlite")
            .run(&writer)
            .await?;
        // An in-memory database exists once per connection, so it cannot have separate readers.
        let reader = match in_memory {
            true => writer.clone(),
            false => {
                SqlitePoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options.read_only(true))
                    .await?
            }
        };
        Ok(SqliteStore { writer, reader })
    }

    async fn course_in<'e>(
        executor: impl sqlx::SqliteExecutor<'e>,
        id: i64,
    ) -> Result<Option<Course>, StoreError> {
        let row: Option<CourseRow> = sqlx::query_as(sql::COURSE_BY_ID)
            .bind(id)
            .fetch_optional(executor)
            .await?;
        row.map(Course::try_from).transpose()
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
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
            .bind(&student.name)
            .bind(&student.department)
            .bind(i16::from(student.year.get()))
            .bind(password_hash)
            .bind(OffsetDateTime::now_utc())
            .fetch_optional(&self.writer)
            .await?;
        let id = id.ok_or(StoreError::Taken(Taken::StudentNumber))?;
        Ok(Student {
            id,
            number: student.number.clone(),
            name: student.name.clone(),
            department: student.department.clone(),
            year: student.year,
        })
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

    async fn student(&self, id: i64) -> Result<Option<Student>, StoreError> {
        let row: Option<StudentRow> = sqlx::query_as(sql::STUDENT_BY_ID)
            .bind(id)
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
        Ok(sqlx::query_scalar(sql::IS_REVOKED)
            .bind(jti)
            .fetch_one(&self.reader)
            .await?)
    }

    async fn insert_course(&self, spec: &CourseSpec) -> Result<Course, StoreError> {
        let columns = CourseColumns::from(spec);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let id: Option<i64> = columns
            .bind(sqlx::query_scalar(sql::INSERT_COURSE))
            .bind(OffsetDateTime::now_utc())
            .fetch_optional(&mut *tx)
            .await?;
        let id = id.ok_or(StoreError::Taken(Taken::CourseCode))?;
        let course = Self::course_in(&mut *tx, id).await?;
        tx.commit().await?;
        course.ok_or(StoreError::CourseNotFound)
    }

    async fn update_course(&self, id: i64, spec: &CourseSpec) -> Result<Course, StoreError> {
        let columns = CourseColumns::from(spec);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let updated: Option<i64> = columns
            .bind(sqlx::query_scalar(sql::UPDATE_COURSE).bind(id))
            .bind(OffsetDateTime::now_utc())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| match is_unique_violation(&e) {
                true => StoreError::Taken(Taken::CourseCode),
                false => e.into(),
            })?;
        let course = Self::course_in(&mut *tx, id)
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

    async fn course(&self, id: i64) -> Result<Option<Course>, StoreError> {
        Self::course_in(&self.reader, id).await
    }

    async fn courses(
        &self,
        filter: &CourseFilter,
        page: PageRequest,
    ) -> Result<Page<Course>, StoreError> {
        let mut listing = QueryBuilder::<Sqlite>::new(sql::COURSE_LISTING);
        sql::push_course_filter(&mut listing, filter);
        listing
            .push(" ORDER BY c.subject, c.section LIMIT ")
            .push_bind(i64::from(page.per_page))
            .push(" OFFSET ")
            .push_bind(page.offset());
        let rows: Vec<CourseRow> = listing.build_query_as().fetch_all(&self.reader).await?;
        let mut count = QueryBuilder::<Sqlite>::new(sql::COURSE_COUNT);
        sql::push_course_filter(&mut count, filter);
        let total: i64 = count.build_query_scalar().fetch_one(&self.reader).await?;
        Ok(Page {
            items: convert_all(rows)?,
            total: total.unsigned_abs(),
            request: page,
        })
    }

    async fn cart(&self, student_id: i64) -> Result<Vec<CartEntry>, StoreError> {
        let rows: Vec<CartRow> = sqlx::query_as(sql::CART)
            .bind(student_id)
            .fetch_all(&self.reader)
            .await?;
        convert_all(rows)
    }

    async fn remove_from_cart(&self, student_id: i64, course_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::REMOVE_FROM_CART)
            .bind(student_id)
            .bind(course_id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn enrollments(&self, student_id: i64) -> Result<Vec<Enrollment>, StoreError> {
        let rows: Vec<EnrollmentRow> = sqlx::query_as(sql::ENROLLMENTS)
            .bind(student_id)
            .fetch_all(&self.reader)
            .await?;
        convert_all(rows)
    }

    async fn begin_student(
        &self,
        student_id: i64,
    ) -> Result<Option<Box<dyn StudentTx>>, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let row: Option<StudentRow> = sqlx::query_as(sql::STUDENT_BY_ID)
            .bind(student_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Box::new(SqliteStudentTx {
            student: row.try_into()?,
            tx,
        })))
    }

    async fn seat_mismatches(&self) -> Result<Vec<SeatMismatch>, StoreError> {
        let rows: Vec<SeatMismatchRow> = sqlx::query_as(sql::SEAT_MISMATCHES)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

struct SqliteStudentTx {
    tx: Transaction<'static, Sqlite>,
    student: Student,
}

#[async_trait]
impl StudentTx for SqliteStudentTx {
    fn student(&self) -> &Student {
        &self.student
    }

    async fn course(&mut self, course_id: i64) -> Result<Option<Course>, StoreError> {
        SqliteStore::course_in(&mut *self.tx, course_id).await
    }

    async fn enrolled_courses(&mut self) -> Result<Vec<Course>, StoreError> {
        let rows: Vec<CourseRow> = sqlx::query_as(sql::ENROLLED_COURSES)
            .bind(self.student.id)
            .fetch_all(&mut *self.tx)
            .await?;
        convert_all(rows)
    }

    async fn cart_len(&mut self) -> Result<u32, StoreError> {
        let len: i64 = sqlx::query_scalar(sql::CART_LEN)
            .bind(self.student.id)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(u32::try_from(len).unwrap_or(u32::MAX))
    }

    async fn add_to_cart(&mut self, course_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::ADD_TO_CART)
            .bind(self.student.id)
            .bind(course_id)
            .bind(OffsetDateTime::now_utc())
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_enrollment(
        &mut self,
        course_id: i64,
    ) -> Result<Option<EnrollmentRecord>, StoreError> {
        let enrolled_at = OffsetDateTime::now_utc();
        let id: Option<i64> = sqlx::query_scalar(sql::INSERT_ENROLLMENT)
            .bind(self.student.id)
            .bind(course_id)
            .bind(enrolled_at)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(id.map(|id| EnrollmentRecord { id, enrolled_at }))
    }

    async fn take_seat(&mut self, course_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::TAKE_SEAT)
            .bind(course_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_enrollment(&mut self, course_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::DELETE_ENROLLMENT)
            .bind(self.student.id)
            .bind(course_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_seat(&mut self, course_id: i64) -> Result<(), StoreError> {
        let done = sqlx::query(sql::RELEASE_SEAT)
            .bind(course_id)
            .execute(&mut *self.tx)
            .await?;
        match done.rows_affected() {
            1 => Ok(()),
            _ => Err(StoreError::Corrupt(format!(
                "course {course_id}: an enrollment existed but the seat counter was 0"
            ))),
        }
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}
