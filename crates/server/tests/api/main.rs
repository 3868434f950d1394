//! HTTP integration tests: each test starts Doorway on port 0 against a fresh database and
//! talks to it over the wire with a cookie-keeping client that does not follow redirects.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;
mod nodes;

mod admin_api;
mod audit;
mod authorize;
mod badges;
mod branding;
mod cli;
mod cli_admin;
mod cli_provision;
mod config_docs;
mod consent;
mod console;
mod console_rules;
mod device;
mod discovery;
mod jwt_access_tokens;
mod keys;
mod lifecycle;
mod logout;
mod multinode;
mod operations;
mod orgs;
mod orgs_claim;
mod pages;
mod relying_party;
mod request_options;
mod rp_lifecycle;
mod serve_process;
mod settings;
mod store_copy;
mod throttle;
mod token;
mod trusted_proxy;
mod userinfo;
