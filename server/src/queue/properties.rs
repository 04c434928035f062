//! Random interleavings of admission (with and without a rate limit), leaving, claiming,
//! settling (or a drainer dying before it settles, or a seat freed while its batch is in
//! flight), freed seats and reconciling, played step by step on both queues at once.
//!
//! It is a differential test: after every step the in-process queue and the Redis queue must
//! have given the same answer and must show the same state (status, every ticket, every
//! student's tickets, the published results, the sold-out flags), so the Lua scripts are
//! property-tested against the plain Rust of the in-process queue. The queue's invariants are
//! checked on the way: sequence numbers without gaps, claims in order with nothing skipped,
//! "now serving" moving only when a batch settles, terminal tickets never changing, one open
//! ticket per (student, course).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::contract::{Harness, MemoryHarness, RedisHarness};
use super::*;
use crate::domain::{CourseId, RejectionCode, Settled, StudentId, TicketId, TicketState};

const STUDENTS: i64 = 6;
const COURSES: i64 = 3;

#[derive(Debug, Clone)]
enum Step {
    Admit {
        student: i64,
        course: i64,
        /// Admit under a limit of two a second.
        limited: bool,
    },
    Leave {
        student: i64,
        pick: usize,
    },
    /// Claim up to `max`; settle them unless the drainer "dies" first. With `flag`, the batch
    /// flags its courses sold out; with `freed_between`, a seat of course 0 frees while the
    /// batch is in flight, which must drop those flags.
    Drain {
        max: usize,
        enroll_mask: u8,
        dies: bool,
        flag: bool,
        freed_between: bool,
    },
    SeatFreed {
        course: i64,
        student: Option<i64>,
    },
    /// Replace the flags with `mask`'s courses, held to the current freed mark or a stale one.
    Reconcile {
        mask: u8,
        stale: bool,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..STUDENTS, 0..COURSES, prop::bool::weighted(0.2))
            .prop_map(|(student, course, limited)| Step::Admit { student, course, limited }),
        1 => (0..STUDENTS, 0..8usize).prop_map(|(student, pick)| Step::Leave { student, pick }),
        3 => (
            1..5usize,
            any::<u8>(),
            prop::bool::weighted(0.2),
            any::<bool>(),
            prop::bool::weighted(0.2),
        )
            .prop_map(|(max, enroll_mask, dies, flag, freed_between)| Step::Drain {
                max,
                enroll_mask,
                dies,
                flag,
                freed_between,
            }),
        1 => (0..COURSES, prop::option::of(0..STUDENTS))
            .prop_map(|(course, student)| Step::SeatFreed { course, student }),
        1 => (0..8u8, any::<bool>()).prop_map(|(mask, stale)| Step::Reconcile { mask, stale }),
    ]
}

/// Both queues, at epoch 1 of generation 1.
struct Pair {
    memory: Arc<dyn Queue>,
    redis: Arc<dyn Queue>,
    // Kept so the Redis namespace lives (and is deleted) with the case.
    _harnesses: (MemoryHarness, RedisHarness),
}

impl Pair {
    async fn start() -> Pair {
        let memory = MemoryHarness::start().await;
        let redis = RedisHarness::start().await;
        let restore = Restore {
            generation: 1,
            ..Restore::default()
        };
        for harness in [&memory as &dyn Harness, &redis] {
            harness.set_epoch(1).await;
            harness.queue().restore(1, &restore).await.unwrap();
        }
        Pair {
            memory: memory.queue(),
            redis: redis.queue(),
            _harnesses: (memory, redis),
        }
    }
}

/// Runs the same call on both queues and requires the same answer; evaluates to the memory
/// queue's.
macro_rules! both {
    ($pair:expr, |$q:ident| $call:expr) => {{
        let memory = {
            let $q = &$pair.memory;
            $call.await.unwrap()
        };
        let redis = {
            let $q = &$pair.redis;
            $call.await.unwrap()
        };
        prop_assert_eq!(&memory, &redis, "{}", stringify!($call));
        memory
    }};
}

