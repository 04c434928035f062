//! Asking for a seat, through the waiting queue or at once; cancelling; what a student holds.

use std::collections::HashSet;
use std::sync::RwLock;

use super::{Registration, RegistrationError};
use crate::domain::{
    Course, CourseId, Rejection, ScheduledCourse, StudentId, Ticket, check_enrollment,
    total_credits,
};
use crate::queue::{Admission, AdmitLimits};
use crate::store::{
    Enrollment, EnrollmentMode, EnrollmentRecord, QueueSettings, Store, StoreError,
};

/// A successful enrollment: the row written and the course as it now stands.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub record: EnrollmentRecord,
    pub course: Course,
}

/// How a request for a seat was answered.
#[derive(Debug, Clone)]
pub enum EnrollmentAnswer {
    /// Direct mode: decided in the request.
    Enrolled(Enrolled),
    /// Queue mode: a place in line, decided later by the drain.
    Queued(Ticket),
}

/// What a student holds, with the credit total against the cap.
#[derive(Debug, Clone)]
pub struct Holdings {
    pub enrollments: Vec<Enrollment>,
    pub total_credits: u16,
    pub credit_cap: u16,
}

/// Course ids this process has seen in the database. Courses are never deleted, so a course
/// once seen needs no second read.
///
/// The first unknown id loads every id at once, in one read that every request waiting on it
/// shares. At the opening each course's first press missed alone, and so did every press on
/// it until one read came back: a rush spent its first seconds reading courses one by one, with
/// the server answering a tenth of its usual rate.
#[derive(Default)]
pub(super) struct KnownCourses {
    ids: RwLock<HashSet<CourseId>>,
    loaded: tokio::sync::OnceCell<()>,
}

impl KnownCourses {
    fn contains(&self, id: CourseId) -> bool {
        self.ids
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&id)
    }

    fn remember(&self, ids: impl IntoIterator<Item = CourseId>) {
        self.ids
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .extend(ids);
    }

    /// Whether `id` is known, after loading every id the first time one is not.
    async fn knows(&self, id: CourseId, store: &dyn Store) -> Result<bool, StoreError> {
        if self.contains(id) {
            return Ok(true);
        }
        self.loaded
            .get_or_try_init(|| async {
                self.remember(store.course_ids().await?);
                Ok::<(), StoreError>(())
            })
            .await?;
        Ok(self.contains(id))
    }
}

/// Refuses while registration has not opened.
pub(super) fn check_open(settings: &QueueSettings, now_ms: i64) -> Result<(), RegistrationError> {
    match settings.opens_at_ms {
        Some(opens_at_ms) if now_ms < opens_at_ms => Err(RegistrationError::NotOpen {
            opens_at_ms,
            now_ms,
        }),
        _ => Ok(()),
    }
}

impl Registration {
    /// Asks for a seat in `course` for `student` at `now_ms`, the way the operator set: through
    /// the fair waiting queue (a ticket, decided later in arrival order) or at once against the
    /// database.
    ///
    /// `session` is the asking session's token id when its logout was not checked yet: the queue
    /// checks it in the admission's own step. Where the answer would come before the queue is
    /// asked (direct mode, not open yet, a course not known yet), or the queue cannot tell, it
    /// is [`RegistrationError::SessionUnchecked`] with nothing done: check the session, then ask
    /// again without it.
    pub async fn request_enrollment(
        &self,
        student: StudentId,
        course: CourseId,
        now_ms: i64,
        session: Option<&str>,
    ) -> Result<EnrollmentAnswer, RegistrationError> {
        let settings = self.settings.get();
        let open = check_open(&settings, now_ms);
        if session.is_some()
            && (settings.mode == EnrollmentMode::Direct
                || open.is_err()
                || !self.known.knows(course, self.store.as_ref()).await?)
        {
            return Err(RegistrationError::SessionUnchecked);
        }
        open?;
        if settings.mode == EnrollmentMode::Direct {
            return Ok(EnrollmentAnswer::Enrolled(
                self.enroll(student, course).await?,
            ));
        }
        // Unknown ids are refused before anything is queued. A course added since the ids were
        // loaded is read once, then remembered.
        if !self.known.knows(course, self.store.as_ref()).await? {
            match self.store.course(course).await? {
                Some(_) => self.known.remember([course]),
                None => return Err(Rejection::CourseNotFound.into()),
            }
        }
        let limits = AdmitLimits {
            per_second: settings.admission_rate,
            open_tickets: self.rules.open_tickets,
            now_ms,
        };
        let mut admission = match session {
            Some(jti) => self
                .queue
                .admit_session(jti, student, course, limits)
                .await?
                .ok_or(RegistrationError::SessionUnchecked)?,
            None => self.queue.admit(student, course, limits).await?,
        };
        if admission == Admission::AlreadyEnrolled && !self.holds(student, course).await? {
            // The queue remembers an enrollment the database no longer has: the queue's write
            // after a cancellation was lost. The database is right; the queue forgets the pair
            // and the student is admitted after all.
            tracing::warn!(student_id = %student, course_id = %course, "the queue's duplicate check was stale");
            self.seat_freed(course, Some(student)).await;
            admission = self.queue.admit(student, course, limits).await?;
        }
        match admission {
            Admission::Queued(ticket) => Ok(EnrollmentAnswer::Queued(ticket)),
            Admission::AlreadyQueued(ticket) => Err(RegistrationError::AlreadyQueued(ticket.id)),
            Admission::AlreadyEnrolled => Err(Rejection::AlreadyEnrolled.into()),
            Admission::SoldOut => Err(RegistrationError::SoldOut),
            Admission::RateLimited => Err(RegistrationError::RateLimited),
            Admission::TooManyOpen => Err(RegistrationError::TooManyTickets {
                limit: self.rules.open_tickets,
            }),
            Admission::LoggedOut => Err(RegistrationError::LoggedOut),
        }
    }

