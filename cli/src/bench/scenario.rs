//! Scenario files: TOML in `scenarios/`, one per scenario. A scenario names how many distinct
//! students to simulate and over how many lanes, the catalog to seed when the database is empty,
//! and a list of phases; each phase has an arrival pattern, the steps every student takes (a
//! fixed list or a weighted mix), think times, how students follow their tickets, and whether the
//! scenario's SLOs judge it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::seed::carts::CartSpec;

/// The scenarios that ship with Classmate, compiled in so the binary runs anywhere; a file of
/// the same name in `scenarios/` wins.
const BUILT_IN: [(&str, &str); 6] = [
    ("smoke", include_str!("../../../scenarios/smoke.toml")),
    (
        "enroll-rush",
        include_str!("../../../scenarios/enroll-rush.toml"),
    ),
    (
        "search-storm",
        include_str!("../../../scenarios/search-storm.toml"),
    ),
    (
        "registration-day",
        include_str!("../../../scenarios/registration-day.toml"),
    ),
    (
        "login-storm",
        include_str!("../../../scenarios/login-storm.toml"),
    ),
    (
        "login-burst",
        include_str!("../../../scenarios/login-burst.toml"),
    ),
];

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Distinct students simulated; each gets a token minted before the run.
    pub students: u64,
    /// Goose users. Each is a lane: one connection that plays its share of the students, each at
    /// their own times.
    pub lanes: u64,
    /// Seeds the journeys, so two runs of one scenario send the same requests.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Sizes the bench seeds when the database is empty (or with `--fresh`).
    pub catalog: Catalog,
    /// Carts for the `cart-fill` and `enroll-cart` steps.
    #[serde(default)]
    pub cart: CartPlan,
    #[serde(rename = "phase", default)]
    pub phases: Vec<Phase>,
    #[serde(default)]
    pub slo: Slo,
}

fn default_seed() -> u64 {
    2026
}

/// What the bench seeds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub courses: usize,
    pub students: usize,
}

/// How carts are planned and filled.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CartPlan {
    /// Courses per cart, inclusive range.
    pub size: [usize; 2],
    /// How many times its capacity each hot course is wanted, inclusive range. Hot courses are
    /// used while their demand fits in 60% of the students.
    pub hot_oversubscription: [u32; 2],
    /// How the planned carts reach the database before the day.
    #[serde(default)]
    pub fill: CartFill,
}

impl Default for CartPlan {
    fn default() -> Self {
        CartPlan {
            size: [3, 6],
            hot_oversubscription: [10, 50],
            fill: CartFill::default(),
        }
    }
}

impl CartPlan {
    /// The planner's settings for a scenario seeded with `seed`.
    pub fn spec(&self, seed: u64) -> CartSpec {
        CartSpec {
            size: self.size,
            hot_oversubscription: self.hot_oversubscription,
            seed,
        }
    }
}

/// How the planned carts reach the database: real carts are filled over the week before, so by
/// default they are data loaded with the seed, not load on the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum CartFill {
    /// Bulk-loaded with the seed, in the seed's transaction; phases that only fill carts
    /// (`cart-fill` steps) are skipped.
    #[default]
    Bulk,
    /// Through `POST /api/v1/cart` in the scenario's cart-filling phase: a load test of cart
    /// adds.
    Http,
}

/// One phase of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub name: String,
    /// When students arrive.
    #[serde(default)]
    pub arrival: Arrival,
    /// Enrollment opens at the start of the arrival window (the bench sets the opening time).
    #[serde(default)]
    pub opens: bool,
    /// A fixed journey: every student takes these steps in order.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// A random journey: each student takes `actions` steps drawn by weight.
    #[serde(default)]
    pub mix: BTreeMap<Step, u32>,
    /// Steps per student for `mix`, inclusive range.
    #[serde(default = "default_actions")]
    pub actions: [usize; 2],
    /// Milliseconds a student pauses after each answer, inclusive range.
    #[serde(default)]
    pub think_ms: [u64; 2],
    /// How students learn their tickets' outcomes.
    #[serde(default)]
    pub follow: Follow,
    /// Whether the SLOs judge this phase (a preparation phase is not judged).
    #[serde(default = "yes")]
    pub gated: bool,
    /// Seconds from the phase's start after which steps still due are not sent: they are
    /// counted as cut off and the run misses its SLOs. A server far slower than the scenario
    /// asks for still gets a finished report. None: the phase runs until every step is done.
    #[serde(default)]
    pub limit_seconds: Option<f64>,
}

fn default_actions() -> [usize; 2] {
    [1, 1]
}

fn yes() -> bool {
    true
}

/// When the students of a phase arrive.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arrival {
    pub pattern: Pattern,
    /// The window they arrive in; 0 means all at once.
    pub seconds: f64,
}

impl Default for Arrival {
    fn default() -> Self {
        Arrival {
            pattern: Pattern::Uniform,
            seconds: 0.0,
        }
    }
}

