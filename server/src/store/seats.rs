//! The live seat counter: how many seats each course has taken, kept in memory so that a search
//! page shows current seats without a database query per course.
//!
//! Two sources keep it current. Every seat this process takes or gives back is recorded the
//! moment its transaction commits, with the counter's value the database returned (so it is
//! exact, not a guess). What other processes do arrives by a periodic full read
//! ([`SeatBoard::refresh`]). A refresh never overwrites a value recorded after it began: that
//! value is newer than anything the refresh read.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::domain::CourseId;

/// Seats taken per course, as last seen.
#[derive(Default)]
pub struct SeatBoard {
    inner: RwLock<Board>,
}

#[derive(Default)]
struct Board {
    taken: HashMap<i64, Entry>,
    /// Counts recordings; a refresh remembers where it began.
    clock: u64,
}

#[derive(Clone, Copy)]
struct Entry {
    enrolled: u32,
    recorded_at: u64,
}

/// Where a refresh began: recordings after this are newer than what it read.
#[derive(Debug, Clone, Copy)]
pub struct RefreshMark(u64);

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

    /// Call before reading every counter from the database.
    pub fn begin_refresh(&self) -> RefreshMark {
        RefreshMark(self.inner.read().unwrap_or_else(|e| e.into_inner()).clock)
    }

    /// Takes every counter read since `mark`, except those recorded after it. The counters are
    /// compared under the read lock, so searches only wait for the few that changed (none, most
    /// seconds), not for a write of the whole catalog's.
    pub fn refresh(&self, mark: RefreshMark, counters: impl IntoIterator<Item = (CourseId, u32)>) {
        let changed: Vec<(i64, u32)> = {
            let board = self.inner.read().unwrap_or_else(|e| e.into_inner());
            counters
                .into_iter()
                .filter(|&(course, enrolled)| match board.taken.get(&course.0) {
                    None => true,
                    Some(entry) => entry.recorded_at <= mark.0 && entry.enrolled != enrolled,
                })
                .map(|(course, enrolled)| (course.0, enrolled))
                .collect()
        };
        if changed.is_empty() {
            return;
        }
        let mut board = self.inner.write().unwrap_or_else(|e| e.into_inner());
        for (course, enrolled) in changed {
            let entry = board.taken.entry(course).or_insert(Entry {
                enrolled,
                recorded_at: 0,
            });
            // Checked again: this process may have recorded it since the read lock.
            if entry.recorded_at <= mark.0 {
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

    #[test]
    fn a_refresh_takes_what_it_read() {
        let board = SeatBoard::default();
        let mark = board.begin_refresh();
        board.refresh(mark, [(CourseId(1), 3), (CourseId(2), 0)]);
        assert_eq!(board.enrolled(CourseId(1)), Some(3));
        assert_eq!(board.enrolled(CourseId(2)), Some(0));
        assert_eq!(board.enrolled(CourseId(3)), None);
    }

    #[test]
    fn a_refresh_never_undoes_a_newer_recording() {
        let board = SeatBoard::default();
        board.record(&[(CourseId(1), 1)]);
        let mark = board.begin_refresh();
        // This process commits a seat while the refresh reads: the refresh may have read 1.
        board.record(&[(CourseId(1), 2)]);
        board.refresh(mark, [(CourseId(1), 1), (CourseId(2), 5)]);
        assert_eq!(board.enrolled(CourseId(1)), Some(2));
        assert_eq!(board.enrolled(CourseId(2)), Some(5));
        // The next refresh began after the recording, so it is newer and wins.
        let mark = board.begin_refresh();
        board.refresh(mark, [(CourseId(1), 7)]);
        assert_eq!(board.enrolled(CourseId(1)), Some(7));
        // Nothing changed: the board stays as it was.
        board.refresh(board.begin_refresh(), [(CourseId(1), 7), (CourseId(2), 5)]);
        assert_eq!(board.enrolled(CourseId(1)), Some(7));
        // A drop to zero (a cancellation elsewhere) is taken.
        board.refresh(board.begin_refresh(), [(CourseId(2), 0)]);
        assert_eq!(board.enrolled(CourseId(2)), Some(0));
    }
}
