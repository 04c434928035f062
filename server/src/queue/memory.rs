//! The queue within one process, for the embedded default. One mutex makes every operation
//! atomic, as each Lua script is in Redis; the semantics are the same, tested by the same suite.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    Admission, AdmitLimits, Claimed, CourseFlags, Leave, Queue, QueueError, QueueStatus, Restore,
};
use crate::domain::{CourseId, Settled, StudentId, Ticket, TicketId, TicketState};
use crate::lock::{DRAIN_LOCK, MemoryLock};

/// How long a terminal ticket stays readable from the queue (the database keeps it for good).
const KEEP_TERMINAL_MS: i64 = 3_600_000;

/// How many settled outcomes `results_after` can still return.
const KEEP_RESULTS: usize = 200_000;

/// What the duplicate check knows of a (student, course) pair.
#[derive(Debug, Clone, Copy)]
enum Holding {
    Waiting(TicketId),
    Enrolled,
}

#[derive(Default)]
struct State {
    generation: Option<u64>,
    seq: u64,
    serving: u64,
    /// Unsettled tickets by sequence number: the log the drain walks.
    log: BTreeMap<u64, TicketId>,
    tickets: HashMap<TicketId, Ticket>,
    holdings: HashMap<(StudentId, CourseId), Holding>,
    sold_out: HashSet<CourseId>,
    by_student: HashMap<StudentId, BTreeSet<TicketId>>,
    /// (Unix second, admissions in it) for the rate limit.
    rate: (i64, u32),
    results: VecDeque<(u64, Settled)>,
    results_n: u64,
    /// Decided tickets in the order they were decided, so the stale ones are found from the
    /// front without walking every ticket.
    decided_order: VecDeque<(i64, TicketId)>,
    decided: u64,
    /// Seats freed so far; see [`Queue::freed_mark`].
    freed: u64,
}

/// The in-process queue.
pub struct MemoryQueue {
    state: Mutex<State>,
    lock: Arc<MemoryLock>,
}

impl MemoryQueue {
    /// An empty queue without a generation, fenced by `lock`'s drain epoch.
    pub fn new(lock: Arc<MemoryLock>) -> MemoryQueue {
        MemoryQueue {
            state: Mutex::new(State::default()),
            lock,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state, for the drain holding `epoch` of a live generation.
    fn fenced(&self, epoch: u64) -> Result<MutexGuard<'_, State>, QueueError> {
        let state = self.state();
        if state.generation.is_none() {
            return Err(QueueError::Recovering);
        }
        self.check_epoch(epoch)?;
        Ok(state)
    }

    fn check_epoch(&self, epoch: u64) -> Result<(), QueueError> {
        match self.lock.current_epoch(DRAIN_LOCK) == epoch {
            true => Ok(()),
            false => Err(QueueError::Fenced { mine: epoch }),
        }
    }
}

impl State {
    fn forget_terminal(&mut self, now_ms: i64) {
        // Only once the map has grown; then from the front of the decision order, so a settle
        // costs the tickets it forgets, not every ticket.
        if self.tickets.len() < 100_000 {
            return;
        }
        while let Some(&(decided_at, id)) = self.decided_order.front()
            && now_ms - decided_at > KEEP_TERMINAL_MS
        {
            self.decided_order.pop_front();
            if let Some(ticket) = self.tickets.remove(&id)
                && let Some(ids) = self.by_student.get_mut(&ticket.student_id)
            {
                ids.remove(&id);
            }
        }
    }

