//! Courses and their weekly meetings.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{FieldError, parse_text};

/// A course's id in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CourseId(pub i64);

impl fmt::Display for CourseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A teaching day. Korean universities hold classes Monday to Saturday.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
}

impl Weekday {
    /// Every teaching day, Monday first.
    pub const ALL: [Weekday; 6] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
    ];

    /// Monday is 0, Saturday 5: the number the stores keep.
    pub fn index(self) -> u8 {
        self as u8
    }

    /// The day stored as `index`, if there is one.
    pub fn from_index(index: u8) -> Option<Weekday> {
        Self::ALL.get(usize::from(index)).copied()
    }

    /// The one-syllable Korean name used on timetables: 월, 화, 수, 목, 금, 토.
    pub fn korean(self) -> &'static str {
        ["월", "화", "수", "목", "금", "토"][usize::from(self.index())]
    }
}

/// Minutes since midnight at which a day's last class may end.
const END_OF_DAY: u16 = 24 * 60;

/// One weekly class session: a day, a half-open interval of minutes since midnight, and a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meeting {
    pub weekday: Weekday,
    pub start_min: u16,
    pub end_min: u16,
    pub room: String,
}

impl Meeting {
    /// Whether two sessions share a minute. Intervals are half-open, so a class ending at 10:15
    /// and one starting at 10:15 do not clash, while 09:00–10:15 and 10:00–11:15 do.
    pub fn overlaps(&self, other: &Meeting) -> bool {
        self.weekday == other.weekday
            && self.start_min < other.end_min
            && other.start_min < self.end_min
    }

    /// "월 09:00-10:15", as a timetable prints it.
    pub fn label(&self) -> String {
        format!(
            "{} {}-{}",
            self.weekday.korean(),
            clock(self.start_min),
            clock(self.end_min)
        )
    }
}

/// Minutes since midnight as `HH:MM`.
pub fn clock(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Whether any meeting of one schedule overlaps any meeting of the other.
pub fn meetings_clash(a: &[Meeting], b: &[Meeting]) -> bool {
    a.iter().any(|x| b.iter().any(|y| x.overlaps(y)))
}

/// A course code with its section, e.g. `CSE2010-01`: 2–4 capital letters, 3–4 digits, a dash
/// and a two-digit section.
///
/// Kept whole, as written: every page of hits prints and highlights codes. Ordering the whole
/// text is ordering by subject, then section, since every letter and digit sorts after the dash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CourseCode {
    code: String,
}

impl CourseCode {
    /// Parses `CSE2010-01` (lower case letters are accepted and upper-cased).
    pub fn parse(raw: &str) -> Option<CourseCode> {
        let upper = raw.trim().to_ascii_uppercase();
        let (subject, section) = upper.split_once('-')?;
        Self::from_parts(subject, section)
    }

    /// Builds a code from the two columns a store keeps.
    pub fn from_parts(subject: &str, section: &str) -> Option<CourseCode> {
        let letters = subject.bytes().take_while(u8::is_ascii_uppercase).count();
        let digits = &subject[letters..];
        let valid = (2..=4).contains(&letters)
            && (3..=4).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && section.len() == 2
            && section.bytes().all(|b| b.is_ascii_digit());
        valid.then(|| CourseCode {
            code: format!("{subject}-{section}"),
        })
    }

    /// The code with its section, e.g. `CSE2010-01`.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The course without its section, e.g. `CSE2010`.
    pub fn subject(&self) -> &str {
        &self.code[..self.code.len() - 3]
    }

    /// The section, e.g. `01`.
    pub fn section(&self) -> &str {
        &self.code[self.code.len() - 2..]
    }
}

impl fmt::Display for CourseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

/// Credits a course is worth: 1 to 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Credits(u8);

impl Credits {
    /// The credits, if `value` is between 1 and 6.
    pub fn new(value: i64) -> Option<Credits> {
        u8::try_from(value)
            .ok()
            .filter(|v| (1..=6).contains(v))
            .map(Credits)
    }

    /// The number of credits.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// A set of year levels (1 to 6), kept as a bitmask with bit `y` for year `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearSet(u8);

impl YearSet {
    /// The set stored as `bits`; `None` for an empty or out-of-range mask.
    pub fn from_bits(bits: u8) -> Option<YearSet> {
        (bits != 0 && bits & 0b1000_0001 == 0).then_some(YearSet(bits))
    }

    /// The mask a store keeps.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Whether `year` is in the set.
    pub fn contains(self, year: u8) -> bool {
        (1..=6).contains(&year) && self.0 & (1 << year) != 0
    }

