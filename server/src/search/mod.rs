//! Course search. So far its Korean text analysis ([`text`]): what the index backends build their
//! fields and queries from.

pub mod text;
