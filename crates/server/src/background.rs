//! Work that runs beside the requests, on every node: the signing-key lifecycle, the
//! back-channel logout and email outboxes, and purging what has expired. Each job is safe to run on many
//! nodes at once.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::keys::KeyPolicy;
use crate::state::{AppState, now};

/// How often keys are re-read and their lifecycle advanced: a key another node (or the CLI)
/// published is in this node's JWKS within this, well before it may sign (`key_publish_ahead`).
/// A pass that changes nothing is one small read.
pub const KEY_INTERVAL: Duration = Duration::from_secs(1);
/// How often the metrics recorder drains histogram samples (bounded memory without scrapes).
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);
/// How often the logout and email outboxes are polled.
const OUTBOX_INTERVAL: Duration = Duration::from_secs(1);
/// How often expired codes, tokens, sessions and device codes are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);

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
    let purge = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PURGE_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // A replayed code must still be found while what it yielded lives.
                let code_grace = state.config.access_token_ttl;
                match state.store.purge_expired(now(), code_grace).await {
                    Ok(purged) if purged.total() > 0 => tracing::info!(?purged, "expired rows purged"),
                    Ok(_) => {}
                    Err(err) => tracing::error!(error = %err, "purging expired rows failed"),
                }
                // The security log is kept `audit_retention`, then forgotten.
                match state.store.purge_audit_log(now() - state.config.audit_retention).await {
                    Ok(purged) if purged > 0 => tracing::info!(purged, "old security-log entries purged"),
                    Ok(_) => {}
                    Err(err) => tracing::error!(error = %err, "purging the security log failed"),
                }
            }
        })
    };
    let metrics = tokio::spawn(async move {
        let mut tick = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
        loop {
            tick.tick().await;
            crate::metrics::upkeep();
        }
    });
    let email = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(OUTBOX_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                crate::email::deliver_due(&state).await;
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
    vec![keys, purge, metrics, outbox, email]
}
