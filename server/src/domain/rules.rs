//! The enrollment decision: may this student take this course now?
//!
//! `check_enrollment` is the only place the rules are written. The direct HTTP path and the
//! queue's drain both reach it through `registration::enroll`, inside a transaction that is
//! serialised per student, so what it reads cannot change under it. Seats and uniqueness are
//! also enforced by the database, because a process can be wrong and a constraint cannot be raced.

use super::course::{Course, CourseCode, CourseId, Credits, Meeting, meetings_clash};
use super::student::Student;
use super::ticket::RejectionCode;

/// The most credits a student may hold in one term (18 by default; the original system used 20).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditCap(u16);

impl CreditCap {
    /// The cap, if it is between 1 and 40 credits.
    pub fn new(credits: u16) -> Option<CreditCap> {
        (1..=40).contains(&credits).then_some(CreditCap(credits))
    }

    /// The number of credits.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl Default for CreditCap {
    fn default() -> Self {
        CreditCap(18)
    }
}

/// A course a student already holds (or has in the cart), as far as the rules care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledCourse {
    pub course_id: CourseId,
    pub code: CourseCode,
    pub title: String,
    pub credits: Credits,
    pub meetings: Vec<Meeting>,
}

impl From<&Course> for ScheduledCourse {
    fn from(course: &Course) -> Self {
        ScheduledCourse {
            course_id: course.id,
            code: course.spec.code.clone(),
            title: course.spec.title.clone(),
            credits: course.spec.credits,
            meetings: course.spec.meetings.clone(),
        }
    }
}

/// Why an enrollment was refused. Each variant is one rule with its own stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No course has that id.
    CourseNotFound,
    /// The course exists but does not take enrollments.
    CourseClosed,
    /// The student already holds this course.
    AlreadyEnrolled,
    /// The course admits only some year levels.
    YearRestricted { year: u8, allowed: Vec<u8> },
    /// The course admits only its own department's students.
    DepartmentRestricted { department: String },
    /// A meeting overlaps a meeting of a course the student holds.
    TimeClash {
        course_id: CourseId,
        code: String,
        title: String,
    },
    /// The course's credits would take the student past the cap.
    CreditLimitExceeded { enrolled: u16, adding: u8, cap: u16 },
    /// No seat is left.
    CourseFull { capacity: u32 },
}

impl Rejection {
    /// The stable code clients and the queue record.
    pub fn code(&self) -> RejectionCode {
        match self {
            Rejection::CourseNotFound => RejectionCode::CourseNotFound,
            Rejection::CourseClosed => RejectionCode::CourseClosed,
            Rejection::AlreadyEnrolled => RejectionCode::AlreadyEnrolled,
            Rejection::YearRestricted { .. } => RejectionCode::YearRestricted,
            Rejection::DepartmentRestricted { .. } => RejectionCode::DepartmentRestricted,
            Rejection::TimeClash { .. } => RejectionCode::TimeClash,
            Rejection::CreditLimitExceeded { .. } => RejectionCode::CreditLimitExceeded,
            Rejection::CourseFull { .. } => RejectionCode::CourseFull,
        }
    }
}

/// Total credits of a schedule.
pub fn total_credits(schedule: &[ScheduledCourse]) -> u16 {
    schedule.iter().map(|c| u16::from(c.credits.get())).sum()
}

