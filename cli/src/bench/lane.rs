//! A lane: one goose user with one connection that plays many students, each at their own times.
//! The lane keeps its students in order of when their next step is due (arrival, then the end of
//! each think time) and sends one request at a time; a request sent late because the lane was
//! busy is measured from when it was due as well as from when it was sent, so a slow server
//! cannot hide behind a slowed generator. Tickets are followed to their end: a WebSocket per lane
//! (or polling the queue status) says how far the queue has got, and each student whose ticket it
//! has passed reads that ticket.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goose::prelude::*;
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::call::{Answer, Call};
use super::follow::{Serving, Told, student_socket, watch_queue};
use super::plan::{Courses, Journey, search_path};
use super::record::Recording;
use super::scenario::{Follow, Step};
use crate::seed::rng::Rng;

/// How long a lane keeps following tickets after its last step before it calls them lost.
const FOLLOW_LIMIT: Duration = Duration::from_secs(300);

/// How many times a student tries one step while the server answers BUSY or RATE_LIMITED.
const TRIES: u32 = 120;

/// The answers that mean "not now, come back after Retry-After": a student waits and tries the
/// same step again, as the web UI does.
const TURNED_AWAY: [&str; 2] = ["BUSY", "RATE_LIMITED"];

/// How often a polling lane reads the queue status while it has open tickets.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// What the lanes work with, set once before the run: where the server is, every student's
/// token and planned cart, and the courses.
#[derive(Debug)]
pub struct Target {
    /// `http://host:port`.
    pub base: String,
    /// One session token per simulated student, minted before the run.
    pub tokens: Vec<String>,
    /// Each student's planned cart, hot course first.
    pub carts: Vec<Vec<i64>>,
    pub courses: Courses,
    /// Each student's number and the password every seeded student has, for logging in
    /// (empty when no phase logs in).
    pub numbers: Vec<String>,
    pub password: String,
}

/// A phase as the lanes run it: what they share, handed to each goose user.
pub struct PhaseRun {
    pub target: Arc<Target>,
    pub recording: Recording,
    /// Arrivals count from here.
    pub start: Instant,
    /// Whether arrivals are spread over a window (so "due" means something), or all at once.
    pub scheduled: bool,
    pub follow: Follow,
    pub think_ms: [u64; 2],
    /// Steps still due after this are cut off, not sent.
    pub deadline: Option<Instant>,
    pub seed: u64,
    /// Each lane's journeys; lane `i` takes entry `i`.
    pub lanes: Vec<Mutex<Vec<Journey>>>,
}

/// The goose scenario of `phase`: every user runs one lane once.
pub fn scenario(phase: Arc<PhaseRun>) -> Scenario {
    let lane = Transaction::new(Arc::new(move |user| {
        let phase = phase.clone();
        Box::pin(async move { run_lane(user, &phase).await })
    }));
    scenario!("lanes").register_transaction(lane.set_name("lane"))
}

/// The goose scenario that measures the generator's ceiling: each user waits for `start`, then
/// sends `GET /healthz` back to back until `until`.
pub fn calibration(
    target: Arc<Target>,
    recording: Recording,
    start: Instant,
    until: Instant,
) -> Scenario {
    let healthz = Transaction::new(Arc::new(move |user| {
        let (target, recording) = (target.clone(), recording.clone());
        Box::pin(async move {
            tokio::time::sleep_until(start.into()).await;
            let token = &target.tokens[0];
            while Instant::now() < until {
                Call::get("/healthz".into(), "GET healthz", token, None)
                    .send(user, &recording)
                    .await?;
            }
            Ok(())
        })
    }));
    scenario!("calibration").register_transaction(healthz.set_name("healthz"))
}

