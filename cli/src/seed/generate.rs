//! A realistic catalog and student body from the Korean source lists, the same for the same seed.

use std::collections::HashMap;

use classmate_server::domain::{
    CourseSpec, CourseSpecInput, MeetingInput, RestrictionsInput, RosterEntry, StudentNumber,
    Weekday, Year,
};

use super::data::{DATA, Department};
use super::rng::Rng;

/// The registration year the seeded students' numbers count back from.
pub const CURRENT_YEAR: u16 = 2026;

/// Hot courses: few seats, many takers on registration day.
const HOT_PERCENT: usize = 1;

/// A generated catalog, with which courses are hot.
pub struct Catalog {
    pub courses: Vec<CourseSpec>,
    /// Indexes into `courses`.
    pub hot: Vec<usize>,
}

/// Class start times of the usual timetable grid (09:00, 10:30, …), in minutes.
const SLOTS: [i64; 6] = [540, 630, 720, 810, 900, 990];

/// The twice-a-week day pairs Korean timetables use: 월수, 화목, and 수금.
const PAIRS: [(Weekday, Weekday); 3] = [
    (Weekday::Mon, Weekday::Wed),
    (Weekday::Tue, Weekday::Thu),
    (Weekday::Wed, Weekday::Fri),
];

const DAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

fn person(rng: &mut Rng) -> String {
    let surname = rng.weighted(&DATA.surnames);
    let first = rng.pick(&DATA.syllables);
    let second = rng.pick(&DATA.syllables);
    format!("{surname}{first}{second}")
}

fn room(rng: &mut Rng, building: &str) -> String {
    format!("{building} {}{:02}", rng.between(1, 6), rng.between(1, 20))
}

fn meeting(weekday: Weekday, start_min: i64, minutes: i64, room: &str) -> MeetingInput {
    MeetingInput {
        weekday,
        start_min,
        end_min: start_min + minutes,
        room: room.to_owned(),
    }
}

/// Meetings in the patterns a registrar uses: 75 minutes twice a week, one long block, labs.
fn meetings(rng: &mut Rng, credits: i64, building: &str) -> Vec<MeetingInput> {
    let room = room(rng, building);
    let (a, b) = *rng.pick(&PAIRS);
    let slot = *rng.pick(&SLOTS);
    match credits {
        1 => vec![meeting(*rng.pick(&DAYS), slot, 50, &room)],
        2 => vec![meeting(*rng.pick(&DAYS), slot, 110, &room)],
        // A 3-hour lab once a week.
        3 if rng.chance(20) => vec![meeting(
            *rng.pick(&DAYS),
            *rng.pick(&[540, 780, 840]),
            170,
            &room,
        )],
        3 => vec![meeting(a, slot, 75, &room), meeting(b, slot, 75, &room)],
        _ => {
            // Lectures twice a week and a lab on a free afternoon.
            let lab_day = *rng.pick(&[Weekday::Fri, Weekday::Thu]);
            let lab_day = if lab_day == a || lab_day == b {
                Weekday::Sat
            } else {
                lab_day
            };
            vec![
                meeting(a, slot, 75, &room),
                meeting(b, slot, 75, &room),
                meeting(lab_day, 780, 110, &format!("{building} 실습실")),
            ]
        }
    }
}

/// The `GEN` pseudo-department of general-education courses.
fn general() -> Department {
    Department {
        name: "교양학부",
        code: "GEN",
        building: "교양관",
        titles: DATA.general.clone(),
    }
}

