//! The registration and matching rules of the newtypes, named after the behaviour or the attack
//! they pin down. Every assertion is on an exact result, never just `is_err()`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod redirect;
mod values;