async fn run_lane(user: &mut GooseUser, phase: &PhaseRun) -> TransactionResult {
    let journeys = phase
        .lanes
        .get(user.weighted_users_index)
        .map(|lane| std::mem::take(&mut *lane.lock().unwrap_or_else(|e| e.into_inner())))
        .unwrap_or_default();
    if journeys.is_empty() {
        return Ok(());
    }
    let lane = user.weighted_users_index as u64;
    if let Some(address) = source_address(&phase.target.base, lane) {
        let client = reqwest::Client::builder()
            .local_address(address)
            .timeout(Duration::from_secs(60));
        user.set_client_builder(client).await.map_err(Box::new)?;
    }
    Lane::new(phase, journeys, lane).run(user, phase).await
}

/// Students come from many addresses, so that the per-address limits (log-ins, sign-ups) meet on
/// the bench what they meet on the day: against a server on this machine each lane sends from a
/// loopback address of its own, `127.1.x.y`; against another machine, from this one's address.
fn source_address(base: &str, lane: u64) -> Option<IpAddr> {
    let authority = base.split_once("://").map_or(base, |(_, rest)| rest);
    let host = authority.split(['/', ':']).next()?;
    let server: Ipv4Addr = match host {
        "localhost" => Ipv4Addr::LOCALHOST,
        host => host.parse().ok()?,
    };
    server.is_loopback().then(|| loopback(1, lane as usize))
}

/// The `index`-th of 64,000 loopback addresses `127.<block>.x.y`: one set per kind of client.
fn loopback(block: u8, index: usize) -> IpAddr {
    let (high, low) = ((index / 250) % 256, index % 250 + 1);
    IpAddr::V4(Ipv4Addr::new(127, block, high as u8, low as u8))
}

/// With a WebSocket per student, each student's socket comes from a loopback address of its own,
/// `127.2.x.y`, against a server on this machine: one address has ports for about 28,000
/// connections, and a run opens tens of thousands.
fn student_source(server: SocketAddr, student: usize) -> Option<IpAddr> {
    server.ip().is_loopback().then(|| loopback(2, student))
}

/// The server's socket address, from `http://host:port`.
async fn server_address(base: &str) -> Option<SocketAddr> {
    let authority = base.split_once("://").map_or(base, |(_, rest)| rest);
    let authority = authority.split('/').next()?;
    let authority = match authority.contains(':') {
        true => authority.to_owned(),
        false => format!("{authority}:80"),
    };
    tokio::net::lookup_host(authority)
        .await
        .ok()?
        .find(SocketAddr::is_ipv4)
}

/// The students' own sockets of a lane, and what they hear.
struct Sockets {
    server: Option<SocketAddr>,
    told: mpsc::UnboundedSender<Told>,
    /// Each student's socket task; `None` for a student whose socket could not open.
    open: HashMap<usize, Option<JoinHandle<()>>>,
    /// Results heard before their 202 was read.
    early: HashMap<String, Told>,
}

/// One student as the lane plays them.
struct Student {
    index: usize,
    steps: VecDeque<Step>,
    /// Next course of the plan to put in the cart, and to enroll in.
    cart_cursor: usize,
    enroll_cursor: usize,
    in_cart: Vec<i64>,
    held: Vec<i64>,
    cancelled: Vec<i64>,
    /// How long the server asked this student to wait before the next try, if it did.
    retry_after: Option<Duration>,
    /// Tries of the current step turned away (BUSY, RATE_LIMITED) so far.
    turned_away: u32,
    /// A course whose press was turned away, to press again first.
    again: Option<i64>,
}

/// A ticket waiting for its decision.
struct Pending {
    student: usize,
    id: String,
    generation: u64,
    seq: u64,
    /// When its 202 arrived.
    admitted: Instant,
    /// The server's admission time, from the 202.
    admitted_at_ms: Option<i64>,
    /// Not read again before this (it was still being decided).
    not_before: Instant,
}

struct Lane {
    target: Arc<Target>,
    recording: Recording,
    /// Error codes of `POST /api/v1/enrollments` that are answers, not failures.
    refusals: Vec<&'static str>,
    students: Vec<Student>,
    /// (due, student) of each student's next step.
    due: BinaryHeap<Reverse<(Instant, usize)>>,
    pending: Vec<Pending>,
    rng: Rng,
    think: [u64; 2],
    follow: Follow,
    /// With a WebSocket per student.
    sockets: Option<Sockets>,
}

