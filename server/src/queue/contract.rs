//! The queue's contract as tests: each backend runs this same suite through [`contract_tests!`].
//!
//! A test is an `async fn(&dyn Harness)` below, listed once in the macro; an instantiation names
//! the backend and the expression that builds its harness.

use std::collections::HashSet;
use std::sync::Arc;

// `::redis`, the crate: `use super::*` also brings in the sibling module `queue::redis`.
use ::redis::aio::ConnectionManager;
use async_trait::async_trait;
use classmate_testkit::RedisNamespace;

use super::*;
use crate::domain::{CourseId, RejectionCode, Settled, StudentId, Ticket, TicketId, TicketState};
use crate::lock::{DRAIN_LOCK, MemoryLock, epoch_key};

/// A backend under test: its queue, and a way to move the drain lock's epoch as an acquisition
/// by another drainer would.
#[async_trait]
pub(crate) trait Harness: Send + Sync {
    /// The queue under test; the same one on every call.
    fn queue(&self) -> Arc<dyn Queue>;
    /// Makes `epoch` the drain lock's current epoch.
    async fn set_epoch(&self, epoch: u64);
}

/// One `#[tokio::test]` per contract test, in module `$backend`, each with a fresh harness
/// from `$harness` (an expression of a future yielding a [`Harness`]).
macro_rules! contract_tests {
    ($backend:ident, $harness:expr) => {
        mod $backend {
            use super::*;
            contract_tests!(@each $harness;
                admitting_before_restore_is_recovering,
                restore_starts_the_sequence_after_the_floor,
                a_duplicate_admission_returns_the_same_ticket,
                concurrent_admissions_of_one_pair_get_one_ticket,
                restored_enrollments_and_sold_out_courses_answer_without_a_ticket,
                sold_out_flags_answer_without_a_ticket,
                the_rate_limit_caps_admissions_per_second,
                a_student_has_at_most_so_many_open_tickets,
                concurrent_presses_of_one_student_stop_at_the_open_limit,
                leaving_cancels_a_queued_ticket_and_frees_the_pair,
                leaving_refuses_deciding_tickets_and_other_students,
                claim_hands_out_tickets_in_sequence_order,
                claiming_after_a_ticket_leaves_the_batch_before_it,
                a_stale_epoch_is_fenced,
                settling_records_outcomes_and_moves_serving,
                results_page_with_a_cursor,
                settling_twice_publishes_and_counts_once,
                a_freed_seat_reopens_the_course_and_the_pair,
                status_counts_the_queue,
                restore_wipes_the_previous_state,
                a_seat_freed_during_a_batch_drops_its_sold_out_flags,
                the_drains_own_connection_serves_the_same_queue,
            );
        }
    };
    (@each $harness:expr; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                let harness = $harness.await;
                super::$test(&harness).await;
            }
        )*
    };
}

contract_tests!(redis_backend, RedisHarness::start());
contract_tests!(memory_backend, MemoryHarness::start());

/// Some instant; rate windows are whole seconds from it.
const NOW: i64 = 1_764_140_400_000;

fn at(now_ms: i64) -> AdmitLimits {
    AdmitLimits {
        per_second: 0,
        open_tickets: 0,
        now_ms,
    }
}

/// Takes epoch 1 and starts generation `generation` with nothing enrolled or sold out.
async fn start(h: &dyn Harness, generation: u64, seq_floor: u64) -> Arc<dyn Queue> {
    h.set_epoch(1).await;
    let queue = h.queue();
    let restore = Restore {
        generation,
        seq_floor,
        ..Restore::default()
    };
    queue.restore(1, &restore).await.expect("restore");
    queue
}

async fn queued(queue: &dyn Queue, student: i64, course: i64, now_ms: i64) -> Ticket {
    match queue
        .admit(StudentId(student), CourseId(course), at(now_ms))
        .await
        .expect("admit")
    {
        Admission::Queued(ticket) => ticket,
        other => panic!("student {student}, course {course}: expected a new ticket, got {other:?}"),
    }
}

fn outcome(ticket: &Ticket, state: TicketState, decided_at_ms: i64) -> Settled {
    Settled {
        id: ticket.id,
        student_id: ticket.student_id,
        course_id: ticket.course_id,
        state,
        decided_at_ms,
    }
}

fn courses(ids: &[i64]) -> Vec<CourseId> {
    ids.iter().copied().map(CourseId).collect()
}

fn id(generation: u64, seq: u64) -> TicketId {
    TicketId { generation, seq }
}

fn ids(tickets: &[Ticket]) -> Vec<TicketId> {
    tickets.iter().map(|t| t.id).collect()
}

async fn state_of(queue: &dyn Queue, id: TicketId) -> TicketState {
    queue
        .ticket(id)
        .await
        .expect("ticket")
        .expect("ticket exists")
        .state
}

