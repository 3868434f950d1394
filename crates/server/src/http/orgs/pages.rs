//! `/orgs/new` (create an organization; its creator becomes its admin) and an org's public
//! profile at `/<name>`, the path usernames and org names share.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use doorway_core::model::{Org, User};
use doorway_core::routes;
use doorway_core::secrets::random_hex_id;
use doorway_core::types::OrgName;
use doorway_store::{NewOrg, StoreError};
use minijinja::context;
use serde::Deserialize;

use super::org_picture;
use crate::http::account::{login_then, optional_url};
use crate::http::error::PageError;
use crate::http::form::PageForm;
use crate::http::session::{MaybeUser, check_csrf, csrf_token};
use crate::state::{AppState, now};
use crate::ui::ser;

fn page(jar: CookieJar, status: StatusCode, html: String) -> Response {
    (status, jar, [(axum::http::header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

pub async fn new_page(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
) -> Result<Response, PageError> {
    let Some(current) = user else { return Ok(login_then(routes::SETTINGS_ORGS)) };
    let (jar, csrf) = csrf_token(&state, jar);
    let html = state.ui.render(
        "orgs_new.html",
        context! { current_user => ser(&current.user), csrf_token => csrf, form => context! {} },
    )?;
    Ok(page(jar, StatusCode::OK, html))
}

#[derive(Deserialize)]
pub struct NewOrgForm {
    csrf_token: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    avatar_url: String,
}

/// A display name as typed: trimmed, at most 100 characters, no control characters.
pub fn display_name(raw: &str, errors: &mut Vec<String>) -> Option<String> {
    let name = raw.trim();
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        errors.push("The display name is at most 100 characters.".to_owned());
        return None;
    }
    Some(name.to_owned()).filter(|n| !n.is_empty())
}

/// An avatar URL as typed: empty (a generated picture) or an https URL.
pub fn avatar_url(raw: &str, errors: &mut Vec<String>) -> Option<String> {
    optional_url(raw, "The avatar URL", errors)
}

pub async fn create(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PageForm(form): PageForm<NewOrgForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(login_then(routes::SETTINGS_ORGS)) };
    let mut errors = Vec::new();
    let name = OrgName::parse(form.name.trim()).map_err(|e| errors.push(capitalise(e))).ok();
    let display = display_name(&form.display_name, &mut errors);
    let avatar_url = avatar_url(&form.avatar_url, &mut errors);
    if let (Some(name), true) = (name, errors.is_empty()) {
        let new = NewOrg {
            id: uuid::Uuid::new_v4().to_string(),
            sub: random_hex_id(),
            name,
            display_name: display,
            avatar_url,
        };
        match state.store.create_org(&new, &current.user.id, now()).await {
            Ok(org) => {
                tracing::info!(target: "audit", event = "org_created", org_id = %org.id, user_id = %current.user.id,
                    "organization created");
                return Ok(Redirect::to(&format!("{}/{}", routes::SETTINGS_ORGS, org.name)).into_response());
            }
            Err(StoreError::Conflict(_)) => errors.push("This name is taken.".to_owned()),
            Err(err) => return Err(err.into()),
        }
    }
    let (jar, csrf) = csrf_token(&state, jar);
    let html = state.ui.render(
        "orgs_new.html",
        context! {
            current_user => ser(&current.user), csrf_token => csrf, errors,
            form => context! { name => form.name, display_name => form.display_name, avatar_url => form.avatar_url },
        },
    )?;
    Ok(page(jar, StatusCode::UNPROCESSABLE_ENTITY, html))
}

fn capitalise(message: &str) -> String {
    let mut chars = message.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>() + ".").unwrap_or_default()
}

/// An organization's public profile: its name, picture and members (membership is public,
/// as it is in the `orgs` claim; roles are not shown).
pub async fn profile(state: &AppState, viewer: Option<User>, org: Org) -> Result<Response, PageError> {
    let members: Vec<_> =
        state.store.org_members(&org.id).await?.into_iter().map(|m| context! { username => m.username }).collect();
    let html = state.ui.render(
        "orgs_profile.html",
        context! {
            current_user => ser(viewer),
            org => context! { name => &org.name, title => org.title(), picture => org_picture(state, &org) },
            members,
        },
    )?;
    Ok(Html(html).into_response())
}
