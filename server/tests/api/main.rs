//! The API's behaviour, through HTTP against the real server, on PostgreSQL + Redis and on the
//! embedded default. The load-sized tests live in `tests/load`.

mod admin;
mod auth;
mod bad_input;
mod cart;
mod concurrency;
mod courses;
mod enrollments;
mod health;
mod limits;
mod openapi;
mod queue;
mod search;
mod slow_clients;
mod web;
