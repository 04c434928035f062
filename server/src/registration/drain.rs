//! The drain worker: one per server process, but only the holder of the drain lock works.
//!
//! Each step claims up to a batch of tickets in sequence order, decides them in one database
//! transaction behind the epoch fence ([`crate::store::DrainTx`]) with [`decide_batch`], then
//! settles them in the queue. The steps overlap: while the database decides one batch, the queue
//! settles the one before and claims the one after (see [`Drainer::step`]). A crash between the
//! commit and the settle is harmless: the next holder claims the same tickets, finds their
//! decisions in the database, and settles those instead of deciding again.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::batch::{DrainSnapshot, decide_batch};
use super::{LiveSettings, Rules};
use crate::clock::now_ms;
use crate::domain::{CourseId, Settled, TicketId};
use crate::lock::{DRAIN_LOCK, Lease, LockError, SchedulerLock};
use crate::queue::{Claimed, CourseFlags, Queue, QueueError, Restore};
use crate::store::{Store, StoreError};

/// How the drain works; the defaults let another process take over within 3 s of a holder's death.
#[derive(Debug, Clone)]
pub struct DrainConfig {
    /// Most tickets decided in one transaction.
    pub batch_max: usize,
    /// ShedLock's lockAtMostFor: how long the lock outlives a holder that stops renewing it.
    pub lease: Duration,
    /// How often a process without the lock tries to take it.
    pub acquire_every: Duration,
    /// How long to wait before looking again when the queue was empty.
    pub idle_wait: Duration,
    /// Tickets older than this when their turn comes are `expired`.
    pub ticket_ttl: Duration,
    /// How often the sold-out flags are rebuilt from the database.
    pub reconcile_every: Duration,
}

impl Default for DrainConfig {
    fn default() -> Self {
        DrainConfig {
            batch_max: 5_000,
            lease: Duration::from_secs(2),
            acquire_every: Duration::from_millis(250),
            idle_wait: Duration::from_millis(5),
            ticket_ttl: Duration::from_secs(600),
            reconcile_every: Duration::from_secs(5),
        }
    }
}

/// Why a drain step failed.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("the drain lock was lost")]
    LostLease,
    /// The queue handed out a ticket id the database had decided for someone else: its state is
    /// older than the database's.
    #[error("the queue handed out ticket {0} again: its state is older than the database's")]
    QueueBehind(TicketId),
}

impl DrainError {
    /// Whether another holder has taken over, so this one must stop.
    fn is_fenced(&self) -> bool {
        matches!(
            self,
            DrainError::Queue(QueueError::Fenced { .. })
                | DrainError::Store(StoreError::Fenced { .. })
                | DrainError::LostLease
        )
    }
}

/// How a spell of holding the lock ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    /// Let go on shutdown or after a failed take-over.
    Released,
    /// Taken away: expired, fenced, or released by someone else.
    Lost,
}

/// One process's drain worker.
pub struct Drainer {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub lock: Arc<dyn SchedulerLock>,
    pub settings: LiveSettings,
    pub rules: Rules,
    pub config: DrainConfig,
}

