//! Engine tests on a real PostgreSQL (tier 2). Each test gets its own database.

mod children;
mod common;
mod compensation;
mod concurrency;
mod definitions;
mod enqueue;
mod outcomes;
mod reads;
mod schedules;
