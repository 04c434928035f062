//! Keeps a search index on the catalog, inside each server process: what Logstash's JDBC input
//! did for the original system.
//!
//! Every [`TICK`] the sync reads the courses whose `updated_at` is past its watermark and writes
//! them to the index, so a course created, edited or closed is found within a second. A
//! transaction stamps `updated_at` before it commits, so a change may become visible slightly
//! after a later one: the watermark therefore trails the clock by [`OVERLAP`], changes inside the
//! overlap are read again, and those already written are skipped. An empty index is filled in
//! bulk; one holding courses the database no longer has (a catalog replaced by `classmate seed
//! --reset`) is rebuilt; an operator can ask for a rebuild at any time. A rebuild fills a new
//! index while the old one answers, then swaps.
//!
//! The same loop refreshes the store's live seat counters every [`SEATS_EVERY`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

use super::{IndexStatus, SearchBackend, SearchError, SearchIndex, Watermark};
use crate::domain::{Course, CourseId};
use crate::store::{Store, StoreError};

/// How often the sync looks for changes.
pub const TICK: Duration = Duration::from_millis(200);

/// How far the watermark trails the clock: the longest a course write may take between
/// stamping `updated_at` and committing, plus the clock skew between server hosts.
pub const OVERLAP: Duration = Duration::from_secs(2);

/// How often the live seat counters are read from the database.
pub const SEATS_EVERY: Duration = Duration::from_secs(1);

/// How often the index is compared with the catalog for courses that are gone.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Courses read per query.
const PAGE: u32 = 2_000;

/// What can stop a sync step.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Search(#[from] SearchError),
}

/// A rebuild's progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub running: bool,
    pub done: u64,
    pub total: u64,
    /// Rebuilds finished since the process started.
    pub finished: u64,
    /// A rebuild was asked for and has not started yet: `running` stays true until it ends, even
    /// when a rebuild already under way when it was asked ends first.
    asked: bool,
}

/// How the sync stands, for `classmate search status`.
#[derive(Debug, Clone)]
pub struct SyncStatus {
    pub index: IndexStatus,
    /// How long since the index last caught up with the database; `None` before it first has.
    pub lag: Option<Duration>,
    pub rebuild: Progress,
}

#[derive(Default)]
struct Followed {
    /// Every change up to here is in the index.
    settled: Option<OffsetDateTime>,
    /// The watermark the index last recorded.
    persisted: Option<OffsetDateTime>,
    /// Courses written since `settled`, by when they changed: read again, they are skipped.
    recent: HashMap<CourseId, OffsetDateTime>,
}

/// An index and what keeps it on the catalog.
pub struct Search {
    pub index: Arc<dyn SearchIndex>,
    store: Arc<dyn Store>,
    followed: tokio::sync::Mutex<Followed>,
    caught_up: Mutex<Option<Instant>>,
    progress: Mutex<Progress>,
    rebuild_asked: Notify,
}

impl Search {
    /// Follows `store` into `index`, from the watermark the index recorded.
    pub async fn new(
        index: Arc<dyn SearchIndex>,
        store: Arc<dyn Store>,
    ) -> Result<Arc<Search>, SearchError> {
        let settled = index.status().await?.watermark.settled;
        Ok(Arc::new(Search {
            index,
            store,
            followed: tokio::sync::Mutex::new(Followed {
                settled,
                persisted: settled,
                recent: HashMap::new(),
            }),
            caught_up: Mutex::new(None),
            progress: Mutex::new(Progress::default()),
            rebuild_asked: Notify::new(),
        }))
    }

    /// Brings the index up to date once: a bulk fill when it is empty or holds courses the
    /// database no longer has, else the changes past the watermark.
    pub async fn catch_up(&self) -> Result<(), SyncError> {
        if !self.follows_catalog() {
            return Ok(());
        }
        let status = self.index.status().await?;
        let (count, min_id, _) = self.store.catalog_fingerprint().await?;
        let replaced = status.documents > count || (status.documents > 0 && status.ids.0 < min_id);
        if (status.documents == 0 && count > 0) || replaced {
            return self.rebuild().await;
        }
        self.follow().await
    }