impl Drainer {
    /// Runs [`Drainer::run`] on a thread and runtime of its own, over a queue connection of its
    /// own where the queue has one; the handle completes when it has stopped.
    ///
    /// A batch is a dozen round trips, one after another. On the server's shared Redis
    /// connection each of them waited in Redis behind every admission in flight, and its answer
    /// then waited for the server's busy runtime to carry it: during a rush the freed mark, a
    /// single `GET`, took 50 ms, the claim 110 ms and the settle 120 ms of a 750 ms batch. On
    /// its own connection and thread they took 11, 69 and 82 ms.
    pub fn spawn(self, stop: watch::Receiver<bool>) -> std::io::Result<JoinHandle<()>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (done, finished) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("classmate-drain".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut drainer = self;
                    match drainer.queue.own_connection().await {
                        Ok(Some(queue)) => drainer.queue = queue,
                        Ok(None) => {}
                        Err(e) => tracing::warn!(
                            error = %e,
                            "the drain shares the server's queue connection: it could not open its own"
                        ),
                    }
                    drainer.run(stop).await;
                });
                let _ = done.send(());
            })?;
        Ok(tokio::spawn(async move {
            let _ = finished.await;
        }))
    }

    /// Competes for the drain lock and drains while holding it, until `stop` turns true; then
    /// releases the lock so another process takes over at once.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        while !stopping(&stop) {
            let mut wait = self.config.acquire_every;
            match self.lock.try_acquire(DRAIN_LOCK, self.config.lease).await {
                Ok(Some(lease)) => {
                    // A holder that lost its lock (frozen, fenced, released by an operator)
                    // stands back for a lease, so another process takes over instead of the
                    // lock flapping back to the one that just failed.
                    if self.hold(lease, stop.clone()).await == Held::Lost {
                        wait = self.config.lease;
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not try the drain lock"),
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|stop| *stop) => {}
            }
        }
    }

    async fn hold(&self, lease: Lease, mut stop: watch::Receiver<bool>) -> Held {
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = tokio::spawn(renew(
            self.lock.clone(),
            lease.clone(),
            self.config.lease,
            lost.clone(),
        ));
        let mut lease = lease;
        match self.take_over(&mut lease).await {
            Ok(()) => {
                tracing::info!(epoch = lease.epoch, "holding the drain lock");
                self.work(&lease, &lost, &mut stop).await;
            }
            Err(e) => tracing::warn!(error = %e, "could not take over the drain"),
        }
        renewer.abort();
        if lost.load(Ordering::SeqCst) {
            return Held::Lost;
        }
        match self.lock.release(&lease).await {
            Ok(_) => tracing::info!(epoch = lease.epoch, "released the drain lock"),
            Err(e) => tracing::warn!(error = %e, "could not release the drain lock"),
        }
        Held::Released
    }

    /// Makes the lease's epoch newer than any the database has seen. After Redis lost its data
    /// the counter restarts, and without this the new holder would be fenced out for good.
    async fn take_over(&self, lease: &mut Lease) -> Result<(), DrainError> {
        let settings = self.store.queue_settings().await?;
        if lease.epoch <= settings.epoch {
            lease.epoch = self
                .lock
                .raise_epoch(lease, settings.epoch + 1)
                .await?
                .ok_or(DrainError::LostLease)?;
        }
        Ok(())
    }

    async fn work(&self, lease: &Lease, lost: &AtomicBool, stop: &mut watch::Receiver<bool>) {
        // The first round checks at once: a takeover is when an older queue is most likely.
        let mut reconciled: Option<Instant> = None;
        let mut pipeline = Pipeline::default();
        while !stopping(stop) && !lost.load(Ordering::SeqCst) {
            let due = reconciled.is_none_or(|at| at.elapsed() >= self.config.reconcile_every);
            let paused = self.settings.get().paused;
            if (due || paused)
                && let Err(e) = self.finish(lease.epoch, &mut pipeline).await
            {
                self.failed(e, lost);
                self.pause(Duration::from_millis(100), stop).await;
                continue;
            }
            if due {
                reconciled = Some(Instant::now());
                if let Err(e) = self.catch_up(lease).await {
                    tracing::warn!(error = %e, "could not compare the queue with the database");
                }
                if let Err(e) = self.reconcile(lease.epoch).await {
                    tracing::warn!(error = %e, "could not reconcile the sold-out flags");
                }
            }
            if paused {
                // Paused draining still rebuilds a lost queue, so admission can go on.
                if let Ok(None) = self.queue.generation().await
                    && let Err(e) = self.recover(lease).await
                {
                    tracing::warn!(error = %e, "could not rebuild the queue");
                }
                self.pause(Duration::from_millis(50), stop).await;
                continue;
            }
            let (failed, retry_in) = match self.step(lease.epoch, &mut pipeline).await {
                Ok(0) => {
                    self.pause(self.config.idle_wait, stop).await;
                    (Ok(()), Duration::ZERO)
                }
                Ok(_) => (Ok(()), Duration::ZERO),
                Err(DrainError::Queue(QueueError::Recovering)) => {
                    (self.recover(lease).await, Duration::from_millis(200))
                }
                Err(behind @ DrainError::QueueBehind(_)) => {
                    tracing::warn!(error = %behind, "starting a new generation");
                    (self.recover(lease).await, Duration::from_millis(200))
                }
                Err(e) => (Err(e), Duration::from_millis(100)),
            };
            if let Err(e) = failed {
                // Whatever the pipeline held is claimed again from "now serving".
                pipeline = Pipeline::default();
                if !self.failed(e, lost) {
                    self.pause(retry_in, stop).await;
                }
            }
        }
        // Stopping: leave nothing decided but unsettled. A lost lease cannot settle; the next
        // holder settles the batch as a replay.
        if !lost.load(Ordering::SeqCst)
            && let Err(e) = self.finish(lease.epoch, &mut pipeline).await
        {
            tracing::warn!(error = %e, "could not settle the last batch before stopping");
        }
    }

    /// Logs a failed step; flags `lost` and returns true when it was fenced out.
    fn failed(&self, e: DrainError, lost: &AtomicBool) -> bool {
        if e.is_fenced() {
            tracing::warn!(error = %e, "fenced out: another process drains now");
            lost.store(true, Ordering::SeqCst);
            return true;
        }
        tracing::warn!(error = %e, "drain step failed; retrying");
        false
    }

    /// Starts a new generation when the queue's state is older than the database's: Redis came
    /// back from a snapshot or a lagging replica with its generation but behind on sequence
    /// numbers, and would hand out ids the database has decided already.
    async fn catch_up(&self, lease: &Lease) -> Result<(), DrainError> {
        let status = self.queue.status().await?;
        let Some(generation) = status.generation else {
            return Ok(());
        };
        let decided = self.store.highest_decided_seq(generation).await?;
        if decided > status.last_seq {
            tracing::warn!(
                generation,
                queue_seq = status.last_seq,
                decided_seq = decided,
                "the queue is older than the database; starting a new generation"
            );
            self.recover(lease).await?;
        }
        Ok(())
    }

    async fn pause(&self, how_long: Duration, stop: &mut watch::Receiver<bool>) {
        tokio::select! {
            _ = tokio::time::sleep(how_long) => {}
            _ = stop.wait_for(|stop| *stop) => {}
        }
    }

    /// Decides the next batch; returns how many tickets it decided, or settled when there was
    /// nothing new to decide.
    ///
    /// The steps overlap: while the database decides batch N, the queue settles batch N − 1
    /// and claims batch N + 1 (after N's last ticket). Batch N is settled in the next step, and
    /// only once N − 1's settle succeeded, so "now serving" never moves past a ticket whose
    /// outcome is not recorded. Any failure empties the pipeline: the next step claims again
    /// from "now serving" and settles what the database already decided as replays.
    async fn step(&self, epoch: u64, pipeline: &mut Pipeline) -> Result<usize, DrainError> {
        let claimed = match pipeline.next.take() {
            Some(claimed) => claimed,
            None => {
                self.queue
                    .claim_after(epoch, self.config.batch_max, None)
                    .await?
            }
        };
        let unsettled = pipeline.unsettled.take();
        if claimed.tickets.is_empty() {
            return match unsettled {
                Some(batch) => self.settle(epoch, &batch).await,
                None => Ok(0),
            };
        }
        let after = claimed.tickets.iter().map(|t| t.id).max();
        let decided = claimed.tickets.len();
        let (batch, earlier, next) = tokio::join!(
            self.decide(epoch, claimed),
            async {
                match &unsettled {
                    Some(batch) => self.settle(epoch, batch).await,
                    None => Ok(0),
                }
            },
            async {
                let next = self.queue.claim_after(epoch, self.config.batch_max, after);
                next.await.map_err(DrainError::from)
            },
        );
        let (batch, next) = match (earlier, batch, next) {
            (Ok(_), Ok(batch), Ok(next)) => (batch, next),
            (earlier, batch, next) => {
                // A fence anywhere means another holder drains now; otherwise the earliest
                // batch's failure is the one to report.
                let mut failures: Vec<DrainError> = [earlier.err(), batch.err(), next.err()]
                    .into_iter()
                    .flatten()
                    .collect();
                let first = failures.iter().position(DrainError::is_fenced).unwrap_or(0);
                return Err(failures.swap_remove(first));
            }
        };
        pipeline.unsettled = Some(batch);
        pipeline.next = Some(next);
        Ok(decided)
    }

    /// Settles what the pipeline holds and decides the batch it claimed ahead, so that nothing
    /// is left claimed or unsettled while the drain does something else (pauses, reconciles,
    /// stops).
    async fn finish(&self, epoch: u64, pipeline: &mut Pipeline) -> Result<(), DrainError> {
        let (unsettled, next) = (pipeline.unsettled.take(), pipeline.next.take());
        if let Some(batch) = unsettled {
            self.settle(epoch, &batch).await?;
        }
        if let Some(claimed) = next.filter(|c| !c.tickets.is_empty()) {
            let batch = self.decide(epoch, claimed).await?;
            self.settle(epoch, &batch).await?;
        }
        Ok(())
    }

    /// Decides a claimed batch in one database transaction and commits it.
    async fn decide(&self, epoch: u64, claimed: Claimed) -> Result<Unsettled, DrainError> {
        let tickets = claimed.tickets;
        let (mut tx, reads) = self.store.begin_drain(epoch, &tickets).await?;
        let mut snapshot = DrainSnapshot::from(reads);
        if let Some(id) = snapshot.foreign_replay(&tickets) {
            // Dropping the transaction rolls it back: nothing of this batch is decided.
            return Err(DrainError::QueueBehind(id));
        }
        let ttl_ms = i64::try_from(self.config.ticket_ttl.as_millis()).unwrap_or(i64::MAX);
        let decisions = decide_batch(&self.rules, &tickets, &mut snapshot, now_ms(), ttl_ms);
        let new: Vec<_> = decisions
            .iter()
            .filter(|d| !d.replayed)
            .map(|d| (d.ticket.clone(), d.settled.clone()))
            .collect();
        tx.record(epoch, &new).await?;
        tx.commit().await?;

        let batch_courses: BTreeSet<CourseId> = tickets.iter().map(|t| t.course_id).collect();
        // The mark was read when the batch was claimed, before the database was: a seat freed
        // since makes the batch's flags suspect, and settle then drops them.
        let flags = CourseFlags {
            freed_mark: Some(claimed.freed_mark),
            sold_out: batch_courses
                .into_iter()
                .filter(|id| {
                    snapshot
                        .courses
                        .get(id)
                        .is_some_and(|c| c.enrolled >= c.spec.capacity)
                })
                .collect(),
        };
        Ok(Unsettled {
            settled: decisions.into_iter().map(|d| d.settled).collect(),
            flags,
        })
    }

    /// Records a committed batch's outcomes in the queue; returns how many there were.
    async fn settle(&self, epoch: u64, batch: &Unsettled) -> Result<usize, DrainError> {
        self.queue
            .settle(epoch, &batch.settled, &batch.flags)
            .await?;
        Ok(batch.settled.len())
    }

    /// Starts a new generation after the queue's state was lost. First it makes sure the lock
    /// is still this holder's (a loss of Redis takes the lock key with it): a holder that lost
    /// its lease must not start a generation it cannot finish.
    pub async fn recover(&self, lease: &Lease) -> Result<(), DrainError> {
        let epoch = lease.epoch;
        if self.lock.raise_epoch(lease, epoch).await? != Some(epoch) {
            return Err(DrainError::LostLease);
        }
        let generation = self.store.start_generation(epoch).await?;
        let restore = Restore {
            generation: generation.number,
            seq_floor: 0,
            enrolled: generation.enrolled,
            sold_out: generation.full,
        };
        self.queue.restore(epoch, &restore).await?;
        tracing::warn!(
            generation = restore.generation,
            enrolled = restore.enrolled.len(),
            sold_out = restore.sold_out.len(),
            "rebuilt the queue's state from the database; undecided tickets of earlier generations are lost"
        );
        Ok(())
    }

    async fn reconcile(&self, epoch: u64) -> Result<(), DrainError> {
        // The mark first: a cancellation between reading the database and replacing the flags
        // would otherwise leave its course flagged with a free seat until the next round.
        let mark = self.queue.freed_mark().await?;
        let full = self.store.full_courses().await?;
        if !self.queue.reset_sold_out(epoch, &full, Some(mark)).await? {
            tracing::debug!("a seat was freed while reconciling; the flags stay until next time");
        }
        Ok(())
    }
}

