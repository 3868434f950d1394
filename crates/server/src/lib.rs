//! The `doorway` server: configuration, start-up, HTTP handlers, pages and the CLI.

pub mod audit;
pub mod background;
pub mod cli;
pub mod config;
pub mod egress;
pub mod email;
pub mod forwarded;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod password;
pub mod startup;
pub mod state;
pub mod throttle;
pub mod ui;
pub mod webauthn;

/// Installs the process-wide crypto providers (one backend in the whole graph: aws-lc-rs).
pub fn install_crypto() {
    doorway_core::jose::install_provider();
}