impl Lane {
    fn new(phase: &PhaseRun, journeys: Vec<Journey>, lane: u64) -> Lane {
        let mut due = BinaryHeap::new();
        let students = journeys
            .into_iter()
            .enumerate()
            .map(|(local, j)| {
                due.push(Reverse((phase.start + j.arrival, local)));
                Student {
                    index: j.student,
                    steps: j.steps.into(),
                    cart_cursor: 0,
                    enroll_cursor: 0,
                    in_cart: Vec::new(),
                    held: Vec::new(),
                    cancelled: Vec::new(),
                    retry_after: None,
                    turned_away: 0,
                    again: None,
                }
            })
            .collect();
        Lane {
            target: phase.target.clone(),
            recording: phase.recording.clone(),
            refusals: classmate_server::http::enrollments::refusal_codes()
                .into_iter()
                .chain(TURNED_AWAY)
                .collect(),
            students,
            due,
            pending: Vec::new(),
            rng: Rng::new(phase.seed ^ (lane << 20) ^ 0x1A4E),
            think: phase.think_ms,
            follow: phase.follow,
            sockets: None,
        }
    }

    async fn run(mut self, user: &mut GooseUser, phase: &PhaseRun) -> TransactionResult {
        let own = self.target.tokens[self.students[0].index].clone();
        let (watcher, mut serving) = match self.follow {
            Follow::Websocket => {
                let (tx, rx) = watch::channel(None);
                let task = tokio::spawn(watch_queue(
                    self.target.base.clone(),
                    own.clone(),
                    tx,
                    self.recording.clone(),
                ));
                (Some(task), Some(rx))
            }
            _ => (None, None),
        };
        let mut told = match self.follow {
            Follow::WebsocketPerStudent => {
                let (tx, rx) = mpsc::unbounded_channel();
                self.sockets = Some(Sockets {
                    server: server_address(&self.target.base).await,
                    told: tx,
                    open: HashMap::new(),
                    early: HashMap::new(),
                });
                Some(rx)
            }
            _ => None,
        };
        let mut polled: Option<Serving> = None;
        let mut next_poll = Instant::now();
        let mut last_step_done = Instant::now();
        loop {
            let now = Instant::now();
            if phase.deadline.is_some_and(|d| now >= d) && !self.due.is_empty() {
                let steps: usize = self
                    .due
                    .drain()
                    .map(|Reverse((_, local))| self.students[local].steps.len())
                    .sum();
                self.recording.with(|r| r.cut_off(steps as u64));
                continue;
            }
            if let Some(result) = told.as_mut().and_then(|rx| rx.try_recv().ok()) {
                self.told(result);
                continue;
            }
            // A step that is due goes first: the lane's students are strangers to each other, and
            // one student's reading of a decided ticket must not hold up another's press (which
            // would then be measured late, from when it was due, for the lane's own sake).
            if let Some(&Reverse((due, local))) = self.due.peek()
                && due <= now
            {
                self.due.pop();
                let due = phase.scheduled.then_some(due);
                let done = self.step(user, local, due).await?;
                last_step_done = done;
                if !self.students[local].steps.is_empty() {
                    let think = self.rng.between(self.think[0] as i64, self.think[1] as i64);
                    let pause = self.students[local]
                        .retry_after
                        .take()
                        .unwrap_or(Duration::from_millis(think as u64));
                    self.due.push(Reverse((done + pause, local)));
                }
                continue;
            }
            let heard = serving.as_ref().and_then(|rx| *rx.borrow()).or(polled);
            if let Some(at) = self.passed(heard, now) {
                let due = heard.map(|s| s.heard.max(self.pending[at].admitted));
                self.check_ticket(user, at, due).await?;
                continue;
            }
            if self.follow == Follow::Polling && !self.pending.is_empty() && now >= next_poll {
                polled = self.poll(user, &own).await?.or(polled);
                next_poll = Instant::now() + POLL_EVERY;
                continue;
            }
            if self.due.is_empty() && self.pending.is_empty() {
                break;
            }
            if self.due.is_empty() && now > last_step_done + FOLLOW_LIMIT {
                for p in self.pending.drain(..) {
                    self.recording.with(|r| {
                        r.failure(format!(
                            "ticket {} not decided within {} s",
                            p.id,
                            FOLLOW_LIMIT.as_secs()
                        ))
                    });
                }
                break;
            }
            // Sleep until the next step is due, the queue moves, or a poll is due.
            let mut wake = self
                .due
                .peek()
                .map_or(now + Duration::from_millis(100), |Reverse((d, _))| *d);
            if !self.pending.is_empty() {
                let retry = self.pending.iter().map(|p| p.not_before).min();
                wake = wake.min(match self.follow {
                    Follow::Polling => next_poll,
                    _ => now + Duration::from_millis(100),
                });
                if let Some(retry) = retry.filter(|r| *r > now) {
                    wake = wake.min(retry);
                }
            }
            let sleep = tokio::time::sleep_until(wake.into());
            match (
                serving.as_mut().filter(|_| !self.pending.is_empty()),
                told.as_mut(),
            ) {
                (Some(rx), _) => {
                    tokio::select! {
                        _ = sleep => {}
                        _ = rx.changed() => {}
                    }
                }
                (None, Some(rx)) => {
                    tokio::select! {
                        _ = sleep => {}
                        result = rx.recv() => {
                            if let Some(result) = result {
                                self.told(result);
                            }
                        }
                    }
                }
                (None, None) => sleep.await,
            }
        }
        if let Some(task) = watcher {
            task.abort();
        }
        if let Some(sockets) = self.sockets.take() {
            for task in sockets.open.into_values().flatten() {
                task.abort();
            }
        }
        Ok(())
    }

