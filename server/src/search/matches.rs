//! The matches of a text, kept for the index as it is now.
//!
//! On registration day thousands of students type the same few words, each with filters,
//! cursors and seat choices of their own. What the index decides for a text (which documents
//! match it and with how many points) does not depend on any of those, so it is kept by text:
//! the next student to type 자료구조, with any department, day, credits, free-seats filter or
//! page, gets an answer ranked from the kept matches without walking the postings again. The
//! filters, the facets, the cursor and the seats (from the live counter) are applied to them on
//! every search, so nothing that changes between two students is ever kept. Matches are given
//! back only for the version of the index they were made from, so a sync applied or a rebuild
//! swapped in is seen at once. At most [`CAPACITY`] matches of at most [`TEXTS`] texts are
//! kept, the least recently used text going first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use lru::LruCache;
use tantivy::{DocAddress, DocId};

use super::{Facets, Rank, Window};

use crate::domain::CourseId;
use crate::store::SeatView;

/// The most matches kept, over all texts: 40 bytes each, so at most 40 MiB. A one-syllable
/// professor search (김) matches a fifth of a 100,000-course catalog; the search-storm's 4,300
/// texts match 300,000 courses together (12 MiB).
pub const CAPACITY: usize = 1 << 20;

/// The most texts kept, whatever they match: a client typing thousands of different texts that
/// match nothing must not fill memory with them. Each may also hold its searches without
/// filters' best hits and facets (about 5 KiB), so at most about 40 MiB more. The storm has
/// 4,300 texts.
pub const TEXTS: usize = 8_192;

/// A version of the index: the generation's name and its reader's searcher generation.
pub type Version = (String, u64);

/// What a ranking reads of a document besides its points: its order, id, department ordinal
/// in its segment (`u32::MAX`: none), credits, days (a bit per weekday, Monday lowest), and
/// seats as last indexed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Packed {
    pub order: u64,
    pub id: i64,
    pub department: u32,
    pub capacity: u32,
    pub enrolled: u32,
    pub credits: u8,
    pub days: u8,
}

impl Packed {
    /// Whether the course has a free seat by the live counter (as indexed when the counter
    /// does not know it).
    pub fn has_seat(&self, seats: &SeatView) -> bool {
        seats.enrolled(CourseId(self.id)).unwrap_or(self.enrolled) < self.capacity
    }
}

/// A matching document, its points, and its row copied beside them: a ranking of kept matches
/// reads them in one sweep. Reading each row from its segment's columns, scattered over a few
/// MiB, missed the cache for nearly every match and took most of a kept search's time.
#[derive(Debug, Clone, Copy)]
pub struct Match {
    pub doc: DocId,
    pub points: u32,
    pub row: Packed,
}

/// Every match of one text in one version of the index, by segment ordinal.
#[derive(Debug, Default)]
pub struct Matches {
    pub segments: Vec<Vec<Match>>,
    /// What its searches without filters get, counted by the first of them.
    pub unfiltered: OnceLock<Unfiltered>,
}

/// How many of a text's best hits are kept for its searches without filters: the largest page
/// and one more (a search asks for one more than its page, to know whether another follows).
pub const UNFILTERED_TOP: usize = 101;

/// What every search of a text without filters gets (more than half of the search-storm's):
/// its best hits, the total and the facets. Counted once, they spare each such search a pass
/// over every match; only seats, laid over the page, change from one to the next.
#[derive(Debug)]
pub struct Unfiltered {
    /// The best [`UNFILTERED_TOP`] hits, best first.
    pub top: Vec<(Rank, DocAddress)>,
    pub total: u64,
    pub facets: Facets,
}

impl Unfiltered {
    /// The `limit` hits `window` asks for, when they are among the kept ones (or the kept ones
    /// are all there are); `None` when the window reaches past them.
    pub fn page(&self, window: Window, limit: usize) -> Option<&[(Rank, DocAddress)]> {
        let start = match window {
            Window::After(None) => 0,
            Window::After(Some(cursor)) => self
                .top
                .partition_point(|(rank, _)| !rank.is_after(&cursor)),
            Window::Skip(skip) => skip,
        };
        let kept = self.top.len();
        let end = start.saturating_add(limit);
        let complete = kept as u64 == self.total;
        (end <= kept || complete).then(|| &self.top[start.min(kept)..end.min(kept)])
    }
}

impl Matches {
    /// How many documents match.
    pub fn len(&self) -> usize {
        self.segments.iter().map(Vec::len).sum()
    }

