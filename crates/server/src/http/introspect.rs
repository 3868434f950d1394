//! Token introspection (RFC 7662) for confidential clients (resource servers). Anything
//! unknown, revoked, rotated out, expired, belonging to a disabled user, or to a person who left
//! the organization the app is restricted to is `active: false`, with nothing else said about it.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use doorway_core::OAuthError;
use doorway_core::oauth::access_token::AccessTokenClaims;
use doorway_core::secrets::hash_secret;
use serde_json::{Value, json};

use crate::http::client_auth::authenticate_client;
use crate::http::error::JsonError;
use crate::http::form::TokenParams;
use crate::http::token::json_no_store;
use crate::http::token::jwt::{self, Presented};
use crate::state::{AppState, now};

pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    TokenParams(params): TokenParams,
) -> Response {
    match handle(&state, &headers, &params).await {
        Ok(body) => json_no_store(&body),
        Err(err) => err.into_response(),
    }
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    params: &doorway_core::oauth::params::Params,
) -> Result<Value, JsonError> {
    let client = authenticate_client(state, headers, params).await?;
    if client.is_public() {
        return Err(JsonError {
            error: OAuthError::invalid_client("introspection requires a confidential client"),
            basic: false,
        });
    }
    let token = params.get("token")?.ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let now = now();
    let inactive = json!({ "active": false });
    // A JWT access token (RFC 9068) must verify first. An app's own token (client_credentials)
    // is not stored: it is what it says, as long as its app exists. A user's is looked up by
    // its handle, for the grant's revocation state.
    let hash = match jwt::inspect(state, token, now) {
        Presented::Opaque => hash_secret(token),
        Presented::Invalid => return Ok(inactive),
        Presented::Jwt(claims) if claims.is_client_token() => return client_token(state, claims).await,
        Presented::Jwt(claims) => jwt::stored_hash(state, &claims),
    };
    let refresh_first = params.get("token_type_hint")? == Some("refresh_token");

    let access = async {
        let Some((t, user)) = state.store.find_access_token_with_user(&hash).await? else {
            return Ok::<_, JsonError>(None);
        };
        if t.revoked || t.expires_at <= now {
            return Ok(Some(inactive.clone()));
        }
        let mut body = json!({
            "active": true,
            "scope": t.scope.to_string(),
            "client_id": t.client_id,
            "token_type": "Bearer",
            "exp": t.expires_at,
            "iat": t.created_at,
            "iss": state.config.issuer,
        });
        if t.user_id.is_some() {
            match user.filter(|u| !u.disabled) {
                Some(user) if crate::http::orgs::left_the_apps_org(state, &t.client_id, &user.id).await? => {
                    return Ok(Some(inactive.clone()));
                }
                Some(user) => {
                    body["sub"] = json!(user.sub);
                    body["username"] = json!(user.username);
                    body["aud"] = json!(t.client_id);
                }
                None => return Ok(Some(inactive.clone())),
            }
        }
        Ok(Some(body))
    };
    let refresh = async {
        let Some((t, user)) = state.store.find_refresh_token_with_user(&hash).await? else {
            return Ok::<_, JsonError>(None);
        };
        let exp = t.idle_expires_at.min(t.absolute_expires_at);
        if t.revoked_at.is_some() || t.rotated_at.is_some() || exp <= now {
            return Ok(Some(inactive.clone()));
        }
        match user.filter(|u| !u.disabled) {
            Some(user) if crate::http::orgs::left_the_apps_org(state, &t.client_id, &user.id).await? => {
                Ok(Some(inactive.clone()))
            }
            Some(user) => Ok(Some(json!({
                "active": true,
                "scope": t.scope.to_string(),
                "client_id": t.client_id,
                "token_type": "refresh_token",
                "exp": exp,
                "iat": t.created_at,
                "iss": state.config.issuer,
                "sub": user.sub,
                "username": user.username,
                "aud": t.client_id,
            }))),
            None => Ok(Some(inactive.clone())),
        }
    };
    let found = if refresh_first {
        match refresh.await? {
            Some(body) => Some(body),
            None => access.await?,
        }
    } else {
        match access.await? {
            Some(body) => Some(body),
            None => refresh.await?,
        }
    };
    Ok(found.unwrap_or_else(|| json!({ "active": false })))
}

/// A client_credentials JWT that verified: active while its app exists (deleting the app is the
/// one way to end such tokens early; see `token::jwt`).
async fn client_token(state: &AppState, claims: AccessTokenClaims) -> Result<Value, JsonError> {
    if state.store.find_client(&claims.client_id).await?.is_none() {
        return Ok(json!({ "active": false }));
    }
    Ok(json!({
        "active": true,
        "scope": claims.scope.unwrap_or_default(),
        "client_id": claims.client_id,
        "token_type": "Bearer",
        "exp": claims.exp,
        "iat": claims.iat,
        "iss": claims.iss,
        "sub": claims.sub,
        "aud": claims.aud,
        "jti": claims.jti,
    }))
}
