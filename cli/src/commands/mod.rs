//! One module per subcommand.

pub mod admin;
pub mod bench;
pub mod lock;
pub mod seed;
pub mod serve;