    /// Opens the student's own socket unless it has one, and waits until it is open: a press
    /// made before would miss a result decided before the socket listened.
    async fn open_socket(&mut self, local: usize) {
        let Some(sockets) = self.sockets.as_mut() else {
            return;
        };
        if sockets.open.contains_key(&local) {
            return;
        }
        let Some(server) = sockets.server else {
            self.recording
                .with(|r| r.failure(format!("WS student: cannot resolve {}", self.target.base)));
            sockets.open.insert(local, None);
            return;
        };
        let index = self.students[local].index;
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(student_socket(
            server,
            student_source(server, index),
            (self.target.base.clone(), self.target.tokens[index].clone()),
            local,
            sockets.told.clone(),
            ready_tx,
            self.recording.clone(),
        ));
        match ready_rx.await {
            Ok(Ok(())) => {
                sockets.open.insert(local, Some(task));
            }
            Ok(Err(e)) => {
                self.recording.with(|r| r.failure(e));
                sockets.open.insert(local, None);
            }
            Err(_) => {
                self.recording
                    .with(|r| r.failure("WS student: the socket task ended".to_owned()));
                sockets.open.insert(local, None);
            }
        }
    }

    /// A result heard on a student's own socket: records the decision of its pending ticket
    /// (or keeps it until the ticket's 202 is read), and closes the socket of a student with
    /// nothing left to hear.
    fn told(&mut self, result: Told) {
        let Some(at) = self
            .pending
            .iter()
            .position(|p| p.student == result.student && p.id == result.id)
        else {
            if let Some(sockets) = self.sockets.as_mut() {
                sockets.early.insert(result.id.clone(), result);
            }
            return;
        };
        let p = self.pending.swap_remove(at);
        self.recording.with(|r| {
            r.decided(
                &result.state,
                result.code.as_deref(),
                p.admitted_at_ms
                    .map(|admitted| (admitted, result.decided_at_ms)),
                result.heard.saturating_duration_since(p.admitted),
            );
            r.told(result.heard_ms - result.decided_at_ms);
        });
        let student = &mut self.students[result.student];
        if result.state == "enrolled"
            && let Some(course) = result.course_id
        {
            student.held.push(course);
        }
        let done =
            student.steps.is_empty() && !self.pending.iter().any(|p| p.student == result.student);
        if done
            && let Some(sockets) = self.sockets.as_mut()
            && let Some(Some(task)) = sockets.open.get_mut(&result.student)
        {
            task.abort();
            self.recording.with(|r| r.socket(false));
            sockets.open.insert(result.student, None);
        }
    }

