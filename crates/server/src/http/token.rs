//! The token endpoint (RFC 6749 §3.2): authenticate the client once, then dispatch by grant.
//! Only the authorization_code grant is offered for now; others are unsupported_grant_type.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use doorway_core::jose::SigningAlg;
use doorway_core::model::Client;
use doorway_core::oauth::params::Params;
use doorway_core::oauth::token::{
    ClientCredentials, TokenResponse, authenticate, check_code, client_credentials,
};
use doorway_core::oidc::claims::user_claims;
use doorway_core::oidc::id_token::{self, IdTokenInput};
use doorway_core::secrets::{hash_secret, random_token};
use doorway_core::types::Scope;
use doorway_core::{ErrorCode, OAuthError};
use doorway_store::{NewAccessToken, RedeemOutcome};

use crate::http::avatar::default_picture;
use crate::http::error::JsonError;
use crate::http::form::TokenParams;
use crate::state::{AppState, now};

pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    TokenParams(params): TokenParams,
) -> Response {
    match handle(&state, &headers, &params).await {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            serde_json::to_string(&body).unwrap_or_default(),
        )
            .into_response(),
        Err(err) => err.into_response(),
    }
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<TokenResponse, JsonError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let credentials = client_credentials(authorization, params)?;
    let basic = credentials.used_basic();
    let client = authenticated_client(state, &credentials, params)
        .await
        .map_err(|error| JsonError { error, basic })?;
    match params.get("grant_type")? {
        None => Err(OAuthError::invalid_request("grant_type is missing").into()),
        Some("authorization_code") => authorization_code(state, &client, params).await,
        Some(_) => Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "this grant type is not supported",
        )
        .into()),
    }
}

/// RFC 6749 §3.2.1: the client is authenticated before any grant is looked at. A public client
/// may name itself, or be named by its code (what @huggingface/hub relies on).
async fn authenticated_client(
    state: &AppState,
    credentials: &ClientCredentials,
    params: &Params,
) -> Result<Client, OAuthError> {
    let failed = || OAuthError::invalid_client("client authentication failed");
    let client_id = match credentials.client_id() {
        Some(id) => id.to_owned(),
        None => {
            let code = params
                .get("code")?
                .ok_or_else(|| OAuthError::invalid_client("client_id is missing"))?;
            state
                .store
                .code_client_id(&hash_secret(code))
                .await
                .map_err(|e| crate::http::error::store_error(&e))?
                .ok_or_else(|| {
                    OAuthError::invalid_grant("the authorization code is invalid or has expired")
                })?
        }
    };
    let client = state
        .store
        .find_client(&client_id)
        .await
        .map_err(|e| crate::http::error::store_error(&e))?;
    let client = client.ok_or_else(failed)?;
    authenticate(credentials, &client).inspect_err(|_| {
        tracing::warn!(target: "security", event = "client_auth_failed", client_id = %client.client_id, "client authentication failed");
    })?;
    Ok(client)
}

async fn authorization_code(
    state: &AppState,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, JsonError> {
    let code = params
        .get("code")?
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let now = now();
    let access_token = random_token(&state.config.token_prefix);
    let lifetime = state.config.access_token_ttl;
    let outcome = state
        .store
        .redeem_code(&hash_secret(code), now, |record| {
            check_code(record, client, params, now)?;
            Ok(NewAccessToken {
                token_hash: hash_secret(&access_token),
                client_id: client.client_id.clone(),
                user_id: Some(record.user_id.clone()),
                scope: record.scope.clone(),
                expires_at: now + lifetime,
            })
        })
        .await?;
    let record = match outcome {
        RedeemOutcome::Issued(record) => record,
        RedeemOutcome::Rejected(err) => return Err(err.into()),
        RedeemOutcome::NotFound => {
            return Err(OAuthError::invalid_grant(
                "the authorization code is invalid or has expired",
            )
            .into());
        }
        RedeemOutcome::Replayed {
            client_id,
            revoked_tokens,
        } => {
            tracing::warn!(target: "security", event = "code_reuse", client_id = %client_id, revoked_tokens,
                "an authorization code was presented twice; tokens issued from it are revoked");
            return Err(
                OAuthError::invalid_grant("the authorization code was already used").into(),
            );
        }
    };
    let id_token = if record.scope.contains(Scope::OPENID) {
        let user = state
            .store
            .find_user(&record.user_id)
            .await?
            .filter(|u| !u.disabled)
            .ok_or_else(|| OAuthError::invalid_grant("the user of this code no longer exists"))?;
        let alg = SigningAlg::parse(&client.id_token_alg).unwrap_or(SigningAlg::Rs256);
        let key = state
            .keys
            .signer(alg)
            .ok_or_else(OAuthError::server_error)?;
        let claims = id_token::claims(IdTokenInput {
            issuer: &state.config.issuer,
            client_id: &client.client_id,
            user_claims: user_claims(
                &user,
                &record.scope,
                &state.config.issuer,
                &default_picture(state, &user.sub),
            ),
            auth_time: record.auth_time,
            nonce: record.nonce.as_deref(),
            access_token: Some(&access_token),
            now,
            lifetime,
            alg,
        });
        Some(key.sign(&claims).map_err(|err| {
            tracing::error!(error = %err, "signing an ID token failed");
            OAuthError::server_error()
        })?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: lifetime,
        scope: record.scope.to_string(),
        id_token,
        refresh_token: None,
    })
}
