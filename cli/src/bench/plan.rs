//! Who does what and when, decided before the load starts so the run measures only the server:
//! each student's planned cart (hot courses wanted by a set multiple of their seats), and per
//! phase each student's arrival time and steps, dealt out to the lanes in arrival order.

use std::time::Duration;

use super::scenario::{Pattern, Phase, Scenario, Step};
pub use crate::seed::carts::Courses;
use crate::seed::carts::{self, Carts};
use crate::seed::data::DATA;
use crate::seed::rng::Rng;

/// Every student's planned cart, from the scenario's cart settings.
pub fn carts(scenario: &Scenario, courses: &Courses, students: usize) -> Carts {
    carts::plan(&scenario.cart.spec(scenario.seed), courses, students)
}

/// One student's part in a phase.
#[derive(Debug, Clone)]
pub struct Journey {
    /// Index into the run's students (and tokens).
    pub student: usize,
    /// When they arrive, after the phase's start.
    pub arrival: Duration,
    pub steps: Vec<Step>,
}

/// Plans a phase: every student's arrival and steps, dealt to `lanes` lanes in arrival order
/// (the student arriving k-th goes to lane k mod lanes), each lane's list sorted by arrival.
pub fn journeys(
    scenario: &Scenario,
    phase_index: usize,
    carts: &Carts,
    lanes: usize,
) -> Vec<Vec<Journey>> {
    let phase = &scenario.phases[phase_index];
    let mut rng = Rng::new(scenario.seed ^ (0x9E37 + phase_index as u64));
    let students = carts.carts.len();
    let mix: Vec<(Step, u32)> = phase.mix.iter().map(|(s, w)| (*s, *w)).collect();
    let mut all: Vec<Journey> = (0..students)
        .map(|student| Journey {
            student,
            arrival: arrival(phase, &mut rng),
            steps: steps(phase, &mix, carts.carts[student].len(), &mut rng),
        })
        .collect();
    all.sort_by_key(|j| (j.arrival, j.student));
    let mut lanes_of: Vec<Vec<Journey>> = (0..lanes).map(|_| Vec::new()).collect();
    for (rank, journey) in all.into_iter().enumerate() {
        lanes_of[rank % lanes].push(journey);
    }
    lanes_of
}

fn arrival(phase: &Phase, rng: &mut Rng) -> Duration {
    let window = phase.arrival.seconds;
    if window <= 0.0 {
        return Duration::ZERO;
    }
    let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let seconds = match phase.arrival.pattern {
        Pattern::Uniform => unit * window,
        // Exponential with 95% of arrivals in the first third of the window; the rest of the
        // tail folds back into the window.
        Pattern::Spike => {
            let rate = 3.0 * 20f64.ln() / window;
            (-(1.0 - unit).ln() / rate) % window
        }
    };
    Duration::from_secs_f64(seconds)
}

fn steps(phase: &Phase, mix: &[(Step, u32)], cart: usize, rng: &mut Rng) -> Vec<Step> {
    let drawn: Vec<Step> = match phase.steps.is_empty() {
        false => phase.steps.clone(),
        true => {
            let [low, high] = phase.actions;
            let n = rng.between(low as i64, high as i64) as usize;
            (0..n).map(|_| *rng.weighted(mix)).collect()
        }
    };
    drawn
        .into_iter()
        .flat_map(|step| match step {
            Step::CartFill => vec![Step::CartAdd; cart],
            Step::EnrollCart => vec![Step::Enroll; cart],
            other => vec![other],
        })
        .collect()
}

/// A catalog search as a student types it into the search box: a Korean title word, whole or
/// its first two syllables, or a course code typed loosely (`cse 2010`); sometimes narrowed to
/// a department or a day, or to courses with seats.
pub fn search_path(rng: &mut Rng) -> String {
    let data = &*DATA;
    let department = rng.pick(&data.departments);
    let (title, _) = *rng.pick(&department.titles);
    let word = title.split_whitespace().next().unwrap_or(title);
    let query: String = match rng.between(0, 9) {
        0..=5 => word.to_owned(),
        6..=8 => word.chars().take(2).collect(),
        _ => format!(
            "{} {}",
            department.code.to_lowercase(),
            rng.between(1, 4) * 1000 + rng.between(0, 9) * 10
        ),
    };
    let mut path = format!("/api/v1/courses/search?q={}&limit=20", encode(&query));
    if rng.chance(25) {
        path.push_str(&format!("&department={}", encode(department.name)));
    }
    if rng.chance(15) {
        let day = *rng.pick(&["MON", "TUE", "WED", "THU", "FRI"]);
        path.push_str(&format!("&weekday={day}"));
    }
    if rng.chance(10) {
        path.push_str("&has_seats=true");
    }
    path
}

/// Percent-encodes a query value (UTF-8 bytes outside the unreserved set).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::carts::test_courses as courses;

    #[test]
    fn a_phase_is_dealt_to_lanes_in_arrival_order_within_its_window() {
        let rush = Scenario::load("enroll-rush").unwrap();
        let plan = carts(&rush, &courses(3), 5_000);
        let lanes = journeys(&rush, 1, &plan, 100);
        assert_eq!(lanes.len(), 100);
        assert_eq!(lanes.iter().map(Vec::len).sum::<usize>(), 5_000);
        let window = Duration::from_secs(10);
        let mut early = 0;
        for lane in &lanes {
            assert!(lane.windows(2).all(|w| w[0].arrival <= w[1].arrival));
            for j in lane {
                assert!(j.arrival < window);
                assert_eq!(j.steps.len(), plan.carts[j.student].len());
                assert!(j.steps.iter().all(|s| *s == Step::Enroll));
                early += usize::from(j.arrival < window / 3);
            }
        }
        // A spike: about 95% arrive in the first third.
        assert!(early > 4_600, "{early}");
        // The same scenario plans the same run.
        let again = journeys(&rush, 1, &plan, 100);
        assert_eq!(again[7][3].student, lanes[7][3].student);
    }

    #[test]
    fn searches_are_korean_and_encoded() {
        let mut rng = Rng::new(1);
        let paths: Vec<String> = (0..200).map(|_| search_path(&mut rng)).collect();
        assert!(paths.iter().all(|p| p.is_ascii() && p.contains("q=")));
        assert!(
            paths.iter().filter(|p| p.contains("q=%")).count() > 150,
            "mostly Korean"
        );
        assert!(
            paths.iter().any(|p| p.contains("%20")),
            "codes typed loosely"
        );
        assert!(paths.iter().any(|p| p.contains("department=")));
        assert!(paths.iter().any(|p| p.contains("has_seats=")));
        assert!(
            paths
                .iter()
                .all(|p| p.starts_with("/api/v1/courses/search?"))
        );
        assert_eq!(encode("운영 a&b"), "%EC%9A%B4%EC%98%81%20a%26b");
    }
}
