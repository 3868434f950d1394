//! Token revocation (RFC 7009). Unknown tokens are answered 200: the client's goal, that the
//! token be unusable, is met. Revoking a refresh token revokes its whole family.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use doorway_core::OAuthError;
use doorway_core::secrets::hash_secret;

use crate::http::client_auth::authenticate_client;
use crate::http::error::JsonError;
use crate::http::form::TokenParams;
use crate::http::token::json_no_store;
use crate::state::{AppState, now};

pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, TokenParams(params): TokenParams) -> Response {
    match handle(&state, &headers, &params).await {
        Ok(()) => json_no_store(&serde_json::json!({})),
        Err(err) => err.into_response(),
    }
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    params: &doorway_core::oauth::params::Params,
) -> Result<(), JsonError> {
    let client = authenticate_client(state, headers, params).await?;
    let token = params.get("token")?.ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let hash = hash_secret(token);
    let not_yours = || OAuthError::invalid_request("this token was not issued to this client");
    // RFC 7009 §2.1: the hint orders the search, it does not limit it.
    let refresh_first = params.get("token_type_hint")? == Some("refresh_token");
    let now = now();
    for kind in if refresh_first { ["refresh", "access"] } else { ["access", "refresh"] } {
        if kind == "access" {
            if let Some(found) = state.store.find_access_token(&hash).await? {
                if found.client_id != client.client_id {
                    return Err(not_yours().into());
                }
                state.store.revoke_access_token(&hash, now).await?;
                return Ok(());
            }
        } else if let Some(found) = state.store.find_refresh_token(&hash).await? {
            if found.client_id != client.client_id {
                return Err(not_yours().into());
            }
            let revoked = state.store.revoke_family(&found.family_id, now).await?;
            tracing::info!(client_id = %client.client_id, revoked, "refresh token family revoked by its client");
            return Ok(());
        }
    }
    Ok(())
}
