//! `classmate seed --from-csv` and `--students-csv`: a real catalog and a real roster in documented
//! CSV formats, each validated whole, line by line, before anything is written.
//!
//! The catalog's header and columns (UTF-8, comma-separated, quotes as usual):
//! `code,title,department,professor,credits,capacity,meetings,years,own_department_only,is_open`
//! - `meetings`: `;`-separated `<day> <HH:MM>-<HH:MM> <room>`, the day as `월`…`토` or `MON`…`SAT`,
//!   e.g. `월 10:30-11:45 공학관 305; 수 10:30-11:45 공학관 305`.
//! - `years`: `;`-separated year levels (`3;4`), empty for all.
//! - `own_department_only`, `is_open`: `true` or `false`; empty means `false` and `true`.
//!
//! The roster's: `student_number,name,department,year` (6–12 digits; 1–50 characters; 1–50
//! characters; 1 to 6).

use std::collections::HashMap;
use std::io::Read;

use classmate_server::domain::{
    CourseSpec, CourseSpecInput, FieldError, MeetingInput, RestrictionsInput, RosterEntry, Weekday,
};

const CATALOG_COLUMNS: [&str; 10] = [
    "code",
    "title",
    "department",
    "professor",
    "credits",
    "capacity",
    "meetings",
    "years",
    "own_department_only",
    "is_open",
];

const ROSTER_COLUMNS: [&str; 4] = ["student_number", "name", "department", "year"];

/// One invalid line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub reason: String,
}

fn weekday(raw: &str) -> Option<Weekday> {
    Weekday::ALL
        .into_iter()
        .find(|d| d.korean() == raw || format!("{d:?}").eq_ignore_ascii_case(raw))
}

fn minutes(raw: &str) -> Option<i64> {
    let (h, m) = raw.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m) && m.to_string().len() <= 2).then_some(h * 60 + m)
}

fn meeting(raw: &str) -> Result<MeetingInput, String> {
    let mut parts = raw.trim().splitn(3, ' ');
    let (day, times, room) = (parts.next(), parts.next(), parts.next());
    let bad = || format!("meetings: {raw:?} is not `<요일> <HH:MM>-<HH:MM> <강의실>`");
    let weekday = day.and_then(weekday).ok_or_else(bad)?;
    let (start, end) = times.and_then(|t| t.split_once('-')).ok_or_else(bad)?;
    Ok(MeetingInput {
        weekday,
        start_min: minutes(start).ok_or_else(bad)?,
        end_min: minutes(end).ok_or_else(bad)?,
        room: room.map(str::trim).unwrap_or("").to_owned(),
    })
}

fn flag(raw: &str, default: bool, column: &str) -> Result<bool, String> {
    match raw.trim() {
        "" => Ok(default),
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("{column}: {other:?} is not true or false")),
    }
}

fn number(raw: &str, column: &str) -> Result<i64, String> {
    raw.trim()
        .parse()
        .map_err(|_| format!("{column}: {raw:?} is not a whole number"))
}

