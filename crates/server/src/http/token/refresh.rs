//! The refresh_token grant (RFC 6749 §6) with rotation, a grace window for concurrent
//! refreshes, and reuse detection that revokes the family (see `doorway_core::oauth::refresh`).

use doorway_core::OAuthError;
use doorway_core::model::Client;
use doorway_core::oauth::params::Params;
use doorway_core::oauth::refresh::narrowed_scope;
use doorway_core::oauth::token::TokenResponse;
use doorway_core::secrets::hash_secret;
use doorway_store::{Issue, NewAccessToken, NewRefreshToken, RefreshOutcome};

use super::jwt::PendingAccessToken;
use super::{GRANT_USER_GONE, IdTokenFacts, REFRESH_PREFIX, id_token};
use crate::http::error::JsonError;
use crate::state::{AppState, now};

pub async fn exchange(state: &AppState, client: &Client, params: &Params) -> Result<TokenResponse, JsonError> {
    let presented =
        params.get("refresh_token")?.ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    let requested_scope = params.get("scope")?;
    let now = now();
    let config = &state.config;
    // The same for every concurrent refresh of this token, on every node.
    let successor = state.rotation.successor(REFRESH_PREFIX, presented);
    refuse_former_members(state, client, presented, now).await?;
    let access_token = PendingAccessToken::new(state, client);
    let mut granted = None;
    let outcome = state
        .store
        .refresh(&hash_secret(presented), now, config.refresh_grace, |parent| {
            if parent.client_id != client.client_id {
                return Err(OAuthError::invalid_grant("the refresh token was issued to another client"));
            }
            let scope = narrowed_scope(&parent.scope, requested_scope)?;
            granted = Some(scope.clone());
            Ok(Issue {
                access: NewAccessToken {
                    token_hash: access_token.token_hash(),
                    client_id: client.client_id.clone(),
                    user_id: Some(parent.user_id.clone()),
                    scope,
                    expires_at: now + client.access_token_ttl_or(config.access_token_ttl),
                },
                // RFC 6749 §6: the new refresh token keeps the original grant's scope.
                refresh: Some(NewRefreshToken {
                    token_hash: hash_secret(&successor),
                    client_id: client.client_id.clone(),
                    user_id: parent.user_id.clone(),
                    scope: parent.scope.clone(),
                    auth_time: parent.auth_time,
                    sid: parent.sid.clone(),
                    idle_expires_at: now + config.refresh_idle_ttl,
                    absolute_expires_at: parent.absolute_expires_at,
                }),
            })
        })
        .await?;
    let (parent, user) = match outcome {
        RefreshOutcome::Rotated(parent, user) | RefreshOutcome::Grace(parent, user) => (parent, user),
        RefreshOutcome::Rejected(err) => return Err(err.into()),
        RefreshOutcome::Inactive => {
            return Err(OAuthError::invalid_grant("the refresh token is invalid, expired or revoked").into());
        }
        RefreshOutcome::Reused { family_id, client_id, revoked_tokens } => {
            tracing::warn!(target: "security", event = "refresh_reuse", %client_id, %family_id, revoked_tokens,
                "a rotated-out refresh token was presented again; its family is revoked");
            return Err(OAuthError::invalid_grant("the refresh token was already used").into());
        }
    };
    let scope = granted.ok_or_else(OAuthError::server_error)?;
    // The user was read with the rotation; one disabled since the grant gets nothing.
    let user = *user.filter(|u| !u.disabled).ok_or_else(|| OAuthError::invalid_grant(GRANT_USER_GONE))?;
    let access_token = access_token.into_token(state, client, &user.sub, &scope, now)?;
    // OIDC Core §12.2: same sub, aud and auth_time; a new iat; no nonce.
    let facts = IdTokenFacts {
        auth_time: parent.auth_time,
        nonce: None,
        access_token: &access_token,
        sid: parent.sid.as_deref(),
    };
    let id_token = id_token(state, client, &user, &scope, facts, now).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: client.access_token_ttl_or(config.access_token_ttl),
        scope: scope.to_string(),
        id_token,
        refresh_token: Some(successor),
    })
}

/// An app restricted to one organization's members (`authorized_org`) admits a person only while
/// they belong to it: someone who left, or was removed, loses the grant at the next refresh.
/// RFC 6749 §5.2: the grant is no longer valid, so `invalid_grant`; and, like the other refresh
/// failures that end a grant, the whole token family is revoked (a later return to the org
/// means signing in again, with consent and the org check at /authorize).
async fn refuse_former_members(state: &AppState, client: &Client, presented: &str, now: i64) -> Result<(), JsonError> {
    let Some(org) = client.authorized_org.as_deref().map(str::trim).filter(|o| !o.is_empty()) else {
        return Ok(());
    };
    let Some(parent) = state.store.find_refresh_token(&hash_secret(presented)).await? else {
        return Ok(());
    };
    // A token of another app is refused by the rotation below, and must not end that app's family.
    if parent.client_id != client.client_id || crate::http::orgs::may_sign_in(state, client, &parent.user_id).await? {
        return Ok(());
    }
    let revoked_tokens = state.store.revoke_family(&parent.family_id, now).await?;
    tracing::info!(target: "security", event = "refresh_refused_former_member", client_id = %client.client_id,
        user_id = %parent.user_id, org, revoked_tokens, "refresh refused: the user left the app's organization");
    Err(OAuthError::invalid_grant(format!("the user is no longer a member of the organization {org}")).into())
}
