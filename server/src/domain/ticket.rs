//! Tickets of the waiting queue: a student's place in line for one course, what became of it,
//! and the one table of what each outcome says to the student.

use std::fmt;
use std::str::FromStr;

use super::course::CourseId;
use super::student::StudentId;

/// A ticket's id: its generation and sequence number, written `"{generation}-{seq}"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketId {
    pub generation: u64,
    pub seq: u64,
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.generation, self.seq)
    }
}

impl FromStr for TicketId {
    type Err = ();

    fn from_str(raw: &str) -> Result<Self, ()> {
        let (generation, seq) = raw.split_once('-').ok_or(())?;
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(generation) || !digits(seq) {
            return Err(());
        }
        Ok(TicketId {
            generation: generation.parse().map_err(|_| ())?,
            seq: seq.parse().map_err(|_| ())?,
        })
    }
}

/// Why a request for a seat was turned down: the stable English code the API, the queue and
/// the database carry. [`RejectionCode::message`] is the only place its Korean message is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectionCode {
    CourseNotFound,
    CourseClosed,
    AlreadyEnrolled,
    YearRestricted,
    DepartmentRestricted,
    TimeClash,
    CreditLimitExceeded,
    CourseFull,
    /// The ticket's student was deleted before the drain reached it.
    StudentNotFound,
}

impl RejectionCode {
    /// Every code, in the order the rules check them; the drain's own last.
    pub const ALL: [RejectionCode; 9] = [
        RejectionCode::CourseNotFound,
        RejectionCode::CourseClosed,
        RejectionCode::AlreadyEnrolled,
        RejectionCode::YearRestricted,
        RejectionCode::DepartmentRestricted,
        RejectionCode::TimeClash,
        RejectionCode::CreditLimitExceeded,
        RejectionCode::CourseFull,
        RejectionCode::StudentNotFound,
    ];

    /// The codes the enrollment rules give a student who asks ([`super::Rejection::code`]):
    /// every code but the last, which only the drain gives.
    pub const RULES: &'static [RejectionCode] = RejectionCode::ALL.split_at(8).0;

    /// The code as clients, Redis and the database see it, e.g. `COURSE_FULL`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCode::CourseNotFound => "COURSE_NOT_FOUND",
            RejectionCode::CourseClosed => "COURSE_CLOSED",
            RejectionCode::AlreadyEnrolled => "ALREADY_ENROLLED",
            RejectionCode::YearRestricted => "YEAR_RESTRICTED",
            RejectionCode::DepartmentRestricted => "DEPARTMENT_RESTRICTED",
            RejectionCode::TimeClash => "TIME_CLASH",
            RejectionCode::CreditLimitExceeded => "CREDIT_LIMIT_EXCEEDED",
            RejectionCode::CourseFull => "COURSE_FULL",
            RejectionCode::StudentNotFound => "STUDENT_NOT_FOUND",
        }
    }

    /// What the student is told, in Korean.
    pub fn message(self) -> &'static str {
        match self {
            RejectionCode::CourseNotFound => "존재하지 않는 강좌입니다",
            RejectionCode::CourseClosed => "수강신청을 받지 않는 강좌입니다",
            RejectionCode::AlreadyEnrolled => "이미 신청한 강좌입니다",
            RejectionCode::YearRestricted => "수강 가능한 학년이 아닙니다",
            RejectionCode::DepartmentRestricted => "개설 학과 학생만 신청할 수 있는 강좌입니다",
            RejectionCode::TimeClash => "이미 신청한 강좌와 수업 시간이 겹칩니다",
            RejectionCode::CreditLimitExceeded => "최대 신청 가능 학점을 초과합니다",
            RejectionCode::CourseFull => "정원이 마감되었습니다",
            RejectionCode::StudentNotFound => "학생 정보를 찾을 수 없습니다",
        }
    }
}

impl FromStr for RejectionCode {
    type Err = ();

