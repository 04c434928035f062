//! What Classmate's tests share, for the server's tests and the CLI's alike: a PostgreSQL
//! schema and a Redis namespace of each test's own, made and cleaned up here once; a real
//! server on port 0 ([`TestApp`]) with a client and shortcuts; and [`eventually`], which waits
//! for a condition with a deadline instead of sleeping.
//!
//! A test that needs PostgreSQL or Redis and cannot reach it fails loudly, naming the URL and
//! the variable that sets it; it never skips.

mod app;
mod isolation;
mod wait;

pub use app::{Backend, PASSWORD, Reply, TestApp, TestStudent, course_input, non_clashing_courses};
pub use isolation::{Isolated, RedisNamespace, Schema, postgres_url, redis_url, unique_name};
pub use wait::eventually;

/// Instantiates each listed `async fn(Backend)` once per backend, as `postgres::name` and
/// `sqlite::name`, so both stores run the same suite.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::Backend::Postgres).await
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::Backend::Sqlite).await
                }
            )*
        }
    };
}