/// The shape of arrivals within the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    /// Evenly spread.
    Uniform,
    /// Registration day: most students at the first instant, tailing off (exponential, 95% in
    /// the first third of the window).
    Spike,
}

/// How students learn their tickets' outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Follow {
    /// One WebSocket per lane hears "now serving"; each student then reads their tickets.
    #[default]
    Websocket,
    /// Each student opens a WebSocket of their own before their first press, as a browser
    /// does, and hears their results pushed on it: no reads. The sockets come from many
    /// loopback addresses (`127.2.x.y`), so that tens of thousands fit in the ports.
    WebsocketPerStudent,
    /// Each lane polls `GET /api/v1/queue/status` every 250 ms while it has open tickets.
    Polling,
    /// Tickets are not followed.
    None,
}

/// One thing a student does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// A page of the catalog.
    Courses,
    /// One course.
    Course,
    /// A Korean text query, sometimes with a filter, sometimes a later page.
    Search,
    Healthz,
    /// Puts one course in the cart.
    CartAdd,
    /// Puts the student's whole planned cart in the cart.
    CartFill,
    /// Looks at the cart.
    Cart,
    /// Takes one course out of the cart.
    CartRemove,
    /// Asks to enroll in one course (a hot course in `smoke`, one from the plan otherwise).
    Enroll,
    /// Presses enroll for every course of the planned cart, one after another.
    EnrollCart,
    /// Cancels one held course.
    Cancel,
    /// Enrolls again in a course the student cancelled.
    ReEnroll,
    Tickets,
    Enrollments,
    Me,
    QueueStatus,
    /// Logs in with the student number and the seeded password: a real argon2id check. On
    /// `503 BUSY` or `429 RATE_LIMITED` the student waits the `Retry-After` and tries again, as
    /// the web UI does; every press of 신청 does the same.
    Login,
}

impl Scenario {
    /// Whether a phase follows tickets on a WebSocket per student.
    pub fn follows_per_student(&self) -> bool {
        self.phases
            .iter()
            .any(|p| p.follow == Follow::WebsocketPerStudent)
    }
}

impl Phase {
    /// Whether the phase does nothing but fill carts, which a bulk fill replaces.
    pub fn only_fills_carts(&self) -> bool {
        self.mix.is_empty() && self.steps.iter().all(|s| *s == Step::CartFill)
    }
}

impl Step {
    /// Whether the step may create an enrollment, so the run needs the audit.
    pub fn enrolls(self) -> bool {
        matches!(self, Step::Enroll | Step::EnrollCart | Step::ReEnroll)
    }
}

/// Service-level objectives; any miss fails the run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Most unexpected answers, as a share of all requests of judged phases.
    pub error_rate: Option<f64>,
    #[serde(default)]
    pub latency: Vec<LatencySlo>,
    /// Longest server-side time to decision at a percentile, in ms.
    pub decision: Option<LatencySlo>,
    /// Most resident memory of the server at its peak, in MiB (measured only when the bench
    /// runs the server in its own process).
    pub peak_memory_mib: Option<f64>,
}

/// A percentile limit on one request kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySlo {
    /// `METHOD name` as in the report, e.g. `POST enrollments`; ignored for `decision`.
    #[serde(default)]
    pub request: String,
    /// 50, 90, 99 or 99.9.
    pub percentile: f64,
    pub max_ms: f64,
    /// Judge the latency corrected for coordinated omission (the default) or as served.
    #[serde(default = "yes")]
    pub corrected: bool,
}