    /// A pending ticket the queue has passed (or whose generation is gone), ready to read.
    fn passed(&self, serving: Option<Serving>, now: Instant) -> Option<usize> {
        let serving = serving?;
        self.pending.iter().position(|p| {
            p.not_before <= now && (p.generation != serving.generation || p.seq <= serving.seq)
        })
    }

    /// Takes a student's next step; returns when its answer arrived.
    async fn step(
        &mut self,
        user: &mut GooseUser,
        local: usize,
        due: Option<Instant>,
    ) -> Result<Instant, Box<TransactionError>> {
        let step = self.students[local]
            .steps
            .pop_front()
            .expect("a student is only due with steps left");
        let token = self.target.tokens[self.students[local].index].clone();
        let get = |path: String, name: &'static str| Call::get(path, name, &token, due);
        let answer = match step {
            Step::Courses => {
                let page = self.rng.between(1, 5);
                get(
                    format!("/api/v1/courses?per_page=20&page={page}"),
                    "GET courses",
                )
                .unread()
                .send(user, &self.recording)
                .await?
            }
            Step::Course => {
                let id = self.target.courses.ordinary(&mut self.rng);
                get(format!("/api/v1/courses/{id}"), "GET course")
                    .unread()
                    .send(user, &self.recording)
                    .await?
            }
            Step::Search => {
                get(search_path(&mut self.rng), "GET search")
                    .unread()
                    .send(user, &self.recording)
                    .await?
            }
            Step::Healthz => {
                get("/healthz".into(), "GET healthz")
                    .send(user, &self.recording)
                    .await?
            }
            Step::Cart => {
                get("/api/v1/cart".into(), "GET cart")
                    .send(user, &self.recording)
                    .await?
            }
            Step::Tickets => {
                get("/api/v1/tickets".into(), "GET tickets")
                    .send(user, &self.recording)
                    .await?
            }
            Step::Enrollments => {
                get("/api/v1/enrollments".into(), "GET enrollments")
                    .send(user, &self.recording)
                    .await?
            }
            Step::Me => {
                get("/api/v1/me".into(), "GET me")
                    .send(user, &self.recording)
                    .await?
            }
            Step::QueueStatus => {
                get("/api/v1/queue/status".into(), "GET queue status")
                    .send(user, &self.recording)
                    .await?
            }
            Step::CartAdd => {
                let course = self.next_course(local, |s| &mut s.cart_cursor);
                let answer = Call::new(GooseMethod::Post, "/api/v1/cart".into(), "POST cart")
                    .token(&token)
                    .due(due)
                    .body(json!({ "course_id": course }))
                    .expect(&[201], &["ALREADY_IN_CART", "CART_FULL"])
                    .send(user, &self.recording)
                    .await?;
                if answer.status == 201 {
                    self.students[local].in_cart.push(course);
                }
                answer
            }
            Step::CartRemove => match self.students[local].in_cart.pop() {
                Some(course) => {
                    Call::new(
                        GooseMethod::Delete,
                        format!("/api/v1/cart/{course}"),
                        "DELETE cart",
                    )
                    .token(&token)
                    .due(due)
                    .expect(&[204], &["NOT_IN_CART"])
                    .send(user, &self.recording)
                    .await?
                }
                None => {
                    get("/api/v1/cart".into(), "GET cart")
                        .send(user, &self.recording)
                        .await?
                }
            },
            Step::Enroll | Step::ReEnroll => {
                let student = &mut self.students[local];
                let again = match step {
                    Step::ReEnroll => student.cancelled.pop(),
                    _ => student.again.take(),
                };
                let course =
                    again.unwrap_or_else(|| self.next_course(local, |s| &mut s.enroll_cursor));
                self.enroll(user, local, course, &token, due).await?
            }
            Step::Cancel => {
                let held = &self.students[local].held;
                match held.is_empty() {
                    true => {
                        get("/api/v1/enrollments".into(), "GET enrollments")
                            .send(user, &self.recording)
                            .await?
                    }
                    false => {
                        let course = held[self.rng.below(held.len())];
                        let answer = Call::new(
                            GooseMethod::Delete,
                            format!("/api/v1/enrollments/{course}"),
                            "DELETE enrollments",
                        )
                        .token(&token)
                        .due(due)
                        .expect(&[204], &["NOT_ENROLLED"])
                        .send(user, &self.recording)
                        .await?;
                        let student = &mut self.students[local];
                        student.held.retain(|c| *c != course);
                        if answer.status == 204 {
                            student.cancelled.push(course);
                        }
                        answer
                    }
                }
            }
            Step::Login => self.log_in(user, local, &token, due).await?,
            Step::CartFill | Step::EnrollCart => unreachable!("expanded when planned"),
        };
        Ok(answer.done)
    }