    /// The years in ascending order.
    pub fn years(self) -> Vec<u8> {
        (1..=6).filter(|&y| self.contains(y)).collect()
    }
}

/// Who may take a course beyond the common rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Restrictions {
    /// Only these year levels; `None` admits every year.
    pub years: Option<YearSet>,
    /// Only students of the course's own department.
    pub own_department_only: bool,
}

/// The largest section a course may have.
pub const MAX_CAPACITY: u32 = 5_000;
/// The most weekly meetings a course may have.
pub const MAX_MEETINGS: usize = 10;

/// Everything an administrator sets on a course, parsed and valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseSpec {
    pub code: CourseCode,
    pub title: String,
    pub department: String,
    pub professor: String,
    pub credits: Credits,
    pub capacity: u32,
    pub meetings: Vec<Meeting>,
    pub restrictions: Restrictions,
    pub is_open: bool,
}

/// A course as stored: its spec, its id and how many seats are taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Course {
    pub id: CourseId,
    pub spec: CourseSpec,
    pub enrolled: u32,
}

impl Course {
    /// Seats still free (never negative, even if an administrator shrank the course).
    pub fn seats_left(&self) -> u32 {
        self.spec.capacity.saturating_sub(self.enrolled)
    }
}

/// A weekly meeting as a client sends it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingInput {
    pub weekday: Weekday,
    /// Start, in minutes since midnight (09:00 is 540).
    #[schema(minimum = 0, maximum = 1439)]
    pub start_min: i64,
    /// End, in minutes since midnight; after the start.
    #[schema(minimum = 1, maximum = 1440)]
    pub end_min: i64,
    /// 1 to 30 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 30,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub room: String,
}

/// Enrollment restrictions as a client sends them.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictionsInput {
    /// Year levels allowed to enroll (each 1–6, at least one); absent or null for all.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 6, value_type = Option<Vec<YearLevel>>)]
    pub years: Option<Vec<i64>>,
    /// Only students of the course's department may enroll.
    #[serde(default)]
    pub own_department_only: bool,
}

/// A year level as the OpenAPI document states it: an integer from 1 to 6.
pub struct YearLevel;

impl utoipa::PartialSchema for YearLevel {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(6))
            .into()
    }
}

impl ToSchema for YearLevel {}

/// A course as an administrator sends it, before parsing.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseSpecInput {
    /// Course code with section, e.g. `CSE2010-01`: 2–4 letters (any case), 3–4 digits, `-`,
    /// a 2-digit section.
    #[schema(pattern = r"^\s*[A-Za-z]{2,4}[0-9]{3,4}-[0-9]{2}\s*$")]
    pub code: String,
    /// 1 to 100 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub title: String,
    /// 1 to 50 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub department: String,
    /// 1 to 50 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub professor: String,
    #[schema(minimum = 1, maximum = 6)]
    pub credits: i64,
    /// Seats.
    #[schema(minimum = 1, maximum = 5000)]
    pub capacity: i64,
    /// One to ten weekly meetings, each ending after it starts, that do not overlap each other
    /// (the last two are checked by the server: JSON Schema cannot state them).
    #[schema(min_items = 1, max_items = 10)]
    pub meetings: Vec<MeetingInput>,
    #[serde(default)]
    pub restrictions: RestrictionsInput,
    /// Whether students may enroll; defaults to true.
    #[serde(default = "default_open")]
    pub is_open: bool,
}

fn default_open() -> bool {
    true
}

impl CourseSpec {
    /// The input that parses back into this spec: what an edit form starts from.
    pub fn to_input(&self) -> CourseSpecInput {
        CourseSpecInput {
            code: self.code.as_str().to_owned(),
            title: self.title.clone(),
            department: self.department.clone(),
            professor: self.professor.clone(),
            credits: i64::from(self.credits.get()),
            capacity: i64::from(self.capacity),
            meetings: self
                .meetings
                .iter()
                .map(|m| MeetingInput {
                    weekday: m.weekday,
                    start_min: i64::from(m.start_min),
                    end_min: i64::from(m.end_min),
                    room: m.room.clone(),
                })
                .collect(),
            restrictions: RestrictionsInput {
                years: self
                    .restrictions
                    .years
                    .map(|y| y.years().into_iter().map(i64::from).collect()),
                own_department_only: self.restrictions.own_department_only,
            },
            is_open: self.is_open,
        }
    }