    /// Whether the database has `student` enrolled in `course`.
    async fn holds(&self, student: StudentId, course: CourseId) -> Result<bool, RegistrationError> {
        let held = self.store.enrollments(student).await?;
        Ok(held.iter().any(|e| e.course.id == course))
    }

    /// Enrolls `student` in `course` at once if every rule allows it (the direct path).
    pub async fn enroll(
        &self,
        student: StudentId,
        course_id: CourseId,
    ) -> Result<Enrolled, RegistrationError> {
        let mut tx = self.begin_student(student).await?;
        let course = tx.course(course_id).await?;
        let schedule: Vec<ScheduledCourse> = tx
            .enrolled_courses()
            .await?
            .iter()
            .map(ScheduledCourse::from)
            .collect();
        let cap = self.rules.credit_cap;
        let mut course = check_enrollment(tx.student(), course.as_ref(), &schedule, cap)?.clone();
        // The row first: the unique key refuses a duplicate before the course's row is locked,
        // and the seat's lock is then held only for the update and the commit.
        let record = tx
            .insert_enrollment(course_id)
            .await?
            .ok_or(Rejection::AlreadyEnrolled)?;
        if !tx.take_seat(course_id).await? {
            // Dropping the transaction rolls the row back.
            return Err(Rejection::CourseFull {
                capacity: course.spec.capacity,
            }
            .into());
        }
        tx.commit().await?;
        course.enrolled = (course.enrolled + 1).min(course.spec.capacity);
        Ok(Enrolled { record, course })
    }

    /// Drops `student` from `course` and gives the seat back. The queue learns at once that
    /// the course has a free seat and that the student may queue for it again.
    pub async fn cancel(
        &self,
        student: StudentId,
        course: CourseId,
    ) -> Result<(), RegistrationError> {
        let mut tx = self.begin_student(student).await?;
        if !tx.delete_enrollment(course).await? {
            return Err(RegistrationError::NotEnrolled);
        }
        tx.release_seat(course).await?;
        tx.commit().await?;
        self.seat_freed(course, Some(student)).await;
        Ok(())
    }

    /// The courses `student` holds and their credits.
    pub async fn holdings(&self, student: StudentId) -> Result<Holdings, RegistrationError> {
        let enrollments = self.store.enrollments(student).await?;
        let scheduled: Vec<ScheduledCourse> = enrollments
            .iter()
            .map(|e| ScheduledCourse::from(&e.course))
            .collect();
        Ok(Holdings {
            total_credits: total_credits(&scheduled),
            credit_cap: self.rules.credit_cap.get(),
            enrollments,
        })
    }

    /// Tells the queue a seat of `course` came free (and that `student`, if given, may queue for
    /// it again). A failure is only logged: the change stands, the flag is only admission's
    /// shortcut, and the drain reconciles the flags from the database every few seconds.
    pub(super) async fn seat_freed(&self, course: CourseId, student: Option<StudentId>) {
        if let Err(e) = self.queue.seat_freed(course, student).await {
            tracing::warn!(course_id = %course, error = %e, "could not clear the sold-out flag");
        }
    }
}
