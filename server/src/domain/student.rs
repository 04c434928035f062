//! Students and what it takes to sign one up.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{FieldError, parse_text};

/// A student's id in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StudentId(pub i64);

impl fmt::Display for StudentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A student number: 6 to 12 ASCII digits, e.g. `2023123456`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StudentNumber(String);

impl StudentNumber {
    /// The number, if `raw` is 6 to 12 digits (surrounding spaces are ignored).
    pub fn parse(raw: &str) -> Option<StudentNumber> {
        let raw = raw.trim();
        ((6..=12).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit()))
            .then(|| StudentNumber(raw.to_owned()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StudentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A year level, 1 to 6 (medicine and architecture run past 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Year(u8);

impl Year {
    /// The year, if `value` is between 1 and 6.
    pub fn new(value: i64) -> Option<Year> {
        u8::try_from(value)
            .ok()
            .filter(|y| (1..=6).contains(y))
            .map(Year)
    }

    /// The year level.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// A password as typed: 8 to 128 characters. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// The password, if it is 8 to 128 characters long.
    pub fn parse(raw: String) -> Option<Password> {
        (8..=128)
            .contains(&raw.chars().count())
            .then_some(Password(raw))
    }

    /// Parses the `password` field of a form, recording why it was refused in `errors`.
    pub fn parse_field(raw: String, errors: &mut Vec<FieldError>) -> Option<Password> {
        let password = Password::parse(raw);
        if password.is_none() {
            errors.push(FieldError::new(
                "password",
                "비밀번호는 8자 이상 128자 이하여야 합니다",
            ));
        }
        password
    }

    /// The secret itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A registered student.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Student {
    pub id: StudentId,
    pub number: StudentNumber,
    pub name: String,
    pub department: String,
    pub year: Year,
}

/// A student as the registrar lists them: what a sign-up claims. Names are compared with runs
/// of spaces made one, so `홍 길동` and `홍  길동` are the same person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    pub number: StudentNumber,
    pub name: String,
    pub department: String,
    pub year: Year,
}

impl RosterEntry {
    /// Parses one entry (a sign-up form's or a roster CSV line's), collecting every problem.
    pub fn parse(
        number: &str,
        name: &str,
        department: &str,
        year: i64,
    ) -> Result<RosterEntry, Vec<FieldError>> {
        let mut errors = Vec::new();
        let number = parse_number(number, &mut errors);
        let name = person_name(name, &mut errors);
        let department = parse_text("department", department, 50, &mut errors);
        let year = Year::new(year);
        if year.is_none() {
            errors.push(FieldError::new("year", "학년은 1에서 6 사이여야 합니다"));
        }
        match (number, year) {
            (Some(number), Some(year)) if errors.is_empty() => Ok(RosterEntry {
                number,
                name,
                department,
                year,
            }),
            _ => Err(errors),
        }
    }
}

fn parse_number(raw: &str, errors: &mut Vec<FieldError>) -> Option<StudentNumber> {
    let number = StudentNumber::parse(raw);
    if number.is_none() {
        errors.push(FieldError::new(
            "student_number",
            "학번은 6~12자리 숫자여야 합니다",
        ));
    }
    number
}

/// A person's name: 1 to 50 characters, runs of spaces made one.
fn person_name(raw: &str, errors: &mut Vec<FieldError>) -> String {
    let name = parse_text("name", raw, 50, errors);
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A sign-up form as a client sends it. Its `Debug` hides the password.
#[derive(Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStudentInput {
    /// 6 to 12 digits, e.g. `2023123456`.
    #[schema(pattern = r"^[0-9]{6,12}$")]
    pub student_number: String,
    /// As on the roster, 1 to 50 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    /// Only when sign-up is open (`--signup open`); with the roster, the roster's department is
    /// used and this is ignored.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub department: Option<String>,
    /// Year level, 1 to 6; only when sign-up is open, like `department`.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 6)]
    pub year: Option<i64>,
}

impl fmt::Debug for NewStudentInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewStudentInput")
            .field("student_number", &self.student_number)
            .field("name", &self.name)
            .field("password", &"***")
            .field("department", &self.department)
            .field("year", &self.year)
            .finish()
    }
}

/// A sign-up that claims a roster entry: the number and name must match one nobody claimed.
#[derive(Debug, Clone)]
pub struct RosterClaim {
    pub number: StudentNumber,
    pub name: String,
    pub password: Password,
}

impl RosterClaim {
    /// Parses a sign-up form's number, name and password, collecting every problem at once.
    pub fn parse(input: NewStudentInput) -> Result<RosterClaim, Vec<FieldError>> {
        let mut errors = Vec::new();
        let number = parse_number(&input.student_number, &mut errors);
        let name = person_name(&input.name, &mut errors);
        let password = Password::parse_field(input.password, &mut errors);
        match (number, password) {
            (Some(number), Some(password)) if errors.is_empty() => Ok(RosterClaim {
                number,
                name,
                password,
            }),
            _ => Err(errors),
        }
    }
}

/// An open sign-up, for demos: the form says who the student is. Ready to be hashed and stored.
#[derive(Debug, Clone)]
pub struct NewStudent {
    pub number: StudentNumber,
    pub name: String,
    pub department: String,
    pub year: Year,
    pub password: Password,
}

impl NewStudent {
    /// Parses a sign-up form, collecting every problem at once.
    pub fn parse(input: NewStudentInput) -> Result<NewStudent, Vec<FieldError>> {
        let entry = RosterEntry::parse(
            &input.student_number,
            &input.name,
            input.department.as_deref().unwrap_or(""),
            input.year.unwrap_or(0),
        );
        let mut errors = entry.as_ref().err().cloned().unwrap_or_default();
        let password = Password::parse_field(input.password, &mut errors);
        match (entry, password) {
            (Ok(entry), Some(password)) => Ok(NewStudent {
                number: entry.number,
                name: entry.name,
                department: entry.department,
                year: entry.year,
                password,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> NewStudentInput {
        NewStudentInput {
            student_number: "2023123456".into(),
            name: "이서연".into(),
            password: "correct horse".into(),
            department: Some("경영학과".into()),
            year: Some(2),
        }
    }

    #[test]
    fn student_numbers() {
        let cases = [
            ("2023123456", true),
            ("123456", true),
            ("123456789012", true),
            (" 2023123456 ", true),
            ("12345", false),
            ("1234567890123", false),
            ("2023-12345", false),
            ("２０２３１２３４", false),
            ("' OR 1=1 --", false),
            ("", false),
        ];
        for (raw, ok) in cases {
            assert_eq!(StudentNumber::parse(raw).is_some(), ok, "{raw:?}");
        }
    }

    #[test]
    fn passwords_have_a_length_window_and_hide_in_debug() {
        assert!(Password::parse("1234567".into()).is_none());
        assert!(Password::parse("12345678".into()).is_some());
        assert!(
            Password::parse("가나다라마바사아".into()).is_some(),
            "8 characters, 24 bytes"
        );
        assert!(Password::parse("x".repeat(128)).is_some());
        assert!(Password::parse("x".repeat(129)).is_none());
        let shown = format!("{:?}", Password::parse("hunter2hunter2".into()).unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
        let form = NewStudentInput {
            password: "hunter2hunter2".into(),
            ..input()
        };
        let shown = format!("{form:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("2023123456"),
            "{shown}"
        );
    }

    #[test]
    fn sign_up_parses_or_names_every_bad_field() {
        let ok = NewStudent::parse(input()).expect("valid");
        assert_eq!(ok.number.as_str(), "2023123456");
        assert_eq!(ok.year.get(), 2);

        let mut bad = input();
        bad.student_number = "abc".into();
        bad.name = " ".into();
        bad.password = "short".into();
        bad.department = Some("".into());
        bad.year = Some(0);
        let errors = NewStudent::parse(bad).expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["student_number", "name", "department", "year", "password"]
        );
    }

    #[test]
    fn years() {
        assert_eq!(Year::new(0), None);
        assert_eq!(Year::new(1).map(Year::get), Some(1));
        assert_eq!(Year::new(6).map(Year::get), Some(6));
        assert_eq!(Year::new(7), None);
    }
}
