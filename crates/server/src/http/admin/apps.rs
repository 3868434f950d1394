//! `/api/v1/apps`: OAuth apps for operators. Fields are checked by the developer console's
//! validation (`console::form`), with operator powers (first-party, any grant type); a secret
//! is returned by the call that creates it and never again.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use doorway_core::model::{Client, ClientKind};
use doorway_core::oauth::grant::{GrantType, GrantTypes};
use doorway_core::secrets::{hash_secret, random_token};
use doorway_store::NewClient;
use serde::Deserialize;
use serde_json::json;

use super::auth::Admin;
use super::error::ApiError;
use super::{ApiJson, ApiPath, Page, Paging, Patch, encode_cursor};
use crate::egress::Targets;
use crate::http::console::form::{Errors, Fields, NO_REDIRECT_URI, Submitter, Valid, check, push as form_push};
use crate::state::{AppState, now};

/// The longest grace period for a rotated secret: a week.
const MAX_GRACE: i64 = 7 * 86_400;
/// Bounds of an app's own access-token lifetime, in seconds (as the console: up to 30 days).
const MAX_TOKEN_TTL: i64 = 30 * 86_400;

async fn find(state: &AppState, client_id: &str) -> Result<Client, ApiError> {
    state.store.find_client(client_id).await?.ok_or_else(|| ApiError::not_found("app"))
}

/// A list of words, as a JSON string (`"openid profile"`) or an array (`["openid", "profile"]`).
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Words {
    One(String),
    Many(Vec<String>),
}

impl Words {
    fn list(&self) -> Vec<String> {
        match self {
            Self::One(s) => s.split([' ', ',']).filter(|w| !w.is_empty()).map(str::to_owned).collect(),
            Self::Many(v) => v.clone(),
        }
    }
}

/// Every field message as one description: `field: message; field: message`.
fn invalid(errors: &Errors) -> ApiError {
    let all: Vec<String> =
        errors.iter().flat_map(|(field, messages)| messages.iter().map(move |m| format!("{field}: {m}"))).collect();
    ApiError::invalid(all.join("; "))
}

/// URIs as the console's one-per-line field; a URI may not smuggle a line break.
fn lines(field: &str, uris: &[String]) -> Result<String, ApiError> {
    if uris.iter().any(|u| u.contains(['\n', '\r'])) {
        return Err(ApiError::invalid(format!("{field}: a URI must not contain a line break")));
    }
    Ok(uris.join("\n"))
}

fn grant_types(words: &Words, kind: ClientKind) -> Result<GrantTypes, ApiError> {
    let grants =
        GrantTypes::parse(&words.list().join(" ")).map_err(|e| ApiError::invalid(format!("grant_types: {e}")))?;
    if grants.iter().next().is_none() {
        return Err(ApiError::invalid("grant_types: give at least one grant type"));
    }
    // RFC 6749 §4.4: client_credentials is for apps that can keep a secret.
    if kind == ClientKind::Public && grants.allows(GrantType::ClientCredentials) {
        return Err(ApiError::invalid("grant_types: client_credentials needs a confidential app"));
    }
    Ok(grants)
}

fn token_ttl(seconds: Option<i64>) -> Result<Option<i64>, ApiError> {
    match seconds {
        Some(s) if !(60..=MAX_TOKEN_TTL).contains(&s) => {
            Err(ApiError::invalid(format!("access_token_ttl: seconds from 60 to {MAX_TOKEN_TTL}")))
        }
        other => Ok(other),
    }
}

fn new_client(client_id: String, secret_hash: Option<String>, owner_id: Option<String>, valid: &Valid) -> NewClient {
    NewClient {
        client_id,
        secret_hash,
        kind: valid.kind,
        name: valid.name.clone(),
        homepage_url: valid.homepage_url.clone(),
        logo_uri: valid.logo_uri.clone(),
        redirect_uris: valid.redirect_uris.clone(),
        redirect_policy: valid.redirect_policy,
        scopes: valid.scopes.clone(),
        require_pkce: valid.require_pkce,
        id_token_alg: valid.id_token_alg.clone(),
        owner_id,
        grant_types: valid.grant_types.clone(),
        post_logout_redirect_uris: valid.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: valid.backchannel_logout_uri.clone(),
    }
}

