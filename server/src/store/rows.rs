//! How rows of either database become domain values, and domain values become columns.

use sqlx::query::QueryScalar;
use sqlx::{Database, Encode, Type};
use time::OffsetDateTime;

use super::{
    Admin, CartEntry, ChangedCourse, Enrollment, EnrollmentMode, QueueSettings, StoreError,
};
use crate::domain::{
    Course, CourseCode, CourseId, CourseSpec, Credits, Meeting, Restrictions, Student, StudentId,
    StudentNumber, Ticket, TicketId, TicketState, Year, YearSet,
};

#[derive(sqlx::FromRow)]
pub(super) struct CourseRow {
    id: i64,
    subject: String,
    section: String,
    title: String,
    department: String,
    professor: String,
    credits: i16,
    capacity: i32,
    enrolled: i32,
    meetings: String,
    allowed_years: i16,
    own_department_only: bool,
    is_open: bool,
}

impl TryFrom<CourseRow> for Course {
    type Error = StoreError;

    fn try_from(row: CourseRow) -> Result<Course, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("course {}: {what}", row.id));
        let code =
            CourseCode::from_parts(&row.subject, &row.section).ok_or_else(|| corrupt("code"))?;
        let credits = Credits::new(row.credits.into()).ok_or_else(|| corrupt("credits"))?;
        let meetings: Vec<Meeting> =
            serde_json::from_str(&row.meetings).map_err(|_| corrupt("meetings"))?;
        let years = match u8::try_from(row.allowed_years) {
            Ok(0) => None,
            Ok(bits) => Some(YearSet::from_bits(bits).ok_or_else(|| corrupt("allowed_years"))?),
            Err(_) => return Err(corrupt("allowed_years")),
        };
        let capacity = u32::try_from(row.capacity).map_err(|_| corrupt("capacity"))?;
        let enrolled = u32::try_from(row.enrolled).map_err(|_| corrupt("enrolled"))?;
        Ok(Course {
            id: CourseId(row.id),
            spec: CourseSpec {
                code,
                title: row.title,
                department: row.department,
                professor: row.professor,
                credits,
                capacity,
                meetings,
                restrictions: Restrictions {
                    years,
                    own_department_only: row.own_department_only,
                },
                is_open: row.is_open,
            },
            enrolled,
        })
    }
}

/// A course's spec as the columns `INSERT_COURSE` and `UPDATE_COURSE` bind.
pub(super) struct CourseColumns<'a> {
    pub subject: &'a str,
    pub section: &'a str,
    pub title: &'a str,
    pub department: &'a str,
    pub professor: &'a str,
    pub credits: i16,
    pub capacity: i32,
    pub meetings: String,
    pub weekday_mask: i16,
    pub allowed_years: i16,
    pub own_department_only: bool,
    pub is_open: bool,
}