    /// Parses an administrator's input, collecting every problem at once.
    pub fn parse(input: &CourseSpecInput) -> Result<CourseSpec, Vec<FieldError>> {
        let mut errors = Vec::new();
        let code = CourseCode::parse(&input.code);
        if code.is_none() {
            errors.push(FieldError::new(
                "code",
                "과목코드는 CSE2010-01 형식이어야 합니다",
            ));
        }
        let title = parse_text("title", &input.title, 100, &mut errors);
        let department = parse_text("department", &input.department, 50, &mut errors);
        let professor = parse_text("professor", &input.professor, 50, &mut errors);
        let credits = Credits::new(input.credits);
        if credits.is_none() {
            errors.push(FieldError::new("credits", "학점은 1에서 6 사이여야 합니다"));
        }
        let capacity = u32::try_from(input.capacity)
            .ok()
            .filter(|c| (1..=MAX_CAPACITY).contains(c));
        if capacity.is_none() {
            errors.push(FieldError::new(
                "capacity",
                format!("정원은 1에서 {MAX_CAPACITY} 사이여야 합니다"),
            ));
        }
        let meetings = parse_meetings(&input.meetings, &mut errors);
        let restrictions = parse_restrictions(&input.restrictions, &mut errors);
        match (code, credits, capacity) {
            (Some(code), Some(credits), Some(capacity)) if errors.is_empty() => Ok(CourseSpec {
                code,
                title,
                department,
                professor,
                credits,
                capacity,
                meetings,
                restrictions,
                is_open: input.is_open,
            }),
            _ => Err(errors),
        }
    }
}

fn parse_meetings(inputs: &[MeetingInput], errors: &mut Vec<FieldError>) -> Vec<Meeting> {
    if inputs.is_empty() || inputs.len() > MAX_MEETINGS {
        errors.push(FieldError::new(
            "meetings",
            format!("수업 시간은 1개 이상 {MAX_MEETINGS}개 이하여야 합니다"),
        ));
    }
    let mut meetings: Vec<Meeting> = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let field = |name: &str| format!("meetings[{i}].{name}");
        let start = u16::try_from(input.start_min)
            .ok()
            .filter(|&m| m < END_OF_DAY);
        let end = u16::try_from(input.end_min)
            .ok()
            .filter(|&m| m <= END_OF_DAY);
        if start.is_none() {
            errors.push(FieldError::new(
                field("start_min"),
                "시작 시각은 0에서 1439 사이의 분이어야 합니다",
            ));
        }
        if end.is_none() {
            errors.push(FieldError::new(
                field("end_min"),
                "종료 시각은 1에서 1440 사이의 분이어야 합니다",
            ));
        }
        let room = parse_text(&field("room"), &input.room, 30, errors);
        let (Some(start_min), Some(end_min)) = (start, end) else {
            continue;
        };
        if start_min >= end_min {
            errors.push(FieldError::new(
                field("end_min"),
                "종료 시각은 시작 시각보다 늦어야 합니다",
            ));
            continue;
        }
        let meeting = Meeting {
            weekday: input.weekday,
            start_min,
            end_min,
            room,
        };
        if meetings.iter().any(|m| m.overlaps(&meeting)) {
            errors.push(FieldError::new(
                field("start_min"),
                "같은 과목의 수업 시간이 서로 겹칩니다",
            ));
        }
        meetings.push(meeting);
    }
    meetings
}