impl Scenario {
    /// Loads a scenario: a path to a `.toml` file, a name in `scenarios/`, or a built-in name.
    pub fn load(name_or_path: &str) -> anyhow::Result<Scenario> {
        let path = Path::new(name_or_path);
        let local = Path::new("scenarios").join(format!("{name_or_path}.toml"));
        let (origin, text) = if name_or_path.ends_with(".toml") || path.is_file() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            (path.display().to_string(), text)
        } else if local.is_file() {
            (
                local.display().to_string(),
                std::fs::read_to_string(&local)?,
            )
        } else if let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            (format!("built-in {name_or_path}"), (*text).to_owned())
        } else {
            let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
            bail!(
                "unknown scenario {name_or_path:?}: give a .toml file or one of {}",
                names.join(", ")
            );
        };
        Scenario::parse(&text).with_context(|| format!("in scenario {origin}"))
    }

    /// Parses and checks a scenario.
    pub fn parse(text: &str) -> anyhow::Result<Scenario> {
        let scenario: Scenario = toml::from_str(text)?;
        scenario.check()?;
        Ok(scenario)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.students == 0 || self.lanes == 0 {
            bail!("students and lanes must be at least 1");
        }
        if self.phases.is_empty() {
            bail!("a scenario needs at least one [[phase]]");
        }
        if self.cart.size[0] == 0 || self.cart.size[0] > self.cart.size[1] {
            bail!("cart.size must be [low, high] with 1 ≤ low ≤ high");
        }
        let [low, high] = self.cart.hot_oversubscription;
        if low == 0 || low > high {
            bail!("cart.hot_oversubscription must be [low, high] with 1 ≤ low ≤ high");
        }
        for phase in &self.phases {
            let name = &phase.name;
            if phase.steps.is_empty() == phase.mix.is_empty() {
                bail!("phase {name}: give either steps or mix");
            }
            if phase.actions[0] > phase.actions[1] || phase.think_ms[0] > phase.think_ms[1] {
                bail!("phase {name}: ranges are [low, high]");
            }
            if !(phase.arrival.seconds >= 0.0 && phase.arrival.seconds.is_finite()) {
                bail!("phase {name}: arrival.seconds must be 0 or more");
            }
            if phase
                .limit_seconds
                .is_some_and(|l| !(l > 0.0 && l.is_finite()))
            {
                bail!("phase {name}: limit_seconds must be more than 0");
            }
        }
        let latencies = self.slo.latency.iter().chain(&self.slo.decision);
        for slo in latencies {
            if ![50.0, 90.0, 99.0, 99.9].contains(&slo.percentile) {
                bail!("SLO percentiles are 50, 90, 99 or 99.9");
            }
        }
        Ok(())
    }

    /// Whether any phase logs in, so the students' numbers are needed.
    pub fn logs_in(&self) -> bool {
        self.phases.iter().any(|p| {
            p.steps
                .iter()
                .chain(p.mix.keys())
                .any(|s| *s == Step::Login)
        })
    }

    /// Whether any phase may enroll, so the run ends with the audit.
    pub fn enrolls(&self) -> bool {
        self.phases
            .iter()
            .any(|p| p.steps.iter().chain(p.mix.keys()).any(|s| s.enrolls()))
    }

    /// Applies `--students`, `--lanes` and `--seconds` overrides.
    pub fn override_with(
        &mut self,
        students: Option<u64>,
        lanes: Option<u64>,
        seconds: Option<f64>,
        limit_seconds: Option<f64>,
        cart_fill: Option<CartFill>,
        follow: Option<Follow>,
    ) {
        if let Some(fill) = cart_fill {
            self.cart.fill = fill;
        }
        if let Some(follow) = follow {
            for phase in self.phases.iter_mut().filter(|p| p.follow != Follow::None) {
                phase.follow = follow;
            }
        }
        if let Some(students) = students {
            self.students = students;
            self.catalog.students = students as usize;
        }
        if let Some(lanes) = lanes {
            self.lanes = lanes;
        }
        if let Some(seconds) = seconds {
            for phase in self.phases.iter_mut().filter(|p| p.gated) {
                phase.arrival.seconds = seconds;
            }
        }
        if let Some(limit) = limit_seconds {
            for phase in self.phases.iter_mut().filter(|p| p.gated) {
                phase.limit_seconds = Some(limit);
            }
        }
        self.lanes = self.lanes.clamp(1, self.students.max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_scenario_parses() {
        for (name, text) in BUILT_IN {
            let scenario = Scenario::parse(text).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert_eq!(scenario.name, name);
        }
        let rush = Scenario::load("enroll-rush").unwrap();
        assert_eq!(rush.students, 100_000);
        assert!(rush.enrolls());
        assert!(!Scenario::load("search-storm").unwrap().enrolls());
    }

    #[test]
    fn mistakes_in_a_scenario_are_named() {
        let base =
            "name='x'\ndescription='x'\nstudents=10\nlanes=2\n[catalog]\ncourses=10\nstudents=10\n";
        let error = |extra: &str| {
            format!(
                "{:#}",
                Scenario::parse(&format!("{base}{extra}")).unwrap_err()
            )
        };
        assert!(error("").contains("at least one"));
        assert!(error("[[phase]]\nname='p'\n").contains("either steps or mix"));
        assert!(error("[[phase]]\nname='p'\nsteps=['fly']\n").contains("unknown variant"));
        assert!(error("[[phase]]\nname='p'\nsteps=['me']\ncolour=1\n").contains("unknown field"));
        assert!(
            error("[[phase]]\nname='p'\nsteps=['me']\n[[slo.latency]]\nrequest='GET me'\npercentile=95\nmax_ms=1\n")
                .contains("percentiles")
        );
        assert!(Scenario::load("no-such-scenario").is_err());
    }

    #[test]
    fn overrides_keep_lanes_within_students() {
        let mut rush = Scenario::load("enroll-rush").unwrap();
        rush.override_with(Some(50), None, Some(2.0), Some(9.0), None, None);
        assert_eq!(rush.students, 50);
        assert_eq!(rush.lanes, 50);
        assert!(
            rush.phases
                .iter()
                .filter(|p| p.gated)
                .all(|p| p.arrival.seconds == 2.0 && p.limit_seconds == Some(9.0))
        );
    }
}
