//! Client authentication for the token, revocation, introspection and device endpoints
//! (RFC 6749 §2.3): once, before anything else looks at the request.

use axum::http::{HeaderMap, header};
use doorway_core::OAuthError;
use doorway_core::model::Client;
use doorway_core::oauth::params::Params;
use doorway_core::oauth::token::{ClientCredentials, authenticate_at, client_credentials};
use doorway_core::secrets::hash_secret;
use serde_json::json;

use crate::audit::{self, Event, Origin, kind};
use crate::http::error::{JsonError, store_error};
use crate::state::AppState;
use crate::throttle;

/// Authenticates the calling client. A public client names itself with `client_id`; at the
/// token endpoint with a code it may even be named by that code (what @huggingface/hub relies
/// on). Failures are `invalid_client` (401, with `WWW-Authenticate: Basic` when Basic was used);
/// after too many, the app is refused from that address for a while whatever it presents
/// (`429`, `temporarily_unavailable`, `Retry-After`; see `throttle`).
pub async fn authenticate_client(state: &AppState, headers: &HeaderMap, params: &Params) -> Result<Client, JsonError> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let credentials = client_credentials(authorization, params)?;
    let basic = credentials.used_basic();
    lookup(state, headers, &credentials, params).await.map_err(|error| JsonError { error, basic })
}

async fn lookup(
    state: &AppState,
    headers: &HeaderMap,
    credentials: &ClientCredentials,
    params: &Params,
) -> Result<Client, OAuthError> {
    let failed = || OAuthError::invalid_client("client authentication failed");
    let client_id = match credentials.client_id() {
        Some(id) => id.to_owned(),
        None => {
            let code = params.get("code")?.ok_or_else(|| OAuthError::invalid_client("client_id is missing"))?;
            state
                .store
                .code_client_id(&hash_secret(code))
                .await
                .map_err(|e| store_error(&e))?
                .ok_or_else(|| OAuthError::invalid_grant("the authorization code is invalid or has expired"))?
        }
    };
    let client = state.store.find_client(&client_id).await.map_err(|e| store_error(&e))?.ok_or_else(failed)?;
    let now = crate::state::now();
    // Brute-force protection: a presented secret is refused unchecked while the app (from this
    // address) or the address is locked out; each wrong one counts (see `throttle`).
    let presents_secret = matches!(credentials, ClientCredentials::Basic { .. } | ClientCredentials::Post { .. });
    let peer = throttle::current_peer();
    let buckets =
        if presents_secret { throttle::client_buckets(&state.config, &client.client_id, peer) } else { vec![] };
    if let Some(locked) = throttle::lockout(&state.store, &buckets, now).await.map_err(|e| store_error(&e))? {
        return Err(OAuthError::too_many_attempts(locked.retry_after.unsigned_abs()));
    }
    // A secret replaced by a rotation still works during the grace period the developer chose.
    if let Err(err) = authenticate_at(credentials, &client, now) {
        tracing::warn!(target: "security", event = "client_auth_failed", client_id = %client.client_id,
            "client authentication failed");
        let locked = throttle::record_failure(&state.store, &buckets, now).await.map_err(|e| store_error(&e))?;
        if let Some(locked) = locked.filter(|l| l.started) {
            let mut event = Event::new(kind::CLIENT_AUTH_LOCKED)
                .client(&client.client_id)
                .detail(json!({ "bucket": locked.kind, "retry_after": locked.retry_after }));
            if let Some(owner) = &client.owner_id {
                event = event.user(owner);
            }
            audit::record(state, &Origin::new(headers, peer), event, now).await;
        }
        return Err(err);
    }
    Ok(client)
}
