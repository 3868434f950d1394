//! The client_credentials grant (RFC 6749 §4.4): machine-to-machine tokens for confidential
//! apps that enable it. No user, so no identity scopes, no ID token, no refresh token.

use doorway_core::OAuthError;
use doorway_core::model::Client;
use doorway_core::oauth::access_token::AccessTokenFormat;
use doorway_core::oauth::params::Params;
use doorway_core::oauth::token::TokenResponse;
use doorway_core::secrets::{hash_secret, random_token};
use doorway_core::types::{Scope, ScopeSet};
use doorway_store::NewAccessToken;

use crate::http::error::JsonError;
use crate::state::{AppState, now};

/// Scopes that describe a person: meaningless without one.
const USER_SCOPES: [&str; 4] = [Scope::OPENID, Scope::PROFILE, Scope::EMAIL, Scope::READ_BILLING];

pub async fn exchange(state: &AppState, client: &Client, params: &Params) -> Result<TokenResponse, JsonError> {
    let allowed: ScopeSet = client.scopes.iter().filter(|s| !USER_SCOPES.contains(&s.as_str())).cloned().collect();
    let scope = match params.get("scope")? {
        None => allowed,
        Some(raw) => {
            let requested = ScopeSet::parse(raw).map_err(OAuthError::invalid_scope)?;
            if let Some(extra) = requested.missing_from(&allowed).next() {
                return Err(
                    OAuthError::invalid_scope(format!("the scope '{extra}' is not available to this grant")).into()
                );
            }
            requested
        }
    };
    let now = now();
    if client.access_token_format == AccessTokenFormat::Jwt {
        // RFC 9068: self-contained, so not stored (see `jwt`): no write on this path.
        return Ok(TokenResponse {
            access_token: super::jwt::client_token(state, client, &scope, now)?,
            token_type: "Bearer",
            expires_in: client.access_token_ttl_or(state.config.access_token_ttl),
            scope: scope.to_string(),
            id_token: None,
            refresh_token: None,
        });
    }
    let access_token = random_token(&state.config.token_prefix);
    let record = NewAccessToken {
        token_hash: hash_secret(&access_token),
        client_id: client.client_id.clone(),
        user_id: None,
        scope: scope.clone(),
        expires_at: now + client.access_token_ttl_or(state.config.access_token_ttl),
    };
    state.store.insert_access_token(&record, now).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: client.access_token_ttl_or(state.config.access_token_ttl),
        scope: scope.to_string(),
        id_token: None,
        refresh_token: None,
    })
}
