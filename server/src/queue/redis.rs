//! [`RedisQueue`]: the queue in Redis, shared by every server process.
//!
//! Every operation that reads and writes runs as one Lua script (`scripts/*.lua`, each prefixed
//! with `scripts/prelude.lua`), so it is atomic; why each one has to be is written in the script.
//! The scripts run through [`redis::Script`], which sends EVALSHA and loads the script again when
//! Redis answers NOSCRIPT (after a restart or `SCRIPT FLUSH`).
//!
//! Keys, all under `classmate:<env>:` except the lock's fencing epoch
//! ([`crate::lock::epoch_key`]): `generation`, `seq`, `serving`, `decided`, `log` (a stream of
//! waiting tickets with IDs `<seq>-1`), `t:<id>` (a hash per ticket), `dedupe`, `soldout`,
//! `s:<student>` (the student's ticket ids), `o:<student>` (their open ones), `rate:<second>`, `results` and `results-n` (a stream
//! of settled outcomes with IDs `<position>-1`).

use std::sync::Arc;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::{ErrorKind, RedisError, Script, Value};

use super::{
    Admission, AdmitLimits, Claimed, CourseFlags, Leave, Queue, QueueError, QueueStatus, Restore,
};
use crate::domain::{CourseId, Settled, StudentId, Ticket, TicketId, TicketState};
use crate::lock::{DRAIN_LOCK, epoch_key};
use crate::redis_conn::{self, one_line, scan_keys};

/// How many enrolled pairs or sold-out courses one restore script call writes: small enough that
/// no single call blocks Redis for long, large enough that 500,000 pairs take 100 calls.
const RESTORE_CHUNK: usize = 5_000;

/// The queue's scripts, each compiled once with the shared prelude in front.
struct Scripts {
    admit: Script,
    leave: Script,
    claim: Script,
    settle: Script,
    seat_freed: Script,
    reset_sold_out: Script,
    restore_begin: Script,
    restore_fill: Script,
    restore_finish: Script,
    status: Script,
    results_after: Script,
    ticket: Script,
    tickets_of: Script,
}

impl Scripts {
    fn load() -> Scripts {
        let prelude = include_str!("scripts/prelude.lua");
        let with_prelude = |body: &str| Script::new(&format!("{prelude}\n{body}"));
        Scripts {
            admit: with_prelude(include_str!("scripts/admit.lua")),
            leave: with_prelude(include_str!("scripts/leave.lua")),
            claim: with_prelude(include_str!("scripts/claim.lua")),
            settle: with_prelude(include_str!("scripts/settle.lua")),
            seat_freed: with_prelude(include_str!("scripts/seat_freed.lua")),
            reset_sold_out: with_prelude(include_str!("scripts/reset_sold_out.lua")),
            restore_begin: with_prelude(include_str!("scripts/restore_begin.lua")),
            restore_fill: with_prelude(include_str!("scripts/restore_fill.lua")),
            restore_finish: with_prelude(include_str!("scripts/restore_finish.lua")),
            status: with_prelude(include_str!("scripts/status.lua")),
            results_after: with_prelude(include_str!("scripts/results_after.lua")),
            ticket: with_prelude(include_str!("scripts/ticket.lua")),
            tickets_of: with_prelude(include_str!("scripts/tickets_of.lua")),
        }
    }
}

/// The queue in Redis, for several server processes behind one load balancer.
pub struct RedisQueue {
    conn: ConnectionManager,
    /// `classmate:<env>:`, the start of every queue key.
    prefix: String,
    /// The drain lock's fencing counter, which claim, settle and restore compare against.
    epoch_key: String,
    scripts: Scripts,
    /// Where more connections to the same Redis are opened; `None` over a connection given.
    url: Option<String>,
}

impl RedisQueue {
    /// Connects to Redis at `url` and keeps the queue of environment `env` there.
    pub async fn connect(url: &str, env: &str) -> Result<RedisQueue, QueueError> {
        let mut queue = RedisQueue::new(redis_conn::connect(url).await?, env);
        queue.url = Some(url.to_owned());
        Ok(queue)
    }

