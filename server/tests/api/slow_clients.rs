//! Slow and greedy clients: connections that never finish their headers or sit idle, more
//! connections than the server takes, and queue WebSockets that are too many, too quiet, too
//! chatty, or outlive their token.

use std::time::Duration;

use classmate_server::store::EnrollmentMode;
use classmate_testkit::{Backend, TestApp, eventually, on_both_backends};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

on_both_backends!(
    a_connection_that_dawdles_over_its_headers_or_idles_is_closed,
    connections_over_the_limit_are_told_to_come_back,
    a_student_has_only_so_many_queue_sockets,
    a_quiet_or_chatty_queue_socket_is_closed,
    a_queue_socket_closes_when_its_token_expires_or_is_logged_out,
);

/// Well past every timeout these tests set: how long a test waits for what must happen.
const PATIENCE: Duration = Duration::from_secs(20);

fn host(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; returns what it sent.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let read = timeout(PATIENCE, stream.read_to_end(&mut seen)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    seen
}

async fn a_connection_that_dawdles_over_its_headers_or_idles_is_closed(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.header_timeout = Duration::from_millis(500);
    })
    .await;
    // Slowloris: half a request, then nothing.
    let mut slow = TcpStream::connect(host(&app)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&until_closed(&mut slow).await).into_owned();
    assert!(!answer.contains("200 OK"), "{answer}");

    // A whole request is answered; the connection then idles and is closed too.
    let mut idle = TcpStream::connect(host(&app)).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&until_closed(&mut idle).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");

    // Clients that keep to time are served as ever.
    app.get("/healthz", None).await.expect(200);
}

async fn connections_over_the_limit_are_told_to_come_back(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.http_connections = 3;
        config.header_timeout = Duration::from_secs(60);
    })
    .await;
    // Idle connections take the places one by one (the test's own client may hold one, and a
    // request's connection frees its place only once closed) until a request finds none left.
    let mut held = Vec::new();
    let fresh = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    };
    let mut turned_away = None;
    for _ in 0..20 {
        let stream = TcpStream::connect(host(&app)).await.unwrap();
        held.push(stream);
        let reply = app.send(fresh().get(app.url("/healthz")), None).await;
        if reply.status == 503 {
            turned_away = Some(reply);
            break;
        }
    }
    let reply = turned_away.expect("some connection was over the limit");
    reply.assert_error(503, "TOO_MANY_CONNECTIONS");
    assert_eq!(reply.headers["retry-after"], "1");
    // A place freed is a place taken again.
    held.clear();
    eventually(PATIENCE, "a freed connection is served", || async {
        let reply = app.send(fresh().get(app.url("/healthz")), None).await;
        (reply.status == 200).then_some(())
    })
    .await;
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_socket(app: &TestApp, token: &str) -> Result<Socket, u16> {
    let url = app.url("/api/v1/queue/ws").replacen("http", "ws", 1);
    let mut request = url.as_str().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("{e}"),
    }
}

/// Reads the socket until the server closes it; returns the close code.
async fn close_code(socket: &mut Socket) -> Option<CloseCode> {
    let ended = timeout(PATIENCE, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await;
    ended.expect("the server closed the socket")
}

async fn a_student_has_only_so_many_queue_sockets(backend: Backend) {
    let app = TestApp::spawn_in(backend, EnrollmentMode::Queue, |config| {
        config.ws_per_student = 2;
    })
    .await;
    let student = app.student().await;
    let mut first = open_socket(&app, &student.token).await.unwrap();
    let _second = open_socket(&app, &student.token).await.unwrap();
    assert_eq!(open_socket(&app, &student.token).await.err(), Some(429));
    // Another student's sockets are their own.
    let other = app.student().await;
    open_socket(&app, &other.token).await.unwrap();
    // One closed, one more may open.
    first.send(Message::Close(None)).await.unwrap();
    while first.next().await.is_some() {}
    eventually(PATIENCE, "a closed socket frees its place", || async {
        open_socket(&app, &student.token).await.ok()
    })
    .await;
    // Only students follow the queue, and only over a WebSocket.
    let admin = app.admin_token().await;
    assert_eq!(open_socket(&app, &admin).await.err(), Some(403));
    app.get("/api/v1/queue/ws", Some(&other.token))
        .await
        .assert_error(400, "INVALID_QUERY");
    app.get("/api/v1/queue/ws", None)
        .await
        .assert_error(401, "UNAUTHENTICATED");
}

async fn a_quiet_or_chatty_queue_socket_is_closed(backend: Backend) {
    let app = TestApp::spawn_in(backend, EnrollmentMode::Queue, |config| {
        config.ws_idle_timeout = Duration::from_millis(900);
    })
    .await;
    let student = app.student().await;

    // A socket read all along answers the pings and stays open past several idle timeouts.
    let mut lively = open_socket(&app, &student.token).await.unwrap();
    let still_open = timeout(Duration::from_secs(3), async {
        loop {
            match lively.next().await {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        still_open.is_err(),
        "a socket that answers its pings was closed"
    );

    // One that never answers a ping (a raw connection after the upgrade: its bytes are read,
    // its pings never answered) is closed as idle: a close frame with 1000 and `idle`.
    let mut quiet = TcpStream::connect(host(&app)).await.unwrap();
    let upgrade = format!(
        "GET /api/v1/queue/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer {}\r\n\r\n",
        student.token
    );
    quiet.write_all(upgrade.as_bytes()).await.unwrap();
    let seen = until_closed(&mut quiet).await;
    assert!(
        seen.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    // An unmasked close frame: FIN + close, 6 bytes, code 1000, "idle".
    let idle_close = [&[0x88, 6, 0x03, 0xe8][..], b"idle"].concat();
    assert!(
        seen.windows(idle_close.len()).any(|w| w == idle_close),
        "no idle close frame"
    );

    // One that sends a big message is closed for it.
    let mut chatty = open_socket(&app, &student.token).await.unwrap();
    chatty
        .send(Message::Text("x".repeat(64 * 1024).into()))
        .await
        .unwrap();
    let code = close_code(&mut chatty).await;
    assert_ne!(code, Some(CloseCode::Normal), "{code:?}");
    drop(lively);
}

async fn a_queue_socket_closes_when_its_token_expires_or_is_logged_out(backend: Backend) {
    let app = TestApp::spawn_in(backend, EnrollmentMode::Queue, |config| {
        config.ws_idle_timeout = Duration::from_millis(900);
        config.token_ttl = Duration::from_secs(3);
    })
    .await;
    let student = app.student().await;
    let mut expiring = open_socket(&app, &student.token).await.unwrap();
    assert_eq!(
        close_code(&mut expiring).await,
        Some(CloseCode::Library(4001))
    );

    let other = app.student().await;
    let token = app.token_of(other.id);
    let mut socket = open_socket(&app, &token).await.unwrap();
    app.post("/api/v1/auth/logout", Some(&token), &serde_json::json!({}))
        .await
        .expect(204);
    assert_eq!(
        close_code(&mut socket).await,
        Some(CloseCode::Library(4003))
    );
}