/// Decides whether `student`, who holds `schedule`, may take `course` under `cap`.
///
/// Rules apply in a fixed order so that a refusal always names the most basic problem:
/// existence, open, duplicate, year, department, time clash, credits, seats.
pub fn check_enrollment<'c>(
    student: &Student,
    course: Option<&'c Course>,
    schedule: &[ScheduledCourse],
    cap: CreditCap,
) -> Result<&'c Course, Rejection> {
    let course = course.ok_or(Rejection::CourseNotFound)?;
    let spec = &course.spec;
    if !spec.is_open {
        return Err(Rejection::CourseClosed);
    }
    if schedule.iter().any(|held| held.course_id == course.id) {
        return Err(Rejection::AlreadyEnrolled);
    }
    if let Some(years) = spec.restrictions.years
        && !years.contains(student.year.get())
    {
        return Err(Rejection::YearRestricted {
            year: student.year.get(),
            allowed: years.years(),
        });
    }
    if spec.restrictions.own_department_only && student.department != spec.department {
        return Err(Rejection::DepartmentRestricted {
            department: spec.department.clone(),
        });
    }
    if let Some(held) = schedule
        .iter()
        .find(|held| meetings_clash(&held.meetings, &spec.meetings))
    {
        return Err(Rejection::TimeClash {
            course_id: held.course_id,
            code: held.code.to_string(),
            title: held.title.clone(),
        });
    }
    let enrolled = total_credits(schedule);
    if enrolled + u16::from(spec.credits.get()) > cap.get() {
        return Err(Rejection::CreditLimitExceeded {
            enrolled,
            adding: spec.credits.get(),
            cap: cap.get(),
        });
    }
    if course.seats_left() == 0 {
        return Err(Rejection::CourseFull {
            capacity: spec.capacity,
        });
    }
    Ok(course)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::course::{CourseSpec, Restrictions, Weekday, YearSet};
    use crate::domain::student::{StudentId, StudentNumber, Year};

    pub(crate) fn student(department: &str, year: i64) -> Student {
        Student {
            id: StudentId(1),
            number: StudentNumber::parse("2023000001").unwrap(),
            name: "홍길동".into(),
            department: department.into(),
            year: Year::new(year).unwrap(),
        }
    }

    /// A course with `id`, `credits` and meetings given as (day, start, end).
    pub(crate) fn course(id: i64, credits: i64, meetings: &[(Weekday, u16, u16)]) -> Course {
        Course {
            id: CourseId(id),
            spec: CourseSpec {
                code: CourseCode::parse(&format!("CSE{:04}-01", id)).unwrap(),
                title: format!("과목 {id}"),
                department: "컴퓨터공학과".into(),
                professor: "김교수".into(),
                credits: Credits::new(credits).unwrap(),
                capacity: 40,
                meetings: meetings
                    .iter()
                    .map(|&(weekday, start_min, end_min)| Meeting {
                        weekday,
                        start_min,
                        end_min,
                        room: "IT관 101".into(),
                    })
                    .collect(),
                restrictions: Restrictions::default(),
                is_open: true,
            },
            enrolled: 0,
        }
    }

    fn held(courses: &[Course]) -> Vec<ScheduledCourse> {
        courses.iter().map(ScheduledCourse::from).collect()
    }

    const H9: u16 = 9 * 60;
    const H915: u16 = 10 * 60 + 15;
    const H10: u16 = 10 * 60;
    const H1115: u16 = 11 * 60 + 15;

    struct Case {
        name: &'static str,
        student: Student,
        target: Option<Course>,
        schedule: Vec<Course>,
        cap: u16,
        expect: Result<(), &'static str>,
    }

    fn case(name: &'static str, target: Course, expect: Result<(), &'static str>) -> Case {
        Case {
            name,
            student: student("컴퓨터공학과", 2),
            target: Some(target),
            schedule: vec![],
            cap: 18,
            expect,
        }
    }

    fn three_credit_block(first_id: i64, count: i64) -> Vec<Course> {
        // Non-clashing: a different day or hour for each course.
        (0..count)
            .map(|i| {
                let day = Weekday::ALL[(i % 6) as usize];
                let start = 8 * 60 + (i / 6) as u16 * 90;
                course(first_id + i, 3, &[(day, start, start + 75)])
            })
            .collect()
    }

    fn cases() -> Vec<Case> {
        use Weekday::*;
        let mut closed = course(10, 3, &[(Mon, H9, H915)]);
        closed.spec.is_open = false;
        let mut full = course(11, 3, &[(Mon, H9, H915)]);
        full.enrolled = 40;
        let mut one_left = course(12, 3, &[(Mon, H9, H915)]);
        one_left.enrolled = 39;
        let mut shrunk = course(13, 3, &[(Mon, H9, H915)]);
        shrunk.enrolled = 45;
        let mut first_years = course(14, 3, &[(Mon, H9, H915)]);
        first_years.spec.restrictions.years = YearSet::from_bits(0b10);
        let mut juniors_seniors = course(15, 3, &[(Mon, H9, H915)]);
        juniors_seniors.spec.restrictions.years = YearSet::from_bits(0b11000);
        let mut own_department = course(16, 3, &[(Mon, H9, H915)]);
        own_department.spec.restrictions.own_department_only = true;
        let mut closed_and_full = course(17, 3, &[(Mon, H9, H915)]);
        closed_and_full.spec.is_open = false;
        closed_and_full.enrolled = 40;

        vec![
            case(
                "open course with seats",
                course(1, 3, &[(Mon, H9, H915)]),
                Ok(()),
            ),
            Case {
                target: None,
                ..case("unknown course", course(1, 3, &[]), Err("COURSE_NOT_FOUND"))
            },
            case("closed course", closed, Err("COURSE_CLOSED")),
            case("closed beats full", closed_and_full, Err("COURSE_CLOSED")),
            case("no seat left", full, Err("COURSE_FULL")),
            case("last seat", one_left, Ok(())),
            case("capacity shrunk below enrolled", shrunk, Err("COURSE_FULL")),
            Case {
                schedule: vec![course(2, 3, &[(Mon, H9, H915)])],
                ..case(
                    "already enrolled",
                    course(2, 3, &[(Mon, H9, H915)]),
                    Err("ALREADY_ENROLLED"),
                )
            },
            Case {
                schedule: vec![course(3, 3, &[(Mon, H9, H915)])],
                ..case(
                    "partial overlap",
                    course(4, 3, &[(Mon, H10, H1115)]),
                    Err("TIME_CLASH"),
                )
            },
            Case {
                schedule: vec![course(3, 3, &[(Mon, H9, H10)])],
                ..case("back to back", course(4, 3, &[(Mon, H10, H1115)]), Ok(()))
            },
            Case {
                schedule: vec![course(3, 3, &[(Mon, H9, H915)])],
                ..case(
                    "same time, other day",
                    course(4, 3, &[(Tue, H9, H915)]),
                    Ok(()),
                )
            },
            Case {
                schedule: vec![course(3, 3, &[(Mon, H9, H915), (Wed, H9, H915)])],
                ..case(
                    "second meeting of the held course clashes",
                    course(4, 3, &[(Tue, H9, H915), (Wed, H10, H1115)]),
                    Err("TIME_CLASH"),
                )
            },
            Case {
                schedule: vec![
                    course(3, 3, &[(Mon, H9, H915)]),
                    course(5, 3, &[(Thu, 13 * 60, 16 * 60)]),
                ],
                ..case(
                    "a three-hour lab clashes with a later held course",
                    course(4, 3, &[(Thu, 15 * 60, 15 * 60 + 50)]),
                    Err("TIME_CLASH"),
                )
            },
            Case {
                schedule: three_credit_block(100, 5),
                ..case(
                    "exactly at the cap: 15 + 3 = 18",
                    course(4, 3, &[(Sat, 18 * 60, 19 * 60)]),
                    Ok(()),
                )
            },
            Case {
                schedule: three_credit_block(100, 6),
                ..case(
                    "one past the cap: 18 + 1",
                    course(4, 1, &[(Sat, 18 * 60, 19 * 60)]),
                    Err("CREDIT_LIMIT_EXCEEDED"),
                )
            },
            Case {
                schedule: three_credit_block(100, 5),
                ..case(
                    "15 + 4 > 18",
                    course(4, 4, &[(Sat, 18 * 60, 19 * 60)]),
                    Err("CREDIT_LIMIT_EXCEEDED"),
                )
            },
            Case {
                schedule: three_credit_block(100, 6),
                cap: 21,
                ..case(
                    "a higher configured cap (the original 20 and up)",
                    course(4, 3, &[(Sat, 18 * 60, 19 * 60)]),
                    Ok(()),
                )
            },
            Case {
                cap: 2,
                ..case(
                    "a single course over a tiny cap",
                    course(4, 3, &[(Sat, 18 * 60, 19 * 60)]),
                    Err("CREDIT_LIMIT_EXCEEDED"),
                )
            },
            Case {
                schedule: vec![course(3, 3, &[(Mon, H9, H915)])],
                ..case(
                    "a clash is reported before the seats",
                    {
                        let mut c = course(4, 3, &[(Mon, H9, H915)]);
                        c.enrolled = 40;
                        c
                    },
                    Err("TIME_CLASH"),
                )
            },
            case(
                "year restricted to first years",
                first_years.clone(),
                Err("YEAR_RESTRICTED"),
            ),
            Case {
                student: student("컴퓨터공학과", 1),
                ..case("first year in a first-year course", first_years, Ok(()))
            },
            Case {
                student: student("컴퓨터공학과", 4),
                ..case("senior in a 3-4 course", juniors_seniors.clone(), Ok(()))
            },
            case(
                "sophomore in a 3-4 course",
                juniors_seniors,
                Err("YEAR_RESTRICTED"),
            ),
            case("own department", own_department.clone(), Ok(())),
            Case {
                student: student("경영학과", 2),
                ..case(
                    "other department",
                    own_department,
                    Err("DEPARTMENT_RESTRICTED"),
                )
            },
        ]
    }

    #[test]
    fn rule_table() {
        for c in cases() {
            let cap = CreditCap::new(c.cap).unwrap();
            let got = check_enrollment(&c.student, c.target.as_ref(), &held(&c.schedule), cap)
                .map(|_| ())
                .map_err(|r| r.code().as_str());
            assert_eq!(got, c.expect, "{}", c.name);
        }
    }

    #[test]
    fn rejections_carry_their_details() {
        use Weekday::*;
        let schedule = held(&[course(3, 3, &[(Mon, H9, H915)])]);
        let clash = check_enrollment(
            &student("컴퓨터공학과", 2),
            Some(&course(4, 3, &[(Mon, H10, H1115)])),
            &schedule,
            CreditCap::default(),
        )
        .unwrap_err();
        assert_eq!(
            clash,
            Rejection::TimeClash {
                course_id: CourseId(3),
                code: "CSE0003-01".into(),
                title: "과목 3".into()
            }
        );

        let over = check_enrollment(
            &student("컴퓨터공학과", 2),
            Some(&course(4, 4, &[(Sat, H9, H915)])),
            &held(&three_credit_block(100, 5)),
            CreditCap::default(),
        )
        .unwrap_err();
        assert_eq!(
            over,
            Rejection::CreditLimitExceeded {
                enrolled: 15,
                adding: 4,
                cap: 18
            }
        );
    }

    #[test]
    fn credit_caps() {
        assert_eq!(CreditCap::default().get(), 18);
        assert_eq!(CreditCap::new(0), None);
        assert_eq!(CreditCap::new(20).map(CreditCap::get), Some(20));
        assert_eq!(CreditCap::new(41), None);
    }
}
