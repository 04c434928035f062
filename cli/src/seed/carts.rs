//! Carts planned before registration day: what `classmate seed --carts` and the bench load in
//! bulk, and what the bench's students then press 신청 for. Hot courses are wanted by a set
//! multiple of their seats; the rest of every cart is ordinary courses.

use super::HotCourse;
use super::rng::Rng;

/// The catalog a plan draws from: course ids `first..=last`, and the hot ones among them.
#[derive(Debug, Clone)]
pub struct Courses {
    pub first: i64,
    pub last: i64,
    pub hot: Vec<HotCourse>,
}

impl Courses {
    /// A course id that is not hot.
    pub fn ordinary(&self, rng: &mut Rng) -> i64 {
        loop {
            let id = rng.between(self.first, self.last);
            if self.hot.len() as i64 > self.last - self.first
                || !self.hot.iter().any(|h| h.id == id)
            {
                return id;
            }
        }
    }
}

/// How to plan carts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CartSpec {
    /// Courses per cart, inclusive range.
    pub size: [usize; 2],
    /// How many times its capacity each hot course is wanted, inclusive range. Hot courses are
    /// used while their demand fits in 60% of the students.
    pub hot_oversubscription: [u32; 2],
    /// The same seed plans the same carts.
    pub seed: u64,
}

/// How many students want one hot course.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    pub course_id: i64,
    /// With its section, e.g. `CSE2010-01`.
    pub code: String,
    pub capacity: u32,
    /// Students with the course in their cart.
    pub demand: u64,
}

/// Every student's planned cart (course ids, hot course first), and the hot courses' demand.
#[derive(Debug, Clone)]
pub struct Carts {
    pub carts: Vec<Vec<i64>>,
    pub demand: Vec<Demand>,
}

impl Carts {
    /// Cart entries over all students.
    pub fn entries(&self) -> usize {
        self.carts.iter().map(Vec::len).sum()
    }
}

/// Plans the carts of `students` students: hot courses in catalog order, each wanted by
/// `ratio × capacity` students with the ratio drawn from the spec's range, while that demand
/// fits in 60% of the students (at least one hot course is always used, at whatever demand
/// fits); each student wants at most one hot course; the rest of every cart is ordinary courses.
pub fn plan(spec: &CartSpec, courses: &Courses, students: usize) -> Carts {
    let mut rng = Rng::new(spec.seed ^ 0xCA27);
    let budget = (students * 6 / 10).max(1);
    let [low, high] = spec.hot_oversubscription;
    let mut wanted: Vec<Option<usize>> = vec![None; students];
    let mut order: Vec<usize> = (0..students).collect();
    shuffle(&mut order, &mut rng);
    let mut next = 0;
    let mut demand = Vec::new();
    for (index, hot) in courses.hot.iter().enumerate() {
        let ratio = rng.between(i64::from(low), i64::from(high)) as usize;
        let mut wanting = ratio * hot.capacity.max(1) as usize;
        if next + wanting > budget {
            if !demand.is_empty() {
                break;
            }
            wanting = budget;
        }
        for &student in &order[next..next + wanting] {
            wanted[student] = Some(index);
        }
        next += wanting;
        demand.push(Demand {
            course_id: hot.id,
            code: hot.code.clone(),
            capacity: hot.capacity,
            demand: wanting as u64,
        });
    }
    let [size_low, size_high] = spec.size;
    let carts = wanted
        .into_iter()
        .map(|hot| {
            let size = rng.between(size_low as i64, size_high as i64) as usize;
            let mut cart: Vec<i64> = hot.map(|i| courses.hot[i].id).into_iter().collect();
            while cart.len() < size {
                let id = courses.ordinary(&mut rng);
                if !cart.contains(&id) {
                    cart.push(id);
                }
            }
            cart
        })
        .collect();
    Carts { carts, demand }
}

/// Shuffles in place (Fisher–Yates).
pub fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}

/// A catalog for tests: ids 1–1000, with `hot` hot courses of 30 seats at ids 1, 101, 201, …
#[cfg(test)]
pub(crate) fn test_courses(hot: usize) -> Courses {
    Courses {
        first: 1,
        last: 1000,
        hot: (0..hot)
            .map(|i| HotCourse {
                id: 1 + i as i64 * 100,
                code: format!("HOT{i}"),
                title: "인기 강좌".into(),
                capacity: 30,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::test_courses as courses;
    use super::*;

    const RUSH: CartSpec = CartSpec {
        size: [3, 6],
        hot_oversubscription: [10, 50],
        seed: 2026,
    };

    #[test]
    fn hot_courses_are_wanted_within_the_oversubscription_range() {
        let plan = plan(&RUSH, &courses(10), 20_000);
        assert_eq!(plan.carts.len(), 20_000);
        assert!(!plan.demand.is_empty());
        let demand: u64 = plan.demand.iter().map(|o| o.demand).sum();
        assert!(demand <= 12_000, "{demand}");
        for o in &plan.demand {
            let ratio = o.demand as f64 / f64::from(o.capacity);
            assert!((10.0..=50.0).contains(&ratio), "{o:?}");
            let wanting = plan
                .carts
                .iter()
                .filter(|c| c.contains(&o.course_id))
                .count();
            assert_eq!(wanting as u64, o.demand);
        }
        for cart in &plan.carts {
            assert!((3..=6).contains(&cart.len()));
            let mut unique = cart.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), cart.len(), "no course twice in a cart");
            let hot = cart
                .iter()
                .filter(|id| *id % 100 == 1 && **id < 1000)
                .count();
            assert!(hot <= 1);
        }
        // A run too small for the range still has one hot course, as oversubscribed as fits.
        let small = super::plan(&RUSH, &courses(10), 100);
        assert_eq!(small.demand.len(), 1);
        assert_eq!(small.demand[0].demand, 60);
    }

    #[test]
    fn the_same_spec_plans_the_same_carts() {
        let a = plan(&RUSH, &courses(3), 1_000);
        let b = plan(&RUSH, &courses(3), 1_000);
        assert_eq!(a.carts, b.carts);
        let other = plan(&CartSpec { seed: 7, ..RUSH }, &courses(3), 1_000);
        assert_ne!(a.carts, other.carts);
    }
}
