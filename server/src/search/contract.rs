//! The search contract as tests: each backend runs this same suite through [`contract_tests!`],
//! on the same Korean catalog, with the same relevance table.

use std::sync::Arc;

use async_trait::async_trait;

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
macro_rules! contract_tests {
    ($backend:ident, $harness:expr) => {
        mod $backend {
            use super::*;
            contract_tests!(@each $harness;
                the_relevance_table_holds,
                filters_narrow_and_facets_count_the_rest,
                cursor_pages_stay_stable_while_courses_change,
                seats_come_from_the_live_counter,
                suggestions_complete_titles_codes_and_professors,
                hostile_queries_find_nothing_and_never_fail,
                numbered_pages_skip_in_rank_order,
            );
        }
    };
    (@each $harness:expr; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() {
                let harness = $harness.await;
                $crate::search::contract::$test(&harness).await;
            }
        )*
    };
}
pub(crate) use contract_tests;

/// The catalog every backend is tested on: (code, title, department, professor, credits,
/// weekday).
const CATALOG: &[(&str, &str, &str, &str, u8, Weekday)] = &[
    (
        "CSE2010-01",
        "자료구조",
        "컴퓨터공학과",
        "김철수",
        3,
        Weekday::Mon,
    ),
    (
        "CSE2010-02",
        "자료구조",
        "컴퓨터공학과",
        "이영희",
        3,
        Weekday::Tue,
    ),
    (
        "CSE3010-01",
        "고급 자료구조",
        "컴퓨터공학과",
        "박민수",
        3,
        Weekday::Wed,
    ),
    (
        "CSE2020-01",
        "자료구조론",
        "컴퓨터공학과",
        "정수진",
        3,
        Weekday::Thu,
    ),
    (
        "CSE3020-01",
        "운영체제",
        "컴퓨터공학과",
        "최성민",
        3,
        Weekday::Mon,
    ),
    (
        "CSE4020-01",
        "고급 운영체제 설계",
        "컴퓨터공학과",
        "김철수",
        3,
        Weekday::Fri,
    ),
    (
        "CSE3030-01",
        "데이터베이스",
        "컴퓨터공학과",
        "한지우",
        3,
        Weekday::Tue,
    ),
    (
        "CSE4030-01",
        "데이터베이스 시스템",
        "컴퓨터공학과",
        "한지우",
        3,
        Weekday::Wed,
    ),
    (
        "CSE3040-01",
        "컴퓨터 네트워크",
        "컴퓨터공학과",
        "오세훈",
        3,
        Weekday::Thu,
    ),
    (
        "CSE2030-01",
        "알고리즘",
        "컴퓨터공학과",
        "윤서연",
        3,
        Weekday::Mon,
    ),
    (
        "CSE4040-01",
        "알고리즘 설계 및 분석",
        "컴퓨터공학과",
        "윤서연",
        3,
        Weekday::Tue,
    ),
    (
        "CSE1010-01",
        "C프로그래밍",
        "컴퓨터공학과",
        "강동원",
        2,
        Weekday::Wed,
    ),
    (
        "CSE1020-01",
        "파이썬 프로그래밍",
        "컴퓨터공학과",
        "강동원",
        2,
        Weekday::Thu,
    ),
    (
        "CSE4050-01",
        "Introduction to Machine Learning",
        "컴퓨터공학과",
        "Kim Minjun",
        3,
        Weekday::Fri,
    ),
    (
        "CSE4060-01",
        "Operating Systems",
        "컴퓨터공학과",
        "Lee Sujin",
        3,
        Weekday::Mon,
    ),
    (
        "CSE4070-01",
        "Computer Networks",
        "컴퓨터공학과",
        "Park Jiho",
        3,
        Weekday::Tue,
    ),
    (
        "CSE3050-01",
        "인공지능",
        "컴퓨터공학과",
        "임하늘",
        3,
        Weekday::Wed,
    ),
    (
        "CSE4080-01",
        "딥러닝",
        "컴퓨터공학과",
        "임하늘",
        3,
        Weekday::Thu,
    ),
    (
        "CSE3060-01",
        "컴파일러",
        "컴퓨터공학과",
        "송지훈",
        3,
        Weekday::Fri,
    ),
    (
        "CSE2040-01",
        "이산수학",
        "컴퓨터공학과",
        "장미란",
        3,
        Weekday::Mon,
    ),
    (
        "CSE4090-01",
        "데이터베이스 캡스톤디자인",
        "컴퓨터공학과",
        "한지우",
        3,
        Weekday::Sat,
    ),
    (
        "EEE2010-01",
        "회로이론",
        "전자공학과",
        "김영수",
        3,
        Weekday::Tue,
    ),
    (
        "EEE3010-01",
        "전자회로",
        "전자공학과",
        "김영수",
        3,
        Weekday::Wed,
    ),
    (
        "EEE3020-01",
        "디지털 신호처리",
        "전자공학과",
        "배수지",
        3,
        Weekday::Thu,
    ),
    (
        "EEE4010-01",
        "5G이동통신시스템",
        "전자공학과",
        "조민호",
        3,
        Weekday::Fri,
    ),
    (
        "MAT1010-01",
        "미적분학",
        "수학과",
        "서지원",
        3,
        Weekday::Mon,
    ),
    (
        "MAT2010-01",
        "선형대수학",
        "수학과",
        "서지원",
        3,
        Weekday::Tue,
    ),
    (
        "MAT3010-01",
        "확률과 통계",
        "수학과",
        "노승우",
        3,
        Weekday::Wed,
    ),
    ("MAT2020-01", "정수론", "수학과", "노승우", 3, Weekday::Thu),
    (
        "STA2010-01",
        "통계학개론",
        "통계학과",
        "노승우",
        3,
        Weekday::Fri,
    ),
    (
        "BUS1010-01",
        "경영학원론",
        "경영학과",
        "홍길동",
        3,
        Weekday::Mon,
    ),
    (
        "BUS2010-01",
        "마케팅원론",
        "경영학과",
        "신예은",
        3,
        Weekday::Tue,
    ),
    (
        "BUS3010-01",
        "재무관리",
        "경영학과",
        "문태호",
        3,
        Weekday::Wed,
    ),
    (
        "MIS3010-01",
        "IT프로젝트관리",
        "경영정보학과",
        "유재석",
        3,
        Weekday::Thu,
    ),
    (
        "ECO2010-01",
        "전략경제",
        "경제학과",
        "차은우",
        3,
        Weekday::Fri,
    ),
    (
        "CHE2010-01",
        "유기화학",
        "화학공학과",
        "박서준",
        3,
        Weekday::Mon,
    ),
    (
        "CHE3010-01",
        "화공열역학",
        "화학공학과",
        "박서준",
        3,
        Weekday::Tue,
    ),
    (
        "MEC2010-01",
        "열역학",
        "기계공학과",
        "김태리",
        3,
        Weekday::Wed,
    ),
    (
        "MEC2020-01",
        "유체역학",
        "기계공학과",
        "김태리",
        3,
        Weekday::Thu,
    ),
    (
        "PHY1010-01",
        "일반물리학",
        "물리학과",
        "이도현",
        3,
        Weekday::Fri,
    ),
    (
        "GEN1010-01",
        "글쓰기의 기초",
        "교양학부",
        "이수민",
        2,
        Weekday::Mon,
    ),
    (
        "GEN1020-01",
        "대학영어",
        "교양학부",
        "Smith John",
        2,
        Weekday::Tue,
    ),
    (
        "GEN1030-01",
        "대학영어회화",
        "교양학부",
        "Brown Emily",
        2,
        Weekday::Wed,
    ),
    (
        "GEN2010-01",
        "철학의 이해",
        "교양학부",
        "권지용",
        3,
        Weekday::Thu,
    ),
    (
        "GEN2020-01",
        "현대사회와 윤리",
        "교양학부",
        "권지용",
        3,
        Weekday::Fri,
    ),
];

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

