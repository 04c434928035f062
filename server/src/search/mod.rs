//! Course search: one [`SearchIndex`] trait and its backends, the Korean text analysis they
//! share ([`text`], [`query`]), highlighting, and the sync that keeps an index on the catalog.
//!
//! The catalog lives in the database; an index is a copy made for searching, kept in step by
//! [`sync`] from each course's `updated_at` (bulk after seeding, then incrementally). Seat counts
//! change too often to reindex: every hit takes them from the store's live [`SeatBoard`].

#[cfg(test)]
pub(crate) mod contract;
pub mod database;
pub mod elastic;
pub mod highlight;
pub mod matches;
pub mod plan;
pub mod query;
pub mod relevance;
pub mod sync;
pub mod tantivy_index;
pub mod text;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;

pub use query::{QueryError, SearchText};

use crate::domain::{
    Course, CourseCode, CourseId, CourseSpec, Credits, Meeting, Restrictions, Weekday, YearSet,
};
use crate::store::SeatBoard;

/// Which engine answers searches.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum SearchBackend {
    /// An index in this process, on disk (the default).
    Tantivy,
    /// The database's own `LIKE` over `pg_trgm` trigram indexes: the baseline.
    Database,
    /// An Elasticsearch cluster with the nori plugin (`CLASSMATE_ELASTICSEARCH_URL`), shared by
    /// every server process.
    Elasticsearch,
}

impl fmt::Display for SearchBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SearchBackend::Tantivy => "tantivy",
            SearchBackend::Database => "database",
            SearchBackend::Elasticsearch => "elasticsearch",
        })
    }
}

/// Where an index lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexLocation {
    /// A directory of its own, kept across restarts.
    Dir(PathBuf),
    /// A temporary directory removed with the process: rebuilt from the database at start.
    Temporary,
}

/// Filters a search applies besides its text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SearchFilter {
    /// Exact department name.
    pub department: Option<String>,
    /// Courses with a meeting on this day.
    pub weekday: Option<Weekday>,
    pub credits: Option<Credits>,
    /// Only courses with a free seat, by the live counter.
    pub has_seats: bool,
}

/// Where in the ranking a hit stands: points for how well it matched (higher first), then the
/// course code's order, then the id. It depends only on the course and the query, never on the
/// rest of the catalog, so a cursor made of it stays valid while courses change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rank {
    pub points: u32,
    pub order: u64,
    pub id: i64,
}

impl Rank {
    /// Whether this hit comes after `cursor` in the ranking.
    pub fn is_after(&self, cursor: &Rank) -> bool {
        match self.points.cmp(&cursor.points) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal => (self.order, self.id) > (cursor.order, cursor.id),
        }
    }

    /// The opaque cursor a client passes back for the next page.
    pub fn cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("1.{}.{}.{}", self.points, self.order, self.id))
    }

    /// Reads a cursor made by [`Rank::cursor`]; `None` for anything else.
    pub fn from_cursor(cursor: &str) -> Option<Rank> {
        if cursor.len() > 64 {
            return None;
        }
        let decoded = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let decoded = std::str::from_utf8(&decoded).ok()?;
        let mut parts = decoded.split('.');
        if parts.next()? != "1" {
            return None;
        }
        let rank = Rank {
            points: parts.next()?.parse().ok()?,
            order: parts.next()?.parse().ok()?,
            id: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(rank)
    }
}

/// Which part of the ranking a search returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// The hits after a cursor.
    After(Option<Rank>),
    /// The hits after skipping this many (the catalog's numbered pages).
    Skip(usize),
}

/// One search.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// `None` finds every course, in code order.
    pub text: Option<SearchText>,
    pub filter: SearchFilter,
    pub window: Window,
    pub limit: usize,
    /// Whether to count facets.
    pub facets: bool,
}

#[cfg(test)]
impl SearchRequest {
    /// The first page of `limit` hits for `q`, with facets.
    pub fn first_page(q: &str, limit: usize) -> SearchRequest {
        SearchRequest {
            text: SearchText::parse(q).expect("a valid text"),
            filter: SearchFilter::default(),
            window: Window::After(None),
            limit,
            facets: true,
        }
    }
}