    /// Logs the student in. Answered BUSY or RATE_LIMITED, the student tries again after the
    /// Retry-After (the next step waits for it), up to [`TRIES`] times.
    async fn log_in(
        &mut self,
        user: &mut GooseUser,
        local: usize,
        token: &str,
        due: Option<Instant>,
    ) -> Result<Answer, Box<TransactionError>> {
        let index = self.students[local].index;
        let body = json!({
            "student_number": self.target.numbers[index],
            "password": self.target.password,
        });
        let answer = Call::new(GooseMethod::Post, "/api/v1/auth/login".into(), "POST login")
            .token(token)
            .due(due)
            .body(body)
            .expect(&[200], &TURNED_AWAY)
            .send(user, &self.recording)
            .await?;
        self.try_again_later(local, &answer, Step::Login, "POST login");
        Ok(answer)
    }

    /// When `answer` turned the student away, schedules `step` again after its Retry-After,
    /// up to [`TRIES`] times in a row; returns whether it did.
    fn try_again_later(&mut self, local: usize, answer: &Answer, step: Step, name: &str) -> bool {
        let student = &mut self.students[local];
        let code = answer.body["error"]["code"].as_str().unwrap_or("");
        if !TURNED_AWAY.contains(&code) {
            student.turned_away = 0;
            return false;
        }
        student.turned_away += 1;
        if student.turned_away >= TRIES {
            student.turned_away = 0;
            self.recording
                .with(|r| r.failure(format!("{name}: still {code} after {TRIES} tries")));
            return false;
        }
        // Up to half the Retry-After again, as a client should, so the turned-away crowd does
        // not come back in one instant.
        let jitter = 1.0 + self.rng.between(0, 500) as f64 / 1000.0;
        let seconds = answer.body["error"]["details"]["retry_after_seconds"]
            .as_f64()
            .unwrap_or(1.0)
            .clamp(0.0, 60.0);
        student.retry_after = Some(Duration::from_secs_f64(seconds * jitter));
        student.steps.push_front(step);
        true
    }

    /// The next course of the student's plan, or an ordinary one once the plan is used up.
    fn next_course(&mut self, local: usize, cursor: fn(&mut Student) -> &mut usize) -> i64 {
        let student = &mut self.students[local];
        let plan = &self.target.carts[student.index];
        let at = cursor(student);
        *at += 1;
        match plan.get(*at - 1) {
            Some(course) => *course,
            None => self.target.courses.ordinary(&mut self.rng),
        }
    }