    /// Writes the changes past the watermark.
    async fn follow(&self) -> Result<(), SyncError> {
        if !self.follows_catalog() {
            return Ok(());
        }
        let mut followed = self.followed.lock().await;
        let started = OffsetDateTime::now_utc();
        let mut after = (
            followed.settled.unwrap_or(OffsetDateTime::UNIX_EPOCH),
            CourseId(0),
        );
        let mut changed = Vec::new();
        let mut stamps = Vec::new();
        loop {
            let page = self.store.courses_changed(after, PAGE).await?;
            let full = page.len() == PAGE as usize;
            for row in page {
                after = (row.updated_at, row.course.id);
                if followed.recent.get(&row.course.id) != Some(&row.updated_at) {
                    stamps.push((row.course.id, row.updated_at));
                    changed.push(row.course);
                }
            }
            if changed.len() >= PAGE as usize {
                // A large catch-up commits as it goes, without moving the watermark yet.
                let keep = Watermark {
                    settled: followed.settled,
                };
                self.index.apply(&changed, keep).await?;
                changed.clear();
            }
            if !full {
                break;
            }
        }
        let settled = started - OVERLAP;
        let settled = followed.settled.map_or(settled, |s| s.max(settled));
        // The watermark is written with changes; without any it moves in memory only, and is
        // written now and then so that a restart does not read much again.
        let persist = !stamps.is_empty()
            || followed
                .persisted
                .is_none_or(|s| settled - s > time::Duration::minutes(1));
        if persist {
            let watermark = Watermark {
                settled: Some(settled),
            };
            self.index.apply(&changed, watermark).await?;
            followed.persisted = Some(settled);
        }
        followed.settled = Some(settled);
        followed.recent.extend(stamps);
        followed.recent.retain(|_, at| *at > settled);
        *self.caught_up.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        Ok(())
    }

    /// Whether the index is a copy to keep in step (not the database itself).
    fn follows_catalog(&self) -> bool {
        self.index.backend() != SearchBackend::Database
    }

    /// Writes courses this process just changed, so their administrator finds them at once;
    /// the next tick sees them as already written.
    pub async fn written(&self, courses: &[Course]) -> Result<(), SearchError> {
        let followed = self.followed.lock().await;
        let keep = Watermark {
            settled: followed.settled,
        };
        self.index.apply(courses, keep).await
    }

    /// Fills a new index from the whole catalog while the old one answers, then swaps.
    pub async fn rebuild(&self) -> Result<(), SyncError> {
        let mut followed = self.followed.lock().await;
        let started = OffsetDateTime::now_utc();
        let (total, _, _) = self.store.catalog_fingerprint().await?;
        self.set_progress(|p| {
            p.running = true;
            p.asked = false;
            p.done = 0;
            p.total = total;
        });
        let result = async {
            let mut rebuild = self.index.rebuild().await?;
            let mut after = (OffsetDateTime::UNIX_EPOCH, CourseId(0));
            loop {
                let page = self.store.courses_changed(after, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = (last.updated_at, last.course.id);
                let courses: Vec<Course> = page.into_iter().map(|row| row.course).collect();
                rebuild.add(&courses).await?;
                let n = courses.len() as u64;
                self.set_progress(|p| p.done += n);
                if n < u64::from(PAGE) {
                    break;
                }
            }
            let settled = started - OVERLAP;
            rebuild
                .finish(Watermark {
                    settled: Some(settled),
                })
                .await?;
            Ok::<_, SyncError>(settled)
        }
        .await;
        self.set_progress(|p| {
            p.running = p.asked;
            if result.is_ok() {
                p.finished += 1;
            }
        });
        let settled = result?;
        followed.settled = Some(settled);
        followed.persisted = Some(settled);
        followed.recent.clear();
        drop(followed);
        // What changed during the rebuild is past its watermark: read it now.
        self.follow().await
    }

    fn set_progress(&self, change: impl FnOnce(&mut Progress)) {
        change(&mut self.progress.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Asks the running sync for a rebuild; returns at once.
    pub fn ask_rebuild(&self) {
        self.set_progress(|p| {
            p.running = true;
            p.asked = true;
        });
        self.rebuild_asked.notify_one();
    }

    pub async fn status(&self) -> Result<SyncStatus, SearchError> {
        let caught_up = *self.caught_up.lock().unwrap_or_else(|e| e.into_inner());
        Ok(SyncStatus {
            index: self.index.status().await?,
            lag: caught_up.map(|at| at.elapsed()),
            rebuild: *self.progress.lock().unwrap_or_else(|e| e.into_inner()),
        })
    }

    /// Follows the catalog and refreshes seat counters until `stopped`.
    pub async fn run(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut seats_at, mut checked_at) = (Instant::now() - SEATS_EVERY, Instant::now());
        let mut first = true;
        loop {
            let rebuild = tokio::select! {
                _ = tick.tick() => false,
                _ = self.rebuild_asked.notified() => true,
                _ = stopped.wait_for(|stop| *stop) => return,
            };
            let step = if rebuild {
                self.rebuild().await
            } else if first || checked_at.elapsed() >= CHECK_EVERY {
                checked_at = Instant::now();
                self.catch_up().await
            } else {
                self.follow().await
            };
            match step {
                Ok(()) => first = false,
                Err(error) => {
                    self.set_progress(|p| {
                        // An asked rebuild that failed is over; the operator asks again.
                        p.asked &= !rebuild;
                        p.running = p.asked;
                    });
                    tracing::warn!(error = %error, "search sync failed; retrying")
                }
            }
            if seats_at.elapsed() >= SEATS_EVERY {
                seats_at = Instant::now();
                if let Err(error) = self.store.refresh_seats().await {
                    tracing::warn!(error = %error, "seat counters not refreshed");
                }
            }
        }
    }
}
