//! Pure enrollment rules: courses, students, the decision whether a student may take a course,
//! and the queue's tickets with the one table of what each outcome says.
//!
//! Nothing in here does I/O. Both stores and the HTTP layer parse their input into these types,
//! so an invalid course code or an empty meeting list cannot exist past the edge.

pub mod cart;
pub mod course;
pub mod rules;
pub mod student;
pub mod ticket;

pub use cart::{CartAssessment, CartItemAssessment, assess_cart};
pub use course::{
    Course, CourseCode, CourseId, CourseSpec, CourseSpecInput, Credits, Meeting, MeetingInput,
    Restrictions, RestrictionsInput, Weekday, YearSet,
};
pub use rules::{CreditCap, Rejection, ScheduledCourse, check_enrollment, total_credits};
pub use student::{
    NewStudent, NewStudentInput, Password, RosterClaim, RosterEntry, Student, StudentId,
    StudentNumber, Year,
};
pub use ticket::{InvalidState, RejectionCode, Settled, Ticket, TicketId, TicketState};

/// One field of an input that failed to parse, with a Korean reason a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field's name as it appears in the JSON input, e.g. `meetings[1].end_min`.
    pub field: String,
    /// Why it was refused, in Korean.
    pub reason: String,
}

impl FieldError {
    /// A refusal of `field` for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Checks a free-text field (names, titles, departments): trimmed, 1..=`max` characters, no control characters.
pub(crate) fn parse_text(
    field: &str,
    value: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> String {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.push(FieldError::new(field, "비어 있을 수 없습니다"));
    } else if trimmed.chars().count() > max {
        errors.push(FieldError::new(field, format!("{max}자 이하여야 합니다")));
    } else if trimmed.chars().any(char::is_control) {
        errors.push(FieldError::new(field, "제어 문자를 포함할 수 없습니다"));
    }
    trimmed.to_owned()
}
