//! The weekly timetable (월–토, 09:00–21:00) as blocks on a grid of 15-minute rows: the cart's
//! preview and the enrollments' 시간표 alike.
//!
//! Positions are classes (`d2 r8 s6`: Wednesday, from 11:00, six rows), not inline styles, so
//! the pages keep a content security policy without `unsafe-inline`; `app.css` defines them.

use crate::domain::Meeting;
use crate::domain::course::clock;

/// The first minute the grid shows: 09:00.
const DAY_START: u16 = 9 * 60;
/// The last minute the grid shows: 21:00.
const DAY_END: u16 = 21 * 60;
/// Minutes per row.
const ROW: u16 = 15;

/// A course's meeting on the grid.
pub struct Block {
    pub title: String,
    pub detail: String,
    /// `d<day> r<row> s<rows>`.
    pub place: String,
    pub clash: bool,
}

/// A course to lay out.
pub struct Placed<'a> {
    pub title: &'a str,
    pub meetings: &'a [Meeting],
    pub clash: bool,
}

/// The grid of some courses, and the meetings it cannot show (before 09:00 or after 21:00).
pub struct Grid {
    pub blocks: Vec<Block>,
    pub outside: Vec<String>,
    /// The hour labels: (`r<row>`, `09:00`).
    pub hours: Vec<(String, String)>,
}

impl Grid {
    pub fn of<'a>(courses: impl IntoIterator<Item = Placed<'a>>) -> Grid {
        let mut blocks = Vec::new();
        let mut outside = Vec::new();
        for course in courses {
            for meeting in course.meetings {
                let detail = format!("{} {}", meeting.label(), meeting.room);
                if meeting.end_min <= DAY_START || meeting.start_min >= DAY_END {
                    outside.push(format!("{} ({detail})", course.title));
                    continue;
                }
                let start = meeting.start_min.max(DAY_START);
                let end = meeting.end_min.min(DAY_END);
                let row = (start - DAY_START) / ROW;
                let rows = (end - start).div_ceil(ROW).max(1);
                blocks.push(Block {
                    title: course.title.to_owned(),
                    detail,
                    place: format!("d{} r{row} s{rows}", meeting.weekday.index()),
                    clash: course.clash,
                });
            }
        }
        let hours = (DAY_START..DAY_END)
            .step_by(60)
            .map(|minute| (format!("r{}", (minute - DAY_START) / ROW), clock(minute)))
            .collect();
        Grid {
            blocks,
            outside,
            hours,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Weekday;

    fn meeting(weekday: Weekday, start_min: u16, end_min: u16) -> Meeting {
        Meeting {
            weekday,
            start_min,
            end_min,
            room: "공학관 101".into(),
        }
    }

    #[test]
    fn meetings_land_on_their_day_and_rows() {
        let meetings = [
            meeting(Weekday::Mon, 9 * 60, 10 * 60 + 15),
            meeting(Weekday::Sat, 20 * 60, 22 * 60),
            meeting(Weekday::Wed, 7 * 60, 8 * 60),
        ];
        let grid = Grid::of([Placed {
            title: "자료구조",
            meetings: &meetings,
            clash: true,
        }]);
        let places: Vec<&str> = grid.blocks.iter().map(|b| b.place.as_str()).collect();
        // 09:00-10:15 is five rows from the top; 20:00-22:00 is cut at 21:00.
        assert_eq!(places, ["d0 r0 s5", "d5 r44 s4"]);
        assert!(grid.blocks.iter().all(|b| b.clash));
        assert_eq!(grid.outside, ["자료구조 (수 07:00-08:00 공학관 101)"]);
        assert_eq!(grid.hours.len(), 12);
        assert_eq!(grid.hours[1], ("r4".to_owned(), "10:00".to_owned()));
    }
}
