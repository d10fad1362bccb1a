//! The store domain, in one place for the API and the workflows: what a store's status is
//! ([`StoreStatus`]), what its runs know about it ([`StoreRunInput`]), which transitions may be
//! requested and how ([`lifecycle`]), its admin credentials and how they are sealed at rest
//! ([`credentials`], [`sealing`]), and how what is done to it is recorded ([`audit`]).
//!
//! The HTTP routes (a tenant deleting a store) and the cleanup workflows (the reaper tearing a
//! failed store down) both call this module, so a rule changes here once. What happens when a
//! run ends is the `stores_follow_lifecycle_run` trigger's part
//! (`migrations/functions/stores_follow_lifecycle_run.sql`); the steps that move a store inside
//! its own runs are in [`crate::store_state`].

pub mod audit;
pub mod credentials;
pub mod input;
pub mod lifecycle;
pub mod sealing;
mod status;

pub use audit::{Audit, StoreAction};
pub use input::StoreRunInput;
pub use status::{STORE_STATUSES, StoreStatus};
