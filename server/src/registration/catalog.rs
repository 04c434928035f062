//! Administrators' course edits, and what they change for the queue: a course with room again
//! is no longer sold out.

use super::{Registration, RegistrationError};
use crate::domain::{Course, CourseId, CourseSpec};

impl Registration {
    /// Adds a course to the catalog.
    pub async fn create_course(&self, spec: &CourseSpec) -> Result<Course, RegistrationError> {
        Ok(self.store.insert_course(spec).await?)
    }

    /// Replaces a course's spec; the seats already taken stay taken. A course that has a free
    /// seat afterwards (its capacity grew) is no longer flagged sold out.
    pub async fn update_course(
        &self,
        id: CourseId,
        spec: &CourseSpec,
    ) -> Result<Course, RegistrationError> {
        let course = self.store.update_course(id, spec).await?;
        if course.seats_left() > 0 {
            self.seat_freed(id, None).await;
        }
        Ok(course)
    }
}