/// How many hits each value of a facet has. Each facet counts with every filter but its own,
/// so a student sees what choosing another value would give.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    /// Most hits first, then by name. Names are shared with the index's columns and kept
    /// answers: a page's facets copy pointers, not strings.
    pub department: Vec<(Arc<str>, u64)>,
    /// By credits.
    pub credits: Vec<(u8, u64)>,
    /// Monday first.
    pub weekday: Vec<(Weekday, u64)>,
}

/// Counts by slot (credits 0–6, weekday 0–5) from (slot, hits) pairs; a slot out of range is
/// left out.
pub(crate) fn slots<const N: usize>(pairs: impl IntoIterator<Item = (u64, u64)>) -> [u64; N] {
    let mut counts = [0u64; N];
    for (slot, n) in pairs {
        if let Some(count) = usize::try_from(slot).ok().and_then(|s| counts.get_mut(s)) {
            *count = n;
        }
    }
    counts
}

impl Facets {
    /// Facets from hits per department, per credits (index 1–6) and per weekday (Monday
    /// first), values without hits left out.
    pub fn from_counts<Name: Into<Arc<str>>>(
        department: impl IntoIterator<Item = (Name, u64)>,
        credits: [u64; 7],
        weekday: [u64; 6],
    ) -> Facets {
        let mut department: Vec<(Arc<str>, u64)> = department
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| (name.into(), n))
            .collect();
        department.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Facets {
            department,
            credits: (1u8..=6)
                .filter_map(|c| {
                    let n = credits[usize::from(c)];
                    (n > 0).then_some((c, n))
                })
                .collect(),
            weekday: Weekday::ALL
                .iter()
                .filter_map(|d| {
                    let n = weekday[usize::from(d.index())];
                    (n > 0).then_some((*d, n))
                })
                .collect(),
        }
    }
}

/// A course found, with its seats from the live counter.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Shared with the index's read-back courses.
    pub course: Arc<Course>,
    pub rank: Rank,
}

/// A page of hits.
#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    pub hits: Vec<Hit>,
    /// Hits over all pages.
    pub total: u64,
    pub facets: Option<Facets>,
}

/// What an autocomplete entry completes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionKind {
    Title,
    Code,
    Professor,
}

/// One autocomplete entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub kind: SuggestionKind,
    pub text: String,
    /// The course, for a code (titles and professors stand for several).
    pub course_id: Option<CourseId>,
}

/// How far an index has followed the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Watermark {
    /// Every change up to this time is in the index (later ones may be too).
    pub settled: Option<OffsetDateTime>,
}

/// What an index reports about itself.
#[derive(Debug, Clone)]
pub struct IndexStatus {
    pub backend: SearchBackend,
    pub documents: u64,
    pub watermark: Watermark,
    /// Lowest and highest course id in the index.
    pub ids: (i64, i64),
}

/// What can go wrong in an index.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(String),
    #[error("search index directory {0} is in use by another process")]
    Locked(PathBuf),
    #[error("search index I/O")]
    Io(#[from] std::io::Error),
    /// The engine cannot be reached or is overloaded (Elasticsearch down, a 5xx): retryable.
    #[error("search engine unavailable: {0}")]
    Unavailable(String),
}

/// Lays the live counter's seats over courses read from an index (seats as last indexed). A
/// course shared with the index's read-back courses is copied only when its seats changed.
pub(crate) fn live_seats<'a>(
    courses: impl IntoIterator<Item = &'a mut Arc<Course>>,
    seats: &SeatBoard,
) {
    let view = seats.view();
    for course in courses {
        if let Some(enrolled) = view.enrolled(course.id)
            && enrolled != course.enrolled
        {
            Arc::make_mut(course).enrolled = enrolled;
        }
    }
}

/// A search engine over the catalog.
#[async_trait]
pub trait SearchIndex: Send + Sync {
    fn backend(&self) -> SearchBackend;

    /// One page of hits, with seats from `seats`.
    async fn search(
        &self,
        request: &SearchRequest,
        seats: &Arc<SeatBoard>,
    ) -> Result<SearchResults, SearchError>;