    /// Whether no document matches.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How often kept matches were given back (read by the tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reuse {
    /// Texts whose matches are kept.
    pub kept: u64,
    /// Matches kept, over all texts.
    pub weight: u64,
    pub reused: u64,
    pub computed: u64,
}

/// The kept matches, by text.
pub struct KeptMatches {
    inner: Mutex<Inner>,
    capacity: usize,
    reused: AtomicU64,
    computed: AtomicU64,
}

struct Inner {
    /// The version every kept text was matched in.
    version: Option<Version>,
    entries: LruCache<String, Arc<Matches>>,
    /// Matches held by `entries`.
    weight: usize,
}

impl KeptMatches {
    /// Keeps at most `capacity` matches over all texts; none at all for 0.
    pub fn new(capacity: usize) -> KeptMatches {
        KeptMatches {
            inner: Mutex::new(Inner {
                version: None,
                entries: LruCache::unbounded(),
                weight: 0,
            }),
            capacity,
            reused: AtomicU64::new(0),
            computed: AtomicU64::new(0),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The matches kept for `text`, if they were made in `version`.
    pub fn get(&self, version: &Version, text: &str) -> Option<Arc<Matches>> {
        let found = {
            let mut inner = self.inner();
            match inner.version.as_ref() == Some(version) {
                true => inner.entries.get(text).cloned(),
                false => None,
            }
        };
        let counter = match found {
            Some(_) => &self.reused,
            None => &self.computed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps `matches` of `text`, made in `version`; matches of any other version go, and the
    /// least recently used texts go until the rest fit. Matches larger than the whole capacity
    /// are not kept.
    pub fn put(&self, version: Version, text: &str, matches: Arc<Matches>) {
        let weight = matches.len().max(1);
        if weight > self.capacity {
            return;
        }
        let mut inner = self.inner();
        if inner.version.as_ref() != Some(&version) {
            inner.entries.clear();
            inner.weight = 0;
            inner.version = Some(version);
        }
        if let Some(old) = inner.entries.put(text.to_owned(), matches) {
            inner.weight -= old.len().max(1);
        }
        inner.weight += weight;
        while inner.weight > self.capacity || inner.entries.len() > TEXTS {
            match inner.entries.pop_lru() {
                Some((_, gone)) => inner.weight -= gone.len().max(1),
                None => break,
            }
        }
    }

    /// How much is kept and how often it served.
    pub fn reuse(&self) -> Reuse {
        let inner = self.inner();
        Reuse {
            kept: inner.entries.len() as u64,
            weight: inner.weight as u64,
            reused: self.reused.load(Ordering::Relaxed),
            computed: self.computed.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(n: u32) -> Arc<Matches> {
        let found = |doc| Match {
            doc,
            points: 100,
            row: Packed::default(),
        };
        Arc::new(Matches {
            segments: vec![(0..n).map(found).collect()],
            ..Matches::default()
        })
    }

    #[test]
    fn an_unfiltered_page_comes_from_the_kept_best_hits_only_when_they_hold_it() {
        let rank = |points: u32, id: i64| Rank {
            points,
            order: id as u64,
            id,
        };
        let top: Vec<(Rank, DocAddress)> = [rank(300, 1), rank(300, 2), rank(200, 3), rank(100, 4)]
            .into_iter()
            .map(|r| (r, DocAddress::new(0, r.id as u32)))
            .collect();
        let ids = |page: Option<&[(Rank, DocAddress)]>| {
            page.map(|p| p.iter().map(|(r, _)| r.id).collect::<Vec<_>>())
        };
        let partial = Unfiltered {
            top: top.clone(),
            total: 9,
            facets: Facets::default(),
        };
        assert_eq!(ids(partial.page(Window::After(None), 2)), Some(vec![1, 2]));
        assert_eq!(
            ids(partial.page(Window::After(None), 4)),
            Some(vec![1, 2, 3, 4])
        );
        assert_eq!(
            ids(partial.page(Window::After(None), 5)),
            None,
            "past the kept"
        );
        let after_2 = Window::After(Some(rank(300, 2)));
        assert_eq!(ids(partial.page(after_2, 2)), Some(vec![3, 4]));
        assert_eq!(ids(partial.page(after_2, 3)), None);
        // A cursor between kept hits, and one past them all.
        assert_eq!(
            ids(partial.page(Window::After(Some(rank(250, 9))), 1)),
            Some(vec![3])
        );
        assert_eq!(ids(partial.page(Window::After(Some(rank(50, 9))), 1)), None);
        assert_eq!(ids(partial.page(Window::Skip(3), 1)), Some(vec![4]));
        assert_eq!(ids(partial.page(Window::Skip(3), 2)), None);
        // Every hit kept: any window is answered, however far.
        let complete = Unfiltered {
            top,
            total: 4,
            facets: Facets::default(),
        };
        assert_eq!(
            ids(complete.page(Window::After(None), 10)),
            Some(vec![1, 2, 3, 4])
        );
        assert_eq!(ids(complete.page(after_2, 10)), Some(vec![3, 4]));
        assert_eq!(
            ids(complete.page(Window::After(Some(rank(50, 9))), 10)),
            Some(vec![])
        );
        assert_eq!(ids(complete.page(Window::Skip(10), 10)), Some(vec![]));
    }

    #[test]
    fn matches_are_given_back_only_for_their_own_version_and_text() {
        let kept = KeptMatches::new(100);
        let (v1, v2) = (("gen-1".to_owned(), 1), ("gen-1".to_owned(), 2));
        kept.put(v1.clone(), "자료구조", matches(7));
        assert_eq!(kept.get(&v1, "자료구조").map(|m| m.len()), Some(7));
        assert!(kept.get(&v2, "자료구조").is_none(), "another version");
        assert!(kept.get(&v1, "운영체제").is_none(), "another text");
        // A newer version's matches empty the older ones.
        kept.put(v2.clone(), "운영체제", matches(3));
        assert!(kept.get(&v1, "운영체제").is_none());
        assert!(kept.get(&v2, "자료구조").is_none());
        let reuse = kept.reuse();
        assert_eq!((reuse.kept, reuse.weight, reuse.reused), (1, 3, 1));
        assert_eq!(reuse.computed, 4);
    }

    #[test]
    fn at_most_so_many_texts_are_kept_however_little_they_match() {
        let kept = KeptMatches::new(CAPACITY);
        let version = ("gen-1".to_owned(), 1);
        for n in 0..TEXTS + 10 {
            kept.put(version.clone(), &format!("없는과목{n}"), matches(0));
        }
        assert_eq!(kept.reuse().kept, TEXTS as u64);
        assert!(kept.get(&version, "없는과목0").is_none());
        assert!(
            kept.get(&version, &format!("없는과목{}", TEXTS + 9))
                .is_some()
        );
    }

    #[test]
    fn a_match_is_40_bytes_as_the_capacity_counts() {
        assert_eq!(std::mem::size_of::<Match>(), 40);
    }

    #[test]
    fn a_capacity_of_0_keeps_nothing() {
        let kept = KeptMatches::new(0);
        let version = ("gen-1".to_owned(), 1);
        kept.put(version.clone(), "자료구조", matches(7));
        kept.put(version.clone(), "없는과목", matches(0));
        assert!(kept.get(&version, "자료구조").is_none());
        assert!(kept.get(&version, "없는과목").is_none());
        assert_eq!(kept.reuse().kept, 0);
    }

    #[test]
    fn at_most_capacity_matches_are_kept_over_all_texts() {
        let kept = KeptMatches::new(1000);
        let version = ("gen-1".to_owned(), 1);
        for n in 0..50 {
            kept.put(version.clone(), &format!("과목{n}"), matches(30));
            assert!(kept.reuse().weight <= 1000);
        }
        // 33 texts of 30 matches fit; the least recently used went first.
        assert_eq!(kept.reuse().kept, 33);
        assert!(kept.get(&version, "과목0").is_none());
        assert!(kept.get(&version, "과목49").is_some());
        // Using a text keeps it: 과목17 is now the most recently used, 과목18 the least.
        assert!(kept.get(&version, "과목17").is_some());
        kept.put(version.clone(), "큰과목", matches(60));
        assert!(kept.get(&version, "과목17").is_some());
        assert!(kept.get(&version, "과목18").is_none());
        assert!(kept.get(&version, "과목19").is_none());
        // Matches larger than everything kept together are never kept, and push nothing out.
        kept.put(version.clone(), "모든과목", matches(1001));
        assert!(kept.get(&version, "모든과목").is_none());
        assert!(kept.get(&version, "과목49").is_some());
        // Replacing a text's matches counts only the new ones.
        kept.put(version.clone(), "큰과목", matches(10));
        let reuse = kept.reuse();
        assert_eq!(reuse.weight, 30 * (reuse.kept - 1) + 10);
    }
}
