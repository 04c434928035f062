//! The live seat counter: how many seats each course has taken, kept in memory so that a search
//! page shows current seats without a database query per course.
//!
//! Two sources keep it current. Every seat this process takes or gives back is recorded the
//! moment its transaction commits, with the counter's value the database returned (so it is
//! exact, not a guess). What other processes do arrives by a periodic read
//! ([`SeatBoard::refresh`]). A refresh never overwrites a value recorded after it began: that
//! value is newer than anything the refresh read.
//!
//! A refresh reads only the counters stamped as changed since shortly before the previous
//! read began ([`SeatRead::ChangedSince`], [`SLACK`] earlier, for transactions that stamped
//! before it and committed after it, and for clocks a little apart), and every counter once
//! every [`ALL_EVERY`]: a catalog of 100,000 courses is not sent over every second.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::RwLock;
use std::time::Duration;

use time::OffsetDateTime;

use crate::domain::CourseId;

/// How long before the previous read began a refresh looks for changes: longer than a
/// transaction stays open after it moves a counter, plus the clock difference between
/// processes.
pub const SLACK: Duration = Duration::from_secs(5);

/// How often a refresh reads every counter, whatever the stamps say (the first refresh does).
pub const ALL_EVERY: Duration = Duration::from_secs(30);

/// What a refresh reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatRead {
    All,
    /// The counters stamped at or after this time.
    ChangedSince(OffsetDateTime),
}

/// Seats taken per course, as last seen.
#[derive(Default)]
pub struct SeatBoard {
    inner: RwLock<Board>,
}

/// Hashes a course id with one multiplication. The board is read for every match of a
/// free-seats search, and std's SipHash (made for keys a client picks; these are the database's
/// own ids) took half of that search's time in its collector.
#[derive(Default)]
struct IdHash(u64);

impl Hasher for IdHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*byte)).wrapping_mul(FIBONACCI);
        }
    }

    fn write_i64(&mut self, id: i64) {
        self.0 = (id as u64).wrapping_mul(FIBONACCI);
    }
}

/// 2^64 divided by the golden ratio, odd: consecutive ids spread over every bit.
const FIBONACCI: u64 = 0x9E37_79B9_7F4A_7C15;

#[derive(Default)]
struct Board {
    taken: HashMap<i64, Entry, BuildHasherDefault<IdHash>>,
    /// Counts recordings; a refresh remembers where it began.
    clock: u64,
    /// When the last refresh that completed began, and the last one that read every counter.
    refreshed: Option<OffsetDateTime>,
    refreshed_all: Option<OffsetDateTime>,
}

#[derive(Clone, Copy)]
struct Entry {
    enrolled: u32,
    recorded_at: u64,
}

/// Where a refresh began (recordings after this are newer than what it read) and what it reads.
#[derive(Debug, Clone, Copy)]
pub struct RefreshMark {
    clock: u64,
    began: OffsetDateTime,
    read: SeatRead,
}

impl RefreshMark {
    /// What to read from the database.
    pub fn read(&self) -> SeatRead {
        self.read
    }
}

impl SeatBoard {
    /// Records counters this process's own committed transaction left, as the database
    /// returned them.
    pub fn record(&self, seen: &[(CourseId, u32)]) {
        if seen.is_empty() {
            return;
        }
        let mut board = self.inner.write().unwrap_or_else(|e| e.into_inner());
        board.clock += 1;
        let recorded_at = board.clock;
        for &(course, enrolled) in seen {
            board.taken.insert(
                course.0,
                Entry {
                    enrolled,
                    recorded_at,
                },
            );
        }
    }

    /// Call at `now`, before reading from the database what the mark says.
    pub fn begin_refresh(&self, now: OffsetDateTime) -> RefreshMark {
        let board = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let read = match (board.refreshed, board.refreshed_all) {
            (Some(last), Some(all)) if now - all < ALL_EVERY => {
                SeatRead::ChangedSince(last - SLACK)
            }
            _ => SeatRead::All,
        };
        RefreshMark {
            clock: board.clock,
            began: now,
            read,
        }
    }