/// `count` courses. Codes are `<dept><year><stem><variant>-<section>`, e.g. `CSE2010-01`.
pub fn catalog(count: usize, seed: u64) -> Catalog {
    let mut rng = Rng::new(seed);
    let general = general();
    let mut sections: HashMap<String, u32> = HashMap::new();
    let mut courses = Vec::with_capacity(count);
    let mut hot = Vec::new();
    while courses.len() < count {
        let department = match rng.chance(15) {
            true => &general,
            false => rng.pick(&DATA.departments),
        };
        let stem = rng.below(department.titles.len());
        let (stem_title, year) = department.titles[stem];
        // Variants of one stem: plain, with a prefix, with a suffix.
        let variants = 1 + DATA.prefixes.len() + DATA.suffixes.len();
        let per_stem = (1000 / department.titles.len()).min(variants);
        let variant = match rng.chance(55) {
            true => 0,
            false => rng.below(per_stem),
        };
        let title = match variant {
            0 => stem_title.to_owned(),
            v if v <= DATA.prefixes.len() => format!("{} {stem_title}", DATA.prefixes[v - 1]),
            v => format!("{stem_title}{}", DATA.suffixes[v - 1 - DATA.prefixes.len()]),
        };
        let number = u32::from(year) * 1000 + (stem * per_stem + variant) as u32;
        let subject = format!("{}{number:04}", department.code);
        let section = sections.entry(subject.clone()).or_insert(0);
        if *section >= 99 {
            continue;
        }
        *section += 1;
        let is_hot = rng.chance(HOT_PERCENT);
        let credits = match is_hot {
            true => 3,
            false => *rng.weighted(&[(3, 80), (2, 8), (1, 5), (4, 7)]),
        };
        let capacity = match is_hot {
            true => rng.between(30, 40),
            false => match rng.below(100) {
                0..25 => rng.between(20, 40),
                25..70 => rng.between(41, 80),
                70..90 => rng.between(81, 150),
                _ => rng.between(151, 300),
            },
        };
        let years = match year >= 3 && rng.chance(25) {
            true => Some(vec![3, 4]),
            false => None,
        };
        let input = CourseSpecInput {
            code: format!("{subject}-{:02}", section),
            title,
            department: department.name.to_owned(),
            professor: person(&mut rng),
            credits,
            capacity,
            meetings: meetings(&mut rng, credits, department.building),
            restrictions: RestrictionsInput {
                years,
                own_department_only: department.code != "GEN" && rng.chance(5),
            },
            is_open: true,
        };
        let spec = CourseSpec::parse(&input)
            .unwrap_or_else(|e| panic!("generated course {} is invalid: {e:?}", input.code));
        if is_hot {
            hot.push(courses.len());
        }
        courses.push(spec);
    }
    if hot.is_empty() && !courses.is_empty() {
        hot.push(0);
    }
    Catalog { courses, hot }
}

/// `count` students: `<entry year><serial>` numbers, departments, year levels.
pub fn students(count: usize, seed: u64) -> Vec<RosterEntry> {
    // Another stream than the catalog's, so changing --courses keeps the students.
    let mut rng = Rng::new(seed ^ 0x5354_5544_454E_5453);
    (0..count)
        .map(|i| {
            let year = *rng.weighted(&[(1u8, 27), (2, 26), (3, 24), (4, 23)]);
            let entry = CURRENT_YEAR - u16::from(year) + 1;
            let department = rng.pick(&DATA.departments);
            RosterEntry {
                number: StudentNumber::parse(&format!("{entry}{:06}", i + 1)).expect("ten digits"),
                name: person(&mut rng),
                department: department.name.to_owned(),
                year: Year::new(i64::from(year)).expect("1 to 4"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_catalog_and_another_seed_does_not() {
        let a = catalog(2_000, 7);
        let b = catalog(2_000, 7);
        let codes = |c: &Catalog| {
            c.courses
                .iter()
                .map(|s| s.code.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(&a), codes(&b));
        assert_eq!(a.hot, b.hot);
        assert_ne!(codes(&a), codes(&catalog(2_000, 8)));
        let s = |seed| {
            students(500, seed)
                .into_iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(s(7), s(7));
        assert_ne!(s(7), s(8));
    }

    #[test]
    fn a_large_catalog_is_unique_varied_and_realistic() {
        let catalog = catalog(100_000, 1);
        let mut codes: Vec<String> = catalog.courses.iter().map(|c| c.code.to_string()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 100_000, "codes are unique");
        let titles: std::collections::HashSet<&str> =
            catalog.courses.iter().map(|c| c.title.as_str()).collect();
        assert!(titles.len() > 5_000, "{} distinct titles", titles.len());
        let three = catalog
            .courses
            .iter()
            .filter(|c| c.credits.get() == 3)
            .count();
        assert!(three > 75_000, "mostly 3 credits: {three}");
        assert!(
            catalog
                .courses
                .iter()
                .all(|c| (20..=300).contains(&c.capacity))
        );
        assert!(catalog.hot.len() > 500);
        assert!(
            catalog
                .hot
                .iter()
                .all(|&i| (30..=40).contains(&catalog.courses[i].capacity))
        );
        let restricted = catalog
            .courses
            .iter()
            .filter(|c| c.restrictions.years.is_some() || c.restrictions.own_department_only)
            .count();
        assert!(restricted > 1_000, "{restricted}");
        // 월수 10:30–11:45 is one of the patterns.
        assert!(catalog.courses.iter().any(|c| {
            c.meetings.len() == 2
                && c.meetings[0].weekday == Weekday::Mon
                && c.meetings[1].weekday == Weekday::Wed
                && c.meetings[0].start_min == 630
                && c.meetings[0].end_min == 705
        }));
    }

    #[test]
    fn student_numbers_are_unique_and_start_with_the_entry_year() {
        let students = students(20_000, 3);
        let mut numbers: Vec<&str> = students.iter().map(|s| s.number.as_str()).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), 20_000);
        for s in &students {
            let entry: u16 = s.number.as_str()[..4].parse().unwrap();
            assert_eq!(entry, CURRENT_YEAR - u16::from(s.year.get()) + 1);
        }
    }
}