    /// Deletes every key of this queue (not the drain lock): the next drain holder rebuilds it
    /// from the database, as after a loss. Returns how many keys went.
    pub async fn clear(&self) -> Result<u64, QueueError> {
        let mut conn = self.conn.clone();
        let keys = scan_keys(&mut conn, &format!("{}*", self.prefix))
            .await
            .map_err(backend_error)?;
        if keys.is_empty() {
            return Ok(0);
        }
        redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .map_err(backend_error)
    }

    /// The connection this queue uses, for the lock and the revocations to share.
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The queue of environment `env` over an open connection.
    pub fn new(conn: ConnectionManager, env: &str) -> RedisQueue {
        RedisQueue {
            conn,
            prefix: format!("classmate:{env}:"),
            epoch_key: epoch_key(env, DRAIN_LOCK),
            scripts: Scripts::load(),
            url: None,
        }
    }

    /// Runs the admission script, checking session `jti` first if given; `None` when the
    /// logged-out tokens are not loaded in Redis.
    async fn admit_as(
        &self,
        jti: Option<&str>,
        student_id: StudentId,
        course_id: CourseId,
        limits: AdmitLimits,
    ) -> Result<Option<Admission>, QueueError> {
        let args = [
            student_id.to_string(),
            course_id.to_string(),
            limits.now_ms.to_string(),
            limits.per_second.to_string(),
            limits.open_tickets.to_string(),
            jti.unwrap_or("").to_owned(),
        ];
        let reply = self.run(&self.scripts.admit, &args).await?;
        Ok(Some(match reply.status.as_str() {
            "QUEUED" => Admission::Queued(reply.ticket()?),
            "ALREADY_QUEUED" => Admission::AlreadyQueued(reply.ticket()?),
            "ALREADY_ENROLLED" => Admission::AlreadyEnrolled,
            "SOLD_OUT" => Admission::SoldOut,
            "RATE_LIMITED" => Admission::RateLimited,
            "TOO_MANY_OPEN" => Admission::TooManyOpen,
            "LOGGED_OUT" => Admission::LoggedOut,
            "SESSION_UNKNOWN" => return Ok(None),
            "RECOVERING" => return Err(QueueError::Recovering),
            other => return Err(unexpected("admit", other)),
        }))
    }

    /// Runs `script` with the key prefix as ARGV[1] and `args` after it.
    async fn eval(&self, script: &Script, args: &[String]) -> Result<Value, QueueError> {
        let mut conn = self.conn.clone();
        script
            .prepare_invoke()
            .arg(&self.prefix)
            .arg(args)
            .invoke_async(&mut conn)
            .await
            .map_err(backend_error)
    }

    /// Runs a script that answers `{status, ...}`.
    async fn run(&self, script: &Script, args: &[String]) -> Result<Reply, QueueError> {
        Reply::parse(self.eval(script, args).await?)
    }

    /// Runs a fenced script: ARGV[2] is the epoch key and ARGV[3] `epoch`; FENCED and
    /// RECOVERING become errors.
    async fn run_fenced(
        &self,
        script: &Script,
        epoch: u64,
        args: Vec<String>,
    ) -> Result<Reply, QueueError> {
        let mut all = Vec::with_capacity(args.len() + 2);
        all.push(self.epoch_key.clone());
        all.push(epoch.to_string());
        all.extend(args);
        let reply = self.run(script, &all).await?;
        match reply.status.as_str() {
            "FENCED" => Err(QueueError::Fenced { mine: epoch }),
            "RECOVERING" => Err(QueueError::Recovering),
            _ => Ok(reply),
        }
    }
}

#[async_trait]
impl Queue for RedisQueue {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn own_connection(&self) -> Result<Option<Arc<dyn Queue>>, QueueError> {
        let Some(url) = &self.url else {
            return Ok(None);
        };
        Ok(Some(Arc::new(RedisQueue {
            conn: redis_conn::connect(url).await?,
            prefix: self.prefix.clone(),
            epoch_key: self.epoch_key.clone(),
            scripts: Scripts::load(),
            url: Some(url.clone()),
        })))
    }

    async fn ping(&self) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: Value = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn admit(
        &self,
        student_id: StudentId,
        course_id: CourseId,
        limits: AdmitLimits,
    ) -> Result<Admission, QueueError> {
        let admission = self.admit_as(None, student_id, course_id, limits).await?;
        admission.ok_or_else(|| unexpected("admit", "SESSION_UNKNOWN"))
    }

    fn checks_sessions(&self) -> bool {
        true
    }

