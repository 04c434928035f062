//! The search contract as tests: each backend runs this same suite through [`contract_tests!`],
//! on the same Korean catalog, with the same relevance table.

use std::sync::Arc;

use async_trait::async_trait;

use super::relevance::{CASES, CATALOG, Expect};
use super::*;
use crate::domain::{CourseCode, CourseSpec, Meeting, Restrictions};

/// A backend under test.
#[async_trait]
pub(crate) trait Harness: Send + Sync {
    /// Whether the backend is a full-text engine (the SQL baseline is not: it has no 초성, no
    /// typo tolerance, no words across scripts).
    fn full_text(&self) -> bool {
        true
    }
    /// An index holding exactly these courses, and the courses as stored (with their ids).
    async fn index(&self, specs: &[CourseSpec]) -> (Arc<dyn SearchIndex>, Vec<Course>);
    /// Adds new courses or replaces existing ones (same id) in the index made last, as the
    /// sync would; returns them as stored.
    async fn change(&self, courses: &[Course], new: &[CourseSpec]) -> Vec<Course>;
    /// Takes every seat of `course`, as enrollments committing would, where the backend reads
    /// seats: the live counter `seats`, or the database.
    async fn fill(&self, course: &Course, seats: &SeatBoard);
}

/// One `#[tokio::test]` per contract test, in module `$backend`, each with a fresh harness.
/// With `when "VAR"` the tests run only where the environment variable `VAR` is set (for a
/// server our machines cannot run: Elasticsearch), and say so where it is not.
macro_rules! contract_tests {
    ($backend:ident, $harness:expr) => {
        contract_tests!(@module $backend, None::<&str>, $harness);
    };
    ($backend:ident, $harness:expr, when $var:literal) => {
        contract_tests!(@module $backend, Some($var), $harness);
    };
    (@module $backend:ident, $var:expr, $harness:expr) => {
        mod $backend {
            use super::*;
            contract_tests!(@each $var, $harness;
                the_relevance_table_holds,
                filters_narrow_and_facets_count_the_rest,
                cursor_pages_stay_stable_while_courses_change,
                seats_come_from_the_live_counter,
                a_course_is_read_by_id_with_live_seats,
                suggestions_complete_titles_codes_and_professors,
                hostile_queries_find_nothing_and_never_fail,
                numbered_pages_skip_in_rank_order,
            );
        }
    };
    (@each $var:expr, $harness:expr; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() {
                if let Some(var) = $var {
                    if std::env::var_os(var).is_none() {
                        eprintln!("{var} is not set: this backend's contract is not run");
                        return;
                    }
                }
                let harness = $harness.await;
                $crate::search::contract::$test(&harness).await;
            }
        )*
    };
}
pub(crate) use contract_tests;

fn spec(
    code: &str,
    title: &str,
    department: &str,
    professor: &str,
    credits: u8,
    day: Weekday,
) -> CourseSpec {
    CourseSpec {
        code: CourseCode::parse(code).expect("a code"),
        title: title.into(),
        department: department.into(),
        professor: professor.into(),
        credits: Credits::new(credits.into()).expect("credits"),
        capacity: 2,
        meetings: vec![Meeting {
            weekday: day,
            start_min: 540,
            end_min: 615,
            room: "공학관 101".into(),
        }],
        restrictions: Restrictions::default(),
        is_open: true,
    }
}

/// A stored course of 컴퓨터공학과, 3 credits, 10 seats, on Monday morning: for the backends'
/// own tests.
pub(crate) fn course(id: i64, code: &str, title: &str, professor: &str) -> Course {
    let mut spec = spec(code, title, "컴퓨터공학과", professor, 3, Weekday::Mon);
    spec.capacity = 10;
    Course {
        id: CourseId(id),
        spec,
        enrolled: 0,
    }
}

fn catalog() -> Vec<CourseSpec> {
    CATALOG
        .iter()
        .map(|&(code, title, department, professor, credits, day)| {
            spec(code, title, department, professor, credits, day)
        })
        .collect()
}

fn request(q: &str) -> SearchRequest {
    SearchRequest {
        facets: false,
        ..SearchRequest::first_page(q, 20)
    }
}

fn codes(found: &SearchResults) -> Vec<String> {
    found
        .hits
        .iter()
        .map(|h| h.course.spec.code.to_string())
        .collect()
}