/// The value, or nothing with the reason kept.
fn keep<T>(errors: &mut Vec<String>, result: Result<T, String>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

fn course(record: &csv::StringRecord) -> Result<CourseSpec, Vec<String>> {
    let field = |i: usize| record.get(i).unwrap_or("");
    let mut errors = Vec::new();
    let credits = keep(&mut errors, number(field(4), "credits"));
    let capacity = keep(&mut errors, number(field(5), "capacity"));
    let meetings: Option<Vec<MeetingInput>> = keep(
        &mut errors,
        field(6)
            .split(';')
            .filter(|m| !m.trim().is_empty())
            .map(meeting)
            .collect(),
    );
    let years: Option<Option<Vec<i64>>> = keep(
        &mut errors,
        match field(7).trim() {
            "" => Ok(None),
            list => list
                .split(';')
                .map(|y| number(y, "years"))
                .collect::<Result<_, _>>()
                .map(Some),
        },
    );
    let own = keep(&mut errors, flag(field(8), false, "own_department_only"));
    let open = keep(&mut errors, flag(field(9), true, "is_open"));
    let (Some(credits), Some(capacity), Some(meetings), Some(years), Some(own), Some(open)) =
        (credits, capacity, meetings, years, own, open)
    else {
        return Err(errors);
    };
    let input = CourseSpecInput {
        code: field(0).trim().to_owned(),
        title: field(1).trim().to_owned(),
        department: field(2).trim().to_owned(),
        professor: field(3).trim().to_owned(),
        credits,
        capacity,
        meetings,
        restrictions: RestrictionsInput {
            years,
            own_department_only: own,
        },
        is_open: open,
    };
    CourseSpec::parse(&input).map_err(reasons)
}

fn reasons(fields: Vec<FieldError>) -> Vec<String> {
    fields
        .into_iter()
        .map(|f| format!("{}: {}", f.field, f.reason))
        .collect()
}

fn roster_entry(record: &csv::StringRecord) -> Result<RosterEntry, Vec<String>> {
    let field = |i: usize| record.get(i).unwrap_or("");
    let year = number(field(3), "year").map_err(|e| vec![e])?;
    RosterEntry::parse(field(0), field(1), field(2), year).map_err(reasons)
}

/// Every course of the CSV, or every invalid line (with its line number) if there is any.
pub fn read_catalog(input: impl Read) -> Result<Vec<CourseSpec>, Vec<LineError>> {
    read(input, &CATALOG_COLUMNS, course, |spec| {
        ("code", spec.code.to_string())
    })
}

/// Every roster entry of the CSV, or every invalid line (with its line number) if there is any.
pub fn read_roster(input: impl Read) -> Result<Vec<RosterEntry>, Vec<LineError>> {
    read(input, &ROSTER_COLUMNS, roster_entry, |entry| {
        ("student_number", entry.number.to_string())
    })
}

/// Reads rows of `columns` with `parse`; `key` names the column that must not repeat and its
/// value.
fn read<T>(
    input: impl Read,
    columns: &[&str],
    parse: impl Fn(&csv::StringRecord) -> Result<T, Vec<String>>,
    key: impl Fn(&T) -> (&'static str, String),
) -> Result<Vec<T>, Vec<LineError>> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let mut errors = Vec::new();
    match reader.headers() {
        Ok(header) if header.iter().map(str::trim).eq(columns.iter().copied()) => {}
        Ok(header) => errors.push(LineError {
            line: 1,
            reason: format!(
                "the header must be `{}`, not `{}`",
                columns.join(","),
                header.iter().collect::<Vec<_>>().join(",")
            ),
        }),
        Err(e) => errors.push(LineError {
            line: 1,
            reason: e.to_string(),
        }),
    }
    let mut rows = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(LineError {
                    line,
                    reason: format!("not valid CSV or UTF-8: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != columns.len() {
            errors.push(LineError {
                line,
                reason: format!("{} columns, expected {}", record.len(), columns.len()),
            });
            continue;
        }
        match parse(&record) {
            Ok(row) => {
                let (column, value) = key(&row);
                if let Some(first) = seen.insert(value.clone(), line) {
                    errors.push(LineError {
                        line,
                        reason: format!("{column}: {value} already on line {first}"),
                    });
                }
                rows.push(row);
            }
            Err(reasons) => errors.push(LineError {
                line,
                reason: reasons.join("; "),
            }),
        }
    }
    match errors.is_empty() {
        true => Ok(rows),
        false => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "code,title,department,professor,credits,capacity,meetings,years,own_department_only,is_open\n";

    #[test]
    fn a_valid_catalog_reads_whole() {
        let csv = format!(
            "{HEADER}CSE2010-01,자료구조,컴퓨터공학과,김민준,3,60,\"월 10:30-11:45 공학관 305; 수 10:30-11:45 공학관 305\",,false,true\n\
             GEN1001-01,글쓰기의 기초,교양학부,이서연,2,40,TUE 13:00-14:50 교양관 201,1;2,,\n"
        );
        let courses = read_catalog(csv.as_bytes()).unwrap();
        assert_eq!(courses.len(), 2);
        assert_eq!(courses[0].meetings.len(), 2);
        assert_eq!(courses[0].meetings[0].start_min, 630);
        assert_eq!(courses[1].meetings[0].weekday, Weekday::Tue);
        assert!(courses[1].restrictions.years.is_some());
    }

    #[test]
    fn every_invalid_line_is_reported_with_its_number() {
        let csv = format!(
            "{HEADER}CSE2010-01,자료구조,컴퓨터공학과,김민준,3,60,월 10:30-11:45 공학관 305,,,\n\
             CSE2010-01,자료구조,컴퓨터공학과,김민준,3,60,월 12:00-13:15 공학관 305,,,\n\
             BAD,,컴퓨터공학과,김민준,three,60,월 10:30-11:45 공학관 305,,,\n\
             CSE3010-01,운영체제,컴퓨터공학과,김민준,3,60,일요일 아침,,,\n\
             CSE3020-01,컴파일러,컴퓨터공학과,김민준,3,60,월 10:30-11:45 공학관 305,,maybe,\n\
             CSE3030-01,too,few\n"
        );
        let errors = read_catalog(csv.as_bytes()).unwrap_err();
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7], "{errors:?}");
        assert!(errors[0].reason.contains("already on line 2"));
        assert!(errors[1].reason.contains("credits"));
        assert!(errors[2].reason.contains("meetings"));
        assert!(errors[3].reason.contains("own_department_only"));
        assert!(errors[4].reason.contains("columns"));
    }

    #[test]
    fn a_wrong_header_is_reported() {
        let errors = read_catalog("code,title\nX,Y\n".as_bytes()).unwrap_err();
        assert_eq!(errors[0].line, 1);
        let errors = read_roster("student_number,name\n2026000001,김\n".as_bytes()).unwrap_err();
        assert_eq!(errors[0].line, 1);
    }

    #[test]
    fn a_roster_reads_whole_or_names_every_bad_line() {
        let header = "student_number,name,department,year\n";
        let good = format!(
            "{header}2026000001,김민준,컴퓨터공학과,1\n\
             2023000002,\"Smith  John\",경영학과,4\n"
        );
        let roster = read_roster(good.as_bytes()).unwrap();
        assert_eq!(roster.len(), 2);
        assert_eq!(roster[1].name, "Smith John", "runs of spaces are one");
        assert_eq!(roster[1].year.get(), 4);

        let bad = format!(
            "{header}2026000001,김민준,컴퓨터공학과,1\n\
             2026000001,이서연,경영학과,2\n\
             12,,경영학과,2\n\
             2026000003,박지훈,경영학과,second\n\
             2026000004,최유나,,7\n\
             2026000005,정하은\n"
        );
        let errors = read_roster(bad.as_bytes()).unwrap_err();
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7], "{errors:?}");
        assert!(errors[0].reason.contains("already on line 2"), "{errors:?}");
        assert!(
            errors[1].reason.contains("student_number") && errors[1].reason.contains("name"),
            "{errors:?}"
        );
        assert!(errors[2].reason.contains("year"), "{errors:?}");
        assert!(
            errors[3].reason.contains("department") && errors[3].reason.contains("year"),
            "{errors:?}"
        );
        assert!(errors[4].reason.contains("columns"), "{errors:?}");
    }
}
