//! Following the queue as a lane: one WebSocket per lane (or polling the status) says how far
//! the queue has got, so the lane knows which of its students' tickets to read.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::record::{Recording, Sample};

/// How far the queue has got, as a lane last heard it.
#[derive(Debug, Clone, Copy)]
pub struct Serving {
    pub generation: u64,
    pub seq: u64,
    pub heard: Instant,
}

impl Serving {
    /// "Now serving" of a status (a WebSocket frame or `GET /api/v1/queue/status`) heard at
    /// `heard`.
    pub fn of(status: &Value, heard: Instant) -> Option<Serving> {
        Some(Serving {
            generation: status["generation"].as_u64()?,
            seq: status["serving_seq"].as_u64()?,
            heard,
        })
    }
}

/// Keeps a WebSocket to the queue open as `token` and passes on "now serving" until the
/// receiver goes; reconnects when the server closes it.
pub async fn watch_queue(
    base: String,
    token: String,
    tx: watch::Sender<Option<Serving>>,
    recording: Recording,
) {
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
                recording.with(|r| {
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
                        && let Some(serving) = Serving::of(&frame, Instant::now())
                        && tx.send(Some(serving)).is_err()
                    {
                        return;
                    }
                }
            }
            Err(e) => {
                recording.with(|r| r.failure(format!("WS queue: cannot connect: {e}")));
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
