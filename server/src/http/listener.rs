//! The accept loop: HTTP/1.1 connections served by hyper with limits against slow and greedy
//! clients. A connection must send each request's headers within the header timeout, which also
//! closes a keep-alive connection left idle that long (slowloris); at most `max_connections` are
//! open at once, WebSockets included, and one over that is answered `503` with `Retry-After`
//! and closed. The listening socket queues up to [`BACKLOG`] connections not yet accepted.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Connections the kernel queues before they are accepted (capped by `net.core.somaxconn`).
/// When registration opens, thousands of students connect within a second; past a full queue
/// the kernel drops a connection attempt and the client tries again only a second later
/// (std's and tokio's default of 1,024 did that to the search-storm's lanes).
pub const BACKLOG: u32 = 4096;

/// Listens on `addr` with a queue of [`BACKLOG`].
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As `TcpListener::bind` does: a restarted server binds again at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// The limits of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Most connections open at once, WebSockets included.
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers, and longest a keep-alive
    /// connection may sit idle.
    pub header_timeout: Duration,
    /// Longest shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

/// What a connection over the limit is told before it is closed: a whole HTTP/1.1 response in
/// the one error shape.
fn turned_away_response() -> Vec<u8> {
    let body = serde_json::json!({"error": {
        "code": "TOO_MANY_CONNECTIONS",
        "message": "접속자가 너무 많습니다. 잠시 후 다시 시도해 주세요",
        "details": {"retry_after_seconds": 1},
    }})
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\ncache-control: no-store\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets the
/// requests in flight finish (up to the grace period) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let turning_away = Arc::new(Semaphore::new(TURNING_AWAY_AT_ONCE));
    let (stop, stopping) = watch::channel(false);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(64);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        // Reap finished connections, so the set holds only open ones.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a moment instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // Answered by a few tasks at most; past them the connection is just closed.
            if let Ok(answering) = turning_away.clone().try_acquire_owned() {
                tokio::spawn(turn_away(stream, answering));
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Counted {
            stream,
            _permit: permit,
        });
        let service = router
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let connection = http
            .serve_connection(io, TowerToHyperService::new(service))
            .with_upgrades();
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            let mut connection = pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stopped(&mut stopping) => {
                    // Finishes the request in flight, then closes; an idle one closes at once.
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "requests still in flight after the grace period"
        );
        connections.abort_all();
    }
    Ok(())
}

/// Waits until shutdown begins.
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// Most connections over the limit answered at once.
const TURNING_AWAY_AT_ONCE: usize = 256;

/// Tells a connection over the limit to come back later, and closes it: after its request's
/// head (a client may not read an answer it has not asked for yet), within a second in all.
async fn turn_away(mut stream: TcpStream, _answering: OwnedSemaphorePermit) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let mut head = [0u8; 4096];
        let mut read = 0;
        while read < head.len() && !head[..read].windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut head[read..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read += n,
            }
        }
        let _ = stream.write_all(&turned_away_response()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// A connection that holds its place under the limit for as long as it is open, also after it
/// was upgraded to a WebSocket.
struct Counted {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1,500 clients connect at once while nothing accepts: the kernel queues them all. With the
    /// default queue of 1,024 the rest wait a second for their connection attempt to be retried.
    #[tokio::test]
    async fn a_burst_of_connections_waits_in_the_queue_not_a_second_for_a_retry() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut connecting = JoinSet::new();
        for _ in 0..1_500 {
            connecting.spawn(async move {
                tokio::time::timeout(Duration::from_millis(700), TcpStream::connect(addr)).await
            });
        }
        let mut open = Vec::new();
        let mut late = 0;
        while let Some(done) = connecting.join_next().await {
            match done.unwrap() {
                Ok(stream) => open.push(stream.unwrap()),
                Err(_) => late += 1,
            }
        }
        assert_eq!((open.len(), late), (1_500, 0));
        drop(listener);
    }

    #[test]
    fn the_answer_to_a_connection_over_the_limit_is_a_whole_response() {
        let answer = turned_away_response();
        let text = std::str::from_utf8(&answer).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "TOO_MANY_CONNECTIONS");
    }
}
