//! Answers the tantivy index has already given, kept for the index as it is now.
//!
//! On registration day thousands of students type the same few words: the second student to
//! search 자료구조 gets the page the first one's search ranked, without walking the postings
//! and reading the documents again. Only what the index decides is kept (which courses, in
//! which order, the total, the facets); seats are laid over from the live counter on every
//! answer, and a search filtered by free seats, which depends on that counter, is never kept. An
//! answer is only given back for the version of the index it was made from, so a sync applied
//! or a rebuild swapped in is seen at once. At most [`CAPACITY`] answers are kept, the least
//! recently used going first.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lru::LruCache;

use super::{SearchFilter, SearchRequest, SearchResults, Window};

/// The most answers kept. An answer holds its page's courses by reference (shared with the
/// index's read-back courses) and its facets, about 5 KiB, so at most about 40 MiB, plus the
/// courses no longer read back that a kept page still holds.
pub const CAPACITY: usize = 8192;

/// A version of the index: the generation's name and its reader's searcher generation.
pub type Version = (String, u64);

/// What an answer depends on besides the index.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Key {
    text: String,
    filter: SearchFilter,
    window: Window,
    limit: usize,
    facets: bool,
}

impl Key {
    /// The key of a text search, or `None` when its answer may not be kept (no text: a
    /// listing, already cheap; a free-seats filter: it depends on the live counter).
    pub fn of(request: &SearchRequest) -> Option<Key> {
        let text = request.text.as_ref()?;
        (!request.filter.has_seats).then(|| Key {
            text: text.raw.clone(),
            filter: request.filter.clone(),
            window: request.window,
            limit: request.limit,
            facets: request.facets,
        })
    }
}

/// How often a kept answer was given back (read by the tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reuse {
    pub kept: u64,
    pub reused: u64,
    pub computed: u64,
}

/// The kept answers.
pub struct Answers {
    inner: Mutex<Inner>,
    reused: AtomicU64,
    computed: AtomicU64,
}

struct Inner {
    /// The version every kept answer was made from.
    version: Option<Version>,
    /// `None` when nothing is kept.
    entries: Option<LruCache<Key, Arc<SearchResults>>>,
}

impl Answers {
    /// Keeps at most `capacity` answers; none at all for 0.
    pub fn new(capacity: usize) -> Answers {
        Answers {
            inner: Mutex::new(Inner {
                version: None,
                entries: NonZeroUsize::new(capacity).map(LruCache::new),
            }),
            reused: AtomicU64::new(0),
            computed: AtomicU64::new(0),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer kept for `key`, if it was made from `version`.
    pub fn get(&self, version: &Version, key: &Key) -> Option<Arc<SearchResults>> {
        let mut inner = self.inner();
        let found = match inner.version.as_ref() == Some(version) {
            true => inner.entries.as_mut().and_then(|e| e.get(key).cloned()),
            false => None,
        };
        let counter = match found {
            Some(_) => &self.reused,
            None => &self.computed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps `answer`, made from `version`; answers of any other version go.
    pub fn put(&self, version: Version, key: Key, answer: Arc<SearchResults>) {
        let mut inner = self.inner();
        let fresh = inner.version.as_ref() != Some(&version);
        inner.version = Some(version);
        if let Some(entries) = inner.entries.as_mut() {
            if fresh {
                entries.clear();
            }
            entries.put(key, answer);
        }
    }

    pub fn reuse(&self) -> Reuse {
        Reuse {
            kept: self.inner().entries.as_ref().map_or(0, |e| e.len() as u64),
            reused: self.reused.load(Ordering::Relaxed),
            computed: self.computed.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(q: &str) -> SearchRequest {
        SearchRequest::first_page(q, 21)
    }

    fn answer(total: u64) -> Arc<SearchResults> {
        Arc::new(SearchResults {
            total,
            ..SearchResults::default()
        })
    }

    #[test]
    fn an_answer_is_given_back_only_for_its_own_version_and_request() {
        let answers = Answers::new(8);
        let (v1, v2) = (("gen-1".to_owned(), 1), ("gen-1".to_owned(), 2));
        let key = || Key::of(&request("자료구조")).unwrap();
        answers.put(v1.clone(), key(), answer(7));
        assert_eq!(answers.get(&v1, &key()).map(|a| a.total), Some(7));
        assert!(answers.get(&v2, &key()).is_none(), "another version");
        assert!(
            answers
                .get(&v1, &Key::of(&request("운영체제")).unwrap())
                .is_none()
        );
        let mut filtered = request("자료구조");
        filtered.filter.department = Some("컴퓨터공학과".into());
        assert!(answers.get(&v1, &Key::of(&filtered).unwrap()).is_none());
        // A newer version's answer empties the older ones.
        answers.put(
            v2.clone(),
            Key::of(&request("운영체제")).unwrap(),
            answer(3),
        );
        assert!(answers.get(&v1, &key()).is_none());
        assert_eq!(answers.reuse().kept, 1);
        assert_eq!(answers.reuse().reused, 1);
    }

    #[test]
    fn what_depends_on_the_live_counter_or_lists_everything_is_never_kept() {
        let mut seats = request("자료구조");
        seats.filter.has_seats = true;
        assert!(Key::of(&seats).is_none());
        let mut listing = request("자료구조");
        listing.text = None;
        assert!(Key::of(&listing).is_none());
    }

    #[test]
    fn a_capacity_of_0_keeps_nothing() {
        let answers = Answers::new(0);
        let version = ("gen-1".to_owned(), 1);
        let key = || Key::of(&request("자료구조")).unwrap();
        answers.put(version.clone(), key(), answer(7));
        assert!(answers.get(&version, &key()).is_none());
        assert_eq!(answers.reuse().kept, 0);
    }

    #[test]
    fn at_most_capacity_answers_are_kept() {
        let answers = Answers::new(CAPACITY);
        let version = ("gen-1".to_owned(), 1);
        for n in 0..CAPACITY + 100 {
            let key = Key::of(&request(&format!("과목{n}"))).unwrap();
            answers.put(version.clone(), key, answer(n as u64));
        }
        assert_eq!(answers.reuse().kept, CAPACITY as u64);
        // The least recently used went first.
        let first = Key::of(&request("과목0")).unwrap();
        assert!(answers.get(&version, &first).is_none());
        let last = Key::of(&request(&format!("과목{}", CAPACITY + 99))).unwrap();
        assert!(answers.get(&version, &last).is_some());
    }
}