    fn from_str(raw: &str) -> Result<Self, ()> {
        RejectionCode::ALL
            .into_iter()
            .find(|code| code.as_str() == raw)
            .ok_or(())
    }
}

impl fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a ticket is in its life. `Queued` → (`Deciding` →) one terminal state; nothing else.
/// A rejection carries its code, so a rejected ticket without one, or an enrolled one with one,
/// cannot be written down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicketState {
    /// Waiting for the drain.
    Queued,
    /// Claimed by the drain, whose decision is on its way. Shown to students as `queued`; the
    /// student can no longer leave.
    Deciding,
    Enrolled,
    /// Turned down by a rule.
    Rejected(RejectionCode),
    /// The student left the queue.
    Cancelled,
    /// Waited longer than the queue's ticket lifetime.
    Expired,
    /// Queued in a generation whose state was lost before the drain decided it.
    Lost,
}

/// A stored state or code that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ticket state {state:?} with code {code:?}")]
pub struct InvalidState {
    pub state: String,
    pub code: Option<String>,
}

impl TicketState {
    /// The stable name stored in Redis and the database and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Queued => "queued",
            TicketState::Deciding => "deciding",
            TicketState::Enrolled => "enrolled",
            TicketState::Rejected(_) => "rejected",
            TicketState::Cancelled => "cancelled",
            TicketState::Expired => "expired",
            TicketState::Lost => "lost",
        }
    }

    /// The rejection's code, for `Rejected` only.
    pub fn code(self) -> Option<RejectionCode> {
        match self {
            TicketState::Rejected(code) => Some(code),
            _ => None,
        }
    }

    /// The state from its stored name and code (absent or empty for every state but
    /// `rejected`).
    pub fn parse(state: &str, code: Option<&str>) -> Result<TicketState, InvalidState> {
        let code = code.filter(|c| !c.is_empty());
        let invalid = || InvalidState {
            state: state.to_owned(),
            code: code.map(str::to_owned),
        };
        let parsed = match state {
            "queued" => TicketState::Queued,
            "deciding" => TicketState::Deciding,
            "enrolled" => TicketState::Enrolled,
            "rejected" => {
                let code = code.ok_or_else(invalid)?;
                return code
                    .parse()
                    .map(TicketState::Rejected)
                    .map_err(|()| invalid());
            }
            "cancelled" => TicketState::Cancelled,
            "expired" => TicketState::Expired,
            "lost" => TicketState::Lost,
            _ => return Err(invalid()),
        };
        match code {
            None => Ok(parsed),
            Some(_) => Err(invalid()),
        }
    }

    /// Whether the ticket will not change any more.
    pub fn is_terminal(self) -> bool {
        !matches!(self, TicketState::Queued | TicketState::Deciding)
    }

    /// The ticket's state as a badge on the student's page, in Korean: 대기 중, 신청 완료,
    /// 정원 마감, 시간 중복…
    pub fn label(self) -> &'static str {
        match self {
            TicketState::Queued | TicketState::Deciding => "대기 중",
            TicketState::Enrolled => "신청 완료",
            TicketState::Rejected(code) => match code {
                RejectionCode::CourseFull => "정원 마감",
                RejectionCode::TimeClash => "시간 중복",
                RejectionCode::CreditLimitExceeded => "학점 초과",
                RejectionCode::AlreadyEnrolled => "이미 신청함",
                RejectionCode::CourseClosed => "신청 마감",
                RejectionCode::YearRestricted => "학년 제한",
                RejectionCode::DepartmentRestricted => "학과 제한",
                RejectionCode::CourseNotFound | RejectionCode::StudentNotFound => "신청 불가",
            },
            TicketState::Cancelled => "대기 취소",
            TicketState::Expired => "시간 초과",
            TicketState::Lost => "처리 실패",
        }
    }

    /// What the student is told about a ticket in this state, in Korean.
    pub fn message(self) -> &'static str {
        match self {
            TicketState::Queued | TicketState::Deciding => "대기 중입니다",
            TicketState::Enrolled => "수강신청되었습니다",
            TicketState::Rejected(code) => code.message(),
            TicketState::Cancelled => "대기열에서 나갔습니다",
            TicketState::Expired => "대기 시간이 초과되었습니다. 다시 신청해 주세요",
            TicketState::Lost => "서버 장애로 대기표가 처리되지 못했습니다. 다시 신청해 주세요",
        }
    }
}

