//! The cart (장바구니): courses a student plans to take, judged for clashes and credits.

use super::{Registration, RegistrationError};
use crate::domain::{CartAssessment, CourseId, Rejection, ScheduledCourse, StudentId, assess_cart};
use crate::store::{CartAdd, CartEntry};

/// The cart and what enrolling in it would mean.
#[derive(Debug, Clone)]
pub struct CartView {
    pub entries: Vec<CartEntry>,
    pub assessment: CartAssessment,
}

impl Registration {
    /// Puts a course in the student's cart, up to the cart limit. No lock: the store's one
    /// statement holds the limit against concurrent adds.
    pub async fn add_to_cart(
        &self,
        student: StudentId,
        course: CourseId,
    ) -> Result<(), RegistrationError> {
        let limit = self.rules.cart_limit;
        match self.store.add_to_cart(student, course, limit).await? {
            CartAdd::Added => Ok(()),
            CartAdd::AlreadyInCart => Err(RegistrationError::AlreadyInCart),
            CartAdd::Full => Err(RegistrationError::CartFull { limit }),
            CartAdd::CourseNotFound => Err(Rejection::CourseNotFound.into()),
            CartAdd::StudentNotFound => Err(RegistrationError::UnknownStudent),
        }
    }

    /// Takes a course out of the student's cart.
    pub async fn remove_from_cart(
        &self,
        student: StudentId,
        course: CourseId,
    ) -> Result<(), RegistrationError> {
        match self.store.remove_from_cart(student, course).await? {
            true => Ok(()),
            false => Err(RegistrationError::NotInCart),
        }
    }

    /// The student's cart, judged against their enrollments.
    pub async fn cart(&self, student: StudentId) -> Result<CartView, RegistrationError> {
        let entries = self.store.cart(student).await?;
        let enrolled: Vec<ScheduledCourse> = self
            .store
            .enrollments(student)
            .await?
            .iter()
            .map(|e| ScheduledCourse::from(&e.course))
            .collect();
        let in_cart: Vec<ScheduledCourse> = entries
            .iter()
            .map(|e| ScheduledCourse::from(&e.course))
            .collect();
        let assessment = assess_cart(&in_cart, &enrolled, self.rules.credit_cap);
        Ok(CartView {
            entries,
            assessment,
        })
    }
}
