//! The userinfo endpoint (OIDC Core §5.3): the same claims as the ID token, for the scopes the
//! access token was granted. Bearer errors per RFC 6750 §3.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use doorway_core::oidc::claims::user_claims;
use doorway_core::secrets::hash_secret;
use doorway_core::types::Scope;
use doorway_core::{ErrorCode, OAuthError};

use crate::http::avatar::default_picture;
use crate::http::error::{json_body, store_error};
use crate::http::token::jwt::{self, Presented};
use crate::state::{AppState, now};

fn bearer_error(error: OAuthError, challenge: &str) -> Response {
    let status = StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    let mut response =
        (status, [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], json_body(&error))
            .into_response();
    if let Ok(value) = HeaderValue::from_str(challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

fn invalid_token(description: &str) -> Response {
    bearer_error(
        OAuthError::new(ErrorCode::InvalidToken, description),
        &format!("Bearer realm=\"doorway\", error=\"invalid_token\", error_description=\"{description}\""),
    )
}

/// RFC 6750 §2.1 (header) and §2.2 (form body, POST only); one method per request.
async fn bearer_token(req: Request) -> Result<String, Response> {
    let header_token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let body_token = if req.method() == axum::http::Method::POST && is_form {
        let bytes = axum::body::to_bytes(req.into_body(), 16 * 1024).await.unwrap_or_default();
        url::form_urlencoded::parse(&bytes).find(|(k, _)| k == "access_token").map(|(_, v)| v.into_owned())
    } else {
        None
    };
    match (header_token, body_token) {
        (Some(_), Some(_)) => Err(bearer_error(
            OAuthError::invalid_request("send the access token in one place only"),
            "Bearer realm=\"doorway\", error=\"invalid_request\"",
        )),
        (Some(token), None) | (None, Some(token)) if !token.is_empty() => Ok(token),
        _ => Err(unauthenticated()),
    }
}

/// RFC 6750 §3.1: a request without any bearer credentials gets 401 and a bare challenge,
/// with no error code.
fn unauthenticated() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"doorway\""), (header::CACHE_CONTROL, "no-store")],
    )
        .into_response()
}

/// RFC 6750 §3.1: a valid token without the openid scope.
fn no_openid_scope() -> Response {
    bearer_error(
        OAuthError::new(ErrorCode::InsufficientScope, "userinfo requires a token granted the openid scope"),
        "Bearer realm=\"doorway\", error=\"insufficient_scope\", scope=\"openid\"",
    )
}

pub async fn userinfo(State(state): State<AppState>, req: Request) -> Response {
    let token = match bearer_token(req).await {
        Ok(token) => token,
        Err(response) => return response,
    };
    let now = now();
    // A JWT (RFC 9068) must verify before its grant is looked up; an app's own token (from
    // client_credentials) has no user, so no openid scope.
    let hash = match jwt::inspect(&state, &token, now) {
        Presented::Opaque => hash_secret(&token),
        Presented::Jwt(claims) if claims.is_client_token() => return no_openid_scope(),
        Presented::Jwt(claims) => jwt::stored_hash(&state, &claims),
        Presented::Invalid => return invalid_token("the access token is invalid, expired or revoked"),
    };
    let found = match state.store.find_access_token_with_user(&hash).await {
        Ok(found) => found,
        Err(err) => return bearer_error(store_error(&err), "Bearer realm=\"doorway\""),
    };
    let Some((record, user)) = found.filter(|(t, _)| !t.revoked && t.expires_at > now) else {
        return invalid_token("the access token is invalid, expired or revoked");
    };
    if !record.scope.contains(Scope::OPENID) {
        return no_openid_scope();
    }
    let Some(user) = user.filter(|u| !u.disabled) else {
        return invalid_token("the access token's user no longer exists");
    };
    // An app restricted to one organization's members: a person who left it keeps no access
    // through tokens issued before (RFC 6750 §3.1: the token no longer authorizes this).
    match crate::http::orgs::left_the_apps_org(&state, &record.client_id, &user.id).await {
        Ok(false) => {}
        Ok(true) => return invalid_token("the user is no longer a member of the organization this app admits"),
        Err(err) => return bearer_error(store_error(&err), "Bearer realm=\"doorway\""),
    }
    let orgs = match crate::http::orgs::org_claims(&state, &user.id, &record.client_id, &record.scope).await {
        Ok(orgs) => orgs,
        Err(err) => return bearer_error(store_error(&err), "Bearer realm=\"doorway\""),
    };
    let claims = user_claims(&user, &record.scope, &state.config.issuer, &default_picture(&state, &user.sub), &orgs);
    (
        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")],
        serde_json::Value::Object(claims).to_string(),
    )
        .into_response()
}