/// A student's place in the queue for one course, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub id: TicketId,
    pub student_id: StudentId,
    pub course_id: CourseId,
    pub state: TicketState,
    /// Unix milliseconds.
    pub admitted_at_ms: i64,
    /// Unix milliseconds, once terminal.
    pub decided_at_ms: Option<i64>,
}

/// How the drain settled one ticket: its decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub id: TicketId,
    pub student_id: StudentId,
    pub course_id: CourseId,
    /// Terminal: `Enrolled`, `Rejected`, `Cancelled` or `Expired`.
    pub state: TicketState,
    pub decided_at_ms: i64,
}

impl From<&Ticket> for Settled {
    fn from(ticket: &Ticket) -> Settled {
        Settled {
            id: ticket.id,
            student_id: ticket.student_id,
            course_id: ticket.course_id,
            state: ticket.state,
            decided_at_ms: ticket.decided_at_ms.unwrap_or(ticket.admitted_at_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_ids_round_trip_and_refuse_junk() {
        let id = TicketId {
            generation: 3,
            seq: 10452,
        };
        assert_eq!(id.to_string(), "3-10452");
        assert_eq!("3-10452".parse::<TicketId>(), Ok(id));
        for junk in [
            "",
            "3",
            "-1",
            "3-",
            "a-1",
            "1-2-3",
            "1-+2",
            "99999999999999999999-1",
        ] {
            assert!(junk.parse::<TicketId>().is_err(), "{junk:?} parsed");
        }
    }

    #[test]
    fn only_queued_and_deciding_are_open() {
        for state in [
            TicketState::Enrolled,
            TicketState::Rejected(RejectionCode::CourseFull),
            TicketState::Cancelled,
            TicketState::Expired,
            TicketState::Lost,
        ] {
            assert!(state.is_terminal());
            let code = state.code().map(RejectionCode::as_str);
            assert_eq!(TicketState::parse(state.as_str(), code), Ok(state));
        }
        assert!(!TicketState::Queued.is_terminal());
        assert!(!TicketState::Deciding.is_terminal());
    }

    #[test]
    fn a_rejection_needs_a_known_code_and_nothing_else_takes_one() {
        assert_eq!(
            TicketState::parse("rejected", Some("TIME_CLASH")),
            Ok(TicketState::Rejected(RejectionCode::TimeClash))
        );
        assert_eq!(
            TicketState::parse("enrolled", Some("")),
            Ok(TicketState::Enrolled),
            "the stores write no code as ''"
        );
        for (state, code) in [
            ("rejected", None),
            ("rejected", Some("")),
            ("rejected", Some("COURSE_FULL ")),
            ("enrolled", Some("COURSE_FULL")),
            ("decided", None),
            ("", None),
        ] {
            assert!(TicketState::parse(state, code).is_err(), "{state} {code:?}");
        }
    }

    #[test]
    fn every_code_round_trips_and_speaks_korean() {
        for code in RejectionCode::ALL {
            assert_eq!(code.as_str().parse::<RejectionCode>(), Ok(code));
            assert!(
                code.message().chars().any(|c| ('가'..='힣').contains(&c)),
                "{code}"
            );
        }
        let mut messages: Vec<&str> = RejectionCode::ALL.iter().map(|c| c.message()).collect();
        messages.sort_unstable();
        messages.dedup();
        assert_eq!(messages.len(), RejectionCode::ALL.len(), "one message each");
        assert!(!RejectionCode::RULES.contains(&RejectionCode::StudentNotFound));
    }
}