/// What one drain step hands the next.
#[derive(Default)]
struct Pipeline {
    /// The batch claimed while the previous one was decided.
    next: Option<Claimed>,
    /// A batch committed to the database whose outcomes the queue has not recorded yet.
    unsettled: Option<Unsettled>,
}

/// A decided, committed batch, for the queue to settle.
struct Unsettled {
    settled: Vec<Settled>,
    flags: CourseFlags,
}

/// Whether the drain must stop: asked to, or the server that would ask has gone. On a thread of
/// its own the drain outlives the server's runtime, and a dropped sender makes every wait end at
/// once: without this it would spin.
fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

/// Renews the lease at a quarter of its length; flags `lost` when it is gone.
async fn renew(
    lock: Arc<dyn SchedulerLock>,
    lease: Lease,
    length: Duration,
    lost: Arc<AtomicBool>,
) {
    loop {
        tokio::time::sleep(length / 4).await;
        match lock.renew(&lease, length).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(epoch = lease.epoch, "the drain lock expired or was taken");
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(e) => tracing::warn!(error = %e, "could not renew the drain lock"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drain_stops_when_asked_or_when_the_server_is_gone() {
        let (stop, receiver) = watch::channel(false);
        assert!(!stopping(&receiver));
        stop.send(true).unwrap();
        assert!(stopping(&receiver));

        let (stop, receiver) = watch::channel(false);
        drop(stop);
        assert!(stopping(&receiver));
    }
}