pub(crate) async fn the_relevance_table_holds(harness: &dyn Harness) {
    assert!(CASES.len() >= 40);
    let (index, _) = harness.index(&catalog()).await;
    let seats = Arc::new(SeatBoard::default());
    let mut wrong = Vec::new();
    let mut asked = 0;
    for &(q, expect, full_text) in CASES {
        if full_text && !harness.full_text() {
            continue;
        }
        asked += 1;
        let found = index.search(&request(q), &seats).await.expect("a search");
        let got = codes(&found);
        let ok = match expect {
            Expect::Exactly(want) => got == want && found.total == want.len() as u64,
            Expect::Starts(want) => got.len() >= want.len() && got[..want.len()] == *want,
        };
        if !ok {
            wrong.push(format!("{q:?}: got {got:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "relevance cases failed:\n{}",
        wrong.join("\n")
    );
    eprintln!(
        "{asked} of {} relevance cases asked, all passed",
        CASES.len()
    );
}

pub(crate) async fn filters_narrow_and_facets_count_the_rest(harness: &dyn Harness) {
    let (index, _) = harness.index(&catalog()).await;
    let seats = Arc::new(SeatBoard::default());
    let mut search = request("");
    search.facets = true;
    let all = index.search(&search, &seats).await.unwrap();
    assert_eq!(all.total, CATALOG.len() as u64);
    let facets = all.facets.clone().expect("facets");
    assert_eq!(facets.department[0], ("컴퓨터공학과".into(), 21));
    assert_eq!(facets.credits, [(2, 5), (3, CATALOG.len() as u64 - 5)]);
    assert_eq!(
        facets.weekday.iter().map(|(_, n)| n).sum::<u64>(),
        CATALOG.len() as u64
    );

    search.text = SearchText::parse("프로그래밍").unwrap();
    search.filter.credits = Credits::new(2);
    search.filter.weekday = Some(Weekday::Thu);
    let found = index.search(&search, &seats).await.unwrap();
    assert_eq!(codes(&found), ["CSE1020-01"]);
    let facets = found.facets.expect("facets");
    // Each facet ignores its own filter: Wednesday's C프로그래밍 is one click away.
    assert_eq!(facets.weekday, [(Weekday::Wed, 1), (Weekday::Thu, 1)]);
    assert_eq!(facets.credits, [(2, 1)]);
    assert_eq!(facets.department, [("컴퓨터공학과".into(), 1)]);

    let mut by_department = request("");
    by_department.filter.department = Some("경영학과".into());
    let found = index.search(&by_department, &seats).await.unwrap();
    assert_eq!(codes(&found), ["BUS1010-01", "BUS2010-01", "BUS3010-01"]);
    by_department.filter.department = Some("없는학과".into());
    assert_eq!(index.search(&by_department, &seats).await.unwrap().total, 0);
}

pub(crate) async fn cursor_pages_stay_stable_while_courses_change(harness: &dyn Harness) {
    let (index, courses) = harness.index(&catalog()).await;
    let seats = Arc::new(SeatBoard::default());
    let mut page = request("");
    page.limit = 10;
    let first = index.search(&page, &seats).await.unwrap();
    let mut seen = codes(&first);
    // Meanwhile a course that sorts first is added, and one already seen is renamed.
    let renamed = courses
        .iter()
        .find(|c| c.spec.code.to_string() == seen[1])
        .cloned()
        .unwrap();
    let mut edited = renamed.clone();
    edited.spec.title = "새 이름".into();
    harness
        .change(
            &[edited],
            &[spec(
                "AAA1000-01",
                "새 과목",
                "교양학부",
                "신입",
                1,
                Weekday::Sat,
            )],
        )
        .await;
    let mut cursor = first.hits.last().map(|h| h.rank);
    loop {
        page.window = Window::After(cursor);
        let next = index.search(&page, &seats).await.unwrap();
        if next.hits.is_empty() {
            break;
        }
        seen.extend(codes(&next));
        cursor = next.hits.last().map(|h| h.rank);
    }
    let mut expected: Vec<String> = CATALOG.iter().map(|c| c.0.to_owned()).collect();
    expected.sort();
    assert_eq!(
        seen, expected,
        "every course once, in code order, none skipped"
    );
}

pub(crate) async fn seats_come_from_the_live_counter(harness: &dyn Harness) {
    let (index, courses) = harness.index(&catalog()).await;
    let seats = Arc::new(SeatBoard::default());
    let full = courses
        .iter()
        .find(|c| c.spec.code.to_string() == "CSE2010-01")
        .unwrap();
    let mut open = request("자료구조");
    open.filter.has_seats = true;
    open.facets = true;
    let found = index.search(&open, &seats).await.unwrap();
    assert_eq!(found.total, 4);
    assert_eq!(found.hits[0].course.seats_left(), 2);

    // The course fills: no reindex, and the next search knows.
    harness.fill(full, &seats).await;
    let found = index.search(&open, &seats).await.unwrap();
    assert_eq!(codes(&found), ["CSE2010-02", "CSE2020-01", "CSE3010-01"]);
    let mut all = request("자료구조");
    all.facets = true;
    let found = index.search(&all, &seats).await.unwrap();
    assert_eq!(found.hits[0].course.id, full.id);
    assert_eq!(found.hits[0].course.enrolled, 2);
    assert_eq!(found.hits[0].course.seats_left(), 0);
}

pub(crate) async fn a_course_is_read_by_id_with_live_seats(harness: &dyn Harness) {
    let (index, courses) = harness.index(&catalog()).await;
    let seats = Arc::new(SeatBoard::default());
    let wanted = &courses[courses.len() / 2];
    let read = index
        .course(wanted.id, &seats)
        .await
        .unwrap()
        .expect("held");
    assert_eq!(
        (read.id, &read.spec.code, &read.spec.title, read.enrolled),
        (wanted.id, &wanted.spec.code, &wanted.spec.title, 0)
    );
    harness.fill(wanted, &seats).await;
    let read = index
        .course(wanted.id, &seats)
        .await
        .unwrap()
        .expect("held");
    assert_eq!(read.seats_left(), 0, "seats from the live counter");
    let beyond = courses.iter().map(|c| c.id.0).max().unwrap() + 1_000;
    for unknown in [beyond, 0, -wanted.id.0] {
        assert!(
            index
                .course(CourseId(unknown), &seats)
                .await
                .unwrap()
                .is_none()
        );
    }
}

pub(crate) async fn suggestions_complete_titles_codes_and_professors(harness: &dyn Harness) {
    let (index, _) = harness.index(&catalog()).await;
    let suggest = |q: &'static str| {
        let index = index.clone();
        async move {
            let text = SearchText::parse(q).unwrap().unwrap();
            index
                .suggest(&text, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|s| (s.kind, s.text))
                .collect::<Vec<_>>()
        }
    };
    use SuggestionKind::*;
    assert_eq!(
        suggest("자료").await,
        [
            (Title, "자료구조".to_owned()),
            (Title, "자료구조론".to_owned()),
            (Title, "고급 자료구조".to_owned())
        ]
    );
    assert_eq!(
        suggest("cse20").await,
        [
            (Code, "CSE2010-01 자료구조".to_owned()),
            (Code, "CSE2010-02 자료구조".to_owned()),
            (Code, "CSE2020-01 자료구조론".to_owned()),
            (Code, "CSE2030-01 알고리즘".to_owned()),
            (Code, "CSE2040-01 이산수학".to_owned()),
        ]
    );
    assert_eq!(suggest("윤서").await, [(Professor, "윤서연".to_owned())]);
    let text = SearchText::parse("김").unwrap().unwrap();
    assert!(index.suggest(&text, 2).await.unwrap().len() <= 2);
}

pub(crate) async fn hostile_queries_find_nothing_and_never_fail(harness: &dyn Harness) {
    let (index, _) = harness.index(&catalog()).await;
    let seats = Arc::new(SeatBoard::default());
    for q in [
        "*?~^\"():!",
        "AND OR NOT",
        "\"자료구조",
        "자료구조~2",
        "title:자료구조",
        "(((((",
        "\\",
        "' OR 1=1 --",
        "%",
        "_",
        "ㄱ",
        "a b c d e f g h",
        "🙂",
    ] {
        let text = SearchText::parse(q).expect("a valid text");
        let mut search = request("");
        search.text = text.clone();
        search.facets = true;
        let found = index.search(&search, &seats).await.expect(q);
        assert!(found.total <= CATALOG.len() as u64, "{q}");
        if let Some(text) = &text {
            index.suggest(text, 10).await.expect(q);
        }
    }
    for q in ["*?~^\"():!", "AND OR NOT", "'(', ')'", "🙂"] {
        let found = index.search(&request(q), &seats).await.unwrap();
        assert_eq!(found.total, 0, "{q} finds nothing");
    }
}

pub(crate) async fn numbered_pages_skip_in_rank_order(harness: &dyn Harness) {
    let (index, _) = harness.index(&catalog()).await;
    let seats = Arc::new(SeatBoard::default());
    let mut all = request("");
    all.limit = 100;
    let every = codes(&index.search(&all, &seats).await.unwrap());
    let mut page = request("");
    page.limit = 7;
    page.window = Window::Skip(14);
    let third = index.search(&page, &seats).await.unwrap();
    assert_eq!(codes(&third), every[14..21]);
    assert_eq!(third.total, CATALOG.len() as u64);
    page.window = Window::Skip(1000);
    assert!(index.search(&page, &seats).await.unwrap().hits.is_empty());
}
