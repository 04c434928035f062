//! One module per subcommand.

pub mod admin;
#[cfg(feature = "bench")]
pub mod bench;
pub mod lock;
pub mod search;
pub mod seed;
pub mod serve;