pub async fn list(_: Admin, State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let paging = Paging::parse(query.as_deref())?;
    // Apps are few next to users: read in order and page in memory.
    let apps = state.store.list_clients().await?;
    let after = |c: &Client| match &paging.after {
        Some((at, id)) => (c.created_at, c.client_id.as_str()) > (*at, id.as_str()),
        None => true,
    };
    let mut page: Vec<Client> =
        apps.into_iter().filter(after).take(usize::try_from(paging.limit + 1).unwrap_or(0)).collect();
    let more = page.len() as i64 > paging.limit;
    page.truncate(usize::try_from(paging.limit).unwrap_or(0));
    let next_cursor = more.then(|| page.last().map(|c| encode_cursor(c.created_at, &c.client_id))).flatten();
    Ok(super::json(StatusCode::OK, &Page { data: page, next_cursor }))
}

pub async fn get(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    Ok(super::json(StatusCode::OK, &find(&state, &client_id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAppBody {
    name: String,
    /// Required with the authorization_code grant only.
    #[serde(default)]
    redirect_uris: Vec<String>,
    scopes: Option<Words>,
    /// `confidential` (default) or `public`.
    kind: Option<String>,
    /// `exact` (default) or `origin`.
    redirect_policy: Option<String>,
    grant_types: Option<Words>,
    #[serde(default)]
    require_pkce: bool,
    id_token_alg: Option<String>,
    description: Option<String>,
    homepage_url: Option<String>,
    logo_uri: Option<String>,
    policy_uri: Option<String>,
    tos_uri: Option<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    #[serde(default)]
    first_party: bool,
    access_token_ttl: Option<i64>,
    authorized_org: Option<String>,
    /// `opaque` (default) or `jwt`.
    access_token_format: Option<String>,
}

pub async fn create(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewAppBody>,
) -> Result<Response, ApiError> {
    let mut fields = Fields::blank();
    fields.name = body.name;
    fields.redirect_uris = lines("redirect_uris", &body.redirect_uris)?;
    fields.post_logout_redirect_uris = lines("post_logout_redirect_uris", &body.post_logout_redirect_uris)?;
    if let Some(scopes) = &body.scopes {
        fields.scopes = scopes.list();
    }
    fields.kind = body.kind.unwrap_or_else(|| "confidential".into());
    fields.redirect_policy = body.redirect_policy.unwrap_or_else(|| "exact".into());
    fields.require_pkce = body.require_pkce;
    fields.id_token_alg = body.id_token_alg.unwrap_or_else(|| "RS256".into());
    fields.description = body.description.unwrap_or_default();
    fields.homepage_url = body.homepage_url.unwrap_or_default();
    fields.logo_uri = body.logo_uri.unwrap_or_default();
    fields.policy_uri = body.policy_uri.unwrap_or_default();
    fields.tos_uri = body.tos_uri.unwrap_or_default();
    fields.backchannel_logout_uri = body.backchannel_logout_uri.unwrap_or_default();
    fields.first_party = body.first_party;
    fields.authorized_org = body.authorized_org.unwrap_or_default();
    fields.access_token_format = body.access_token_format.unwrap_or_else(|| "opaque".into());
    // An operator's app: its back-channel URI may be on a private network.
    let who = Submitter { is_admin: true, targets: Targets::Any, existing: None };
    let (mut valid, mut errors) = check(&fields, &state.scopes, &who);
    if let Some(words) = &body.grant_types {
        valid.grant_types = grant_types(words, valid.kind)?;
    }
    no_redirect_needed(&valid, &mut errors);
    if !errors.is_empty() {
        return Err(invalid(&errors));
    }
    valid.profile.access_token_ttl = token_ttl(body.access_token_ttl)?;
    let secret = (valid.kind == ClientKind::Confidential).then(|| random_token("dws_"));
    let new = new_client(uuid::Uuid::new_v4().to_string(), secret.as_deref().map(hash_secret), None, &valid);
    let client = state.store.create_app(new, &valid.profile, now()).await?;
    tracing::info!(target: "audit", event = "app_created", client_id = %client.client_id, token_id = %admin.token.id,
        "app created through the admin API");
    let mut out = serde_json::to_value(&client).map_err(anyhow::Error::from)?;
    // Shown this once; only its SHA-256 is stored.
    out["client_secret"] = json!(secret);
    Ok(super::json(StatusCode::CREATED, &out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppUpdateBody {
    name: Option<String>,
    redirect_uris: Option<Vec<String>>,
    scopes: Option<Words>,
    redirect_policy: Option<String>,
    grant_types: Option<Words>,
    require_pkce: Option<bool>,
    id_token_alg: Option<String>,
    first_party: Option<bool>,
    post_logout_redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    description: Patch<String>,
    #[serde(default)]
    homepage_url: Patch<String>,
    #[serde(default)]
    logo_uri: Patch<String>,
    #[serde(default)]
    policy_uri: Patch<String>,
    #[serde(default)]
    tos_uri: Patch<String>,
    #[serde(default)]
    backchannel_logout_uri: Patch<String>,
    #[serde(default)]
    access_token_ttl: Patch<i64>,
    #[serde(default)]
    authorized_org: Patch<String>,
    access_token_format: Option<String>,
}

/// An app without the authorization_code grant (device-only, client_credentials-only) needs no
/// redirect URI.
fn no_redirect_needed(valid: &Valid, errors: &mut Errors) {
    if !valid.grant_types.allows(GrantType::AuthorizationCode)
        && let Some(messages) = errors.get_mut("redirect_uris")
    {
        messages.retain(|m| m != NO_REDIRECT_URI);
        if messages.is_empty() {
            errors.remove("redirect_uris");
        }
    }
}

/// Applies a nullable text field to the console's form field, noting that it was sent.
fn patch_text(field: &mut String, patch: Patch<String>, name: &'static str, sent: &mut Vec<&'static str>) {
    match patch {
        Patch::Absent => return,
        Patch::Null => field.clear(),
        Patch::Value(value) => *field = value,
    }
    sent.push(name);
}

/// A PATCH changes only what it sends: every other setting stays exactly as stored, even one
/// stored under older, looser rules (the CLI's, before it shared the console's).
fn keep_unsent(valid: &mut Valid, existing: &Client, sent: &[&str]) {
    let kept = |field: &str| !sent.contains(&field);
    if kept("name") {
        valid.name.clone_from(&existing.name);
    }
    if kept("description") {
        valid.profile.description.clone_from(&existing.description);
    }
    if kept("homepage_url") {
        valid.homepage_url.clone_from(&existing.homepage_url);
    }
    if kept("logo_uri") {
        valid.logo_uri.clone_from(&existing.logo_uri);
    }
    if kept("policy_uri") {
        valid.profile.policy_uri.clone_from(&existing.policy_uri);
    }
    if kept("tos_uri") {
        valid.profile.tos_uri.clone_from(&existing.tos_uri);
    }
    if kept("redirect_uris") {
        valid.redirect_uris.clone_from(&existing.redirect_uris);
    }
    if kept("post_logout_redirect_uris") {
        valid.post_logout_redirect_uris.clone_from(&existing.post_logout_redirect_uris);
    }
    if kept("backchannel_logout_uri") {
        valid.backchannel_logout_uri.clone_from(&existing.backchannel_logout_uri);
    }
    if kept("scopes") {
        valid.scopes = existing.scopes.clone();
    }
    if kept("redirect_policy") {
        valid.redirect_policy = existing.redirect_policy;
    }
    if kept("id_token_alg") {
        valid.id_token_alg.clone_from(&existing.id_token_alg);
    }
    if kept("authorized_org") {
        valid.profile.authorized_org.clone_from(&existing.authorized_org);
    }
    if kept("access_token_format") {
        valid.profile.access_token_format = existing.access_token_format;
    }
}

pub async fn update(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<String>,
    ApiJson(body): ApiJson<AppUpdateBody>,
) -> Result<Response, ApiError> {
    let existing = find(&state, &client_id).await?;
    let mut fields = Fields::from_client(&existing);
    let mut sent: Vec<&'static str> = Vec::new();
    if let Some(name) = body.name {
        fields.name = name;
        sent.push("name");
    }
    if let Some(uris) = &body.redirect_uris {
        fields.redirect_uris = lines("redirect_uris", uris)?;
        sent.push("redirect_uris");
    }
    if let Some(uris) = &body.post_logout_redirect_uris {
        fields.post_logout_redirect_uris = lines("post_logout_redirect_uris", uris)?;
        sent.push("post_logout_redirect_uris");
    }
    if let Some(scopes) = &body.scopes {
        fields.scopes = scopes.list();
        sent.push("scopes");
    }
    if let Some(policy) = body.redirect_policy {
        fields.redirect_policy = policy;
        sent.push("redirect_policy");
    }
    if let Some(require) = body.require_pkce {
        fields.require_pkce = require;
    }
    if let Some(alg) = body.id_token_alg {
        fields.id_token_alg = alg;
        sent.push("id_token_alg");
    }
    if let Some(first_party) = body.first_party {
        fields.first_party = first_party;
    }
    if let Some(format) = body.access_token_format {
        fields.access_token_format = format;
        sent.push("access_token_format");
    }
    patch_text(&mut fields.description, body.description, "description", &mut sent);
    patch_text(&mut fields.homepage_url, body.homepage_url, "homepage_url", &mut sent);
    patch_text(&mut fields.logo_uri, body.logo_uri, "logo_uri", &mut sent);
    patch_text(&mut fields.policy_uri, body.policy_uri, "policy_uri", &mut sent);
    patch_text(&mut fields.tos_uri, body.tos_uri, "tos_uri", &mut sent);
    patch_text(&mut fields.backchannel_logout_uri, body.backchannel_logout_uri, "backchannel_logout_uri", &mut sent);
    patch_text(&mut fields.authorized_org, body.authorized_org, "authorized_org", &mut sent);
    // The lifetime is applied after validation, in seconds; the form field is in minutes.
    fields.token_minutes.clear();
    // A developer's app keeps the developer's rule for its back-channel URI, whoever edits it:
    // delivery would refuse a private target anyway (see `egress`).
    let targets = Targets::of_app(&state.store, &existing).await?;
    let who = Submitter { is_admin: true, targets, existing: Some(&existing) };
    let (mut valid, mut errors) = check(&fields, &state.scopes, &who);
    // Only what was sent is judged.
    errors.retain(|field, _| sent.contains(field));
    keep_unsent(&mut valid, &existing, &sent);
    valid.grant_types = match &body.grant_types {
        Some(words) => grant_types(words, existing.kind)?,
        // Not sent: exactly as they were (the console's defaults do not apply here).
        None => existing.grant_types.clone(),
    };
    no_redirect_needed(&valid, &mut errors);
    let needs_redirect = valid.grant_types.allows(GrantType::AuthorizationCode) && valid.redirect_uris.is_empty();
    if needs_redirect && !errors.contains_key("redirect_uris") {
        form_push(&mut errors, "redirect_uris", NO_REDIRECT_URI);
    }
    if !errors.is_empty() {
        return Err(invalid(&errors));
    }
    valid.profile.access_token_ttl = match body.access_token_ttl {
        Patch::Absent => existing.access_token_ttl,
        Patch::Null => None,
        Patch::Value(seconds) => token_ttl(Some(seconds))?,
    };
    let new = new_client(existing.client_id.clone(), None, existing.owner_id.clone(), &valid);
    if !state.store.update_app(None, &new, &valid.profile).await? {
        return Err(ApiError::not_found("app"));
    }
    tracing::info!(target: "audit", event = "app_updated", %client_id, token_id = %admin.token.id,
        "app updated through the admin API");
    Ok(super::json(StatusCode::OK, &find(&state, &client_id).await?))
}

pub async fn delete(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    if !state.store.delete_client(&client_id).await? {
        return Err(ApiError::not_found("app"));
    }
    tracing::info!(target: "audit", event = "app_deleted", %client_id, token_id = %admin.token.id,
        "app deleted through the admin API");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// Seconds the old secret keeps working (default 0: it stops at once).
    #[serde(default)]
    grace_seconds: i64,
}

pub async fn rotate_secret(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<String>,
    ApiJson(body): ApiJson<RotateBody>,
) -> Result<Response, ApiError> {
    let client = find(&state, &client_id).await?;
    if client.kind != ClientKind::Confidential {
        return Err(ApiError::invalid("the app is public: it has no secret"));
    }
    if !(0..=MAX_GRACE).contains(&body.grace_seconds) {
        return Err(ApiError::invalid(format!("grace_seconds: from 0 to {MAX_GRACE}")));
    }
    let now = now();
    let grace_until = (body.grace_seconds > 0).then_some(now + body.grace_seconds);
    let secret = random_token("dws_");
    if !state.store.rotate_client_secret(&client_id, &hash_secret(&secret), grace_until).await? {
        return Err(ApiError::not_found("app"));
    }
    tracing::info!(target: "audit", event = "app_secret_rotated", %client_id, grace_seconds = body.grace_seconds, token_id = %admin.token.id,
        "client secret rotated through the admin API");
    let out = json!({ "client_id": client_id, "client_secret": secret, "previous_secret_expires_at": grace_until });
    Ok(super::json(StatusCode::OK, &out))
}
