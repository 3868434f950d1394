//! `/settings/connected-applications`: the apps a person granted access to, what each may do,
//! when it was granted and last used, and **Revoke**. Revoking removes the consent (the next
//! sign-in through that app asks again), revokes every token and pending grant of that person
//! for the app, and tells the app by back-channel logout when it registered for it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use doorway_core::model::User;
use doorway_core::oidc::logout::logout_token_claims;
use doorway_core::routes;
use doorway_core::secrets::random_token;
use doorway_store::{RevokedGrant, StoreError};
use minijinja::context;
use serde::Deserialize;

use super::{Moment, page, to_login};
use crate::http::error::PageError;
use crate::http::form::{PageForm, TypedQuery};
use crate::http::session::{MaybeUser, check_csrf, csrf_token};
use crate::state::{AppState, now};
use crate::ui::ser;

#[derive(Deserialize)]
pub struct PageQuery {
    revoked: Option<String>,
    orgs_saved: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    TypedQuery(query): TypedQuery<PageQuery>,
) -> Result<Response, PageError> {
    let Some(current) = user else {
        return Ok(crate::http::account::login_then(doorway_core::routes::SETTINGS_CONNECTED_APPS));
    };
    let now = now();
    let connected = state.store.list_connected_apps(&current.user.id).await?;
    let mut apps = Vec::with_capacity(connected.len());
    for app in connected {
        // Which organizations the app may see in detail (only apps granted `profile` get any).
        let no_params = doorway_core::oauth::params::Params::default();
        let orgs =
            crate::http::orgs::consent_picker(&state, &current.user.id, &app.client_id, &app.scope, &no_params).await?;
        apps.push(context! {
            client_id => app.client_id,
            name => app.name,
            logo_uri => app.logo_uri,
            homepage_url => app.homepage_url,
            scopes => ser(state.scopes.for_display(&app.scope)),
            granted => ser(Moment::new(app.granted_at, now)),
            last_used => ser(app.last_used_at.map(|at| Moment::new(at, now))),
            orgs => ser(orgs),
        });
    }
    let (jar, csrf) = csrf_token(&state, jar);
    let html = state.ui.render(
        "settings_connected.html",
        context! {
            current_user => ser(&current.user), apps, csrf_token => csrf, revoked => query.revoked.is_some(),
            orgs_saved => query.orgs_saved.is_some(),
            settings_tab => "connected",
        },
    )?;
    Ok(page(jar, StatusCode::OK, html))
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf_token: Option<String>,
    #[serde(default)]
    client_id: String,
}

pub async fn revoke(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    origin: crate::audit::Origin,
    PageForm(form): PageForm<RevokeForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(to_login()) };
    // Only this person's rows are touched, whatever client_id the form names; revoking what
    // was already revoked (a double submit) is harmless.
    let revoked = revoke_app(&state, &current.user, &form.client_id).await?;
    if revoked.consent || revoked.tokens > 0 {
        let event = crate::audit::Event::new(crate::audit::kind::CONSENT_REVOKED)
            .by_user(&current.user.id)
            .client(&form.client_id)
            .detail(serde_json::json!({ "tokens_revoked": revoked.tokens }));
        crate::audit::record(&state, &origin, event, now()).await;
    }
    // The client_id is as submitted (it may name no app): Debug-quoted, so a line break in it
    // cannot start a forged log line.
    tracing::info!(user_id = %current.user.id, client_id = ?form.client_id, tokens = revoked.tokens,
        consent = revoked.consent, "the user revoked an app");
    Ok(Redirect::to(&format!("{}?revoked=1", routes::SETTINGS_CONNECTED_APPS)).into_response())
}

#[derive(Deserialize)]
pub struct OrgsForm {
    csrf_token: Option<String>,
    #[serde(default)]
    client_id: String,
    /// `org_<sub>` for each organization ticked.
    #[serde(flatten)]
    ticked: std::collections::BTreeMap<String, String>,
}

/// Changes which organizations an app the person approved may see in detail (`roleInOrg`).
/// Tokens already issued keep what they had; the next sign-in or refresh carries the choice.
pub async fn set_orgs(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PageForm(form): PageForm<OrgsForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(to_login()) };
    let Some(app) = state.store.find_connected_app(&current.user.id, &form.client_id).await? else {
        return Err(PageError::not_found());
    };
    let no_params = doorway_core::oauth::params::Params::default();
    crate::http::orgs::save_consent_choice(
        &state,
        &current.user.id,
        &app.client_id,
        &app.scope,
        &no_params,
        &form.ticked,
    )
    .await?;
    tracing::info!(target: "audit", event = "consent_orgs_changed", user_id = %current.user.id, client_id = %app.client_id,
        "the user changed which organizations an app may see");
    Ok(Redirect::to(&format!("{}?orgs_saved=1", routes::SETTINGS_CONNECTED_APPS)).into_response())
}

/// Revokes everything `user` gave the app `client_id` (see [`doorway_store::Store::revoke_connected_app`])
/// and queues a logout token for every session that signed in to it, if the app takes
/// back-channel logout. Shared by the settings page and the admin API.
pub async fn revoke_app(state: &AppState, user: &User, client_id: &str) -> Result<RevokedGrant, StoreError> {
    let now = now();
    let revoked = state.store.revoke_connected_app(&user.id, client_id, now).await?;
    if revoked.sids.is_empty() {
        return Ok(revoked);
    }
    let Some(client) = state.store.find_client(client_id).await? else { return Ok(revoked) };
    let Some(uri) = client.backchannel_logout_uri.as_deref() else { return Ok(revoked) };
    let keys = state.keys.current();
    for sid in &revoked.sids {
        // Back-Channel Logout 1.0 §2.4: the app ends its session for this person and sid.
        let claims = logout_token_claims(&state.config.issuer, client_id, Some(&user.sub), sid, &random_token(""), now);
        let Some(token) = crate::http::logout::sign(&keys, &client, &claims) else { continue };
        if let Err(err) =
            state.store.enqueue_logout(&uuid::Uuid::new_v4().to_string(), client_id, uri, &token, now).await
        {
            // The grant is revoked either way; the app just is not told.
            tracing::error!(error = %err, client_id, "queueing back-channel logout after a revocation failed");
        }
    }
    Ok(revoked)
}
