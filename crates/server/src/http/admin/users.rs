//! `/api/v1/users`: accounts for operators. Disabling ends everything the account had (tokens
//! revoked, sessions ended, apps told by back-channel logout), as `doorway users disable` does.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use doorway_core::model::User;
use doorway_core::secrets::{random_hex_id, random_token};
use doorway_core::types::{Email, Password, Username};
use doorway_store::{NewUser, StoreError, UserCursor, UserFlags};
use serde::Deserialize;

use super::auth::Admin;
use super::error::ApiError;
use super::{ApiJson, ApiPath, Page, Paging, encode_cursor, json};
use crate::state::{AppState, now};

/// A user by id, or 404.
pub async fn find(state: &AppState, id: &str) -> Result<User, ApiError> {
    state.store.find_user(id).await?.ok_or_else(|| ApiError::not_found("user"))
}

pub async fn list(_: Admin, State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let paging = Paging::parse(query.as_deref())?;
    let after = paging.after.map(|(created_at, id)| UserCursor { created_at, id });
    // One more than asked: whether it came back says if there is a next page.
    let mut users = state.store.list_users_page(after.as_ref(), paging.limit + 1).await?;
    let more = users.len() as i64 > paging.limit;
    users.truncate(usize::try_from(paging.limit).unwrap_or(0));
    let next_cursor = more.then(|| users.last().map(|u| encode_cursor(u.created_at, &u.id))).flatten();
    Ok(json(StatusCode::OK, &Page { data: users, next_cursor }))
}

pub async fn get(_: Admin, State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &find(&state, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    username: String,
    email: String,
    name: Option<String>,
    password: Option<String>,
    #[serde(default)]
    email_verified: bool,
    #[serde(default)]
    is_admin: bool,
    #[serde(default)]
    is_pro: bool,
    #[serde(default)]
    can_pay: bool,
}

pub async fn create(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewUserBody>,
) -> Result<Response, ApiError> {
    let username = Username::parse(body.username.trim()).map_err(|e| ApiError::invalid(format!("username: {e}")))?;
    let email = Email::parse(&body.email).map_err(|e| ApiError::invalid(format!("email: {e}")))?;
    let name = body.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 100 || n.chars().any(char::is_control)) {
        return Err(ApiError::invalid("name: at most 100 characters, no control characters"));
    }
    let generated = body.password.is_none();
    let raw = body.password.unwrap_or_else(|| random_token("")[..20].to_owned());
    let password = Password::parse(raw).map_err(|e| ApiError::invalid(format!("password: {e}")))?;
    let password_hash = state.passwords.hash(password.expose()).await?;
    let new = NewUser {
        id: uuid::Uuid::new_v4().to_string(),
        sub: random_hex_id(),
        username,
        email,
        email_verified: body.email_verified,
        name,
        password_hash,
        is_admin: body.is_admin,
        is_pro: body.is_pro,
        can_pay: body.can_pay,
    };
    let user = match state.store.create_user(new, now()).await {
        Ok(user) => user,
        Err(StoreError::Conflict(what)) => {
            let field = if what == "email" { "email" } else { "username" };
            return Err(ApiError::conflict(format!("{field}: an account with this {field} already exists")));
        }
        Err(err) => return Err(err.into()),
    };
    tracing::info!(target: "audit", event = "user_created", user_id = %user.id, is_admin = user.is_admin,
        token_id = %admin.token.id, "user created through the admin API");
    let mut out = serde_json::to_value(&user).map_err(anyhow::Error::from)?;
    if generated {
        // Shown this once; only its argon2id hash is kept.
        out["password"] = serde_json::Value::String(password.expose().to_owned());
    }
    Ok(json(StatusCode::CREATED, &out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserUpdateBody {
    is_admin: Option<bool>,
    is_pro: Option<bool>,
    can_pay: Option<bool>,
    email_verified: Option<bool>,
}

pub async fn update(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UserUpdateBody>,
) -> Result<Response, ApiError> {
    let flags = UserFlags {
        is_admin: body.is_admin,
        is_pro: body.is_pro,
        can_pay: body.can_pay,
        email_verified: body.email_verified,
    };
    if !state.store.set_user_flags(&id, &flags, now()).await? {
        return Err(ApiError::not_found("user"));
    }
    // An operator's rights changing is the line an audit looks for first.
    tracing::info!(target: "audit", event = "user_updated", user_id = %id, is_admin = ?flags.is_admin,
        is_pro = ?flags.is_pro, can_pay = ?flags.can_pay, email_verified = ?flags.email_verified,
        token_id = %admin.token.id, "user updated through the admin API");
    Ok(json(StatusCode::OK, &find(&state, &id).await?))
}

pub async fn disable(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let user = find(&state, &id).await?;
    let now = now();
    // Disabled first: from here no grant of theirs is honoured, so nothing new is minted
    // between the revocation below and the flag.
    state.store.set_user_disabled(&user.id, true, now).await?;
    let tokens = state.store.revoke_user_tokens(&user.id, None, now).await?;
    let sids = state.store.delete_user_sessions(&user.id).await?;
    crate::http::logout::notify_ended_sessions(
        &state.store,
        &state.keys.current(),
        &state.config.issuer,
        &user.sub,
        &sids,
        now,
    )
    .await;
    tracing::info!(target: "security", event = "user_disabled", user_id = %user.id, tokens,
        sessions = sids.len(), token_id = %admin.token.id, "user disabled through the admin API");
    Ok(json(StatusCode::OK, &find(&state, &id).await?))
}

pub async fn enable(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    if !state.store.set_user_disabled(&id, false, now()).await? {
        return Err(ApiError::not_found("user"));
    }
    tracing::info!(target: "security", event = "user_enabled", user_id = %id, token_id = %admin.token.id,
        "user enabled through the admin API");
    Ok(json(StatusCode::OK, &find(&state, &id).await?))
}
