//! What a student can do with courses: the cart, enrolling and cancelling.
//!
//! Two paths decide an enrollment, with the same domain rules: [`enroll`] at once in the request
//! (the direct path), in a [`StudentTx`](crate::store::StudentTx) so the student's schedule cannot
//! change between the rule check and the write; and [`decide_batch`], which the queue's drain runs
//! over a batch of tickets in sequence order. [`tickets`] admits into the queue and reports what
//! became of a ticket; [`settings`] keeps the operator's settings at hand.

mod batch;
pub mod settings;
pub mod tickets;

pub use batch::{BatchDecision, STUDENT_NOT_FOUND, decide_batch};
pub use settings::LiveSettings;

use crate::domain::{
    CartAssessment, Course, CreditCap, Rejection, ScheduledCourse, assess_cart, check_enrollment,
};
use crate::queue::Queue;
use crate::store::{CartEntry, EnrollmentRecord, Store, StoreError};

/// The limits registration enforces.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub credit_cap: CreditCap,
    /// The most courses a cart may hold.
    pub cart_limit: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            credit_cap: CreditCap::default(),
            cart_limit: 30,
        }
    }
}

/// Why a registration action failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("enrollment rejected: {}", .0.code())]
    Rejected(Rejection),
    #[error("the student does not exist")]
    UnknownStudent,
    #[error("the course is already in the cart")]
    AlreadyInCart,
    #[error("the cart holds {limit} courses already")]
    CartFull { limit: u32 },
    #[error("the course is not in the cart")]
    NotInCart,
    #[error("the student is not enrolled in the course")]
    NotEnrolled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Rejection> for RegistrationError {
    fn from(rejection: Rejection) -> Self {
        RegistrationError::Rejected(rejection)
    }
}

/// A successful enrollment: the row written and the course as it now stands.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub record: EnrollmentRecord,
    pub course: Course,
}

/// Enrolls `student_id` in `course_id` if every rule allows it.
pub async fn enroll(
    store: &dyn Store,
    rules: &Rules,
    student_id: i64,
    course_id: i64,
) -> Result<Enrolled, RegistrationError> {
    let mut tx = store
        .begin_student(student_id)
        .await?
        .ok_or(RegistrationError::UnknownStudent)?;
    let course = tx.course(course_id).await?;
    let schedule: Vec<ScheduledCourse> = tx
        .enrolled_courses()
        .await?
        .iter()
        .map(ScheduledCourse::from)
        .collect();
    let mut course =
        check_enrollment(tx.student(), course.as_ref(), &schedule, rules.credit_cap)?.clone();
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

/// Drops `student_id` from `course_id` and gives the seat back. The queue learns at once that
/// the course has a free seat and that the student may queue for it again.
pub async fn cancel(
    store: &dyn Store,
    queue: &dyn Queue,
    student_id: i64,
    course_id: i64,
) -> Result<(), RegistrationError> {
    let mut tx = store
        .begin_student(student_id)
        .await?
        .ok_or(RegistrationError::UnknownStudent)?;
    if !tx.delete_enrollment(course_id).await? {
        return Err(RegistrationError::NotEnrolled);
    }
    tx.release_seat(course_id).await?;
    tx.commit().await?;
    if let Err(e) = queue.seat_freed(course_id, Some(student_id)).await {
        // The cancellation stands. The flag is only admission's shortcut, and the drain
        // reconciles the flags from the database every few seconds.
        tracing::warn!(course_id, error = %e, "could not clear the sold-out flag");
    }
    Ok(())
}

/// Puts a course in the student's cart, up to `rules.cart_limit` courses.
pub async fn add_to_cart(
    store: &dyn Store,
    rules: &Rules,
    student_id: i64,
    course_id: i64,
) -> Result<Course, RegistrationError> {
    let mut tx = store
        .begin_student(student_id)
        .await?
        .ok_or(RegistrationError::UnknownStudent)?;
    let course = tx
        .course(course_id)
        .await?
        .ok_or(Rejection::CourseNotFound)?;
    if tx.cart_len().await? >= rules.cart_limit {
        return Err(RegistrationError::CartFull {
            limit: rules.cart_limit,
        });
    }
    if !tx.add_to_cart(course_id).await? {
        return Err(RegistrationError::AlreadyInCart);
    }
    tx.commit().await?;
    Ok(course)
}

/// Takes a course out of the student's cart.
pub async fn remove_from_cart(
    store: &dyn Store,
    student_id: i64,
    course_id: i64,
) -> Result<(), RegistrationError> {
    match store.remove_from_cart(student_id, course_id).await? {
        true => Ok(()),
        false => Err(RegistrationError::NotInCart),
    }
}

/// The cart and what enrolling in it would mean.
#[derive(Debug, Clone)]
pub struct CartView {
    pub entries: Vec<CartEntry>,
    pub assessment: CartAssessment,
}

/// The student's cart, judged against their enrollments.
pub async fn cart(
    store: &dyn Store,
    rules: &Rules,
    student_id: i64,
) -> Result<CartView, RegistrationError> {
    let entries = store.cart(student_id).await?;
    let enrolled: Vec<ScheduledCourse> = store
        .enrollments(student_id)
        .await?
        .iter()
        .map(|e| ScheduledCourse::from(&e.course))
        .collect();
    let in_cart: Vec<ScheduledCourse> = entries
        .iter()
        .map(|e| ScheduledCourse::from(&e.course))
        .collect();
    let assessment = assess_cart(&in_cart, &enrolled, rules.credit_cap);
    Ok(CartView {
        entries,
        assessment,
    })
}