    /// Takes the counters read since `mark`, except those recorded after it. The counters are
    /// compared under the read lock, so searches only wait for the refresh to be noted and the
    /// few that changed to be written (none, most seconds), not for the whole catalog's.
    pub fn refresh(&self, mark: RefreshMark, counters: impl IntoIterator<Item = (CourseId, u32)>) {
        let changed: Vec<(i64, u32)> = {
            let board = self.inner.read().unwrap_or_else(|e| e.into_inner());
            counters
                .into_iter()
                .filter(|&(course, enrolled)| match board.taken.get(&course.0) {
                    None => true,
                    Some(entry) => entry.recorded_at <= mark.clock && entry.enrolled != enrolled,
                })
                .map(|(course, enrolled)| (course.0, enrolled))
                .collect()
        };
        let mut board = self.inner.write().unwrap_or_else(|e| e.into_inner());
        board.refreshed = board.refreshed.max(Some(mark.began));
        if mark.read == SeatRead::All {
            board.refreshed_all = board.refreshed_all.max(Some(mark.began));
        }
        for (course, enrolled) in changed {
            let entry = board.taken.entry(course).or_insert(Entry {
                enrolled,
                recorded_at: 0,
            });
            // Checked again: this process may have recorded it since the read lock.
            if entry.recorded_at <= mark.clock {
                entry.enrolled = enrolled;
            }
        }
    }

    /// A view for reading many counters under one lock (a search page, a facet count).
    pub fn view(&self) -> SeatView<'_> {
        SeatView(self.inner.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The seats a course has taken, if the board has seen it.
    pub fn enrolled(&self, course: CourseId) -> Option<u32> {
        self.view().enrolled(course)
    }
}

/// The board, read-locked.
pub struct SeatView<'a>(std::sync::RwLockReadGuard<'a, Board>);

impl SeatView<'_> {
    /// The seats a course has taken, if the board has seen it.
    pub fn enrolled(&self, course: CourseId) -> Option<u32> {
        self.0.taken.get(&course.0).map(|e| e.enrolled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
    }

    #[test]
    fn a_refresh_takes_what_it_read() {
        let board = SeatBoard::default();
        let mark = board.begin_refresh(at(0));
        board.refresh(mark, [(CourseId(1), 3), (CourseId(2), 0)]);
        assert_eq!(board.enrolled(CourseId(1)), Some(3));
        assert_eq!(board.enrolled(CourseId(2)), Some(0));
        assert_eq!(board.enrolled(CourseId(3)), None);
    }

    #[test]
    fn a_refresh_never_undoes_a_newer_recording() {
        let board = SeatBoard::default();
        board.record(&[(CourseId(1), 1)]);
        let mark = board.begin_refresh(at(0));
        // This process commits a seat while the refresh reads: the refresh may have read 1.
        board.record(&[(CourseId(1), 2)]);
        board.refresh(mark, [(CourseId(1), 1), (CourseId(2), 5)]);
        assert_eq!(board.enrolled(CourseId(1)), Some(2));
        assert_eq!(board.enrolled(CourseId(2)), Some(5));
        // The next refresh began after the recording, so it is newer and wins.
        let mark = board.begin_refresh(at(0));
        board.refresh(mark, [(CourseId(1), 7)]);
        assert_eq!(board.enrolled(CourseId(1)), Some(7));
        // Nothing changed: the board stays as it was.
        board.refresh(
            board.begin_refresh(at(0)),
            [(CourseId(1), 7), (CourseId(2), 5)],
        );
        assert_eq!(board.enrolled(CourseId(1)), Some(7));
        // A drop to zero (a cancellation elsewhere) is taken.
        board.refresh(board.begin_refresh(at(0)), [(CourseId(2), 0)]);
        assert_eq!(board.enrolled(CourseId(2)), Some(0));
    }

    #[test]
    fn a_refresh_reads_what_changed_since_the_last_and_everything_now_and_then() {
        let board = SeatBoard::default();
        let first = board.begin_refresh(at(0));
        assert_eq!(first.read(), SeatRead::All);
        board.refresh(first, [(CourseId(1), 3)]);
        let next = board.begin_refresh(at(1));
        assert_eq!(next.read(), SeatRead::ChangedSince(at(0) - SLACK));
        // A read that failed records nothing: the one after looks back as far.
        let failed = board.begin_refresh(at(2));
        assert_eq!(failed.read(), SeatRead::ChangedSince(at(0) - SLACK));
        board.refresh(board.begin_refresh(at(3)), [(CourseId(1), 4)]);
        assert_eq!(board.enrolled(CourseId(1)), Some(4));
        assert_eq!(
            board.begin_refresh(at(4)).read(),
            SeatRead::ChangedSince(at(3) - SLACK)
        );
        let due = at(ALL_EVERY.as_secs());
        assert_eq!(board.begin_refresh(due).read(), SeatRead::All);
        // A refresh that began earlier and ended later does not move the marks back.
        let late = board.begin_refresh(at(2));
        board.refresh(board.begin_refresh(due), []);
        board.refresh(late, []);
        assert_eq!(
            board.begin_refresh(due + Duration::from_secs(1)).read(),
            SeatRead::ChangedSince(due - SLACK)
        );
    }
}