fn parse_restrictions(input: &RestrictionsInput, errors: &mut Vec<FieldError>) -> Restrictions {
    let years = input.years.as_ref().and_then(|years| {
        let mut bits = 0u8;
        for &year in years {
            match u8::try_from(year).ok().filter(|y| (1..=6).contains(y)) {
                Some(y) => bits |= 1 << y,
                None => errors.push(FieldError::new(
                    "restrictions.years",
                    "학년은 1에서 6 사이여야 합니다",
                )),
            }
        }
        let set = YearSet::from_bits(bits);
        if set.is_none() && errors.is_empty() {
            errors.push(FieldError::new(
                "restrictions.years",
                "학년 제한은 비어 있을 수 없습니다",
            ));
        }
        set
    });
    Restrictions {
        years,
        own_department_only: input.own_department_only,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meeting(weekday: Weekday, start: u16, end: u16) -> Meeting {
        Meeting {
            weekday,
            start_min: start,
            end_min: end,
            room: "공학관 101".into(),
        }
    }

    #[test]
    fn a_spec_survives_its_input() {
        let input = CourseSpecInput {
            code: "cse2010-01".into(),
            title: " 자료구조 ".into(),
            department: "컴퓨터공학과".into(),
            professor: "김민준".into(),
            credits: 3,
            capacity: 40,
            meetings: vec![MeetingInput {
                weekday: Weekday::Tue,
                start_min: 540,
                end_min: 615,
                room: "공학관 101".into(),
            }],
            restrictions: RestrictionsInput {
                years: Some(vec![2, 3]),
                own_department_only: true,
            },
            is_open: false,
        };
        let spec = CourseSpec::parse(&input).expect("valid");
        assert_eq!(CourseSpec::parse(&spec.to_input()).expect("valid"), spec);
        assert_eq!(spec.to_input().code, "CSE2010-01");
        assert_eq!(spec.to_input().restrictions.years, Some(vec![2, 3]));
    }

    #[test]
    fn overlap_is_real_interval_overlap() {
        use Weekday::*;
        let h = |hh: u16, mm: u16| hh * 60 + mm;
        let cases = [
            // (a, b, clash, why)
            (
                (Mon, h(9, 0), h(10, 15)),
                (Mon, h(10, 0), h(11, 15)),
                true,
                "partial overlap",
            ),
            (
                (Mon, h(9, 0), h(10, 15)),
                (Mon, h(10, 15), h(11, 30)),
                false,
                "back to back",
            ),
            (
                (Mon, h(10, 15), h(11, 30)),
                (Mon, h(9, 0), h(10, 15)),
                false,
                "back to back, reversed",
            ),
            (
                (Mon, h(9, 0), h(12, 0)),
                (Mon, h(10, 0), h(11, 0)),
                true,
                "contains",
            ),
            (
                (Mon, h(10, 0), h(11, 0)),
                (Mon, h(9, 0), h(12, 0)),
                true,
                "contained",
            ),
            (
                (Mon, h(9, 0), h(10, 15)),
                (Mon, h(9, 0), h(10, 15)),
                true,
                "identical",
            ),
            (
                (Mon, h(9, 0), h(10, 15)),
                (Tue, h(9, 0), h(10, 15)),
                false,
                "other day",
            ),
            (
                (Sat, h(9, 0), h(9, 1)),
                (Sat, h(9, 0), h(9, 1)),
                true,
                "one minute",
            ),
            (
                (Fri, h(9, 0), h(10, 0)),
                (Fri, h(10, 1), h(11, 0)),
                false,
                "one minute apart",
            ),
        ];
        for ((d1, s1, e1), (d2, s2, e2), clash, why) in cases {
            let (a, b) = (meeting(d1, s1, e1), meeting(d2, s2, e2));
            assert_eq!(a.overlaps(&b), clash, "{why}");
            assert_eq!(b.overlaps(&a), clash, "{why} (symmetric)");
        }
    }

    #[test]
    fn any_meeting_of_either_course_clashes() {
        use Weekday::*;
        let mon_wed = [meeting(Mon, 630, 705), meeting(Wed, 630, 705)];
        let tue_thu = [meeting(Tue, 630, 705), meeting(Thu, 630, 705)];
        let fri_wed = [meeting(Fri, 540, 720), meeting(Wed, 700, 780)];
        assert!(!meetings_clash(&mon_wed, &tue_thu));
        assert!(
            meetings_clash(&mon_wed, &fri_wed),
            "second meetings overlap"
        );
        assert!(!meetings_clash(&tue_thu, &fri_wed));
        assert!(!meetings_clash(&mon_wed, &[]));
    }

    #[test]
    fn course_codes() {
        let cases = [
            ("CSE2010-01", Some("CSE2010-01")),
            ("cse2010-01", Some("CSE2010-01")),
            (" MATH101-12 ", Some("MATH101-12")),
            ("KR1234-99", Some("KR1234-99")),
            ("C2010-01", None),
            ("ABCDE2010-01", None),
            ("CSE20-01", None),
            ("CSE20100-01", None),
            ("CSE2010-1", None),
            ("CSE2010", None),
            ("CSE2010-0A", None),
            ("CSE2010--01", None),
            ("컴공2010-01", None),
            ("", None),
        ];
        for (raw, expected) in cases {
            let parsed = CourseCode::parse(raw).map(|c| c.to_string());
            assert_eq!(parsed.as_deref(), expected, "{raw:?}");
        }
    }

    #[test]
    fn a_code_is_its_subject_and_section_and_sorts_by_them() {
        let code = CourseCode::parse("cse2010-07").unwrap();
        assert_eq!((code.subject(), code.section()), ("CSE2010", "07"));
        assert_eq!(code.as_str(), "CSE2010-07");
        assert_eq!(CourseCode::from_parts("CSE2010", "07"), Some(code));
        let codes = [
            "CS101-02",
            "CS1010-01",
            "CSE101-01",
            "CSE2010-01",
            "CSE2010-02",
            "CSE20100-01",
            "CSEA101-01",
            "EEE1001-01",
            "MATH101-01",
            "MATH1010-01",
        ];
        let parsed: Vec<CourseCode> = codes.iter().filter_map(|c| CourseCode::parse(c)).collect();
        for a in &parsed {
            for b in &parsed {
                assert_eq!(
                    a.cmp(b),
                    (a.subject(), a.section()).cmp(&(b.subject(), b.section())),
                    "{a} and {b}"
                );
            }
        }
    }

    #[test]
    fn credits_and_year_sets() {
        assert_eq!(Credits::new(0), None);
        assert_eq!(Credits::new(1).map(Credits::get), Some(1));
        assert_eq!(Credits::new(6).map(Credits::get), Some(6));
        assert_eq!(Credits::new(7), None);
        assert_eq!(Credits::new(-3), None);
        assert_eq!(Credits::new(i64::MAX), None);

        let set = YearSet::from_bits(0b0000_0110).unwrap();
        assert_eq!(set.years(), vec![1, 2]);
        assert!(set.contains(1) && set.contains(2) && !set.contains(3));
        assert!(!set.contains(0) && !set.contains(7));
        assert_eq!(YearSet::from_bits(0), None);
        assert_eq!(YearSet::from_bits(1), None, "bit 0 is not a year");
        assert_eq!(YearSet::from_bits(0b1000_0000), None, "bit 7 is not a year");
    }

    pub(crate) fn valid_input() -> CourseSpecInput {
        CourseSpecInput {
            code: "CSE2010-01".into(),
            title: "자료구조".into(),
            department: "컴퓨터공학과".into(),
            professor: "김민준".into(),
            credits: 3,
            capacity: 40,
            meetings: vec![
                MeetingInput {
                    weekday: Weekday::Mon,
                    start_min: 630,
                    end_min: 705,
                    room: "IT관 301".into(),
                },
                MeetingInput {
                    weekday: Weekday::Wed,
                    start_min: 630,
                    end_min: 705,
                    room: "IT관 301".into(),
                },
            ],
            restrictions: RestrictionsInput::default(),
            is_open: true,
        }
    }

    #[test]
    fn a_valid_course_parses() {
        let spec = CourseSpec::parse(&valid_input()).expect("valid");
        assert_eq!(spec.code.to_string(), "CSE2010-01");
        assert_eq!(spec.credits.get(), 3);
        assert_eq!(spec.meetings.len(), 2);
        assert_eq!(spec.meetings[0].label(), "월 10:30-11:45");
        assert_eq!(spec.restrictions, Restrictions::default());
    }

    #[test]
    fn invalid_courses_name_the_field() {
        type Edit = fn(&mut CourseSpecInput);
        let cases: [(&str, Edit); 16] = [
            ("code", |c| c.code = "자료구조".into()),
            ("title", |c| c.title = "   ".into()),
            ("title", |c| c.title = "가".repeat(101)),
            ("department", |c| c.department = "".into()),
            ("professor", |c| c.professor = "김\u{0}".into()),
            ("credits", |c| c.credits = 0),
            ("credits", |c| c.credits = 7),
            ("capacity", |c| c.capacity = 0),
            ("capacity", |c| c.capacity = 5001),
            ("meetings", |c| c.meetings.clear()),
            ("meetings[0].end_min", |c| c.meetings[0].end_min = 630),
            ("meetings[0].start_min", |c| c.meetings[0].start_min = -1),
            ("meetings[0].end_min", |c| c.meetings[0].end_min = 1441),
            ("meetings[1].start_min", |c| {
                c.meetings[1].weekday = Weekday::Mon;
                c.meetings[1].start_min = 700;
                c.meetings[1].end_min = 760;
            }),
            ("restrictions.years", |c| {
                c.restrictions.years = Some(vec![0])
            }),
            ("restrictions.years", |c| {
                c.restrictions.years = Some(vec![])
            }),
        ];
        for (field, edit) in cases {
            let mut input = valid_input();
            edit(&mut input);
            let errors = CourseSpec::parse(&input).expect_err(field);
            assert!(
                errors.iter().any(|e| e.field == field),
                "{field}: got {errors:?}"
            );
        }
    }

    #[test]
    fn boundaries_of_a_day_are_allowed() {
        let mut input = valid_input();
        input.meetings = vec![MeetingInput {
            weekday: Weekday::Sat,
            start_min: 0,
            end_min: 1440,
            room: "체육관".into(),
        }];
        input.restrictions.years = Some(vec![1, 6, 1]);
        let spec = CourseSpec::parse(&input).expect("whole day is valid");
        assert_eq!(spec.restrictions.years.unwrap().years(), vec![1, 6]);
    }
}
