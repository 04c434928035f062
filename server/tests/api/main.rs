//! The API's behaviour, through HTTP against the real server, on PostgreSQL and on SQLite.

/// Instantiates each listed `async fn(Backend)` once per backend, as `postgres::name` and
/// `sqlite::name`, so both stores run the same suite.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::kit::Backend::Postgres).await
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::kit::Backend::Sqlite).await
                }
            )*
        }
    };
}

mod kit;

mod admin;
mod auth;
mod bad_input;
mod cart;
mod concurrency;
mod courses;
mod enrollments;
mod health;
mod openapi;
mod queue;
