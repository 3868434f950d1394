//! HTTP integration tests: each test starts Doorway on port 0 against a fresh database and
//! talks to it over the wire with a cookie-keeping client that does not follow redirects.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod authorize;
mod consent;
mod discovery;
mod pages;
mod relying_party;
mod token;
mod userinfo;
