//! The authorization_code grant (RFC 6749 §4.1.3): consume the code once, check its bindings,
//! issue tokens. A replayed code revokes everything issued from it.

use doorway_core::OAuthError;
use doorway_core::model::Client;
use doorway_core::oauth::grant::GrantType;
use doorway_core::oauth::params::Params;
use doorway_core::oauth::token::{TokenResponse, check_code};
use doorway_core::secrets::{hash_secret, random_token};
use doorway_store::{Issue, NewAccessToken, NewRefreshToken, RedeemOutcome};

use super::jwt::PendingAccessToken;
use super::{GRANT_USER_GONE, IdTokenFacts, REFRESH_PREFIX, id_token};
use crate::http::error::JsonError;
use crate::state::{AppState, now};

pub async fn exchange(state: &AppState, client: &Client, params: &Params) -> Result<TokenResponse, JsonError> {
    let code = params.get("code")?.ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let now = now();
    let config = &state.config;
    let access_token = PendingAccessToken::new(state, client);
    let refresh_token = client.grant_types.allows(GrantType::RefreshToken).then(|| random_token(REFRESH_PREFIX));
    let outcome = state
        .store
        .redeem_code(&hash_secret(code), now, |record| {
            check_code(record, client, params, now)?;
            Ok(Issue {
                access: NewAccessToken {
                    token_hash: access_token.token_hash(),
                    client_id: client.client_id.clone(),
                    user_id: Some(record.user_id.clone()),
                    scope: record.scope.clone(),
                    expires_at: now + client.access_token_ttl_or(config.access_token_ttl),
                },
                refresh: refresh_token.as_ref().map(|token| NewRefreshToken {
                    token_hash: hash_secret(token),
                    client_id: client.client_id.clone(),
                    user_id: record.user_id.clone(),
                    scope: record.scope.clone(),
                    auth_time: record.auth_time,
                    sid: record.sid.clone(),
                    idle_expires_at: now + config.refresh_idle_ttl,
                    absolute_expires_at: record.auth_time + config.refresh_absolute_ttl,
                }),
            })
        })
        .await?;
    let (record, user) = match outcome {
        RedeemOutcome::Issued(record, user) => (record, user),
        RedeemOutcome::Rejected(err) => return Err(err.into()),
        RedeemOutcome::NotFound => {
            return Err(OAuthError::invalid_grant("the authorization code is invalid or has expired").into());
        }
        RedeemOutcome::Replayed { client_id, revoked_tokens } => {
            tracing::warn!(target: "security", event = "code_reuse", client_id = %client_id, revoked_tokens,
                "an authorization code was presented twice; tokens issued from it are revoked");
            return Err(OAuthError::invalid_grant("the authorization code was already used").into());
        }
    };
    // The user was read with the redemption; one disabled since the code was issued gets nothing.
    let user = *user.filter(|u| !u.disabled).ok_or_else(|| OAuthError::invalid_grant(GRANT_USER_GONE))?;
    let access_token = access_token.into_token(state, client, &user.sub, &record.scope, now)?;
    let facts = IdTokenFacts {
        auth_time: record.auth_time,
        nonce: record.nonce.as_deref(),
        access_token: &access_token,
        sid: record.sid.as_deref(),
    };
    let id_token = id_token(state, client, &user, &record.scope, facts, now).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: client.access_token_ttl_or(config.access_token_ttl),
        scope: record.scope.to_string(),
        id_token,
        refresh_token,
    })
}
