//! Work that runs beside the requests, on every node: the signing-key lifecycle and the
//! back-channel logout outbox. Each job is safe to run on many nodes at once.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::keys::KeyPolicy;
use crate::state::{AppState, now};

/// How often keys are re-read and their lifecycle advanced.
const KEY_INTERVAL: Duration = Duration::from_secs(30);
/// How often the logout outbox is polled.
const OUTBOX_INTERVAL: Duration = Duration::from_secs(1);

pub fn spawn(state: AppState) -> Vec<JoinHandle<()>> {
    let keys = {
        let state = state.clone();
        tokio::spawn(async move {
            let policy = KeyPolicy::from_config(&state.config);
            let mut tick = tokio::time::interval(KEY_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(err) = state.keys.maintain(&state.store, &policy, now()).await {
                    tracing::error!(error = %err, "signing key maintenance failed");
                }
            }
        })
    };
    let outbox = tokio::spawn(async move {
        let mut tick = tokio::time::interval(OUTBOX_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            crate::http::logout::deliver_due(&state).await;
        }
    });
    vec![keys, outbox]
}
