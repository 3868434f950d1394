//! Organizations in the HTTP surface: the `orgs` claim as an app may see it, the consent page's
//! organization picker (`orgIds`), the `authorized_org` restriction, and the org pages.
//!
//! Membership is public (the org's profile lists its members), so every member org appears in
//! the claim; the role in an org (`roleInOrg`) only for the orgs the person granted the app.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use doorway_core::model::{Client, Org};
use doorway_core::oauth::authorize::{RedirectError, ResponseMode};
use doorway_core::oauth::params::Params;
use doorway_core::oidc::claims::OrgClaim;
use doorway_core::types::{Scope, ScopeSet};
use doorway_store::StoreError;
use minijinja::context;
use serde::Serialize;

use crate::http::avatar::default_picture;
use crate::http::error::PageError;
use crate::state::{AppState, now};

pub mod manage;
pub mod pages;

/// An org's picture: its avatar, or the generated one (like a user's).
pub fn org_picture(state: &AppState, org: &Org) -> String {
    org.avatar_url.clone().filter(|u| !u.is_empty()).unwrap_or_else(|| default_picture(state, &org.sub))
}

/// The `orgs` claim's entries for `user_id` as app `client_id` may see them; empty (and no
/// query) without `profile`, the scope the claim belongs to.
pub async fn org_claims(
    state: &AppState,
    user_id: &str,
    client_id: &str,
    scopes: &ScopeSet,
) -> Result<Vec<OrgClaim>, StoreError> {
    if !scopes.contains(Scope::PROFILE) || !state.store.any_org_members().await? {
        return Ok(Vec::new());
    }
    let rows = state.store.orgs_for_claim(user_id, client_id).await?;
    Ok(rows
        .into_iter()
        .map(|(membership, granted)| OrgClaim {
            sub: membership.org.sub.clone(),
            name: membership.org.title().to_owned(),
            preferred_username: membership.org.name.clone(),
            picture: org_picture(state, &membership.org),
            is_enterprise: membership.org.is_enterprise,
            role_in_org: granted.then_some(membership.role),
        })
        .collect())
}

/// The `orgIds` authorization parameter: the `sub`s of the organizations the app asks to see
/// (Hugging Face sends one; a comma-separated list is read too). Unreadable means none.
fn requested_org_subs(params: &Params) -> Vec<String> {
    params
        .get("orgIds")
        .ok()
        .flatten()
        .map(|raw| raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// One checkbox of the consent page's organization picker.
#[derive(Debug, Clone, Serialize)]
pub struct PickerOrg {
    #[serde(skip)]
    pub id: String,
    pub sub: String,
    pub name: String,
    pub title: String,
    pub picture: String,
    pub role: &'static str,
    pub checked: bool,
}

/// The organizations the consent page offers when the app asks for `profile`: those named by
/// `orgIds` that the person belongs to, ticked; otherwise all of theirs, ticked as remembered
/// (none the first time: nothing is shared in detail unless the person chooses it).
pub async fn consent_picker(
    state: &AppState,
    user_id: &str,
    client_id: &str,
    scopes: &ScopeSet,
    params: &Params,
) -> Result<Vec<PickerOrg>, StoreError> {
    if !scopes.contains(Scope::PROFILE) || !state.store.any_org_members().await? {
        return Ok(Vec::new());
    }
    let rows = state.store.orgs_for_claim(user_id, client_id).await?;
    let requested = requested_org_subs(params);
    let asked = rows.iter().any(|(m, _)| requested.contains(&m.org.sub));
    Ok(rows
        .into_iter()
        .filter(|(m, _)| !asked || requested.contains(&m.org.sub))
        .map(|(m, granted)| PickerOrg {
            picture: org_picture(state, &m.org),
            id: m.org.id.clone(),
            sub: m.org.sub.clone(),
            title: m.org.title().to_owned(),
            name: m.org.name,
            role: m.role.as_str(),
            checked: asked || granted,
        })
        .collect())
}

/// Whether `orgIds` names an organization of the person's that the app was not granted: the
/// consent page must then be shown again, remembered consent or not.
pub async fn orgs_need_consent(
    state: &AppState,
    user_id: &str,
    client_id: &str,
    scopes: &ScopeSet,
    params: &Params,
) -> Result<bool, StoreError> {
    let requested = requested_org_subs(params);
    if requested.is_empty() || !scopes.contains(Scope::PROFILE) {
        return Ok(false);
    }
    let rows = state.store.orgs_for_claim(user_id, client_id).await?;
    Ok(rows.iter().any(|(m, granted)| requested.contains(&m.org.sub) && !granted))
}

/// Saves the picker's answer with the consent (which must exist): the offered orgs as ticked
/// (`org_<sub>` fields), the others as they were.
pub async fn save_consent_choice(
    state: &AppState,
    user_id: &str,
    client_id: &str,
    scopes: &ScopeSet,
    params: &Params,
    fields: &BTreeMap<String, String>,
) -> Result<(), StoreError> {
    let offered = consent_picker(state, user_id, client_id, scopes, params).await?;
    if offered.is_empty() {
        return Ok(());
    }
    let mut grants = state.store.org_grants(user_id, client_id).await?;
    grants.retain(|id| !offered.iter().any(|o| o.id == *id));
    grants.extend(offered.into_iter().filter(|o| fields.contains_key(&format!("org_{}", o.sub))).map(|o| o.id));
    state.store.set_org_grants(user_id, client_id, &grants, now()).await
}

/// Whether `user_id` may sign in to `client`: always, unless the app is restricted to the
/// members of one organization (`authorized_org`, like Hugging Face's `hf_oauth_authorized_org`).
pub async fn may_sign_in(state: &AppState, client: &Client, user_id: &str) -> Result<bool, StoreError> {
    match client.authorized_org.as_deref().map(str::trim).filter(|o| !o.is_empty()) {
        None => Ok(true),
        Some(org) => state.store.is_member_of_org_named(user_id, org).await,
    }
}

/// Whether app `client_id` is restricted to an organization (`authorized_org`) that `user_id`
/// no longer belongs to: their tokens for it then count for nothing (userinfo, introspection).
/// The app comes from the store's cache; only a restricted app costs a query.
pub async fn left_the_apps_org(state: &AppState, client_id: &str, user_id: &str) -> Result<bool, StoreError> {
    match state.store.find_client(client_id).await? {
        Some(client) => Ok(!may_sign_in(state, &client, user_id).await?),
        None => Ok(false),
    }
}

/// The page for a person an org-restricted app does not admit: it says why, and its button
/// takes the browser back to the app with `access_denied` (the redirect URI is verified).
pub fn restricted_page(state: &AppState, client: &Client, denied: &RedirectError) -> Result<Response, PageError> {
    let issuer = &state.config.issuer;
    let (back, form) = match denied.mode {
        ResponseMode::Query => (Some(denied.location(issuer)), None),
        ResponseMode::FormPost => (
            None,
            Some(
                context! { action => denied.redirect.as_str(), params => crate::ui::ser(denied.response_params(issuer)) },
            ),
        ),
    };
    let html = state.ui.render(
        "orgs_restricted.html",
        context! {
            app => context! { name => &client.name },
            org => client.authorized_org.as_deref().unwrap_or_default(),
            back,
            form,
        },
    )?;
    Ok((StatusCode::FORBIDDEN, [(axum::http::header::CACHE_CONTROL, "no-store")], Html(html)).into_response())
}
