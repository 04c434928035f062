//! Queue invariants under random interleavings of admission, leaving, claiming, settling (or a
//! drainer dying before it settles) and freed seats, checked on the in-process queue after every
//! step. The contract suite shows Redis behaves the same.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::lock::{DRAIN_LOCK, MemoryLock, SchedulerLock};

#[derive(Debug, Clone)]
enum Step {
    Admit {
        student: i64,
        course: i64,
    },
    Leave {
        student: i64,
        pick: usize,
    },
    /// Claim up to `max`; settle them unless the drainer "dies" first.
    Drain {
        max: usize,
        enroll_mask: u8,
        dies: bool,
    },
    SeatFreed {
        course: i64,
        student: i64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..6i64, 0..3i64).prop_map(|(student, course)| Step::Admit { student, course }),
        1 => (0..6i64, 0..8usize).prop_map(|(student, pick)| Step::Leave { student, pick }),
        2 => (1..5usize, any::<u8>(), prop::bool::weighted(0.2))
            .prop_map(|(max, enroll_mask, dies)| Step::Drain { max, enroll_mask, dies }),
        1 => (0..3i64, 0..6i64).prop_map(|(course, student)| Step::SeatFreed { course, student }),
    ]
}

async fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let lock = Arc::new(MemoryLock::new());
    let queue = MemoryQueue::new(lock.clone());
    let lease = lock
        .try_acquire(DRAIN_LOCK, std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    queue
        .restore(
            lease.epoch,
            &Restore {
                generation: 1,
                ..Restore::default()
            },
        )
        .await
        .unwrap();
    let limits = AdmitLimits {
        per_second: 0,
        now_ms: 1_000,
    };

    let mut issued: Vec<TicketId> = Vec::new();
    let mut terminal: HashMap<TicketId, TicketState> = HashMap::new();
    let mut serving = 0;
    for step in steps {
        match step {
            Step::Admit { student, course } => {
                if let Admission::Queued(ticket) =
                    queue.admit(student, course, limits).await.unwrap()
                {
                    let expected = issued.last().map_or(1, |id| id.seq + 1);
                    prop_assert_eq!(ticket.id.seq, expected, "sequence numbers have no gaps");
                    issued.push(ticket.id);
                }
            }
            Step::Leave { student, pick } => {
                if let Some(id) = issued.get(pick) {
                    queue.leave(student, *id, 2_000).await.unwrap();
                }
            }
            Step::Drain {
                max,
                enroll_mask,
                dies,
            } => {
                let claimed = queue.claim(lease.epoch, max).await.unwrap();
                let seqs: Vec<u64> = claimed.iter().map(|t| t.id.seq).collect();
                prop_assert!(
                    seqs.windows(2).all(|w| w[0] < w[1]),
                    "claims in order: {seqs:?}"
                );
                let waiting: Vec<u64> = issued
                    .iter()
                    .map(|id| id.seq)
                    .filter(|s| *s > serving)
                    .collect();
                prop_assert_eq!(&seqs[..], &waiting[..seqs.len()], "no ticket skipped");
                if !dies {
                    let settled: Vec<Settled> = claimed
                        .iter()
                        .enumerate()
                        .map(|(i, t)| Settled {
                            state: match t.state {
                                TicketState::Cancelled => TicketState::Cancelled,
                                _ if enroll_mask & (1 << (i % 8)) != 0 => TicketState::Enrolled,
                                _ => TicketState::Rejected,
                            },
                            code: None,
                            decided_at_ms: 3_000,
                            ..Settled::from(t)
                        })
                        .collect();
                    queue
                        .settle(lease.epoch, &settled, &CourseFlags::default())
                        .await
                        .unwrap();
                    if let Some(last) = seqs.last() {
                        serving = *last;
                    }
                }
            }
            Step::SeatFreed { course, student } => {
                queue.seat_freed(course, Some(student)).await.unwrap();
            }
        }

        let status = queue.status().await.unwrap();
        prop_assert_eq!(
            status.serving_seq,
            serving,
            "serving moves only when a batch settles"
        );
        let mut open: BTreeMap<(i64, i64), usize> = BTreeMap::new();
        for id in &issued {
            let ticket = queue
                .ticket(*id)
                .await
                .unwrap()
                .expect("tickets stay readable");
            if let Some(before) = terminal.get(id) {
                prop_assert_eq!(ticket.state, *before, "a terminal ticket never changes");
            } else if ticket.state.is_terminal() {
                terminal.insert(*id, ticket.state);
            } else {
                prop_assert!(id.seq > serving, "nothing below serving is still open");
                *open
                    .entry((ticket.student_id, ticket.course_id))
                    .or_default() += 1;
            }
        }
        prop_assert!(
            open.values().all(|n| *n == 1),
            "one open ticket per pair: {open:?}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn the_queue_keeps_its_invariants(steps in prop::collection::vec(step(), 1..60)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(run(steps))?;
    }
}