fn catalog() -> Vec<CourseSpec> {
    CATALOG
        .iter()
        .map(|&(code, title, department, professor, credits, day)| {
            spec(code, title, department, professor, credits, day)
        })
        .collect()
}

/// How a relevance case is judged.
#[derive(Clone, Copy)]
enum Expect {
    /// The hits begin with these codes, in this order.
    Starts(&'static [&'static str]),
    /// The hits are exactly these codes, in this order.
    Exactly(&'static [&'static str]),
}

/// A case any backend must pass.
const ANY: bool = false;
/// A case only a full-text engine passes: 초성, typos, words across scripts.
const FULL_TEXT: bool = true;

/// What a student types, what must come first, and whether only an engine can do it. At least
/// 40 cases: compounds, 초성, prefixes, codes, professors, English with typos, mixed Korean and
/// English.
const RELEVANCE: &[(&str, Expect, bool)] = &[
    // An exact title first, then titles starting with it, then titles holding it as a word.
    (
        "자료구조",
        Expect::Exactly(&["CSE2010-01", "CSE2010-02", "CSE2020-01", "CSE3010-01"]),
        ANY,
    ),
    (
        "데이터베이스",
        Expect::Exactly(&["CSE3030-01", "CSE4030-01", "CSE4090-01"]),
        ANY,
    ),
    (
        "알고리즘",
        Expect::Exactly(&["CSE2030-01", "CSE4040-01"]),
        ANY,
    ),
    (
        "대학영어",
        Expect::Exactly(&["GEN1020-01", "GEN1030-01"]),
        ANY,
    ),
    (
        "열역학",
        Expect::Exactly(&["MEC2010-01", "CHE3010-01"]),
        ANY,
    ),
    ("통계", Expect::Exactly(&["STA2010-01", "MAT3010-01"]), ANY),
    ("회로", Expect::Exactly(&["EEE2010-01", "EEE3010-01"]), ANY),
    // A compound's parts find it.
    (
        "구조",
        Expect::Exactly(&["CSE2010-01", "CSE2010-02", "CSE2020-01", "CSE3010-01"]),
        ANY,
    ),
    (
        "베이스",
        Expect::Exactly(&["CSE3030-01", "CSE4030-01", "CSE4090-01"]),
        ANY,
    ),
    (
        "역학",
        Expect::Exactly(&["CHE3010-01", "MEC2010-01", "MEC2020-01"]),
        ANY,
    ),
    ("영어", Expect::Exactly(&["GEN1020-01", "GEN1030-01"]), ANY),
    ("이동통신", Expect::Exactly(&["EEE4010-01"]), ANY),
    ("캡스톤", Expect::Exactly(&["CSE4090-01"]), ANY),
    ("신호처리", Expect::Exactly(&["EEE3020-01"]), ANY),
    ("원론", Expect::Exactly(&["BUS1010-01", "BUS2010-01"]), ANY),
    // As typed so far.
    (
        "운영체",
        Expect::Exactly(&["CSE3020-01", "CSE4020-01"]),
        ANY,
    ),
    ("선형대", Expect::Exactly(&["MAT2010-01"]), ANY),
    ("경영", Expect::Starts(&["BUS1010-01"]), ANY),
    ("IT프로젝", Expect::Exactly(&["MIS3010-01"]), ANY),
    ("글쓰", Expect::Exactly(&["GEN1010-01"]), ANY),
    ("정수", Expect::Exactly(&["MAT2020-01", "CSE2020-01"]), ANY),
    // 초성, whole and mixed.
    (
        "ㅈㄹㄱㅈ",
        Expect::Exactly(&[
            "CSE2010-01",
            "CSE2010-02",
            "CSE2020-01",
            "CSE3010-01",
            "ECO2010-01",
        ]),
        FULL_TEXT,
    ),
    (
        "자ㄹ구조",
        Expect::Exactly(&["CSE2010-01", "CSE2010-02", "CSE2020-01", "CSE3010-01"]),
        FULL_TEXT,
    ),
    (
        "ㅇㅇㅊㅈ",
        Expect::Exactly(&["CSE3020-01", "CSE4020-01"]),
        FULL_TEXT,
    ),
    (
        "ㄷㅇㅌㅂㅇㅅ",
        Expect::Exactly(&["CSE3030-01", "CSE4030-01", "CSE4090-01"]),
        FULL_TEXT,
    ),
    ("ㅎㄹㅇㄹ", Expect::Exactly(&["EEE2010-01"]), FULL_TEXT),
    ("ㅈㄹ경제", Expect::Exactly(&["ECO2010-01"]), FULL_TEXT),
    // Codes, typed loosely.
    (
        "CSE2010",
        Expect::Exactly(&["CSE2010-01", "CSE2010-02"]),
        ANY,
    ),
    (
        "cse 2010",
        Expect::Exactly(&["CSE2010-01", "CSE2010-02"]),
        ANY,
    ),
    (
        "cse-2010",
        Expect::Exactly(&["CSE2010-01", "CSE2010-02"]),
        ANY,
    ),
    ("cse2010-02", Expect::Starts(&["CSE2010-02"]), ANY),
    (
        "ＣＳＥ２０１０",
        Expect::Exactly(&["CSE2010-01", "CSE2010-02"]),
        ANY,
    ),
    (
        "2010",
        Expect::Starts(&[
            "BUS2010-01",
            "CHE2010-01",
            "CSE2010-01",
            "CSE2010-02",
            "ECO2010-01",
        ]),
        ANY,
    ),
    ("mis30", Expect::Exactly(&["MIS3010-01"]), ANY),
    // Professors, alone and with a title.
    (
        "김철수",
        Expect::Exactly(&["CSE2010-01", "CSE4020-01"]),
        ANY,
    ),
    (
        "김",
        Expect::Exactly(&[
            "CSE2010-01",
            "CSE4020-01",
            "EEE2010-01",
            "EEE3010-01",
            "MEC2010-01",
            "MEC2020-01",
        ]),
        ANY,
    ),
    (
        "윤서연 알고리즘",
        Expect::Exactly(&["CSE2030-01", "CSE4040-01"]),
        ANY,
    ),
    ("인공지능 임하늘", Expect::Exactly(&["CSE3050-01"]), ANY),
    ("smith", Expect::Exactly(&["GEN1020-01"]), ANY),
    // English, in any case and order, with typos.
    ("machine learning", Expect::Exactly(&["CSE4050-01"]), ANY),
    ("Learning MACHINE", Expect::Exactly(&["CSE4050-01"]), ANY),
    (
        "machne learning",
        Expect::Exactly(&["CSE4050-01"]),
        FULL_TEXT,
    ),
    (
        "opreating systms",
        Expect::Exactly(&["CSE4060-01"]),
        FULL_TEXT,
    ),
    ("operating", Expect::Exactly(&["CSE4060-01"]), ANY),
    ("network", Expect::Exactly(&["CSE4070-01"]), ANY),
    ("introduction", Expect::Exactly(&["CSE4050-01"]), ANY),
    // Korean and English mixed.
    ("C프로그래밍", Expect::Exactly(&["CSE1010-01"]), FULL_TEXT),
    (
        "프로그래밍",
        Expect::Exactly(&["CSE1010-01", "CSE1020-01"]),
        FULL_TEXT,
    ),
    ("5G", Expect::Exactly(&["EEE4010-01"]), ANY),
    ("5G이동통신시스템", Expect::Exactly(&["EEE4010-01"]), ANY),
    // Nothing of the kind.
    ("양자역학", Expect::Exactly(&[]), ANY),
    ("ㅋㅋㅋ", Expect::Exactly(&[]), ANY),
    ("xyzzy", Expect::Exactly(&[]), ANY),
];

fn request(q: &str) -> SearchRequest {
    SearchRequest {
        text: SearchText::parse(q).expect("a valid text"),
        filter: SearchFilter::default(),
        window: Window::After(None),
        limit: 20,
        facets: false,
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
    assert!(RELEVANCE.len() >= 40);
    let (index, _) = harness.index(&catalog()).await;
    let seats = Arc::new(SeatBoard::default());
    let mut wrong = Vec::new();
    let mut asked = 0;
    for &(q, expect, full_text) in RELEVANCE {
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
        RELEVANCE.len()
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
    assert_eq!(facets.department[0], ("컴퓨터공학과".to_owned(), 21));
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
    assert_eq!(facets.department, [("컴퓨터공학과".to_owned(), 1)]);

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
