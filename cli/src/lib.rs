//! The `classmate` command line's parts: its subcommands, the seed generator and the load
//! generator. A library so that the benchmarks in `benches/` build the same seeded catalog.

#[cfg(feature = "bench")]
pub mod bench;
pub mod commands;
pub mod seed;
