//! What a student can do with courses: the cart, enrolling and cancelling.
//!
//! `enroll` is the one function that decides an enrollment. The HTTP handler calls it now; the
//! queue's drain will call it for each ticket. It runs in a [`StudentTx`](crate::store::StudentTx),
//! so the student's schedule cannot change between the rule check and the write.

use crate::domain::{
    CartAssessment, Course, CreditCap, Rejection, ScheduledCourse, assess_cart, check_enrollment,
};
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

/// Drops `student_id` from `course_id` and gives the seat back.
pub async fn cancel(
    store: &dyn Store,
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
