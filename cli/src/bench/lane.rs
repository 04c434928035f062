//! A lane: one goose user with one connection that plays many students, each at their own times.
//! The lane keeps its students in order of when their next step is due (arrival, then the end of
//! each think time) and sends one request at a time; a request sent late because the lane was
//! busy is measured from when it was due as well as from when it was sent, so a slow server
//! cannot hide behind a slowed generator. Tickets are followed to their end: a WebSocket per lane
//! (or polling the queue status) says how far the queue has got, and each student whose ticket it
//! has passed reads that ticket.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use goose::prelude::*;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::plan::{Journey, search_path};
use super::record::{self, Sample};
use super::scenario::{Follow, Step};
use super::{Target, target};
use crate::seed::rng::Rng;

/// How long a lane keeps following tickets after its last step before it calls them lost.
const FOLLOW_LIMIT: Duration = Duration::from_secs(300);

/// How often a polling lane reads the queue status while it has open tickets.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// Rejections a student can get for asking: expected answers, not failures.
const ENROLL_CODES: [&str; 9] = [
    "COURSE_FULL",
    "ALREADY_ENROLLED",
    "ALREADY_QUEUED",
    "TIME_CLASH",
    "CREDIT_LIMIT_EXCEEDED",
    "YEAR_RESTRICTED",
    "DEPARTMENT_RESTRICTED",
    "COURSE_CLOSED",
    "COURSE_NOT_FOUND",
];

/// A phase as the lanes run it.
pub struct PhaseRun {
    /// Arrivals count from here.
    pub start: Instant,
    /// Whether arrivals are spread over a window (so "due" means something), or all at once.
    pub scheduled: bool,
    pub follow: Follow,
    pub think_ms: [u64; 2],
    pub seed: u64,
    /// Each lane's journeys; lane `i` takes entry `i`.
    pub lanes: Vec<Mutex<Vec<Journey>>>,
}

/// The phase being run. Goose transactions are plain functions, so they reach it here.
pub static PHASE: Mutex<Option<Arc<PhaseRun>>> = Mutex::new(None);

/// The goose scenario: every user runs one lane once.
pub fn scenario() -> Scenario {
    scenario!("lanes").register_transaction(transaction!(run_lane).set_name("lane"))
}

/// The calibration window: lanes wait for its start, then send `GET /healthz` back to back.
static CALIBRATION: Mutex<Option<(Instant, Instant)>> = Mutex::new(None);

/// The goose scenario that measures the generator's ceiling between `start` and `until`.
pub fn calibration(start: Instant, until: Instant) -> Scenario {
    *CALIBRATION.lock().unwrap_or_else(|e| e.into_inner()) = Some((start, until));
    scenario!("calibration").register_transaction(transaction!(healthz_until).set_name("healthz"))
}

async fn healthz_until(user: &mut GooseUser) -> TransactionResult {
    let (start, until) = CALIBRATION
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .expect("the bench sets the calibration window first");
    tokio::time::sleep_until(start.into()).await;
    let target = target();
    let token = &target.tokens[0];
    while Instant::now() < until {
        Call::get("/healthz".into(), "GET healthz", token, None)
            .send(user)
            .await?;
    }
    Ok(())
}

async fn run_lane(user: &mut GooseUser) -> TransactionResult {
    let phase = PHASE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .expect("the bench sets the phase before the lanes start");
    let journeys = phase
        .lanes
        .get(user.weighted_users_index)
        .map(|lane| std::mem::take(&mut *lane.lock().unwrap_or_else(|e| e.into_inner())))
        .unwrap_or_default();
    if journeys.is_empty() {
        return Ok(());
    }
    let lane = user.weighted_users_index as u64;
    Lane::new(&phase, journeys, lane).run(user, &phase).await
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
}

/// A ticket waiting for its decision.
struct Pending {
    student: usize,
    id: String,
    generation: u64,
    seq: u64,
    /// When its 202 arrived.
    admitted: Instant,
    /// Not read again before this (it was still being decided).
    not_before: Instant,
}

/// How far the queue has got, as a lane last heard it.
#[derive(Debug, Clone, Copy)]
struct Serving {
    generation: u64,
    seq: u64,
    heard: Instant,
}

