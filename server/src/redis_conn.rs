//! The one Redis connection a server process shares between the queue, the drain lock and the
//! token revocations: opening it, and walking keys with SCAN.

use std::time::Duration;

use redis::RedisError;
use redis::aio::ConnectionManager;

/// Why no connection to Redis could be made; one line, fit for a log or an exit message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConnectError(pub String);

/// Opens the connection. It reconnects by itself; a first connection that fails is reported
/// within seconds.
pub async fn connect(url: &str) -> Result<ConnectionManager, ConnectError> {
    let client = redis::Client::open(url)
        .map_err(|e| ConnectError(format!("invalid Redis URL: {}", one_line(&e))))?;
    // The default 500 ms response timeout is shorter than a restore chunk or a large settle
    // can take on a Redis busy with admissions; a slow answer is not a dead server. Fewer
    // retries than the default (about 10 s) so a server started without Redis says so soon.
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(4)
        .set_max_delay(Duration::from_secs(1));
    ConnectionManager::new_with_config(client, config)
        .await
        .map_err(|e| ConnectError(format!("cannot connect to Redis: {}", one_line(&e))))
}

/// Every key matching `pattern`, by SCAN: never KEYS, which stops a production Redis for as
/// long as it takes.
pub async fn scan_keys(
    conn: &mut ConnectionManager,
    pattern: &str,
) -> Result<Vec<String>, RedisError> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        keys.extend(page);
        if next == 0 {
            // SCAN may return a key twice.
            keys.sort_unstable();
            keys.dedup();
            return Ok(keys);
        }
        cursor = next;
    }
}

/// A Redis error on one line: some carry a multi-line detail (a Lua traceback), and logs and
/// health checks want one.
pub fn one_line(error: &RedisError) -> String {
    error
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_server_is_one_line_and_says_so() {
        // Port 1 is reserved (tcpmux) and never runs Redis.
        match connect("redis://127.0.0.1:1").await {
            Err(ConnectError(reason)) => {
                assert!(reason.starts_with("cannot connect to Redis"), "{reason}");
                assert!(!reason.contains('\n'));
            }
            Ok(_) => panic!("connected to port 1"),
        }
    }

    #[tokio::test]
    async fn a_bad_url_is_refused() {
        let Err(ConnectError(reason)) = connect("postgres://nowhere").await else {
            panic!("connected to a PostgreSQL URL");
        };
        assert!(reason.starts_with("invalid Redis URL"), "{reason}");
    }
}
