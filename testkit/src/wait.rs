//! Waiting for something to happen, with a deadline: never a fixed sleep followed by an exact
//! assertion.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is looked at again.
const EVERY: Duration = Duration::from_millis(10);

/// Polls `condition` until it yields `Some`, and returns that; panics naming `what` when
/// `limit` passes first.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut condition: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = condition().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still not so after {limit:?}"
        );
        tokio::time::sleep(EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn it_returns_what_the_condition_found() {
        let mut calls = 0;
        let found = eventually(Duration::from_secs(1), "the third call", || {
            calls += 1;
            let now = calls;
            async move { (now == 3).then_some(now) }
        })
        .await;
        assert_eq!(found, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "never: still not so")]
    async fn it_fails_loudly_at_the_deadline() {
        eventually(Duration::from_millis(30), "never", || async { None::<()> }).await;
    }
}
