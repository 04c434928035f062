//! Following the queue: one WebSocket per lane (or polling the status) says how far the queue
//! has got, so the lane knows which of its students' tickets to read; or each student's own
//! WebSocket hears their results pushed, as a browser per student would.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use classmate_server::clock::now_ms;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use super::record::{Recorder, Recording, Sample};

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
    while !tx.is_closed() {
        let request = upgrade_request(&base, &token).expect("a valid WebSocket URL");
        let sent = Instant::now();
        match tokio_tungstenite::connect_async_with_config(request, Some(small_buffers()), false)
            .await
        {
            Ok((mut socket, _)) => {
                recording.with(|r| opened(r, "WS queue", sent));
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

/// A client socket's buffers, small as a browser's: tungstenite's defaults (128 KiB each way)
/// would take gigabytes over tens of thousands of sockets in this process.
fn small_buffers() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0)
}

/// A result pushed on a student's own socket.
#[derive(Debug, Clone)]
pub struct Told {
    /// The lane's index of the student.
    pub student: usize,
    pub id: String,
    pub state: String,
    pub code: Option<String>,
    pub course_id: Option<i64>,
    pub decided_at_ms: i64,
    /// When it arrived, on this machine's clocks.
    pub heard: Instant,
    pub heard_ms: i64,
}

/// One student's WebSocket: opened from `source` (when given) as `token`, it says on `ready`
/// whether it is open, then passes on every result pushed on it until `told` goes or the server
/// closes it. It records its opening and closing for the peak of open sockets.
pub async fn student_socket(
    server: SocketAddr,
    source: Option<IpAddr>,
    (base, token): (String, String),
    student: usize,
    told: mpsc::UnboundedSender<Told>,
    ready: oneshot::Sender<Result<(), String>>,
    recording: Recording,
) {
    let sent = Instant::now();
    let mut socket = match open(server, source, &base, &token).await {
        Ok(socket) => socket,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    recording.with(|r| {
        opened(r, "WS student", sent);
        r.socket(true);
    });
    let _ = ready.send(Ok(()));
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if frame["type"] != "ticket" {
            continue;
        }
        let result = Told {
            student,
            id: frame["id"].as_str().unwrap_or("").to_owned(),
            state: frame["state"].as_str().unwrap_or("").to_owned(),
            code: frame["code"].as_str().map(str::to_owned),
            course_id: frame["course_id"].as_i64(),
            decided_at_ms: frame["decided_at_ms"].as_i64().unwrap_or(0),
            heard: Instant::now(),
            heard_ms: now_ms(),
        };
        if told.send(result).is_err() {
            break;
        }
    }
    recording.with(|r| r.socket(false));
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Connects from `source` to `server` and upgrades to the queue's WebSocket.
async fn open(
    server: SocketAddr,
    source: Option<IpAddr>,
    base: &str,
    token: &str,
) -> Result<Socket, String> {
    let tcp = match server {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .map_err(|e| format!("WS student: {e}"))?;
    if let Some(source) = source {
        tcp.bind(SocketAddr::new(source, 0))
            .map_err(|e| format!("WS student: cannot bind {source}: {e}"))?;
    }
    let stream = tcp
        .connect(server)
        .await
        .map_err(|e| format!("WS student: cannot connect: {e}"))?;
    let request = upgrade_request(base, token).map_err(|e| format!("WS student: {e}"))?;
    let (socket, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(small_buffers()))
            .await
            .map_err(|e| format!("WS student: cannot upgrade: {e}"))?;
    Ok(socket)
}

/// The queue's WebSocket upgrade at `base` (`http://…`), as `token`.
fn upgrade_request(base: &str, token: &str) -> Result<Request, tungstenite::Error> {
    let url = format!("{}/api/v1/queue/ws", base.replacen("http", "ws", 1));
    let mut request = url.as_str().into_client_request()?;
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("a token is ASCII"),
    );
    Ok(request)
}

/// Records a socket's upgrade (101), sent at `sent`, as request `name`.
fn opened(recorder: &mut Recorder, name: &'static str, sent: Instant) {
    recorder.request(Sample {
        name,
        due: None,
        sent,
        done: Instant::now(),
        status: 101,
        code: None,
        failure: None,
    });
}
