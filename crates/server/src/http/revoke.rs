//! Token revocation (RFC 7009). Unknown tokens are answered 200: the client's goal, that the
//! token be unusable, is met. Revoking a refresh token revokes its whole family. A
//! client_credentials JWT access token is not stored and cannot be revoked (answered 200).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use doorway_core::OAuthError;
use doorway_core::secrets::hash_secret;

use crate::http::client_auth::authenticate_client;
use crate::http::error::JsonError;
use crate::http::form::TokenParams;
use crate::http::token::json_no_store;
use crate::http::token::jwt::{self, Presented};
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
    let not_yours = || OAuthError::invalid_request("this token was not issued to this client");
    let now = now();
    let hash = match jwt::inspect(state, token, now) {
        Presented::Opaque => hash_secret(token),
        // RFC 7009 §2.2: an invalid token is answered 200, like an unknown one.
        Presented::Invalid => return Ok(()),
        Presented::Jwt(claims) if claims.client_id != client.client_id => return Err(not_yours().into()),
        Presented::Jwt(claims) if claims.is_client_token() => {
            // Self-contained and not stored: it stays valid until it expires (RFC 9068; see
            // `token::jwt`). The answer is still 200 (RFC 7009 §2.2).
            tracing::info!(client_id = %client.client_id, jti = %claims.jti,
                "revocation asked for a client_credentials JWT, which cannot be revoked before it expires");
            return Ok(());
        }
        Presented::Jwt(claims) => jwt::stored_hash(state, &claims),
    };
    // RFC 7009 §2.1: the hint orders the search, it does not limit it.
    let refresh_first = params.get("token_type_hint")? == Some("refresh_token");
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