    fn free_pair_of(&mut self, ticket: &Ticket) {
        let pair = (ticket.student_id, ticket.course_id);
        if matches!(self.holdings.get(&pair), Some(Holding::Waiting(id)) if *id == ticket.id) {
            self.holdings.remove(&pair);
        }
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> Result<(), QueueError> {
        Ok(())
    }

    async fn admit(
        &self,
        student_id: StudentId,
        course_id: CourseId,
        limits: AdmitLimits,
    ) -> Result<Admission, QueueError> {
        let mut state = self.state();
        let generation = state.generation.ok_or(QueueError::Recovering)?;
        match state.holdings.get(&(student_id, course_id)) {
            Some(Holding::Enrolled) => return Ok(Admission::AlreadyEnrolled),
            Some(Holding::Waiting(id)) => {
                if let Some(ticket) = state.tickets.get(id) {
                    return Ok(Admission::AlreadyQueued(ticket.clone()));
                }
            }
            None => {}
        }
        if state.sold_out.contains(&course_id) {
            return Ok(Admission::SoldOut);
        }
        if limits.open_tickets > 0 {
            let open = state
                .by_student
                .get(&student_id)
                .into_iter()
                .flatten()
                .filter(|id| id.generation == generation)
                .filter(|id| {
                    state
                        .tickets
                        .get(id)
                        .is_some_and(|t| !t.state.is_terminal())
                })
                .count();
            if open >= limits.open_tickets as usize {
                return Ok(Admission::TooManyOpen);
            }
        }
        if limits.per_second > 0 {
            let second = limits.now_ms.div_euclid(1000);
            if state.rate.0 != second {
                state.rate = (second, 0);
            }
            if state.rate.1 >= limits.per_second {
                return Ok(Admission::RateLimited);
            }
            state.rate.1 += 1;
        }
        state.seq += 1;
        let id = TicketId {
            generation,
            seq: state.seq,
        };
        let ticket = Ticket {
            id,
            student_id,
            course_id,
            state: TicketState::Queued,
            admitted_at_ms: limits.now_ms,
            decided_at_ms: None,
        };
        state.log.insert(id.seq, id);
        state.tickets.insert(id, ticket.clone());
        state
            .holdings
            .insert((student_id, course_id), Holding::Waiting(id));
        state.by_student.entry(student_id).or_default().insert(id);
        Ok(Admission::Queued(ticket))
    }

    async fn leave(
        &self,
        student_id: StudentId,
        id: TicketId,
        now_ms: i64,
    ) -> Result<Leave, QueueError> {
        let mut state = self.state();
        if state.generation.is_none() {
            return Err(QueueError::Recovering);
        }
        let Some(ticket) = state
            .tickets
            .get_mut(&id)
            .filter(|t| t.student_id == student_id)
        else {
            return Ok(Leave::NotFound);
        };
        match ticket.state {
            TicketState::Queued => {
                ticket.state = TicketState::Cancelled;
                ticket.decided_at_ms = Some(now_ms);
                let ticket = ticket.clone();
                state.free_pair_of(&ticket);
                Ok(Leave::Left(ticket))
            }
            TicketState::Deciding => Ok(Leave::Deciding(ticket.clone())),
            _ => Ok(Leave::AlreadyTerminal(ticket.clone())),
        }
    }

    async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, QueueError> {
        Ok(self.state().tickets.get(&id).cloned())
    }

    async fn tickets_of(
        &self,
        student_id: StudentId,
        limit: usize,
    ) -> Result<Vec<Ticket>, QueueError> {
        let state = self.state();
        let mut newest: Vec<Ticket> = state
            .by_student
            .get(&student_id)
            .into_iter()
            .flat_map(|ids| ids.iter().rev())
            .filter_map(|id| state.tickets.get(id).cloned())
            .take(limit)
            .collect();
        newest.reverse();
        Ok(newest)
    }

    async fn claim_after(
        &self,
        epoch: u64,
        max: usize,
        after: Option<TicketId>,
    ) -> Result<Claimed, QueueError> {
        let mut guard = self.fenced(epoch)?;
        let state = &mut *guard;
        let from = match after {
            Some(after) if Some(after.generation) == state.generation => {
                after.seq.max(state.serving)
            }
            _ => state.serving,
        };
        let mut claimed = Vec::new();
        for id in state.log.range(from + 1..).map(|(_, id)| id).take(max) {
            if let Some(ticket) = state.tickets.get_mut(id) {
                if ticket.state == TicketState::Queued {
                    ticket.state = TicketState::Deciding;
                }
                claimed.push(ticket.clone());
            }
        }
        Ok(Claimed {
            tickets: claimed,
            freed_mark: state.freed,
        })
    }

    async fn settle(
        &self,
        epoch: u64,
        settled: &[Settled],
        flags: &CourseFlags,
    ) -> Result<(), QueueError> {
        let mut state = self.fenced(epoch)?;
        let mut newest_decision = 0;
        for outcome in settled {
            // "Now serving" moves past every settled ticket, whatever became of it.
            let first_time = outcome.id.seq > state.serving;
            state.serving = state.serving.max(outcome.id.seq);
            let Some(ticket) = state.tickets.get_mut(&outcome.id) else {
                continue;
            };
            // Settling is idempotent: a replayed batch changes nothing and publishes nothing. A
            // ticket its student left is already cancelled and keeps its own record; its first
            // settling only publishes it (as settle.lua does).
            let left_unsettled = ticket.state == TicketState::Cancelled && first_time;
            if ticket.state.is_terminal() && !left_unsettled {
                continue;
            }
            if !left_unsettled {
                ticket.state = outcome.state;
                ticket.decided_at_ms = Some(outcome.decided_at_ms);
            }
            let ticket = ticket.clone();
            state
                .decided_order
                .push_back((outcome.decided_at_ms, outcome.id));
            match outcome.state {
                TicketState::Enrolled => {
                    state
                        .holdings
                        .insert((ticket.student_id, ticket.course_id), Holding::Enrolled);
                }
                _ => state.free_pair_of(&ticket),
            }
            state.results_n += 1;
            let n = state.results_n;
            state.results.push_back((n, outcome.clone()));
            if state.results.len() > KEEP_RESULTS {
                state.results.pop_front();
            }
            state.decided += 1;
            newest_decision = newest_decision.max(outcome.decided_at_ms);
        }
        if flags.freed_mark.is_none_or(|mark| mark == state.freed) {
            state.sold_out.extend(flags.sold_out.iter().copied());
        }
        let serving = state.serving;
        state.log = state.log.split_off(&(serving + 1));
        state.forget_terminal(newest_decision);
        Ok(())
    }

    async fn seat_freed(
        &self,
        course_id: CourseId,
        student_id: Option<StudentId>,
    ) -> Result<(), QueueError> {
        let mut state = self.state();
        state.freed += 1;
        state.sold_out.remove(&course_id);
        if let Some(student_id) = student_id
            && matches!(
                state.holdings.get(&(student_id, course_id)),
                Some(Holding::Enrolled)
            )
        {
            state.holdings.remove(&(student_id, course_id));
        }
        Ok(())
    }

    async fn freed_mark(&self) -> Result<u64, QueueError> {
        Ok(self.state().freed)
    }

    async fn sold_out(&self) -> Result<Vec<CourseId>, QueueError> {
        let mut ids: Vec<CourseId> = self.state().sold_out.iter().copied().collect();
        ids.sort_unstable();
        Ok(ids)
    }

    async fn reset_sold_out(
        &self,
        epoch: u64,
        sold_out: &[CourseId],
        freed_mark: Option<u64>,
    ) -> Result<bool, QueueError> {
        let mut state = self.fenced(epoch)?;
        if freed_mark.is_some_and(|mark| mark != state.freed) {
            return Ok(false);
        }
        state.sold_out = sold_out.iter().copied().collect();
        Ok(true)
    }

    async fn results_after(
        &self,
        cursor: u64,
        max: usize,
    ) -> Result<(Vec<Settled>, u64), QueueError> {
        let state = self.state();
        // A cursor past the end comes from before a restore restarted the positions.
        let cursor = match cursor > state.results_n {
            true => 0,
            false => cursor,
        };
        let results: Vec<(u64, Settled)> = state
            .results
            .iter()
            .skip_while(|(n, _)| *n <= cursor)
            .take(max)
            .cloned()
            .collect();
        let next = results.last().map_or(cursor, |(n, _)| *n);
        Ok((results.into_iter().map(|(_, s)| s).collect(), next))
    }

    async fn status(&self) -> Result<QueueStatus, QueueError> {
        let state = self.state();
        let oldest = state
            .log
            .values()
            .next()
            .and_then(|id| state.tickets.get(id))
            .map(|t| t.admitted_at_ms);
        Ok(QueueStatus {
            generation: state.generation,
            serving_seq: state.serving,
            last_seq: state.seq,
            depth: state.log.len() as u64,
            oldest_admitted_at_ms: oldest,
            decided_total: state.decided,
        })
    }

    async fn generation(&self) -> Result<Option<u64>, QueueError> {
        Ok(self.state().generation)
    }

    async fn restore(&self, epoch: u64, restore: &Restore) -> Result<(), QueueError> {
        self.check_epoch(epoch)?;
        let mut state = self.state();
        let mut tickets = std::mem::take(&mut state.tickets);
        // What the old generation never decided is lost; the database knows what it did decide.
        for ticket in tickets.values_mut().filter(|t| !t.state.is_terminal()) {
            ticket.state = TicketState::Lost;
        }
        let by_student = std::mem::take(&mut state.by_student);
        *state = State {
            generation: Some(restore.generation),
            seq: restore.seq_floor,
            serving: restore.seq_floor,
            holdings: restore
                .enrolled
                .iter()
                .map(|&pair| (pair, Holding::Enrolled))
                .collect(),
            sold_out: restore.sold_out.iter().copied().collect(),
            // Tickets of the old generation stay readable, so their students see what became
            // of them.
            tickets,
            by_student,
            ..State::default()
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_decided_tickets_are_forgotten_oldest_first_once_the_map_has_grown() {
        let mut state = State::default();
        let now = 10 * KEEP_TERMINAL_MS;
        for seq in 0..100_010u64 {
            let id = TicketId { generation: 1, seq };
            // The first 20 were decided over an hour ago; the rest just now.
            let decided_at = match seq < 20 {
                true => now - KEEP_TERMINAL_MS - 1,
                false => now,
            };
            state.tickets.insert(
                id,
                Ticket {
                    id,
                    student_id: StudentId(seq as i64),
                    course_id: CourseId(1),
                    state: TicketState::Enrolled,
                    admitted_at_ms: decided_at,
                    decided_at_ms: Some(decided_at),
                },
            );
            state
                .by_student
                .entry(StudentId(seq as i64))
                .or_default()
                .insert(id);
            state.decided_order.push_back((decided_at, id));
        }
        state.forget_terminal(now);
        // Every stale one, never a fresh one.
        assert_eq!(state.tickets.len(), 99_990);
        assert!(!state.tickets.contains_key(&TicketId {
            generation: 1,
            seq: 19
        }));
        assert!(state.tickets.contains_key(&TicketId {
            generation: 1,
            seq: 20
        }));
        assert!(state.by_student[&StudentId(19)].is_empty());
        assert_eq!(state.decided_order.len(), 99_990);
    }
}