    /// The course with `id` as the index holds it, with seats from `seats`; `None` for an id it
    /// does not hold. `GET /api/v1/courses/{id}` reads it here, like every other catalog read.
    async fn course(
        &self,
        id: CourseId,
        seats: &Arc<SeatBoard>,
    ) -> Result<Option<Arc<Course>>, SearchError>;

    /// Up to `limit` completions of what was typed so far: titles, codes and professors, from
    /// the best 50 hits of the text.
    async fn suggest(
        &self,
        text: &SearchText,
        limit: usize,
    ) -> Result<Vec<Suggestion>, SearchError> {
        let request = SearchRequest {
            text: Some(text.clone()),
            filter: SearchFilter::default(),
            window: Window::After(None),
            limit: 50,
            facets: false,
        };
        let found = self.search(&request, &Arc::default()).await?;
        Ok(suggestions(
            text,
            found.hits.iter().map(|h| &*h.course),
            limit,
        ))
    }

    /// Adds or replaces these courses, and records how far the index has followed.
    async fn apply(&self, courses: &[Course], watermark: Watermark) -> Result<(), SearchError>;

    /// Starts a replacement index, filled by [`Rebuild::add`] while this one keeps answering,
    /// and swapped in at once by [`Rebuild::finish`].
    async fn rebuild(&self) -> Result<Box<dyn Rebuild + '_>, SearchError>;

    async fn status(&self) -> Result<IndexStatus, SearchError>;
}

/// A replacement index being filled.
#[async_trait]
pub trait Rebuild: Send {
    async fn add(&mut self, courses: &[Course]) -> Result<(), SearchError>;

    /// Swaps the replacement in and records how far it followed the catalog.
    async fn finish(self: Box<Self>, watermark: Watermark) -> Result<(), SearchError>;
}

/// A course as an index stores it, to answer without the database.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredCourse {
    id: i64,
    subject: String,
    section: String,
    title: String,
    department: String,
    professor: String,
    credits: u8,
    capacity: u32,
    enrolled: u32,
    meetings: Vec<Meeting>,
    years: u8,
    own_department_only: bool,
    is_open: bool,
}

impl From<&Course> for StoredCourse {
    fn from(course: &Course) -> StoredCourse {
        let spec = &course.spec;
        StoredCourse {
            id: course.id.0,
            subject: spec.code.subject().to_owned(),
            section: spec.code.section().to_owned(),
            title: spec.title.clone(),
            department: spec.department.clone(),
            professor: spec.professor.clone(),
            credits: spec.credits.get(),
            capacity: spec.capacity,
            enrolled: course.enrolled,
            meetings: spec.meetings.clone(),
            years: spec.restrictions.years.map_or(0, YearSet::bits),
            own_department_only: spec.restrictions.own_department_only,
            is_open: spec.is_open,
        }
    }
}

impl StoredCourse {
    pub(crate) fn into_course(self) -> Option<Course> {
        Some(Course {
            id: CourseId(self.id),
            spec: CourseSpec {
                code: CourseCode::from_parts(&self.subject, &self.section)?,
                title: self.title,
                department: self.department,
                professor: self.professor,
                credits: Credits::new(self.credits.into())?,
                capacity: self.capacity,
                meetings: self.meetings,
                restrictions: Restrictions {
                    years: match self.years {
                        0 => None,
                        bits => Some(YearSet::from_bits(bits)?),
                    },
                    own_department_only: self.own_department_only,
                },
                is_open: self.is_open,
            },
            enrolled: self.enrolled,
        })
    }
}

/// A course code's place in code order as a number, so an index can sort by it: the subject
/// (2–4 letters and 3–4 digits, at most 8 characters) in base 37 padded to 8 places, then the
/// two-digit section. Digits sort before letters and a shorter subject before a longer one,
/// as `ORDER BY subject, section` does.
pub fn code_order(course: &Course) -> u64 {
    let code = &course.spec.code;
    let mut order = 0u64;
    let mut chars = code.subject().bytes();
    for _ in 0..8 {
        let digit = match chars.next() {
            None => 0,
            Some(b @ b'0'..=b'9') => u64::from(b - b'0') + 1,
            Some(b @ b'A'..=b'Z') => u64::from(b - b'A') + 11,
            Some(_) => 36,
        };
        order = order * 37 + digit;
    }
    order * 100 + code.section().parse::<u64>().unwrap_or(99)
}