    async fn enroll(
        &mut self,
        user: &mut GooseUser,
        local: usize,
        course: i64,
        token: &str,
        due: Option<Instant>,
    ) -> Result<Answer, Box<TransactionError>> {
        self.open_socket(local).await;
        let answer = Call::new(
            GooseMethod::Post,
            "/api/v1/enrollments".into(),
            "POST enrollments",
        )
        .token(token)
        .due(due)
        .body(json!({ "course_id": course }))
        .expect(&[201, 202], &self.refusals)
        .send(user, &self.recording)
        .await?;
        if self.try_again_later(local, &answer, Step::Enroll, "POST enrollments") {
            self.students[local].again = Some(course);
        }
        match answer.status {
            202 => {
                self.recording.with(|r| r.admitted(answer.done));
                let ticket = &answer.body;
                if let (Some(id), Some(generation), Some(seq)) = (
                    ticket["id"].as_str(),
                    ticket["generation"].as_u64(),
                    ticket["seq"].as_u64(),
                ) && self.follow != Follow::None
                    && self
                        .sockets
                        .as_ref()
                        .is_none_or(|s| s.open.get(&local).is_some_and(Option::is_some))
                {
                    self.pending.push(Pending {
                        student: local,
                        id: id.to_owned(),
                        generation,
                        seq,
                        admitted: answer.done,
                        admitted_at_ms: ticket["admitted_at_ms"].as_i64(),
                        not_before: answer.done,
                    });
                    let early = self.sockets.as_mut().and_then(|s| s.early.remove(id));
                    if let Some(result) = early {
                        self.told(result);
                    }
                }
            }
            201 => self.students[local].held.push(course),
            _ => {}
        }
        Ok(answer)
    }

    /// Reads a ticket the queue has passed; records its decision when it is terminal.
    async fn check_ticket(
        &mut self,
        user: &mut GooseUser,
        at: usize,
        due: Option<Instant>,
    ) -> TransactionResult {
        let (student, id) = (self.pending[at].student, self.pending[at].id.clone());
        let token = self.target.tokens[self.students[student].index].clone();
        let answer = Call::get(format!("/api/v1/tickets/{id}"), "GET ticket", &token, due)
            .send(user, &self.recording)
            .await?;
        let state = answer.body["state"].as_str().unwrap_or("");
        if answer.status != 200 || matches!(state, "queued" | "deciding" | "") {
            // Not decided yet (the status frame ran ahead of the settle), or unreadable.
            self.pending[at].not_before = answer.done + Duration::from_millis(50);
            if answer.status != 200 {
                self.pending.swap_remove(at);
            }
            return Ok(());
        }
        let p = self.pending.swap_remove(at);
        let body = &answer.body;
        let server = body["admitted_at_ms"]
            .as_i64()
            .zip(body["decided_at_ms"].as_i64())
            .filter(|(admitted, _)| *admitted > 0);
        self.recording.with(|r| {
            r.decided(
                state,
                body["code"].as_str(),
                server,
                answer.done.saturating_duration_since(p.admitted),
            )
        });
        if state == "enrolled"
            && let Some(course) = body["course_id"].as_i64()
        {
            self.students[student].held.push(course);
        }
        Ok(())
    }

    /// Reads the queue status, as a client without WebSocket does.
    async fn poll(
        &mut self,
        user: &mut GooseUser,
        token: &str,
    ) -> Result<Option<Serving>, Box<TransactionError>> {
        let answer = Call::get(
            "/api/v1/queue/status".into(),
            "GET queue status",
            token,
            None,
        )
        .send(user, &self.recording)
        .await?;
        Ok(Serving::of(&answer.body, answer.done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_on_this_machine_send_from_addresses_of_their_own() {
        let of = |base, lane| source_address(base, lane).map(|a| a.to_string());
        assert_eq!(of("http://127.0.0.1:8080", 0).as_deref(), Some("127.1.0.1"));
        assert_eq!(
            of("http://localhost:8080", 251).as_deref(),
            Some("127.1.1.2")
        );
        let distinct: std::collections::HashSet<_> = (0..5000)
            .map(|lane| of("http://127.0.0.1:1", lane))
            .collect();
        assert_eq!(distinct.len(), 5000);
        assert_eq!(of("http://10.0.0.5:8080", 3), None);
        assert_eq!(of("http://api.example.com", 3), None);
    }
}