    async fn admit_session(
        &self,
        jti: &str,
        student_id: StudentId,
        course_id: CourseId,
        limits: AdmitLimits,
    ) -> Result<Option<Admission>, QueueError> {
        self.admit_as(Some(jti), student_id, course_id, limits)
            .await
    }

    async fn leave(
        &self,
        student_id: StudentId,
        id: TicketId,
        now_ms: i64,
    ) -> Result<Leave, QueueError> {
        let args = [student_id.to_string(), id.to_string(), now_ms.to_string()];
        let reply = self.run(&self.scripts.leave, &args).await?;
        Ok(match reply.status.as_str() {
            "LEFT" => Leave::Left(reply.ticket()?),
            "DECIDING" => Leave::Deciding(reply.ticket()?),
            "ALREADY_TERMINAL" => Leave::AlreadyTerminal(reply.ticket()?),
            "NOT_FOUND" => Leave::NotFound,
            "RECOVERING" => return Err(QueueError::Recovering),
            other => return Err(unexpected("leave", other)),
        })
    }

    async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, QueueError> {
        let value = self.eval(&self.scripts.ticket, &[id.to_string()]).await?;
        items(value)?
            .into_iter()
            .next()
            .map(parse_ticket)
            .transpose()
    }

    async fn tickets_of(
        &self,
        student_id: StudentId,
        limit: usize,
    ) -> Result<Vec<Ticket>, QueueError> {
        let args = [student_id.to_string(), limit.max(1).to_string()];
        let value = self.eval(&self.scripts.tickets_of, &args).await?;
        let mut tickets = items(value)?
            .into_iter()
            .map(parse_ticket)
            .collect::<Result<Vec<_>, _>>()?;
        tickets.sort_by_key(|t| t.id);
        Ok(tickets)
    }

    async fn claim_after(
        &self,
        epoch: u64,
        max: usize,
        after: Option<TicketId>,
    ) -> Result<Claimed, QueueError> {
        let (generation, seq) = match after {
            Some(after) => (after.generation.to_string(), after.seq.to_string()),
            None => (String::new(), String::new()),
        };
        let reply = self
            .run_fenced(
                &self.scripts.claim,
                epoch,
                vec![max.to_string(), generation, seq],
            )
            .await?;
        let tickets = items(reply.field(0)?)?
            .into_iter()
            .map(parse_ticket)
            .collect::<Result<_, _>>()?;
        Ok(Claimed {
            tickets,
            freed_mark: number(&reply.field(1)?, "the freed mark")?,
        })
    }

    async fn settle(
        &self,
        epoch: u64,
        settled: &[Settled],
        flags: &CourseFlags,
    ) -> Result<(), QueueError> {
        let mut args = Vec::with_capacity(2 + settled.len() * 8 + flags.sold_out.len());
        args.push(flags.freed_mark.map(|m| m.to_string()).unwrap_or_default());
        args.push(settled.len().to_string());
        for outcome in settled {
            if !outcome.state.is_terminal() {
                return Err(QueueError::Corrupt(format!(
                    "ticket {} settled as {}, which is not terminal",
                    outcome.id,
                    outcome.state.as_str()
                )));
            }
            args.extend([
                outcome.id.to_string(),
                outcome.id.generation.to_string(),
                outcome.id.seq.to_string(),
                outcome.student_id.to_string(),
                outcome.course_id.to_string(),
                outcome.state.as_str().to_owned(),
                outcome
                    .state
                    .code()
                    .map_or("", |code| code.as_str())
                    .to_owned(),
                outcome.decided_at_ms.to_string(),
            ]);
        }
        args.extend(flags.sold_out.iter().map(CourseId::to_string));
        self.run_fenced(&self.scripts.settle, epoch, args).await?;
        Ok(())
    }

    async fn seat_freed(
        &self,
        course_id: CourseId,
        student_id: Option<StudentId>,
    ) -> Result<(), QueueError> {
        let student = student_id.map(|s| s.to_string()).unwrap_or_default();
        self.run(&self.scripts.seat_freed, &[course_id.to_string(), student])
            .await?;
        Ok(())
    }

    async fn freed_mark(&self) -> Result<u64, QueueError> {
        let mark: Option<u64> = redis::cmd("GET")
            .arg(format!("{}freed", self.prefix))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(backend_error)?;
        Ok(mark.unwrap_or(0))
    }