async fn admitting_before_restore_is_recovering(h: &dyn Harness) {
    let queue = h.queue();
    h.set_epoch(1).await;
    queue.ping().await.unwrap();
    assert_eq!(queue.generation().await.unwrap(), None);
    assert_eq!(queue.status().await.unwrap().generation, None);
    assert!(matches!(
        queue.admit(StudentId(1), CourseId(10), at(NOW)).await,
        Err(QueueError::Recovering)
    ));
    assert!(matches!(
        queue.leave(StudentId(1), id(1, 1), NOW).await,
        Err(QueueError::Recovering)
    ));
    assert!(matches!(
        queue.claim(1, 10).await,
        Err(QueueError::Recovering)
    ));
    let settle = queue.settle(1, &[], &CourseFlags::default()).await;
    assert!(matches!(settle, Err(QueueError::Recovering)));
    assert!(matches!(
        queue.reset_sold_out(1, &courses(&[10]), None).await,
        Err(QueueError::Recovering)
    ));
    // Without state there is nothing to clear; it must not fail either.
    queue
        .seat_freed(CourseId(10), Some(StudentId(1)))
        .await
        .unwrap();
}

async fn restore_starts_the_sequence_after_the_floor(h: &dyn Harness) {
    let queue = start(h, 7, 100).await;
    assert_eq!(queue.generation().await.unwrap(), Some(7));

    let first = queued(&*queue, 1, 10, NOW).await;
    assert_eq!(
        first,
        Ticket {
            id: id(7, 101),
            student_id: StudentId(1),
            course_id: CourseId(10),
            state: TicketState::Queued,
            admitted_at_ms: NOW,
            decided_at_ms: None,
        }
    );
    assert_eq!(queued(&*queue, 2, 10, NOW + 1).await.id, id(7, 102));
    assert_eq!(queued(&*queue, 1, 20, NOW + 2).await.id, id(7, 103));

    assert_eq!(queue.ticket(id(7, 101)).await.unwrap(), Some(first));
    assert_eq!(queue.ticket(id(7, 999)).await.unwrap(), None);
    let mine = queue.tickets_of(StudentId(1), 100).await.unwrap();
    assert_eq!(ids(&mine), [id(7, 101), id(7, 103)]);
    // A limit keeps the newest.
    let newest = queue.tickets_of(StudentId(1), 1).await.unwrap();
    assert_eq!(ids(&newest), [id(7, 103)]);
    assert!(
        queue
            .tickets_of(StudentId(3), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_duplicate_admission_returns_the_same_ticket(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    let ticket = queued(&*queue, 1, 10, NOW).await;
    let again = queue
        .admit(StudentId(1), CourseId(10), at(NOW + 1))
        .await
        .unwrap();
    assert_eq!(again, Admission::AlreadyQueued(ticket.clone()));

    // Being decided is still waiting, as far as the student is concerned.
    queue.claim(1, 10).await.unwrap();
    match queue
        .admit(StudentId(1), CourseId(10), at(NOW + 2))
        .await
        .unwrap()
    {
        Admission::AlreadyQueued(t) => {
            assert_eq!(t.id, ticket.id);
            assert_eq!(t.state, TicketState::Deciding);
        }
        other => panic!("expected the existing ticket, got {other:?}"),
    }
    assert_eq!(queue.status().await.unwrap().last_seq, 1);
}

async fn concurrent_admissions_of_one_pair_get_one_ticket(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    let attempts: Vec<_> = (0..50)
        .map(|_| {
            let queue = Arc::clone(&queue);
            tokio::spawn(async move {
                queue
                    .admit(StudentId(1), CourseId(10), at(NOW))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut new = Vec::new();
    let mut seen = HashSet::new();
    for attempt in attempts {
        match attempt.await.unwrap() {
            Admission::Queued(t) => {
                seen.insert(t.id);
                new.push(t);
            }
            Admission::AlreadyQueued(t) => {
                seen.insert(t.id);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(new.len(), 1, "exactly one admission gets a ticket");
    assert_eq!(
        seen,
        HashSet::from([new[0].id]),
        "everyone else sees that ticket"
    );
    assert_eq!(queue.status().await.unwrap().last_seq, 1);
}

async fn restored_enrollments_and_sold_out_courses_answer_without_a_ticket(h: &dyn Harness) {
    h.set_epoch(1).await;
    let queue = h.queue();
    // More than one restore chunk, so a large rebuild is tested too.
    let enrolled: Vec<(StudentId, CourseId)> = (1..=12_000)
        .map(|s| (StudentId(s), CourseId(10 + s % 3)))
        .collect();
    let restore = Restore {
        generation: 2,
        seq_floor: 0,
        enrolled,
        sold_out: courses(&[30]),
    };
    queue.restore(1, &restore).await.unwrap();

    assert_eq!(
        queue
            .admit(StudentId(1), CourseId(11), at(NOW))
            .await
            .unwrap(),
        Admission::AlreadyEnrolled
    );
    assert_eq!(
        queue
            .admit(StudentId(12_000), CourseId(10), at(NOW))
            .await
            .unwrap(),
        Admission::AlreadyEnrolled
    );
    assert_eq!(
        queue
            .admit(StudentId(7), CourseId(30), at(NOW))
            .await
            .unwrap(),
        Admission::SoldOut
    );
    queued(&*queue, 1, 10, NOW).await;
    assert_eq!(queue.status().await.unwrap().last_seq, 1);
}

async fn sold_out_flags_answer_without_a_ticket(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    let ticket = queued(&*queue, 1, 10, NOW).await;
    queue.claim(1, 10).await.unwrap();
    let flags = CourseFlags {
        sold_out: courses(&[10]),
        ..CourseFlags::default()
    };
    let settled = [outcome(&ticket, TicketState::Enrolled, NOW + 10)];
    queue.settle(1, &settled, &flags).await.unwrap();
    assert_eq!(
        queue
            .admit(StudentId(2), CourseId(10), at(NOW))
            .await
            .unwrap(),
        Admission::SoldOut
    );

    // Reconciling replaces the flags entirely.
    assert!(
        queue
            .reset_sold_out(1, &courses(&[20, 21]), None)
            .await
            .unwrap()
    );
    queued(&*queue, 2, 10, NOW).await;
    assert_eq!(
        queue
            .admit(StudentId(2), CourseId(20), at(NOW))
            .await
            .unwrap(),
        Admission::SoldOut
    );
    assert_eq!(
        queue
            .admit(StudentId(2), CourseId(21), at(NOW))
            .await
            .unwrap(),
        Admission::SoldOut
    );
    assert!(queue.reset_sold_out(1, &courses(&[]), None).await.unwrap());
    queued(&*queue, 2, 20, NOW).await;
    assert_eq!(queue.status().await.unwrap().last_seq, 3);
}

async fn the_rate_limit_caps_admissions_per_second(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    let limited = |now_ms| AdmitLimits {
        per_second: 3,
        open_tickets: 0,
        now_ms,
    };
    for student in 1..=3 {
        let admission = queue
            .admit(StudentId(student), CourseId(10), limited(NOW + student))
            .await
            .unwrap();
        assert!(matches!(admission, Admission::Queued(_)), "{admission:?}");
    }
    assert_eq!(
        queue
            .admit(StudentId(4), CourseId(10), limited(NOW + 999))
            .await
            .unwrap(),
        Admission::RateLimited
    );
    // A duplicate is answered with its ticket, limit or not.
    let again = queue
        .admit(StudentId(1), CourseId(10), limited(NOW + 999))
        .await
        .unwrap();
    assert!(matches!(again, Admission::AlreadyQueued(_)), "{again:?}");
    // The next second has its own allowance.
    let next = queue
        .admit(StudentId(4), CourseId(10), limited(NOW + 1_000))
        .await
        .unwrap();
    assert!(matches!(next, Admission::Queued(_)), "{next:?}");
    // 0 means no limit.
    for student in 10..20 {
        queued(&*queue, student, 10, NOW + 1_000).await;
    }
}

/// Admission of `student` to `course` with at most `open` tickets open.
async fn admit_capped(queue: &dyn Queue, student: i64, course: i64, open: u32) -> Admission {
    let limits = AdmitLimits {
        open_tickets: open,
        ..at(NOW)
    };
    queue
        .admit(StudentId(student), CourseId(course), limits)
        .await
        .expect("admit")
}

async fn a_student_has_at_most_so_many_open_tickets(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    for course in [10, 20] {
        let admission = admit_capped(&*queue, 1, course, 2).await;
        assert!(matches!(admission, Admission::Queued(_)), "{admission:?}");
    }
    assert_eq!(
        admit_capped(&*queue, 1, 30, 2).await,
        Admission::TooManyOpen
    );
    // Other students have limits of their own; a duplicate still gets its ticket.
    assert!(matches!(
        admit_capped(&*queue, 2, 30, 2).await,
        Admission::Queued(_)
    ));
    assert!(matches!(
        admit_capped(&*queue, 1, 10, 2).await,
        Admission::AlreadyQueued(_)
    ));

    // Leaving frees a place.
    queue.leave(StudentId(1), id(1, 1), NOW).await.unwrap();
    assert!(matches!(
        admit_capped(&*queue, 1, 30, 2).await,
        Admission::Queued(_)
    ));
    assert_eq!(
        admit_capped(&*queue, 1, 40, 2).await,
        Admission::TooManyOpen
    );

    // So does a decision, but not while the ticket is being decided.
    let claimed = queue.claim(1, 10).await.unwrap();
    assert_eq!(
        admit_capped(&*queue, 1, 40, 2).await,
        Admission::TooManyOpen
    );
    let second = claimed.iter().find(|t| t.id == id(1, 2)).expect("claimed");
    let settled = [outcome(second, TicketState::Enrolled, NOW + 1)];
    queue
        .settle(1, &settled, &CourseFlags::default())
        .await
        .unwrap();
    let after = admit_capped(&*queue, 1, 40, 2).await;
    assert!(matches!(after, Admission::Queued(_)), "{after:?}");

    // Tickets of an older generation are lost: they hold no place in the new one.
    start(h, 2, 100).await;
    for course in [50, 60] {
        let admission = admit_capped(&*queue, 1, course, 2).await;
        assert!(matches!(admission, Admission::Queued(_)), "{admission:?}");
    }
    assert_eq!(
        admit_capped(&*queue, 1, 70, 2).await,
        Admission::TooManyOpen
    );
}

async fn concurrent_presses_of_one_student_stop_at_the_open_limit(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    let presses: Vec<_> = (0..40)
        .map(|course| {
            let queue = Arc::clone(&queue);
            tokio::spawn(async move { admit_capped(&*queue, 1, 100 + course, 5).await })
        })
        .collect();
    let mut admitted = 0;
    for press in presses {
        match press.await.unwrap() {
            Admission::Queued(_) => admitted += 1,
            Admission::TooManyOpen => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(admitted, 5, "no press races past the limit");
    assert_eq!(queue.tickets_of(StudentId(1), 100).await.unwrap().len(), 5);
}

async fn leaving_cancels_a_queued_ticket_and_frees_the_pair(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    let ticket = queued(&*queue, 1, 10, NOW).await;
    match queue.leave(StudentId(1), ticket.id, NOW + 5).await.unwrap() {
        Leave::Left(left) => {
            assert_eq!(left.id, ticket.id);
            assert_eq!(left.state, TicketState::Cancelled);
            assert_eq!(left.decided_at_ms, Some(NOW + 5));
        }
        other => panic!("expected to leave, got {other:?}"),
    }
    assert_eq!(state_of(&*queue, ticket.id).await, TicketState::Cancelled);

    let second = queued(&*queue, 1, 10, NOW + 6).await;
    assert_eq!(second.id, id(1, 2));
    match queue.leave(StudentId(1), ticket.id, NOW + 7).await.unwrap() {
        Leave::AlreadyTerminal(t) => assert_eq!(t.state, TicketState::Cancelled),
        other => panic!("expected already terminal, got {other:?}"),
    }
    // Leaving the old ticket again does not free the pair the new one holds.
    assert!(matches!(
        queue.admit(StudentId(1), CourseId(10), at(NOW + 8)).await.unwrap(),
        Admission::AlreadyQueued(t) if t.id == second.id
    ));
}

async fn leaving_refuses_deciding_tickets_and_other_students(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    let ticket = queued(&*queue, 1, 10, NOW).await;
    assert_eq!(
        queue.leave(StudentId(2), ticket.id, NOW).await.unwrap(),
        Leave::NotFound
    );
    assert_eq!(
        queue.leave(StudentId(1), id(1, 999), NOW).await.unwrap(),
        Leave::NotFound
    );
    assert_eq!(state_of(&*queue, ticket.id).await, TicketState::Queued);

    queue.claim(1, 10).await.unwrap();
    match queue.leave(StudentId(1), ticket.id, NOW).await.unwrap() {
        Leave::Deciding(t) => assert_eq!(t.state, TicketState::Deciding),
        other => panic!("expected deciding, got {other:?}"),
    }
    let settled = [outcome(&ticket, TicketState::Enrolled, NOW + 10)];
    queue
        .settle(1, &settled, &CourseFlags::default())
        .await
        .unwrap();
    match queue.leave(StudentId(1), ticket.id, NOW).await.unwrap() {
        Leave::AlreadyTerminal(t) => assert_eq!(t.state, TicketState::Enrolled),
        other => panic!("expected already terminal, got {other:?}"),
    }
}

async fn claim_hands_out_tickets_in_sequence_order(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    let mut tickets = Vec::new();
    for student in 1..=5 {
        tickets.push(queued(&*queue, student, 10, NOW + student).await);
    }
    queue
        .leave(StudentId(3), tickets[2].id, NOW + 10)
        .await
        .unwrap();

    let first = queue.claim(1, 2).await.unwrap();
    assert_eq!(ids(&first), ids(&tickets[..2]));
    assert!(first.iter().all(|t| t.state == TicketState::Deciding));

    // Nothing settled: a drainer that died hands its successor the same tickets again.
    h.set_epoch(2).await;
    let all = queue.claim(2, 10).await.unwrap();
    assert_eq!(ids(&all), ids(&tickets));
    let states: Vec<_> = all.iter().map(|t| t.state).collect();
    use TicketState::{Cancelled, Deciding};
    assert_eq!(states, [Deciding, Deciding, Cancelled, Deciding, Deciding]);

    let settled = [
        outcome(&all[0], TicketState::Enrolled, NOW + 20),
        outcome(
            &all[1],
            TicketState::Rejected(RejectionCode::CourseFull),
            NOW + 20,
        ),
    ];
    queue
        .settle(2, &settled, &CourseFlags::default())
        .await
        .unwrap();
    let rest = queue.claim(2, 10).await.unwrap();
    assert_eq!(ids(&rest), ids(&tickets[2..]));
    assert_eq!(queue.claim(2, 0).await.unwrap(), []);
}

async fn claiming_after_a_ticket_leaves_the_batch_before_it(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    let mut tickets = Vec::new();
    for student in 1..=5 {
        tickets.push(queued(&*queue, student, 10, NOW + student).await);
    }
    let first = queue.claim_after(1, 2, None).await.unwrap();
    assert_eq!(ids(&first.tickets), ids(&tickets[..2]));
    assert_eq!(first.freed_mark, queue.freed_mark().await.unwrap());

    // The next batch, claimed while the first is still undecided, starts after its last ticket.
    let next = queue.claim_after(1, 2, Some(tickets[1].id)).await.unwrap();
    assert_eq!(ids(&next.tickets), ids(&tickets[2..4]));
    assert!(
        next.tickets
            .iter()
            .all(|t| t.state == TicketState::Deciding)
    );

    // The mark is read with the batch: a seat freed before the claim shows in it.
    queue.seat_freed(CourseId(10), None).await.unwrap();
    let moved = queue.claim_after(1, 10, Some(tickets[3].id)).await.unwrap();
    assert_eq!(ids(&moved.tickets), ids(&tickets[4..]));
    assert_eq!(moved.freed_mark, queue.freed_mark().await.unwrap());
    assert_ne!(moved.freed_mark, first.freed_mark);

    // A ticket of another generation counts for nothing: the claim starts at "now serving", and
    // what is still deciding comes again.
    let elsewhere = TicketId {
        generation: tickets[0].id.generation + 1,
        seq: tickets[3].id.seq,
    };
    let again = queue.claim_after(1, 10, Some(elsewhere)).await.unwrap();
    assert_eq!(ids(&again.tickets), ids(&tickets));
}

async fn the_drains_own_connection_serves_the_same_queue(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    let Some(own) = queue.own_connection().await.unwrap() else {
        assert_eq!(
            queue.kind(),
            "memory",
            "a queue over the network gives the drain its own"
        );
        return;
    };
    let ticket = queued(&*queue, 1, 10, NOW).await;
    let claimed = own.claim(1, 10).await.unwrap();
    assert_eq!(ids(&claimed), ids(std::slice::from_ref(&ticket)));
    own.settle(
        1,
        &[outcome(&claimed[0], TicketState::Enrolled, NOW + 5)],
        &CourseFlags::default(),
    )
    .await
    .unwrap();
    let seen = queue.ticket(ticket.id).await.unwrap().unwrap();
    assert_eq!(seen.state, TicketState::Enrolled);
    // The same fence guards both connections.
    h.set_epoch(2).await;
    assert!(matches!(
        own.claim(1, 10).await,
        Err(QueueError::Fenced { .. })
    ));
}

async fn a_stale_epoch_is_fenced(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    let ticket = queued(&*queue, 1, 10, NOW).await;
    h.set_epoch(2).await;

    let fenced =
        |result: Result<_, QueueError>| matches!(result, Err(QueueError::Fenced { mine: 1 }));
    assert!(fenced(queue.claim(1, 10).await.map(|_| ())));
    assert_eq!(state_of(&*queue, ticket.id).await, TicketState::Queued);
    let settled = [outcome(&ticket, TicketState::Enrolled, NOW)];
    assert!(fenced(
        queue
            .settle(
                1,
                &settled,
                &CourseFlags {
                    sold_out: courses(&[10]),
                    ..CourseFlags::default()
                }
            )
            .await
    ));
    assert!(fenced(
        queue
            .reset_sold_out(1, &courses(&[10]), None)
            .await
            .map(|_| ())
    ));
    let restore = Restore {
        generation: 9,
        ..Restore::default()
    };
    assert!(fenced(queue.restore(1, &restore).await));

    // None of it changed anything.
    assert_eq!(state_of(&*queue, ticket.id).await, TicketState::Queued);
    assert_eq!(queue.generation().await.unwrap(), Some(1));
    queued(&*queue, 2, 10, NOW).await;
    assert_eq!(
        ids(&queue.claim(2, 10).await.unwrap()),
        [id(1, 1), id(1, 2)]
    );
}

async fn settling_records_outcomes_and_moves_serving(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    let a = queued(&*queue, 1, 10, NOW).await;
    let b = queued(&*queue, 2, 20, NOW + 1).await;
    let c = queued(&*queue, 3, 30, NOW + 2).await;
    assert_eq!(queue.claim(1, 2).await.unwrap().len(), 2);

    let settled = [
        outcome(&a, TicketState::Enrolled, NOW + 100),
        outcome(
            &b,
            TicketState::Rejected(RejectionCode::TimeClash),
            NOW + 101,
        ),
    ];
    let flags = CourseFlags {
        sold_out: courses(&[10]),
        ..CourseFlags::default()
    };
    queue.settle(1, &settled, &flags).await.unwrap();

    let enrolled = queue.ticket(a.id).await.unwrap().unwrap();
    assert_eq!(
        (enrolled.state, enrolled.decided_at_ms),
        (TicketState::Enrolled, Some(NOW + 100))
    );
    let rejected = queue.ticket(b.id).await.unwrap().unwrap();
    assert_eq!(
        rejected.state,
        TicketState::Rejected(RejectionCode::TimeClash)
    );

    // An enrolled pair stays a duplicate (ahead of the sold-out answer); a rejected one is free.
    assert_eq!(
        queue
            .admit(StudentId(1), CourseId(10), at(NOW))
            .await
            .unwrap(),
        Admission::AlreadyEnrolled
    );
    assert_eq!(
        queue
            .admit(StudentId(4), CourseId(10), at(NOW))
            .await
            .unwrap(),
        Admission::SoldOut
    );
    let retry = queued(&*queue, 2, 20, NOW + 3).await;

    let status = queue.status().await.unwrap();
    assert_eq!(status.serving_seq, 2);
    assert_eq!(status.last_seq, 4);
    assert_eq!(status.depth, 2);
    assert_eq!(status.oldest_admitted_at_ms, Some(NOW + 2));
    assert_eq!(status.decided_total, 2);

    let (published, cursor) = queue.results_after(0, 10).await.unwrap();
    assert_eq!(published, settled);
    assert!(cursor > 0);
    assert_eq!(ids(&queue.claim(1, 10).await.unwrap()), [c.id, retry.id]);
}

async fn results_page_with_a_cursor(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    for student in 1..=5 {
        queued(&*queue, student, 10, NOW).await;
    }
    let claimed = queue.claim(1, 10).await.unwrap();
    let settled: Vec<Settled> = claimed
        .iter()
        .enumerate()
        .map(|(i, t)| match i % 2 {
            0 => outcome(t, TicketState::Enrolled, NOW + 50),
            _ => outcome(
                t,
                TicketState::Rejected(RejectionCode::CourseFull),
                NOW + 50,
            ),
        })
        .collect();
    queue
        .settle(1, &settled[..3], &CourseFlags::default())
        .await
        .unwrap();
    queue
        .settle(1, &settled[3..], &CourseFlags::default())
        .await
        .unwrap();

    let mut cursor = 0;
    let mut read = Vec::new();
    loop {
        let (page, next) = queue.results_after(cursor, 2).await.unwrap();
        assert!(page.len() <= 2);
        if page.is_empty() {
            assert_eq!(next, cursor, "an empty page keeps the cursor");
            break;
        }
        assert!(next > cursor);
        read.extend(page);
        cursor = next;
    }
    assert_eq!(read, settled);
    assert_eq!(
        queue.results_after(cursor, 10).await.unwrap(),
        (Vec::new(), cursor)
    );
}

async fn settling_twice_publishes_and_counts_once(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    let a = queued(&*queue, 1, 10, NOW).await;
    let b = queued(&*queue, 2, 10, NOW).await;
    queue.leave(StudentId(2), b.id, NOW + 1).await.unwrap();
    let claimed = queue.claim(1, 10).await.unwrap();
    assert_eq!(claimed[1].state, TicketState::Cancelled);

    let settled = [
        outcome(
            &a,
            TicketState::Rejected(RejectionCode::CreditLimitExceeded),
            NOW + 10,
        ),
        outcome(&b, TicketState::Cancelled, NOW + 10),
    ];
    queue
        .settle(1, &settled, &CourseFlags::default())
        .await
        .unwrap();
    // The student queues again; a replay of the old outcome must not free the new ticket's pair.
    let again = queued(&*queue, 1, 10, NOW + 20).await;
    queue
        .settle(1, &settled, &CourseFlags::default())
        .await
        .unwrap();

    let (published, _) = queue.results_after(0, 100).await.unwrap();
    assert_eq!(published, settled);
    let status = queue.status().await.unwrap();
    assert_eq!((status.decided_total, status.serving_seq), (2, 2));
    assert!(matches!(
        queue.admit(StudentId(1), CourseId(10), at(NOW + 21)).await.unwrap(),
        Admission::AlreadyQueued(t) if t.id == again.id
    ));
    assert_eq!(state_of(&*queue, again.id).await, TicketState::Queued);
}

async fn a_freed_seat_reopens_the_course_and_the_pair(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    let ticket = queued(&*queue, 1, 10, NOW).await;
    let waiting = queued(&*queue, 2, 20, NOW).await;
    queue.claim(1, 1).await.unwrap();
    let settled = [outcome(&ticket, TicketState::Enrolled, NOW + 10)];
    let flags = CourseFlags {
        sold_out: courses(&[10]),
        ..CourseFlags::default()
    };
    queue.settle(1, &settled, &flags).await.unwrap();
    assert_eq!(
        queue
            .admit(StudentId(3), CourseId(10), at(NOW))
            .await
            .unwrap(),
        Admission::SoldOut
    );

    queue
        .seat_freed(CourseId(10), Some(StudentId(1)))
        .await
        .unwrap();
    queued(&*queue, 3, 10, NOW).await;
    queued(&*queue, 1, 10, NOW).await;

    // A student still waiting keeps the ticket.
    queue
        .seat_freed(CourseId(20), Some(StudentId(2)))
        .await
        .unwrap();
    assert_eq!(
        queue
            .admit(StudentId(2), CourseId(20), at(NOW))
            .await
            .unwrap(),
        Admission::AlreadyQueued(waiting)
    );
    queue.seat_freed(CourseId(20), None).await.unwrap();
}

async fn status_counts_the_queue(h: &dyn Harness) {
    let queue = start(h, 3, 50).await;
    assert_eq!(
        queue.status().await.unwrap(),
        QueueStatus {
            generation: Some(3),
            serving_seq: 50,
            last_seq: 50,
            depth: 0,
            oldest_admitted_at_ms: None,
            decided_total: 0,
        }
    );
    let first = queued(&*queue, 1, 10, NOW).await;
    queued(&*queue, 2, 10, NOW + 1).await;
    queued(&*queue, 3, 10, NOW + 2).await;
    assert_eq!(queue.status().await.unwrap().depth, 3);
    queue.claim(1, 1).await.unwrap();
    let settled = [outcome(&first, TicketState::Enrolled, NOW + 10)];
    queue
        .settle(1, &settled, &CourseFlags::default())
        .await
        .unwrap();
    assert_eq!(
        queue.status().await.unwrap(),
        QueueStatus {
            generation: Some(3),
            serving_seq: 51,
            last_seq: 53,
            depth: 2,
            oldest_admitted_at_ms: Some(NOW + 1),
            decided_total: 1,
        }
    );
}

async fn restore_wipes_the_previous_state(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    queued(&*queue, 1, 10, NOW).await;
    let enrolled = queued(&*queue, 2, 20, NOW).await;
    queue.leave(StudentId(1), id(1, 1), NOW).await.unwrap();
    queue.claim(1, 10).await.unwrap();
    let settled = [
        outcome(
            &queue.ticket(id(1, 1)).await.unwrap().unwrap(),
            TicketState::Cancelled,
            NOW,
        ),
        outcome(&enrolled, TicketState::Enrolled, NOW),
    ];
    queue
        .settle(
            1,
            &settled,
            &CourseFlags {
                sold_out: courses(&[20]),
                ..CourseFlags::default()
            },
        )
        .await
        .unwrap();
    queued(&*queue, 3, 30, NOW).await;
    let (_, old_cursor) = queue.results_after(0, 10).await.unwrap();

    h.set_epoch(2).await;
    let restore = Restore {
        generation: 2,
        seq_floor: 40,
        enrolled: vec![(StudentId(5), CourseId(50))],
        sold_out: courses(&[60]),
    };
    queue.restore(2, &restore).await.unwrap();

    assert_eq!(
        queue.status().await.unwrap(),
        QueueStatus {
            generation: Some(2),
            serving_seq: 40,
            last_seq: 40,
            depth: 0,
            oldest_admitted_at_ms: None,
            decided_total: 0,
        }
    );
    assert_eq!(queue.claim(2, 10).await.unwrap(), []);
    // The old duplicate check and flags are gone; the restored ones answer.
    assert_eq!(queued(&*queue, 2, 20, NOW).await.id, id(2, 41));
    assert_eq!(queued(&*queue, 3, 30, NOW).await.id, id(2, 42));
    assert_eq!(
        queue
            .admit(StudentId(5), CourseId(50), at(NOW))
            .await
            .unwrap(),
        Admission::AlreadyEnrolled
    );
    assert_eq!(
        queue
            .admit(StudentId(6), CourseId(60), at(NOW))
            .await
            .unwrap(),
        Admission::SoldOut
    );

    // A hub still holding a cursor from before the restore sees the new generation's outcomes.
    let claimed = queue.claim(2, 1).await.unwrap();
    let fresh = [outcome(&claimed[0], TicketState::Enrolled, NOW + 5)];
    queue
        .settle(2, &fresh, &CourseFlags::default())
        .await
        .unwrap();
    let (published, _) = queue.results_after(old_cursor, 10).await.unwrap();
    assert_eq!(published, fresh);
}

/// The Redis backend on the tests' Redis, in a namespace of its own whose keys are deleted when
/// the test ends, pass or fail.
pub(crate) struct RedisHarness {
    namespace: RedisNamespace,
    queue: Arc<RedisQueue>,
    conn: ConnectionManager,
}

impl RedisHarness {
    pub(crate) async fn start() -> RedisHarness {
        let namespace = RedisNamespace::new("q");
        let needed = "the queue contract tests need Redis (set CLASSMATE_TEST_REDIS_URL)";
        let queue = RedisQueue::connect(&namespace.url, &namespace.name)
            .await
            .unwrap_or_else(|e| panic!("{needed}: {}: {e}", namespace.url));
        RedisHarness {
            conn: queue.connection(),
            queue: Arc::new(queue),
            namespace,
        }
    }
}

#[async_trait]
impl Harness for RedisHarness {
    fn queue(&self) -> Arc<dyn Queue> {
        self.queue.clone()
    }

    async fn set_epoch(&self, epoch: u64) {
        let _: () = ::redis::cmd("SET")
            .arg(epoch_key(&self.namespace.name, DRAIN_LOCK))
            .arg(epoch)
            .query_async(&mut self.conn.clone())
            .await
            .expect("set the drain epoch");
    }
}

/// The in-process queue, fenced by its own in-process lock.
pub(crate) struct MemoryHarness {
    lock: Arc<MemoryLock>,
    queue: Arc<MemoryQueue>,
}

impl MemoryHarness {
    pub(crate) async fn start() -> MemoryHarness {
        let lock = Arc::new(MemoryLock::new());
        MemoryHarness {
            queue: Arc::new(MemoryQueue::new(lock.clone())),
            lock,
        }
    }
}

#[async_trait]
impl Harness for MemoryHarness {
    fn queue(&self) -> Arc<dyn Queue> {
        self.queue.clone()
    }

    async fn set_epoch(&self, epoch: u64) {
        self.lock.force_epoch(DRAIN_LOCK, epoch);
    }
}

async fn a_seat_freed_during_a_batch_drops_its_sold_out_flags(h: &dyn Harness) {
    let queue = start(h, 1, 0).await;
    // A cancellation frees a seat of course 10 while a batch that saw it full is in flight.
    let mark = queue.freed_mark().await.unwrap();
    queue.seat_freed(CourseId(10), None).await.unwrap();
    let stale = CourseFlags {
        sold_out: courses(&[10]),
        freed_mark: Some(mark),
    };
    queue.settle(1, &[], &stale).await.unwrap();
    assert!(
        queue.sold_out().await.unwrap().is_empty(),
        "no flag over a free seat"
    );
    // With no seat freed since its mark, a batch flags what it saw full.
    let fresh = CourseFlags {
        sold_out: courses(&[10, 11]),
        freed_mark: Some(queue.freed_mark().await.unwrap()),
    };
    queue.settle(1, &[], &fresh).await.unwrap();
    assert_eq!(queue.sold_out().await.unwrap(), courses(&[10, 11]));

    // Reconciling from the database is held to the same mark: a seat freed after the mark
    // was read (and after the database was) keeps the list from replacing the flags.
    let mark = queue.freed_mark().await.unwrap();
    queue.seat_freed(CourseId(11), None).await.unwrap();
    assert!(
        !queue
            .reset_sold_out(1, &courses(&[10, 11, 12]), Some(mark))
            .await
            .unwrap()
    );
    assert_eq!(
        queue.sold_out().await.unwrap(),
        courses(&[10]),
        "course 11 stays unflagged"
    );
    let mark = queue.freed_mark().await.unwrap();
    assert!(
        queue
            .reset_sold_out(1, &courses(&[10, 12]), Some(mark))
            .await
            .unwrap()
    );
    assert_eq!(queue.sold_out().await.unwrap(), courses(&[10, 12]));
}
