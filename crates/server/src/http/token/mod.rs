//! The token endpoint (RFC 6749 §3.2): authenticate the client once, check it may use the
//! grant, then dispatch to one handler per grant.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use doorway_core::jose::SigningAlg;
use doorway_core::model::{Client, User};
use doorway_core::oauth::grant::GrantType;
use doorway_core::oauth::params::Params;
use doorway_core::oauth::token::TokenResponse;
use doorway_core::oidc::claims::user_claims;
use doorway_core::oidc::id_token::{self, IdTokenInput};
use doorway_core::types::ScopeSet;
use doorway_core::{ErrorCode, OAuthError};

use crate::http::avatar::default_picture;
use crate::http::client_auth::authenticate_client;
use crate::http::error::JsonError;
use crate::http::form::TokenParams;
use crate::state::AppState;

mod client_credentials;
mod code;
pub mod device;
pub mod jwt;
mod refresh;

/// Prefix of refresh tokens (access tokens carry the configured prefix).
pub const REFRESH_PREFIX: &str = "dw_rt_";

pub async fn token(State(state): State<AppState>, headers: HeaderMap, TokenParams(params): TokenParams) -> Response {
    match handle(&state, &headers, &params).await {
        Ok(body) => {
            if let Some(grant) = params.get("grant_type").ok().flatten().and_then(GrantType::parse) {
                crate::metrics::token_issued(grant.as_str());
            }
            json_no_store(&body)
        }
        Err(err) => err.into_response(),
    }
}

/// A JSON body that must not be cached (RFC 6749 §5.1).
pub fn json_no_store<T: serde::Serialize>(body: &T) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")],
        serde_json::to_string(body).unwrap_or_default(),
    )
        .into_response()
}

async fn handle(state: &AppState, headers: &HeaderMap, params: &Params) -> Result<TokenResponse, JsonError> {
    // RFC 6749 §3.2.1: the client is authenticated before the grant is looked at.
    let client = authenticate_client(state, headers, params).await?;
    let grant = match params.get("grant_type")? {
        None => return Err(OAuthError::invalid_request("grant_type is missing").into()),
        Some(raw) => GrantType::parse(raw)
            .ok_or_else(|| OAuthError::new(ErrorCode::UnsupportedGrantType, "this grant type is not supported"))?,
    };
    // RFC 6749 §5.2: a client may only use the grants it was registered for.
    if !client.grant_types.allows(grant) || (grant == GrantType::ClientCredentials && client.is_public()) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this app is not allowed the {} grant", grant.as_str()),
        )
        .into());
    }
    match grant {
        GrantType::AuthorizationCode => code::exchange(state, &client, params).await,
        GrantType::RefreshToken => refresh::exchange(state, &client, params).await,
        GrantType::ClientCredentials => client_credentials::exchange(state, &client, params).await,
        GrantType::DeviceCode => device::exchange(state, &client, params).await,
    }
}

/// What an ID token says beyond the user's claims.
pub struct IdTokenFacts<'a> {
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    pub access_token: &'a str,
    pub sid: Option<&'a str>,
}

/// Signs an ID token for `user` with the app's algorithm, when `scope` has `openid`.
pub async fn id_token(
    state: &AppState,
    client: &Client,
    user: &User,
    scope: &ScopeSet,
    facts: IdTokenFacts<'_>,
    now: i64,
) -> Result<Option<String>, OAuthError> {
    if !scope.contains(doorway_core::types::Scope::OPENID) {
        return Ok(None);
    }
    let alg = SigningAlg::parse(&client.id_token_alg).unwrap_or(SigningAlg::Rs256);
    let key = state.keys.current().signer(alg).ok_or_else(OAuthError::server_error)?;
    let orgs = crate::http::orgs::org_claims(state, &user.id, &client.client_id, scope)
        .await
        .map_err(|err| crate::http::error::store_error(&err))?;
    let mut claims = id_token::claims(IdTokenInput {
        issuer: &state.config.issuer,
        client_id: &client.client_id,
        user_claims: user_claims(user, scope, &state.config.issuer, &default_picture(state, &user.sub), &orgs),
        auth_time: facts.auth_time,
        nonce: facts.nonce,
        access_token: Some(facts.access_token),
        now,
        lifetime: client.access_token_ttl_or(state.config.access_token_ttl),
        alg,
    });
    if let Some(sid) = facts.sid {
        claims.insert("sid".into(), serde_json::json!(sid));
    }
    key.sign(&claims).map(Some).map_err(|err| {
        tracing::error!(error = %err, "signing an ID token failed");
        OAuthError::server_error()
    })
}

/// Why a grant whose user is gone or disabled yields nothing.
pub const GRANT_USER_GONE: &str = "the user of this grant no longer exists or is disabled";

/// The user behind a grant, who must still exist and be enabled.
pub async fn grant_user(state: &AppState, user_id: &str) -> Result<User, JsonError> {
    state
        .store
        .find_user(user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| OAuthError::invalid_grant(GRANT_USER_GONE).into())
}
