//! The drain's decision over one batch: every ticket, in sequence order, through the same
//! domain rules as the direct path.

use crate::domain::{ScheduledCourse, check_enrollment};
use crate::queue::{Settled, Ticket, TicketState};
use crate::store::DrainSnapshot;

use super::Rules;

/// The code of a ticket whose student no longer exists.
pub const STUDENT_NOT_FOUND: &str = "STUDENT_NOT_FOUND";

/// One ticket's outcome, and whether the database already had it (a replay after a crash).
#[derive(Debug, Clone)]
pub struct BatchDecision {
    pub ticket: Ticket,
    pub settled: Settled,
    pub replayed: bool,
}

/// Decides `tickets` in order. FIFO holds because each decision sees the seats and schedules
/// that every earlier ticket of the batch left behind: `snapshot` is updated as it goes.
pub fn decide_batch(
    rules: &Rules,
    tickets: &[Ticket],
    snapshot: &mut DrainSnapshot,
    now_ms: i64,
    ticket_ttl_ms: i64,
) -> Vec<BatchDecision> {
    tickets
        .iter()
        .map(|ticket| {
            if let Some(settled) = snapshot.decided.get(&ticket.id) {
                return BatchDecision {
                    ticket: ticket.clone(),
                    settled: settled.clone(),
                    replayed: true,
                };
            }
            let (state, code) = decide_one(rules, ticket, snapshot, now_ms, ticket_ttl_ms);
            BatchDecision {
                ticket: ticket.clone(),
                settled: Settled {
                    id: ticket.id,
                    student_id: ticket.student_id,
                    course_id: ticket.course_id,
                    state,
                    code,
                    decided_at_ms: match state {
                        TicketState::Cancelled => ticket.decided_at_ms.unwrap_or(now_ms),
                        _ => now_ms,
                    },
                },
                replayed: false,
            }
        })
        .collect()
}

fn decide_one(
    rules: &Rules,
    ticket: &Ticket,
    snapshot: &mut DrainSnapshot,
    now_ms: i64,
    ticket_ttl_ms: i64,
) -> (TicketState, Option<String>) {
    if ticket.state == TicketState::Cancelled {
        return (TicketState::Cancelled, None);
    }
    if now_ms - ticket.admitted_at_ms > ticket_ttl_ms {
        return (TicketState::Expired, None);
    }
    let Some(student) = snapshot.students.get(&ticket.student_id) else {
        return (TicketState::Rejected, Some(STUDENT_NOT_FOUND.to_owned()));
    };
    let schedule = snapshot.schedules.entry(student.id).or_default();
    let scheduled: Vec<ScheduledCourse> = schedule.iter().map(ScheduledCourse::from).collect();
    let course = snapshot.courses.get_mut(&ticket.course_id);
    match check_enrollment(student, course.as_deref(), &scheduled, rules.credit_cap) {
        Ok(_) => {
            let course = course.expect("check_enrollment accepted an existing course");
            course.enrolled += 1;
            schedule.push(course.clone());
            (TicketState::Enrolled, None)
        }
        Err(rejection) => (TicketState::Rejected, Some(rejection.code().to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Weekday;
    use crate::domain::rules::tests::{course, student};
    use crate::queue::TicketId;

    fn ticket(seq: u64, student_id: i64, course_id: i64) -> Ticket {
        Ticket {
            id: TicketId { generation: 1, seq },
            student_id,
            course_id,
            state: TicketState::Deciding,
            code: None,
            admitted_at_ms: 1_000,
            decided_at_ms: None,
        }
    }

    fn snapshot_with(capacity: u32, students: &[i64]) -> DrainSnapshot {
        let mut snapshot = DrainSnapshot::default();
        let mut full = course(7, 3, &[(Weekday::Mon, 600, 675)]);
        full.spec.capacity = capacity;
        snapshot.courses.insert(7, full);
        let mut other = course(8, 3, &[(Weekday::Mon, 630, 700)]);
        other.spec.capacity = 100;
        snapshot.courses.insert(8, other);
        for &id in students {
            let mut s = student("컴퓨터공학과", 2);
            s.id = id;
            snapshot.students.insert(id, s);
        }
        snapshot
    }

    fn states(decisions: &[BatchDecision]) -> Vec<(u64, &str, Option<&str>)> {
        decisions
            .iter()
            .map(|d| {
                (
                    d.settled.id.seq,
                    d.settled.state.as_str(),
                    d.settled.code.as_deref(),
                )
            })
            .collect()
    }

    #[test]
    fn seats_go_to_the_lowest_sequence_numbers() {
        let mut snapshot = snapshot_with(2, &[1, 2, 3]);
        let tickets = [ticket(1, 1, 7), ticket(2, 2, 7), ticket(3, 3, 7)];
        let decisions = decide_batch(&Rules::default(), &tickets, &mut snapshot, 2_000, 60_000);
        assert_eq!(
            states(&decisions),
            [
                (1, "enrolled", None),
                (2, "enrolled", None),
                (3, "rejected", Some("COURSE_FULL"))
            ]
        );
        assert_eq!(snapshot.courses[&7].enrolled, 2);
    }

    #[test]
    fn an_earlier_ticket_of_the_batch_counts_for_clashes_and_duplicates() {
        let mut snapshot = snapshot_with(10, &[1]);
        let tickets = [ticket(1, 1, 7), ticket(2, 1, 8), ticket(3, 1, 7)];
        let decisions = decide_batch(&Rules::default(), &tickets, &mut snapshot, 2_000, 60_000);
        assert_eq!(
            states(&decisions),
            [
                (1, "enrolled", None),
                (2, "rejected", Some("TIME_CLASH")),
                (3, "rejected", Some("ALREADY_ENROLLED"))
            ]
        );
    }

    #[test]
    fn replays_cancellations_expiry_and_unknowns() {
        let mut snapshot = snapshot_with(10, &[1, 2]);
        let mut cancelled = ticket(2, 2, 7);
        cancelled.state = TicketState::Cancelled;
        cancelled.decided_at_ms = Some(1_500);
        let mut stale = ticket(3, 2, 8);
        stale.admitted_at_ms = -100_000;
        let replayed = Settled {
            state: TicketState::Enrolled,
            ..Settled::from(&ticket(1, 1, 7))
        };
        snapshot.decided.insert(replayed.id, replayed);
        let tickets = [
            ticket(1, 1, 7),
            cancelled,
            stale,
            ticket(4, 9, 7),
            ticket(5, 2, 99),
        ];
        let decisions = decide_batch(&Rules::default(), &tickets, &mut snapshot, 2_000, 60_000);
        assert_eq!(
            states(&decisions),
            [
                (1, "enrolled", None),
                (2, "cancelled", None),
                (3, "expired", None),
                (4, "rejected", Some(STUDENT_NOT_FOUND)),
                (5, "rejected", Some("COURSE_NOT_FOUND"))
            ]
        );
        assert!(decisions[0].replayed && !decisions[1].replayed);
        assert_eq!(decisions[1].settled.decided_at_ms, 1_500);
        // A replay took no seat a second time.
        assert_eq!(snapshot.courses[&7].enrolled, 0);
    }
}