struct Lane {
    target: Arc<Target>,
    students: Vec<Student>,
    /// (due, student) of each student's next step.
    due: BinaryHeap<Reverse<(Instant, usize)>>,
    pending: Vec<Pending>,
    rng: Rng,
    think: [u64; 2],
    follow: Follow,
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
                }
            })
            .collect();
        Lane {
            target: target(),
            students,
            due,
            pending: Vec::new(),
            rng: Rng::new(phase.seed ^ (lane << 20) ^ 0x1A4E),
            think: phase.think_ms,
            follow: phase.follow,
        }
    }

    async fn run(mut self, user: &mut GooseUser, phase: &PhaseRun) -> TransactionResult {
        let own = self.target.tokens[self.students[0].index].clone();
        let (watcher, mut serving) = match self.follow {
            Follow::Websocket => {
                let (tx, rx) = watch::channel(None);
                let task = tokio::spawn(watch_queue(self.target.base.clone(), own.clone(), tx));
                (Some(task), Some(rx))
            }
            _ => (None, None),
        };
        let mut polled: Option<Serving> = None;
        let mut next_poll = Instant::now();
        let mut last_step_done = Instant::now();
        loop {
            let now = Instant::now();
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
            if let Some(&Reverse((due, local))) = self.due.peek()
                && due <= now
            {
                self.due.pop();
                let due = phase.scheduled.then_some(due);
                let done = self.step(user, local, due).await?;
                last_step_done = done;
                if !self.students[local].steps.is_empty() {
                    let think = self.rng.between(self.think[0] as i64, self.think[1] as i64);
                    self.due
                        .push(Reverse((done + Duration::from_millis(think as u64), local)));
                }
                continue;
            }
            if self.due.is_empty() && self.pending.is_empty() {
                break;
            }
            if self.due.is_empty() && now > last_step_done + FOLLOW_LIMIT {
                for p in self.pending.drain(..) {
                    record::with(|r| {
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
            match serving.as_mut().filter(|_| !self.pending.is_empty()) {
                Some(rx) => {
                    tokio::select! {
                        _ = sleep => {}
                        _ = rx.changed() => {}
                    }
                }
                None => sleep.await,
            }
        }
        if let Some(task) = watcher {
            task.abort();
        }
        Ok(())
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
                .send(user)
                .await?
            }
            Step::Course => {
                let id = self.target.courses.ordinary(&mut self.rng);
                get(format!("/api/v1/courses/{id}"), "GET course")
                    .send(user)
                    .await?
            }
            Step::Search => {
                get(search_path(&mut self.rng), "GET search")
                    .send(user)
                    .await?
            }
            Step::Healthz => get("/healthz".into(), "GET healthz").send(user).await?,
            Step::Cart => get("/api/v1/cart".into(), "GET cart").send(user).await?,
            Step::Tickets => {
                get("/api/v1/tickets".into(), "GET tickets")
                    .send(user)
                    .await?
            }
            Step::Enrollments => {
                get("/api/v1/enrollments".into(), "GET enrollments")
                    .send(user)
                    .await?
            }
            Step::Me => get("/api/v1/me".into(), "GET me").send(user).await?,
            Step::QueueStatus => {
                get("/api/v1/queue/status".into(), "GET queue status")
                    .send(user)
                    .await?
            }
            Step::CartAdd => {
                let course = self.next_course(local, |s| &mut s.cart_cursor);
                let answer = Call::new(GooseMethod::Post, "/api/v1/cart".into(), "POST cart")
                    .token(&token)
                    .due(due)
                    .body(json!({ "course_id": course }))
                    .expect(&[201], &["ALREADY_IN_CART", "CART_FULL"])
                    .send(user)
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
                    .send(user)
                    .await?
                }
                None => get("/api/v1/cart".into(), "GET cart").send(user).await?,
            },
            Step::Enroll | Step::ReEnroll => {
                let again = match step {
                    Step::ReEnroll => self.students[local].cancelled.pop(),
                    _ => None,
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
                            .send(user)
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
                        .send(user)
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
            Step::CartFill | Step::EnrollCart => unreachable!("expanded when planned"),
        };
        Ok(answer.done)
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
        let answer = Call::new(
            GooseMethod::Post,
            "/api/v1/enrollments".into(),
            "POST enrollments",
        )
        .token(token)
        .due(due)
        .body(json!({ "course_id": course }))
        .expect(&[201, 202], &ENROLL_CODES)
        .send(user)
        .await?;
        match answer.status {
            202 => {
                record::with(|r| r.admitted(answer.done));
                let ticket = &answer.body;
                if let (Some(id), Some(generation), Some(seq)) = (
                    ticket["id"].as_str(),
                    ticket["generation"].as_u64(),
                    ticket["seq"].as_u64(),
                ) && self.follow != Follow::None
                {
                    self.pending.push(Pending {
                        student: local,
                        id: id.to_owned(),
                        generation,
                        seq,
                        admitted: answer.done,
                        not_before: answer.done,
                    });
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
            .send(user)
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
        record::with(|r| {
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
        .send(user)
        .await?;
        Ok(serving_of(&answer.body, answer.done))
    }
}

fn serving_of(status: &Value, heard: Instant) -> Option<Serving> {
    Some(Serving {
        generation: status["generation"].as_u64()?,
        seq: status["serving_seq"].as_u64()?,
        heard,
    })
}

/// Keeps a WebSocket to the queue open for a lane and passes on "now serving"; reconnects when
/// the server closes it.
async fn watch_queue(base: String, token: String, tx: watch::Sender<Option<Serving>>) {
    let url = format!("{}/api/v1/queue/ws", base.replacen("http", "ws", 1));
    while !tx.is_closed() {
        let mut request = url
            .as_str()
            .into_client_request()
            .expect("a valid WebSocket URL");
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("a token is ASCII"),
        );
        let sent = Instant::now();
        match tokio_tungstenite::connect_async(request).await {
            Ok((mut socket, _)) => {
                record::with(|r| {
                    r.request(Sample {
                        name: "WS queue",
                        due: None,
                        sent,
                        done: Instant::now(),
                        status: 101,
                        code: None,
                        failure: None,
                    })
                });
                while let Some(Ok(message)) = socket.next().await {
                    let Message::Text(text) = message else {
                        continue;
                    };
                    let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if frame["type"] == "status"
                        && let Some(serving) = serving_of(&frame, Instant::now())
                        && tx.send(Some(serving)).is_err()
                    {
                        return;
                    }
                }
            }
            Err(e) => {
                record::with(|r| r.failure(format!("WS queue: cannot connect: {e}")));
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// An answer: status (0 when none came), JSON body, when it arrived.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub done: Instant,
}

/// One request, checked against what the scenario expects.
pub struct Call<'a> {
    method: GooseMethod,
    path: String,
    name: &'static str,
    token: Option<&'a str>,
    due: Option<Instant>,
    body: Option<Value>,
    ok: &'a [u16],
    codes: &'a [&'a str],
}

impl<'a> Call<'a> {
    pub fn new(method: GooseMethod, path: String, name: &'static str) -> Call<'a> {
        Call {
            method,
            path,
            name,
            token: None,
            due: None,
            body: None,
            ok: &[200],
            codes: &[],
        }
    }

    /// A GET as `token`, expecting 200.
    pub fn get(path: String, name: &'static str, token: &'a str, due: Option<Instant>) -> Self {
        Call::new(GooseMethod::Get, path, name)
            .token(token)
            .due(due)
    }

    pub fn token(mut self, token: &'a str) -> Self {
        self.token = Some(token);
        self
    }

    pub fn due(mut self, due: Option<Instant>) -> Self {
        self.due = due;
        self
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Statuses that succeed, and error codes that are expected answers.
    pub fn expect(mut self, ok: &'a [u16], codes: &'a [&'a str]) -> Self {
        self.ok = ok;
        self.codes = codes;
        self
    }

    /// Sends it through goose and records the answer.
    pub async fn send(self, user: &mut GooseUser) -> Result<Answer, Box<TransactionError>> {
        let mut builder = user.get_request_builder(&self.method, &self.path)?;
        if let Some(token) = self.token {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = &self.body {
            builder = builder.json(body);
        }
        let request = GooseRequest::builder()
            .method(self.method)
            .path(self.path.as_str())
            .name(self.name)
            .set_request_builder(builder)
            .build();
        let sent = Instant::now();
        let goose = user.request(request).await?;
        let (status, text) = match goose.response {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.text().await.unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        };
        let done = Instant::now();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let code = body["error"]["code"].as_str();
        let expected = self.ok.contains(&status)
            || (status >= 400 && code.is_some_and(|c| self.codes.contains(&c)));
        let failure = match (expected, status) {
            (true, _) => None,
            (false, 0) => Some(format!("{}: no answer: {}", self.name, short(&text))),
            (false, _) => Some(format!(
                "{}: unexpected {status} {}",
                self.name,
                code.unwrap_or("(no code)")
            )),
        };
        record::with(|r| {
            r.request(Sample {
                name: self.name,
                due: self.due,
                sent,
                done,
                status,
                code,
                failure,
            })
        });
        Ok(Answer { status, body, done })
    }
}

/// The gist of a transport error, without the URL that makes every one unique.
fn short(error: &str) -> String {
    let lower = error.to_lowercase();
    [
        "timed out",
        "connection refused",
        "connection reset",
        "connect",
        "closed",
    ]
    .into_iter()
    .find(|k| lower.contains(k))
    .unwrap_or("transport error")
    .to_owned()
}