impl<'a> From<&'a CourseSpec> for CourseColumns<'a> {
    fn from(spec: &'a CourseSpec) -> Self {
        CourseColumns {
            subject: spec.code.subject(),
            section: spec.code.section(),
            title: &spec.title,
            department: &spec.department,
            professor: &spec.professor,
            credits: spec.credits.get().into(),
            // Parsing caps capacity at MAX_CAPACITY, far below i32::MAX.
            capacity: i32::try_from(spec.capacity).unwrap_or(i32::MAX),
            meetings: serde_json::to_string(&spec.meetings).unwrap_or_else(|_| "[]".into()),
            weekday_mask: spec
                .meetings
                .iter()
                .fold(0, |mask, m| mask | (1 << m.weekday.index())),
            allowed_years: spec.restrictions.years.map_or(0, |y| y.bits().into()),
            own_department_only: spec.restrictions.own_department_only,
            is_open: spec.is_open,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct StudentRow {
    id: i64,
    student_number: String,
    name: String,
    department: String,
    year: i16,
}

impl TryFrom<StudentRow> for Student {
    type Error = StoreError;

    fn try_from(row: StudentRow) -> Result<Student, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("student {}: {what}", row.id));
        Ok(Student {
            id: StudentId(row.id),
            number: StudentNumber::parse(&row.student_number)
                .ok_or_else(|| corrupt("student_number"))?,
            name: row.name,
            department: row.department,
            year: Year::new(row.year.into()).ok_or_else(|| corrupt("year"))?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct CredentialsRow {
    #[sqlx(flatten)]
    student: StudentRow,
    password_hash: String,
}

impl TryFrom<CredentialsRow> for (Student, String) {
    type Error = StoreError;

    fn try_from(row: CredentialsRow) -> Result<(Student, String), StoreError> {
        Ok((row.student.try_into()?, row.password_hash))
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AdminRow {
    id: i64,
    username: String,
}

impl From<AdminRow> for Admin {
    fn from(row: AdminRow) -> Admin {
        Admin {
            id: row.id,
            username: row.username,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AdminCredentialsRow {
    #[sqlx(flatten)]
    admin: AdminRow,
    password_hash: String,
}

impl From<AdminCredentialsRow> for (Admin, String) {
    fn from(row: AdminCredentialsRow) -> (Admin, String) {
        (row.admin.into(), row.password_hash)
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct CartRow {
    #[sqlx(flatten)]
    course: CourseRow,
    added_at: OffsetDateTime,
}

impl TryFrom<CartRow> for CartEntry {
    type Error = StoreError;

    fn try_from(row: CartRow) -> Result<CartEntry, StoreError> {
        Ok(CartEntry {
            course: row.course.try_into()?,
            added_at: row.added_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct EnrollmentRow {
    #[sqlx(flatten)]
    course: CourseRow,
    enrollment_id: i64,
    enrolled_at: OffsetDateTime,
}

impl TryFrom<EnrollmentRow> for Enrollment {
    type Error = StoreError;

    fn try_from(row: EnrollmentRow) -> Result<Enrollment, StoreError> {
        Ok(Enrollment {
            id: row.enrollment_id,
            course: row.course.try_into()?,
            enrolled_at: row.enrolled_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ChangedCourseRow {
    #[sqlx(flatten)]
    course: CourseRow,
    updated_at: OffsetDateTime,
}

impl TryFrom<ChangedCourseRow> for ChangedCourse {
    type Error = StoreError;

    fn try_from(row: ChangedCourseRow) -> Result<ChangedCourse, StoreError> {
        Ok(ChangedCourse {
            course: row.course.try_into()?,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct StudentCourseRow {
    #[sqlx(flatten)]
    course: CourseRow,
    student_id: i64,
}

impl TryFrom<StudentCourseRow> for (StudentId, Course) {
    type Error = StoreError;

    fn try_from(row: StudentCourseRow) -> Result<(StudentId, Course), StoreError> {
        Ok((StudentId(row.student_id), row.course.try_into()?))
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct DecisionRow {
    ticket_id: String,
    student_id: i64,
    course_id: i64,
    state: String,
    code: Option<String>,
    admitted_at_ms: i64,
    decided_at_ms: i64,
}

impl TryFrom<DecisionRow> for Ticket {
    type Error = StoreError;

    fn try_from(row: DecisionRow) -> Result<Ticket, StoreError> {
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("decision {}: {what}", row.ticket_id));
        Ok(Ticket {
            id: row
                .ticket_id
                .parse::<TicketId>()
                .map_err(|_| corrupt("ticket_id"))?,
            student_id: StudentId(row.student_id),
            course_id: CourseId(row.course_id),
            state: TicketState::parse(&row.state, row.code.as_deref())
                .map_err(|e| corrupt(&e.to_string()))?,
            admitted_at_ms: row.admitted_at_ms,
            decided_at_ms: Some(row.decided_at_ms),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SettingsRow {
    epoch: i64,
    generation: i64,
    opens_at_ms: Option<i64>,
    paused: bool,
    admission_rate: i32,
    mode: String,
}

impl TryFrom<SettingsRow> for QueueSettings {
    type Error = StoreError;

    fn try_from(row: SettingsRow) -> Result<QueueSettings, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("queue_state: {what}"));
        Ok(QueueSettings {
            epoch: u64::try_from(row.epoch).map_err(|_| corrupt("epoch"))?,
            generation: u64::try_from(row.generation).map_err(|_| corrupt("generation"))?,
            opens_at_ms: row.opens_at_ms,
            paused: row.paused,
            admission_rate: u32::try_from(row.admission_rate)
                .map_err(|_| corrupt("admission_rate"))?,
            mode: match row.mode.as_str() {
                "queue" => EnrollmentMode::Queue,
                "direct" => EnrollmentMode::Direct,
                _ => return Err(corrupt("mode")),
            },
        })
    }
}

/// Converts every row, failing on the first that does not parse.
pub(super) fn convert_all<R, T>(rows: Vec<R>) -> Result<Vec<T>, StoreError>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}

impl CourseColumns<'_> {
    /// Binds the twelve spec columns, in `INSERT_COURSE`'s order, after whatever `query` has bound.
    pub(super) fn bind<'q, DB, O>(
        &'q self,
        query: QueryScalar<'q, DB, O, <DB as Database>::Arguments<'q>>,
    ) -> QueryScalar<'q, DB, O, <DB as Database>::Arguments<'q>>
    where
        DB: Database,
        &'q str: Encode<'q, DB> + Type<DB>,
        i16: Encode<'q, DB> + Type<DB>,
        i32: Encode<'q, DB> + Type<DB>,
        bool: Encode<'q, DB> + Type<DB>,
    {
        query
            .bind(self.subject)
            .bind(self.section)
            .bind(self.title)
            .bind(self.department)
            .bind(self.professor)
            .bind(self.credits)
            .bind(self.capacity)
            .bind(self.meetings.as_str())
            .bind(self.weekday_mask)
            .bind(self.allowed_years)
            .bind(self.own_department_only)
            .bind(self.is_open)
    }
}
