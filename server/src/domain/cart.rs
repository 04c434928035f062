//! What the cart (장바구니) tells a student before they enroll: clashes and credit totals.

use super::course::{CourseId, meetings_clash};
use super::rules::{CreditCap, ScheduledCourse, total_credits};

/// One cart entry, judged against the student's enrollments and the rest of the cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartItemAssessment {
    pub course_id: CourseId,
    /// The student already holds this course.
    pub enrolled: bool,
    /// Ids of held courses and other cart courses whose meetings overlap this one's.
    pub clashes_with: Vec<CourseId>,
}

/// The whole cart, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartAssessment {
    pub items: Vec<CartItemAssessment>,
    /// Credits of the cart's courses not yet held.
    pub cart_credits: u16,
    /// Credits already held.
    pub enrolled_credits: u16,
    pub cap: u16,
    /// Enrolling in the whole cart would pass the cap.
    pub exceeds_cap: bool,
}

/// Judges `cart` for a student who holds `enrolled`.
pub fn assess_cart(
    cart: &[ScheduledCourse],
    enrolled: &[ScheduledCourse],
    cap: CreditCap,
) -> CartAssessment {
    let is_held = |id: CourseId| enrolled.iter().any(|e| e.course_id == id);
    let pending: Vec<&ScheduledCourse> = cart.iter().filter(|c| !is_held(c.course_id)).collect();
    let items = cart
        .iter()
        .map(|item| {
            let held = is_held(item.course_id);
            let clashes_with = if held {
                Vec::new()
            } else {
                enrolled
                    .iter()
                    .chain(pending.iter().copied())
                    .filter(|other| other.course_id != item.course_id)
                    .filter(|other| meetings_clash(&other.meetings, &item.meetings))
                    .map(|other| other.course_id)
                    .collect()
            };
            CartItemAssessment {
                course_id: item.course_id,
                enrolled: held,
                clashes_with,
            }
        })
        .collect();
    let cart_credits = pending.iter().map(|c| u16::from(c.credits.get())).sum();
    let enrolled_credits = total_credits(enrolled);
    CartAssessment {
        items,
        cart_credits,
        enrolled_credits,
        cap: cap.get(),
        exceeds_cap: enrolled_credits + cart_credits > cap.get(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::course::Weekday::*;
    use crate::domain::rules::tests::course;

    fn scheduled(
        id: i64,
        credits: i64,
        day: crate::domain::Weekday,
        start: u16,
    ) -> ScheduledCourse {
        ScheduledCourse::from(&course(id, credits, &[(day, start, start + 75)]))
    }

    #[test]
    fn clashes_are_found_against_enrollments_and_the_rest_of_the_cart() {
        let enrolled = [scheduled(1, 3, Mon, 540)];
        let cart = [
            scheduled(1, 3, Mon, 540), // held
            scheduled(2, 3, Mon, 600), // clashes with held 1 and cart 3
            scheduled(3, 3, Mon, 660), // clashes with cart 2
            scheduled(4, 2, Tue, 540), // free
        ];
        let a = assess_cart(&cart, &enrolled, CreditCap::default());
        let by_id = |id| {
            a.items
                .iter()
                .find(|i| i.course_id == CourseId(id))
                .unwrap()
        };
        assert!(by_id(1).enrolled && by_id(1).clashes_with.is_empty());
        assert_eq!(by_id(2).clashes_with, [CourseId(1), CourseId(3)]);
        assert_eq!(by_id(3).clashes_with, [CourseId(2)]);
        assert!(by_id(4).clashes_with.is_empty() && !by_id(4).enrolled);
        assert_eq!((a.enrolled_credits, a.cart_credits), (3, 8));
        assert!(!a.exceeds_cap);
    }

    #[test]
    fn credit_totals_against_the_cap() {
        let enrolled: Vec<_> = (0..5)
            .map(|i| scheduled(i, 3, Wed, 480 + i as u16 * 90))
            .collect();
        let exactly = [scheduled(10, 3, Fri, 540)];
        let over = [scheduled(10, 3, Fri, 540), scheduled(11, 1, Sat, 540)];
        let cap = CreditCap::default();
        assert!(
            !assess_cart(&exactly, &enrolled, cap).exceeds_cap,
            "15 + 3 = 18"
        );
        assert!(
            assess_cart(&over, &enrolled, cap).exceeds_cap,
            "15 + 4 > 18"
        );
        assert!(!assess_cart(&[], &[], cap).exceeds_cap);
    }
}