fn courses_of(mask: u8) -> Vec<CourseId> {
    (0..COURSES)
        .filter(|c| mask & (1 << c) != 0)
        .map(CourseId)
        .collect()
}

async fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let pair = Pair::start().await;
    let mut issued: Vec<TicketId> = Vec::new();
    let mut terminal: HashMap<TicketId, TicketState> = HashMap::new();
    let mut serving = 0;
    for (n, step) in steps.into_iter().enumerate() {
        // A quarter second per step, so limited admissions meet several rate windows.
        let now_ms = 1_000 + 250 * n as i64;
        match step {
            Step::Admit {
                student,
                course,
                limited,
            } => {
                let limits = AdmitLimits {
                    per_second: if limited { 2 } else { 0 },
                    open_tickets: 0,
                    now_ms,
                };
                let (student, course) = (StudentId(student), CourseId(course));
                if let Admission::Queued(ticket) = both!(pair, |q| q.admit(student, course, limits))
                {
                    let expected = issued.last().map_or(1, |id| id.seq + 1);
                    prop_assert_eq!(ticket.id.seq, expected, "sequence numbers have no gaps");
                    issued.push(ticket.id);
                }
            }
            Step::Leave { student, pick } => {
                if let Some(&id) = issued.get(pick) {
                    both!(pair, |q| q.leave(StudentId(student), id, now_ms));
                }
            }
            Step::Drain {
                max,
                enroll_mask,
                dies,
                flag,
                freed_between,
            } => {
                let mark = both!(pair, |q| q.freed_mark());
                let claimed = both!(pair, |q| q.claim(1, max));
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
                if freed_between {
                    both!(pair, |q| q.seat_freed(CourseId(0), None));
                }
                if !dies {
                    let settled: Vec<Settled> = claimed
                        .iter()
                        .enumerate()
                        .map(|(i, t)| Settled {
                            state: match t.state {
                                TicketState::Cancelled => TicketState::Cancelled,
                                _ if enroll_mask & (1 << (i % 8)) != 0 => TicketState::Enrolled,
                                _ => TicketState::Rejected(RejectionCode::CourseFull),
                            },
                            decided_at_ms: now_ms,
                            ..Settled::from(t)
                        })
                        .collect();
                    let flags = CourseFlags {
                        sold_out: match flag {
                            true => claimed.iter().map(|t| t.course_id).collect(),
                            false => Vec::new(),
                        },
                        freed_mark: Some(mark),
                    };
                    both!(pair, |q| q.settle(1, &settled, &flags));
                    if let Some(last) = seqs.last() {
                        serving = *last;
                    }
                }
            }
            Step::SeatFreed { course, student } => {
                let student = student.map(StudentId);
                both!(pair, |q| q.seat_freed(CourseId(course), student));
            }
            Step::Reconcile { mask, stale } => {
                let mark = both!(pair, |q| q.freed_mark());
                let mark = Some(if stale { mark.wrapping_sub(1) } else { mark });
                let full = courses_of(mask);
                both!(pair, |q| q.reset_sold_out(1, &full, mark));
            }
        }

        let status = both!(pair, |q| q.status());
        prop_assert_eq!(
            status.serving_seq,
            serving,
            "serving moves only when a batch settles"
        );
        both!(pair, |q| q.sold_out());
        both!(pair, |q| q.results_after(0, 10_000));
        for student in 0..STUDENTS {
            both!(pair, |q| q.tickets_of(StudentId(student), 1000));
        }
        let mut open: BTreeMap<(StudentId, CourseId), usize> = BTreeMap::new();
        for &id in &issued {
            let ticket = both!(pair, |q| q.ticket(id));
            let ticket = ticket.expect("tickets stay readable");
            if let Some(before) = terminal.get(&id) {
                prop_assert_eq!(ticket.state, *before, "a terminal ticket never changes");
            } else if ticket.state.is_terminal() {
                terminal.insert(id, ticket.state);
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

#[test]
fn both_queues_answer_every_random_interleaving_alike() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let config = Config {
        cases: 128,
        source_file: Some(file!()),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&prop::collection::vec(step(), 1..60), |steps| {
        runtime.block_on(run(steps))
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
