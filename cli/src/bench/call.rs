//! One request of a simulated student, through goose: built, sent, checked against what the
//! scenario expects, and recorded.

use std::time::Instant;

use goose::prelude::*;
use serde_json::Value;

use super::record::{Recording, Sample};

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
    /// Whether a successful answer's body is parsed.
    read: bool,
}

impl<'a> Call<'a> {
    /// `method path`, reported as `name`, expecting 200.
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
            read: true,
        }
    }

    /// A GET as `token`, expecting 200.
    pub fn get(path: String, name: &'static str, token: &'a str, due: Option<Instant>) -> Self {
        Call::new(GooseMethod::Get, path, name)
            .token(token)
            .due(due)
    }

    /// Sent as `token`.
    pub fn token(mut self, token: &'a str) -> Self {
        self.token = Some(token);
        self
    }

    /// Due at `due`: its corrected latency counts from then.
    pub fn due(mut self, due: Option<Instant>) -> Self {
        self.due = due;
        self
    }

    /// With a JSON body.
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

    /// A successful answer's body is not parsed (its `body` is null): nothing reads it, and a
    /// page of search hits costs the generator more to parse than the server to make. An error
    /// body is still read for its code.
    pub fn unread(mut self) -> Self {
        self.read = false;
        self
    }

    /// Sends it through goose and records the answer.
    pub async fn send(
        self,
        user: &mut GooseUser,
        recording: &Recording,
    ) -> Result<Answer, Box<TransactionError>> {
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
        // The body as bytes: checking a page of hits for UTF-8 it is never read for cost the
        // generator a tenth of its cycles.
        let (status, bytes, error) = match goose.response {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.bytes().await.unwrap_or_default(), None)
            }
            Err(e) => (0, Default::default(), Some(e.to_string())),
        };
        let done = Instant::now();
        let body: Value = match self.read || !(200..300).contains(&status) {
            true => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            false => Value::Null,
        };
        let code = body["error"]["code"].as_str();
        let expected = self.ok.contains(&status)
            || (status >= 400 && code.is_some_and(|c| self.codes.contains(&c)));
        let failure = match (expected, status) {
            (true, _) => None,
            (false, 0) => Some(format!(
                "{}: no answer: {}",
                self.name,
                short(error.as_deref().unwrap_or_default())
            )),
            (false, _) => Some(format!(
                "{}: unexpected {status} {}",
                self.name,
                code.unwrap_or("(no code)")
            )),
        };
        recording.with(|r| {
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