    async fn sold_out(&self) -> Result<Vec<CourseId>, QueueError> {
        let mut ids: Vec<i64> = redis::cmd("SMEMBERS")
            .arg(format!("{}soldout", self.prefix))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(backend_error)?;
        ids.sort_unstable();
        Ok(ids.into_iter().map(CourseId).collect())
    }

    async fn reset_sold_out(
        &self,
        epoch: u64,
        sold_out: &[CourseId],
        freed_mark: Option<u64>,
    ) -> Result<bool, QueueError> {
        let mut args = vec![freed_mark.map(|m| m.to_string()).unwrap_or_default()];
        args.extend(sold_out.iter().map(CourseId::to_string));
        let reply = self
            .run_fenced(&self.scripts.reset_sold_out, epoch, args)
            .await?;
        Ok(reply.status == "OK")
    }

    async fn results_after(
        &self,
        cursor: u64,
        max: usize,
    ) -> Result<(Vec<Settled>, u64), QueueError> {
        let reply = self
            .run(
                &self.scripts.results_after,
                &[cursor.to_string(), max.to_string()],
            )
            .await?;
        // The reply starts with the cursor the script read from, which is 0 when the stream
        // started over (see results_after.lua).
        let mut next: u64 = reply
            .status
            .parse()
            .map_err(|_| corrupt(&format!("results cursor {:?}", reply.status)))?;
        let mut outcomes = Vec::new();
        for entry in items(reply.field(0)?)? {
            let f = items(entry)?;
            let [position, id, student, course, state, code, decided] = fixed::<7>(f, "result")?;
            next = number(&position, "result position")?;
            outcomes.push(Settled {
                id: ticket_id(&id)?,
                student_id: StudentId(number(&student, "result student")?),
                course_id: CourseId(number(&course, "result course")?),
                state: TicketState::parse(&text(&state)?, Some(&text(&code)?))?,
                decided_at_ms: number(&decided, "result decided")?,
            });
        }
        Ok((outcomes, next))
    }

    async fn status(&self) -> Result<QueueStatus, QueueError> {
        let value = self.eval(&self.scripts.status, &[]).await?;
        let [generation, serving, last, depth, oldest, decided] =
            fixed::<6>(items(value)?, "status")?;
        Ok(QueueStatus {
            generation: optional_number(&generation, "generation")?,
            serving_seq: number(&serving, "serving")?,
            last_seq: number(&last, "seq")?,
            depth: number(&depth, "log length")?,
            oldest_admitted_at_ms: optional_number(&oldest, "oldest admission")?,
            decided_total: number(&decided, "decided")?,
        })
    }

    async fn generation(&self) -> Result<Option<u64>, QueueError> {
        let mut conn = self.conn.clone();
        let value: Value = redis::cmd("GET")
            .arg(format!("{}generation", self.prefix))
            .query_async(&mut conn)
            .await
            .map_err(backend_error)?;
        match value {
            Value::Nil => Ok(None),
            other => number(&other, "generation").map(Some),
        }
    }

    async fn restore(&self, epoch: u64, restore: &Restore) -> Result<(), QueueError> {
        self.run_fenced(&self.scripts.restore_begin, epoch, Vec::new())
            .await?;
        for chunk in restore.enrolled.chunks(RESTORE_CHUNK) {
            let mut args = Vec::with_capacity(chunk.len() + 1);
            args.push("enrolled".to_owned());
            args.extend(chunk.iter().map(|(s, c)| format!("{s}:{c}")));
            self.run_fenced(&self.scripts.restore_fill, epoch, args)
                .await?;
        }
        for chunk in restore.sold_out.chunks(RESTORE_CHUNK) {
            let mut args = Vec::with_capacity(chunk.len() + 1);
            args.push("sold_out".to_owned());
            args.extend(chunk.iter().map(CourseId::to_string));
            self.run_fenced(&self.scripts.restore_fill, epoch, args)
                .await?;
        }
        let args = vec![
            restore.generation.to_string(),
            restore.seq_floor.to_string(),
        ];
        self.run_fenced(&self.scripts.restore_finish, epoch, args)
            .await?;
        Ok(())
    }
}

/// A script's answer: `{status, ...}`.
struct Reply {
    status: String,
    rest: Vec<Value>,
}