/// Turns hits into autocomplete entries: a code when the text is the start of the hit's code,
/// a professor when it is the start of the name, else the title; each text once.
pub(crate) fn suggestions<'a>(
    text: &SearchText,
    courses: impl Iterator<Item = &'a Course>,
    limit: usize,
) -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = Vec::new();
    for course in courses {
        let spec = &course.spec;
        let code = spec.code.to_string();
        let suggestion = if text::code_forms(&code)
            .iter()
            .any(|form| form.starts_with(&text.compact))
        {
            Suggestion {
                kind: SuggestionKind::Code,
                text: format!("{code} {}", spec.title),
                course_id: Some(course.id),
            }
        } else if text::normalize(&spec.professor)
            .replace(' ', "")
            .starts_with(&text.compact)
        {
            Suggestion {
                kind: SuggestionKind::Professor,
                text: spec.professor.clone(),
                course_id: None,
            }
        } else {
            Suggestion {
                kind: SuggestionKind::Title,
                text: spec.title.clone(),
                course_id: None,
            }
        };
        if !out
            .iter()
            .any(|s| s.kind == suggestion.kind && s.text == suggestion.text)
        {
            out.push(suggestion);
        }
        if out.len() == limit {
            break;
        }
    }
    out
}

/// The subject and section a [`code_order`] was made from.
pub fn code_of_order(order: u64) -> Option<(String, String)> {
    let section = order % 100;
    let mut rest = order / 100;
    let mut subject = Vec::with_capacity(8);
    for _ in 0..8 {
        let digit = (rest % 37) as u8;
        rest /= 37;
        match digit {
            0 => {}
            1..=10 => subject.push(b'0' + digit - 1),
            11..=36 => subject.push(b'A' + digit - 11),
            _ => return None,
        }
    }
    if rest != 0 || subject.is_empty() {
        return None;
    }
    subject.reverse();
    Some((String::from_utf8(subject).ok()?, format!("{section:02}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CourseCode, CourseSpec, Restrictions};

    fn course(code: &str) -> Course {
        Course {
            id: CourseId(1),
            spec: CourseSpec {
                code: CourseCode::parse(code).unwrap(),
                title: "t".into(),
                department: "d".into(),
                professor: "p".into(),
                credits: Credits::new(3).unwrap(),
                capacity: 1,
                meetings: vec![],
                restrictions: Restrictions::default(),
                is_open: true,
            },
            enrolled: 0,
        }
    }

    #[test]
    fn code_order_is_subject_then_section() {
        let codes = [
            "CS101-01",
            "CS101-02",
            "CS1010-01",
            "CSE101-01",
            "CSE2010-01",
            "CSE2010-02",
            "CSE2011-01",
            "CSEA101-01",
            "EEE1001-01",
        ];
        let orders: Vec<u64> = codes.iter().map(|c| code_order(&course(c))).collect();
        let mut sorted = orders.clone();
        sorted.sort_unstable();
        assert_eq!(orders, sorted, "codes in subject, section order");
        sorted.dedup();
        assert_eq!(sorted.len(), codes.len());
        for code in codes {
            let (subject, section) = code_of_order(code_order(&course(code))).unwrap();
            assert_eq!(format!("{subject}-{section}"), code);
        }
    }

    #[test]
    fn a_cursor_reads_back_and_garbage_does_not() {
        let rank = Rank {
            points: 310,
            order: 12345,
            id: 77,
        };
        assert_eq!(Rank::from_cursor(&rank.cursor()), Some(rank));
        for bad in ["", "xyz", "MS4x", &"A".repeat(100), "MS4xLjIuMy40"] {
            assert_eq!(Rank::from_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn after_a_cursor_is_fewer_points_or_later_code() {
        let at = |points, order, id| Rank { points, order, id };
        let cursor = at(100, 50, 5);
        assert!(at(99, 0, 0).is_after(&cursor));
        assert!(at(100, 51, 0).is_after(&cursor));
        assert!(at(100, 50, 6).is_after(&cursor));
        assert!(!at(100, 50, 5).is_after(&cursor));
        assert!(!at(100, 49, 9).is_after(&cursor));
        assert!(!at(101, 99, 9).is_after(&cursor));
    }
}
