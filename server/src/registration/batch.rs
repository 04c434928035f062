//! The drain's decision over one batch: every ticket, in sequence order, through the same
//! domain rules as the direct path.

use std::collections::HashMap;

use crate::domain::{
    Course, CourseId, RejectionCode, ScheduledCourse, Settled, Student, StudentId, Ticket,
    TicketId, TicketState, check_enrollment,
};
use crate::store::DrainReads;

use super::Rules;

/// What a batch decides on: the database's reads inside the batch's transaction, indexed, and
/// updated as each ticket is decided so the next one sees the seats and schedules it left.
#[derive(Debug, Default)]
pub struct DrainSnapshot {
    /// Tickets of the batch the database already decided (a replay after a crash).
    pub decided: HashMap<TicketId, Settled>,
    /// The batch's students, locked.
    pub students: HashMap<StudentId, Student>,
    /// The courses each of those students holds.
    pub schedules: HashMap<StudentId, Vec<Course>>,
    /// The batch's courses, locked, with their seat counters.
    pub courses: HashMap<CourseId, Course>,
}

impl From<DrainReads> for DrainSnapshot {
    fn from(reads: DrainReads) -> Self {
        let mut snapshot = DrainSnapshot {
            decided: reads
                .decided
                .iter()
                .map(|ticket| (ticket.id, Settled::from(ticket)))
                .collect(),
            ..DrainSnapshot::default()
        };
        for student in reads.students {
            snapshot.schedules.insert(student.id, Vec::new());
            snapshot.students.insert(student.id, student);
        }
        for (student, course) in reads.schedules {
            snapshot.schedules.entry(student).or_default().push(course);
        }
        snapshot.courses = reads.courses.into_iter().map(|c| (c.id, c)).collect();
        snapshot
    }
}

impl DrainSnapshot {
    /// A ticket of `tickets` whose id the database decided for another student or course: the
    /// queue handed out an id twice, which happens only when Redis came back from an older state
    /// (a lagging replica, a lost second of the append-only file). A replay is accepted only
    /// when its student and course match.
    pub fn foreign_replay(&self, tickets: &[Ticket]) -> Option<TicketId> {
        tickets
            .iter()
            .map(|t| (t, self.decided.get(&t.id)))
            .find_map(|(ticket, decided)| {
                decided
                    .filter(|d| {
                        (d.student_id, d.course_id) != (ticket.student_id, ticket.course_id)
                    })
                    .map(|_| ticket.id)
            })
    }
}

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
            let state = decide_one(rules, ticket, snapshot, now_ms, ticket_ttl_ms);
            BatchDecision {
                ticket: ticket.clone(),
                settled: Settled {
                    id: ticket.id,
                    student_id: ticket.student_id,
                    course_id: ticket.course_id,
                    state,
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
) -> TicketState {
    if ticket.state == TicketState::Cancelled {
        return TicketState::Cancelled;
    }
    if now_ms - ticket.admitted_at_ms > ticket_ttl_ms {
        return TicketState::Expired;
    }
    let Some(student) = snapshot.students.get(&ticket.student_id) else {
        return TicketState::Rejected(RejectionCode::StudentNotFound);
    };
    let schedule = snapshot.schedules.entry(student.id).or_default();
    let scheduled: Vec<ScheduledCourse> = schedule.iter().map(ScheduledCourse::from).collect();
    let course = snapshot.courses.get_mut(&ticket.course_id);
    match check_enrollment(student, course.as_deref(), &scheduled, rules.credit_cap) {
        Ok(_) => {
            let course = course.expect("check_enrollment accepted an existing course");
            course.enrolled += 1;
            schedule.push(course.clone());
            TicketState::Enrolled
        }
        Err(rejection) => TicketState::Rejected(rejection.code()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Weekday;
    use crate::domain::rules::tests::{course, student};

    fn ticket(seq: u64, student_id: i64, course_id: i64) -> Ticket {
        Ticket {
            id: TicketId { generation: 1, seq },
            student_id: StudentId(student_id),
            course_id: CourseId(course_id),
            state: TicketState::Deciding,
            admitted_at_ms: 1_000,
            decided_at_ms: None,
        }
    }

    fn snapshot_with(capacity: u32, students: &[i64]) -> DrainSnapshot {
        let mut snapshot = DrainSnapshot::default();
        let mut full = course(7, 3, &[(Weekday::Mon, 600, 675)]);
        full.spec.capacity = capacity;
        snapshot.courses.insert(full.id, full);
        let mut other = course(8, 3, &[(Weekday::Mon, 630, 700)]);
        other.spec.capacity = 100;
        snapshot.courses.insert(other.id, other);
        for &id in students {
            let mut s = student("컴퓨터공학과", 2);
            s.id = StudentId(id);
            snapshot.students.insert(s.id, s);
        }
        snapshot
    }

    fn states(decisions: &[BatchDecision]) -> Vec<(u64, &str, Option<&str>)> {
        decisions
            .iter()
            .map(|d| {
                let state = d.settled.state;
                (
                    d.settled.id.seq,
                    state.as_str(),
                    state.code().map(|c| c.as_str()),
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
        assert_eq!(snapshot.courses[&CourseId(7)].enrolled, 2);
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
    fn a_replay_must_be_of_the_same_student_and_course() {
        let mut snapshot = snapshot_with(10, &[1, 2]);
        let mine = Settled {
            state: TicketState::Enrolled,
            ..Settled::from(&ticket(1, 1, 7))
        };
        snapshot.decided.insert(mine.id, mine);
        assert_eq!(snapshot.foreign_replay(&[ticket(1, 1, 7)]), None);
        // The same id handed to another student, or for another course, is not a replay.
        let id = TicketId {
            generation: 1,
            seq: 1,
        };
        assert_eq!(snapshot.foreign_replay(&[ticket(1, 2, 7)]), Some(id));
        assert_eq!(
            snapshot.foreign_replay(&[ticket(2, 2, 8), ticket(1, 1, 8)]),
            Some(id)
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
                (4, "rejected", Some("STUDENT_NOT_FOUND")),
                (5, "rejected", Some("COURSE_NOT_FOUND"))
            ]
        );
        assert!(decisions[0].replayed && !decisions[1].replayed);
        assert_eq!(decisions[1].settled.decided_at_ms, 1_500);
        // A replay took no seat a second time.
        assert_eq!(snapshot.courses[&CourseId(7)].enrolled, 0);
    }
}