impl Reply {
    fn parse(value: Value) -> Result<Reply, QueueError> {
        let mut all = items(value)?.into_iter();
        let status = text(&all.next().ok_or_else(|| corrupt("an empty script reply"))?)?;
        Ok(Reply {
            status,
            rest: all.collect(),
        })
    }

    /// The value after the status at `index`.
    fn field(&self, index: usize) -> Result<Value, QueueError> {
        self.rest
            .get(index)
            .cloned()
            .ok_or_else(|| corrupt(&format!("{} reply without field {index}", self.status)))
    }

    /// The ticket that follows the status.
    fn ticket(&self) -> Result<Ticket, QueueError> {
        parse_ticket(self.field(0)?)
    }
}

/// A ticket as `ticket_reply` in `prelude.lua` renders it.
fn parse_ticket(value: Value) -> Result<Ticket, QueueError> {
    let [id, student, course, state, code, admitted, decided] =
        fixed::<7>(items(value)?, "ticket")?;
    Ok(Ticket {
        id: ticket_id(&id)?,
        student_id: StudentId(number(&student, "ticket student")?),
        course_id: CourseId(number(&course, "ticket course")?),
        state: TicketState::parse(&text(&state)?, Some(&text(&code)?))?,
        admitted_at_ms: number(&admitted, "ticket admission time")?,
        decided_at_ms: optional_number(&decided, "ticket decision time")?,
    })
}

/// A ticket id the scripts wrote as `"{generation}-{seq}"`.
fn ticket_id(value: &Value) -> Result<TicketId, QueueError> {
    let raw = text(value)?;
    raw.parse()
        .map_err(|()| corrupt(&format!("ticket id {raw:?}")))
}

/// The elements of an array reply.
fn items(value: Value) -> Result<Vec<Value>, QueueError> {
    match value {
        Value::Array(items) | Value::Set(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        other => Err(corrupt(&format!("expected an array, got {other:?}"))),
    }
}

/// Exactly `N` elements, for the fixed-shape tuples the scripts return.
fn fixed<const N: usize>(items: Vec<Value>, what: &str) -> Result<[Value; N], QueueError> {
    let len = items.len();
    items
        .try_into()
        .map_err(|_| corrupt(&format!("{what} with {len} fields instead of {N}")))
}

/// A string reply; numbers come as text too.
fn text(value: &Value) -> Result<String, QueueError> {
    match value {
        Value::BulkString(bytes) => {
            String::from_utf8(bytes.clone()).map_err(|_| corrupt("a reply that is not UTF-8"))
        }
        Value::SimpleString(s) => Ok(s.clone()),
        Value::Int(n) => Ok(n.to_string()),
        Value::Okay => Ok("OK".to_owned()),
        other => Err(corrupt(&format!("expected a string, got {other:?}"))),
    }
}

/// A number the scripts store as text; `what` names it in the error.
fn number<T: std::str::FromStr>(value: &Value, what: &str) -> Result<T, QueueError> {
    let raw = text(value)?;
    raw.parse()
        .map_err(|_| corrupt(&format!("{what} {raw:?} is not a number")))
}

/// Like [`number`], with `''` (the scripts' "absent") as `None`.
fn optional_number<T: std::str::FromStr>(
    value: &Value,
    what: &str,
) -> Result<Option<T>, QueueError> {
    match value {
        Value::Nil => Ok(None),
        Value::BulkString(bytes) if bytes.is_empty() => Ok(None),
        other => number(other, what).map(Some),
    }
}

fn corrupt(what: &str) -> QueueError {
    QueueError::Corrupt(what.to_owned())
}

/// A status word the script's Rust side does not know: the two are out of step.
fn unexpected(script: &str, status: &str) -> QueueError {
    corrupt(&format!("{script} answered {status:?}"))
}

/// A reply Redis sent that we cannot read is the scripts' or the data's fault; anything else
/// (connection refused, timeout, dropped connection, a server error) means the backend cannot
/// serve us right now.
fn backend_error(error: RedisError) -> QueueError {
    match error.kind() {
        ErrorKind::Parse | ErrorKind::UnexpectedReturnType => QueueError::Corrupt(one_line(&error)),
        _ => QueueError::Unavailable(one_line(&error)),
    }
}
