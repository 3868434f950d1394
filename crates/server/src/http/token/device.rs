//! The device_code grant (RFC 8628 §3.4, §3.5): a device polls until the person approved or
//! denied on the `/device` page. An approved code is exchanged once: the consumption and the
//! tokens are one transaction, so of parallel polls exactly one gets tokens.

use doorway_core::model::{Client, DeviceCode};
use doorway_core::oauth::device::{Poll, SLOW_DOWN_STEP, poll};
use doorway_core::oauth::grant::GrantType;
use doorway_core::oauth::params::Params;
use doorway_core::oauth::token::TokenResponse;
use doorway_core::secrets::{hash_secret, random_token};
use doorway_core::{ErrorCode, OAuthError};
use doorway_store::{Issue, NewAccessToken, NewRefreshToken};

use super::jwt::PendingAccessToken;
use super::{IdTokenFacts, REFRESH_PREFIX, grant_user, id_token};
use crate::http::error::JsonError;
use crate::state::{AppState, now};

/// One answer for every code this client may not use, so a poll reveals nothing about codes
/// issued to other apps.
fn unknown_code() -> JsonError {
    OAuthError::invalid_grant("the device code is invalid").into()
}

pub async fn exchange(state: &AppState, client: &Client, params: &Params) -> Result<TokenResponse, JsonError> {
    // RFC 8628 §3.4: device_code is required.
    let presented = params.get("device_code")?.ok_or_else(|| OAuthError::invalid_request("device_code is missing"))?;
    let hash = hash_secret(presented);
    let now = now();
    let code = state.store.find_device_code(&hash).await?.ok_or_else(unknown_code)?;
    // RFC 8628 §3.4 / RFC 6749 §5.2: a code is bound to the client it was issued to.
    if code.client_id != client.client_id {
        tracing::warn!(target: "security", event = "device_code_wrong_client", client_id = %client.client_id,
            "a device code issued to another app was presented");
        return Err(unknown_code());
    }
    // RFC 8628 §3.5: the answer depends on where the person stands, and on the polling pace.
    match poll(&code, now) {
        Poll::Expired => Err(OAuthError::new(ErrorCode::ExpiredToken, "the device code has expired").into()),
        Poll::Denied => Err(OAuthError::new(ErrorCode::AccessDenied, "the user denied the request").into()),
        Poll::Used => Err(OAuthError::invalid_grant("the device code was already used").into()),
        Poll::Pending => {
            state.store.record_device_poll(&hash, now, code.interval_secs).await?;
            Err(OAuthError::new(ErrorCode::AuthorizationPending, "the user has not yet answered").into())
        }
        Poll::SlowDown => {
            // The interval grows for this and every later poll (RFC 8628 §3.5).
            state.store.record_device_poll(&hash, now, code.interval_secs + SLOW_DOWN_STEP).await?;
            Err(OAuthError::new(ErrorCode::SlowDown, "polling too fast: wait longer between requests").into())
        }
        Poll::Approved => issue(state, client, &code, now).await,
    }
}

/// Issues the tokens of an approved code, once.
async fn issue(state: &AppState, client: &Client, code: &DeviceCode, now: i64) -> Result<TokenResponse, JsonError> {
    let config = &state.config;
    let (Some(user_id), Some(auth_time)) = (code.user_id.as_deref(), code.auth_time) else {
        tracing::error!(client_id = %client.client_id, "an approved device code has no user");
        return Err(OAuthError::server_error().into());
    };
    let user = grant_user(state, user_id).await?;
    // The person approved as a member of the app's organization (`authorized_org`) but may have
    // left since: RFC 6749 §5.2, the grant is no longer valid.
    if !crate::http::orgs::may_sign_in(state, client, &user.id).await? {
        let org = client.authorized_org.as_deref().unwrap_or_default().trim();
        return Err(
            OAuthError::invalid_grant(format!("the user is no longer a member of the organization {org}")).into()
        );
    }
    let access_token = PendingAccessToken::new(state, client);
    let refresh_token = client.grant_types.allows(GrantType::RefreshToken).then(|| random_token(REFRESH_PREFIX));
    let tokens = Issue {
        access: NewAccessToken {
            token_hash: access_token.token_hash(),
            client_id: client.client_id.clone(),
            user_id: Some(user.id.clone()),
            scope: code.scope.clone(),
            expires_at: now + client.access_token_ttl_or(config.access_token_ttl),
        },
        // The device holds a grant of its own: it is not tied to the browser session that
        // approved it (no `sid`), so signing out in the browser does not sign out the device.
        refresh: refresh_token.as_ref().map(|token| NewRefreshToken {
            token_hash: hash_secret(token),
            client_id: client.client_id.clone(),
            user_id: user.id.clone(),
            scope: code.scope.clone(),
            auth_time,
            sid: None,
            idle_expires_at: now + config.refresh_idle_ttl,
            absolute_expires_at: auth_time + config.refresh_absolute_ttl,
        }),
    };
    if !state.store.redeem_device_code(&code.device_code_hash, &tokens, now).await? {
        // Another poll won the race (or the code expired in between).
        return Err(OAuthError::invalid_grant("the device code was already used").into());
    }
    tracing::info!(client_id = %client.client_id, user_id = %user.id, "device authorization exchanged");
    let access_token = access_token.into_token(state, client, &user.sub, &code.scope, now)?;
    // OIDC Core §2: auth_time is when the person signed in to approve; no nonce in this grant.
    let facts = IdTokenFacts { auth_time, nonce: None, access_token: &access_token, sid: None };
    let id_token = id_token(state, client, &user, &code.scope, facts, now).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: client.access_token_ttl_or(config.access_token_ttl),
        scope: code.scope.to_string(),
        id_token,
        refresh_token,
    })
}
