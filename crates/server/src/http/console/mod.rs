//! The developer console (`/settings/applications`): any signed-in person registers, edits,
//! deletes their own OAuth apps and rotates their secrets. Another person's app answers 404,
//! exactly like a missing one. A new secret is shown once: the form's POST stashes it sealed for
//! ten minutes and redirects (303) to the app's page, whose first view takes and deletes it, so
//! a refresh neither registers the app twice nor shows the secret again. Only operators can
//! make an app first-party.

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use doorway_core::model::{Client, ClientKind};
use doorway_core::routes;
use doorway_core::secrets::{hash_secret, random_token};
use doorway_core::types::RedirectUri;
use doorway_store::{NewClient, SecretReveal};
use minijinja::{Value, context};
use serde::Deserialize;

use crate::audit::{Event, Origin, kind};
use crate::egress::Targets;
use crate::http::badges::{self, Size, Theme};
use crate::http::error::PageError;
use crate::http::form::{PageForm, PagePath, TypedQuery};
use crate::http::session::{CurrentUser, MaybeUser, check_csrf, csrf_token};
use crate::state::{AppState, now};
use crate::ui::ser;

pub mod form;
pub mod hosted;

use form::{Errors, Fields, Submitter};

/// A signed-in person; anyone else is sent to the login page.
pub struct Developer(pub CurrentUser);

impl FromRequestParts<AppState> for Developer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match MaybeUser::from_request_parts(parts, state).await {
            Ok(MaybeUser(Some(user))) => Ok(Developer(user)),
            // Reading pages come back after sign-in; a form post starts over from its page.
            Ok(MaybeUser(None)) if parts.method == axum::http::Method::GET => {
                Err(crate::http::account::login_then(parts.uri.path()))
            }
            Ok(MaybeUser(None)) => Err(Redirect::to(routes::LOGIN).into_response()),
            Err(err) => Err(err.into_response()),
        }
    }
}

type FormMap = BTreeMap<String, String>;

/// Grace periods a developer may give a rotated-out secret, in seconds (0: none).
const GRACE_CHOICES: [i64; 3] = [0, 3600, 86_400];

fn app_url(client_id: &str) -> String {
    format!(
        "{}/{}",
        routes::SETTINGS_APPLICATIONS,
        url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect::<String>()
    )
}

/// Renders a console page: never cached (secrets and CSRF tokens), with the form's token.
fn render(
    state: &AppState,
    jar: CookieJar,
    status: StatusCode,
    template: &str,
    user: &CurrentUser,
    ctx: Value,
) -> Result<Response, PageError> {
    let (jar, csrf) = csrf_token(state, jar);
    let base = context! { current_user => ser(&user.user), csrf_token => csrf, settings_tab => "applications" };
    let html = state.ui.render(template, context! { ..ctx, ..base })?;
    Ok((status, jar, [(axum::http::header::CACHE_CONTROL, "no-store")], Html(html)).into_response())
}

/// The person's app, or 404 (also for someone else's app: its existence is not revealed).
async fn own_app(state: &AppState, user: &CurrentUser, client_id: &str) -> Result<Client, PageError> {
    state.store.find_app_of(client_id, &user.user.id).await?.ok_or_else(PageError::not_found)
}

#[derive(Deserialize)]
pub struct Flash {
    deleted: Option<String>,
    saved: Option<String>,
    created: Option<String>,
    /// The one-time id of a secret waiting for its one view.
    reveal: Option<String>,
}

/// How long a new secret waits for its one view, in seconds.
const REVEAL_TTL: i64 = 600;

/// What a reveal was for: the page words the secret accordingly.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Created,
    Rotated,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Created => "created",
            Purpose::Rotated => "rotated",
        }
    }
}

/// The sealing label binds a sealed secret to its reveal row.
fn reveal_label(id_hash: &str) -> String {
    format!("console secret reveal\0{id_hash}")
}

/// Post/Redirect/Get for a new secret: stashes it, sealed under the master key, for one view
/// by `user` on the app's page, and answers 303 to that page. Only the id's hash is stored.
async fn reveal_then_show(
    state: &AppState,
    user: &CurrentUser,
    client_id: &str,
    purpose: Purpose,
    secret: &str,
) -> Result<Response, PageError> {
    let id = random_token("");
    let id_hash = hash_secret(&id);
    let sealed = state.keys.seal(&reveal_label(&id_hash), secret.as_bytes()).map_err(anyhow::Error::from)?;
    let reveal = SecretReveal {
        id_hash,
        owner_id: user.user.id.clone(),
        client_id: client_id.to_owned(),
        purpose: purpose.as_str().to_owned(),
        sealed,
        expires_at: now() + REVEAL_TTL,
    };
    state.store.stash_secret_reveal(&reveal).await?;
    Ok(see_other(&format!("{}?reveal={id}", app_url(client_id))))
}

/// Takes (deletes) the secret behind a reveal id: `None` once it was shown, expired, or is not
/// this person's for this app.
async fn take_reveal(
    state: &AppState,
    user: &CurrentUser,
    client_id: &str,
    id: &str,
) -> Result<Option<(Purpose, String)>, PageError> {
    let id_hash = hash_secret(id);
    let Some((purpose, sealed)) = state.store.take_secret_reveal(&id_hash, &user.user.id, client_id, now()).await?
    else {
        return Ok(None);
    };
    let secret = state.keys.open(&reveal_label(&id_hash), &sealed).ok().and_then(|b| String::from_utf8(b).ok());
    let Some(secret) = secret else {
        tracing::warn!(client_id, "a stashed client secret could not be opened (another master key?)");
        return Ok(None);
    };
    let purpose = if purpose == "rotated" { Purpose::Rotated } else { Purpose::Created };
    Ok(Some((purpose, secret)))
}

/// A 303 that is never cached (it carries a one-time id).
fn see_other(location: &str) -> Response {
    ([(axum::http::header::CACHE_CONTROL, "no-store")], Redirect::to(location)).into_response()
}

/// `GET /settings/applications`.
pub async fn list(
    State(state): State<AppState>,
    jar: CookieJar,
    Developer(user): Developer,
    TypedQuery(flash): TypedQuery<Flash>,
) -> Result<Response, PageError> {
    let apps = state.store.list_apps_of(&user.user.id).await?;
    let ctx = context! { apps => ser(&apps), deleted => flash.deleted.is_some() };
    render(&state, jar, StatusCode::OK, "console_list.html", &user, ctx)
}

fn form_page(
    state: &AppState,
    jar: CookieJar,
    user: &CurrentUser,
    app: Option<&Client>,
    fields: &Fields,
    errors: &Errors,
) -> Result<Response, PageError> {
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let algs: Vec<&str> = doorway_core::jose::SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    let ctx = context! {
        app => ser(app),
        fields => ser(fields),
        errors => ser(errors),
        scope_options => ser(state.scopes.for_display(state.scopes.known())),
        algs,
        is_admin => user.user.is_admin,
    };
    render(state, jar, status, "console_form.html", user, ctx)
}

/// `GET /settings/applications/new`.
pub async fn new_app(
    State(state): State<AppState>,
    jar: CookieJar,
    Developer(user): Developer,
) -> Result<Response, PageError> {
    form_page(&state, jar, &user, None, &Fields::blank(), &Errors::new())
}

/// `POST /settings/applications`: registers the app, then its page shows the secret, once.
pub async fn create(
    State(state): State<AppState>,
    jar: CookieJar,
    Developer(user): Developer,
    from: Origin,
    PageForm(raw): PageForm<FormMap>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, raw.get("csrf_token").map(String::as_str))?;
    let fields = Fields::from_form(&raw);
    let who =
        Submitter { is_admin: user.user.is_admin, targets: Targets::for_submitter(user.user.is_admin), existing: None };
    let valid = match form::validate(&fields, &state.scopes, &who) {
        Ok(valid) => valid,
        Err(errors) => return form_page(&state, jar, &user, None, &fields, &errors),
    };
    let secret = (valid.kind == ClientKind::Confidential).then(|| random_token("dws_"));
    let new = NewClient {
        client_id: uuid::Uuid::new_v4().to_string(),
        secret_hash: secret.as_deref().map(hash_secret),
        kind: valid.kind,
        name: valid.name,
        homepage_url: valid.homepage_url,
        logo_uri: valid.logo_uri,
        redirect_uris: valid.redirect_uris,
        redirect_policy: valid.redirect_policy,
        scopes: valid.scopes,
        require_pkce: valid.require_pkce,
        id_token_alg: valid.id_token_alg,
        owner_id: Some(user.user.id.clone()),
        grant_types: valid.grant_types,
        post_logout_redirect_uris: valid.post_logout_redirect_uris,
        backchannel_logout_uri: valid.backchannel_logout_uri,
    };
    let client = state.store.create_app(new, &valid.profile, now()).await?;
    tracing::info!(client_id = %client.client_id, owner = %user.user.id, "app registered in the console");
    app_event(&state, &from, kind::APP_CREATED, &user, &client.client_id).await;
    match secret {
        Some(secret) => reveal_then_show(&state, &user, &client.client_id, Purpose::Created, &secret).await,
        None => Ok(see_other(&format!("{}?created=1", app_url(&client.client_id)))),
    }
}

/// What the app page shows besides the app: a secret that was just issued, and why.
#[derive(Default)]
struct Shown<'a> {
    secret: Option<&'a str>,
    created: bool,
    rotated: bool,
    saved: bool,
    grace_until: Option<i64>,
    /// A reveal link opened a second time: the secret is not shown again.
    reveal_gone: bool,
}

fn app_page(
    state: &AppState,
    jar: CookieJar,
    user: &CurrentUser,
    client: &Client,
    shown: Shown<'_>,
) -> Result<Response, PageError> {
    let ctx = context! {
        app => ser(client),
        panel => panel(state, client, shown.secret),
        secret => shown.secret,
        created => shown.created,
        rotated => shown.rotated,
        saved => shown.saved,
        reveal_gone => shown.reveal_gone,
        grace_until => shown.grace_until.map(format_time),
        previous_secret_until => client.previous_secret_expires_at.filter(|t| *t > now()).map(format_time),
        token_minutes => client.access_token_ttl.map(|s| s / 60),
        grace_choices => GRACE_CHOICES.iter().map(|s| (s.to_string(), grace_label(*s))).collect::<Vec<_>>(),
    };
    render(state, jar, StatusCode::OK, "console_app.html", user, ctx)
}

fn grace_label(seconds: i64) -> String {
    match seconds {
        0 => "Stop working at once".to_owned(),
        s if s % 86_400 == 0 => format!("Keep working for {} day(s)", s / 86_400),
        s => format!("Keep working for {} hour(s)", s / 3600),
    }
}

fn format_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| {
            format!("{}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
        })
        .unwrap_or_default()
}

/// The integration panel: where the app's developer finds everything to paste into their app.
/// The secret appears only when it was just issued; otherwise a placeholder stands in.
fn panel(state: &AppState, client: &Client, secret: Option<&str>) -> Value {
    let issuer = &state.config.issuer;
    let platform = &state.config.platform_name;
    let redirect = client.redirect_uris.first().map(RedirectUri::as_str);
    let link = redirect.map(|r| badges::sign_in_link(issuer, &client.client_id, r));
    let (size, theme) = (Size::Lg, Theme::Dark);
    let secret = match client.kind {
        ClientKind::Confidential => Some(secret.unwrap_or(hosted::SECRET_PLACEHOLDER)),
        ClientKind::Public => None,
    };
    let mut vars = hosted::env_vars(&client.client_id, secret, &client.scopes, issuer);
    if secret.is_none() {
        vars.retain(|(k, _)| *k != "OAUTH_CLIENT_SECRET");
    }
    context! {
        issuer,
        discovery_url => format!("{issuer}{}", routes::DISCOVERY),
        client_id => &client.client_id,
        redirect_uri => redirect,
        link => &link,
        html => link.as_deref().map(|l| badges::html_snippet(issuer, platform, l, size, theme)),
        markdown => link.as_deref().map(|l| badges::markdown_snippet(issuer, platform, l, size, theme)),
        badge => badges::badge_path(platform, size, theme),
        env => hosted::env_block(&vars),
    }
}

/// `GET /settings/applications/{client_id}`.
pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    Developer(user): Developer,
    PagePath(client_id): PagePath<String>,
    TypedQuery(flash): TypedQuery<Flash>,
) -> Result<Response, PageError> {
    let client = own_app(&state, &user, &client_id).await?;
    let revealed = match &flash.reveal {
        Some(id) => take_reveal(&state, &user, &client.client_id, id).await?,
        None => None,
    };
    let shown = Shown {
        secret: revealed.as_ref().map(|(_, secret)| secret.as_str()),
        created: flash.created.is_some() || revealed.as_ref().is_some_and(|(p, _)| *p == Purpose::Created),
        rotated: revealed.as_ref().is_some_and(|(p, _)| *p == Purpose::Rotated),
        saved: flash.saved.is_some(),
        grace_until: client.previous_secret_expires_at.filter(|t| *t > now()),
        reveal_gone: flash.reveal.is_some() && revealed.is_none(),
    };
    app_page(&state, jar, &user, &client, shown)
}

/// `GET /settings/applications/{client_id}/edit`.
pub async fn edit(
    State(state): State<AppState>,
    jar: CookieJar,
    Developer(user): Developer,
    PagePath(client_id): PagePath<String>,
) -> Result<Response, PageError> {
    let client = own_app(&state, &user, &client_id).await?;
    form_page(&state, jar, &user, Some(&client), &Fields::from_client(&client), &Errors::new())
}

/// `POST /settings/applications/{client_id}`: saves the settings.
pub async fn update(
    State(state): State<AppState>,
    jar: CookieJar,
    Developer(user): Developer,
    PagePath(client_id): PagePath<String>,
    PageForm(raw): PageForm<FormMap>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, raw.get("csrf_token").map(String::as_str))?;
    let client = own_app(&state, &user, &client_id).await?;
    let fields = Fields::from_form(&raw);
    let who = Submitter {
        is_admin: user.user.is_admin,
        targets: Targets::for_submitter(user.user.is_admin),
        existing: Some(&client),
    };
    let valid = match form::validate(&fields, &state.scopes, &who) {
        Ok(valid) => valid,
        Err(errors) => return form_page(&state, jar, &user, Some(&client), &fields, &errors),
    };
    let mut new = NewClient::from(&client);
    new.name = valid.name;
    new.homepage_url = valid.homepage_url;
    new.logo_uri = valid.logo_uri;
    new.redirect_uris = valid.redirect_uris;
    new.redirect_policy = valid.redirect_policy;
    new.scopes = valid.scopes;
    new.require_pkce = valid.require_pkce;
    new.id_token_alg = valid.id_token_alg;
    new.grant_types = valid.grant_types;
    new.post_logout_redirect_uris = valid.post_logout_redirect_uris;
    new.backchannel_logout_uri = valid.backchannel_logout_uri;
    if !state.store.update_app(Some(&user.user.id), &new, &valid.profile).await? {
        return Err(PageError::not_found());
    }
    Ok(Redirect::to(&format!("{}?saved=1", app_url(&client.client_id))).into_response())
}

/// `POST /settings/applications/{client_id}/rotate-secret`: a new secret, then shown once.
pub async fn rotate_secret(
    State(state): State<AppState>,
    jar: CookieJar,
    Developer(user): Developer,
    from: Origin,
    PagePath(client_id): PagePath<String>,
    PageForm(raw): PageForm<FormMap>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, raw.get("csrf_token").map(String::as_str))?;
    let client = own_app(&state, &user, &client_id).await?;
    if client.kind != ClientKind::Confidential {
        return Err(PageError::bad_request("A public app has no secret to rotate."));
    }
    let grace = raw.get("grace").map_or(Some(0), |g| g.parse::<i64>().ok().filter(|g| GRACE_CHOICES.contains(g)));
    let Some(grace) = grace else {
        return Err(PageError::bad_request("Choose how long the old secret keeps working."));
    };
    let now = now();
    let grace_until = (grace > 0).then_some(now + grace);
    let secret = random_token("dws_");
    if !state.store.rotate_client_secret(&client.client_id, &hash_secret(&secret), grace_until).await? {
        return Err(PageError::not_found());
    }
    tracing::info!(client_id = %client.client_id, grace, "client secret rotated in the console");
    app_event(&state, &from, kind::APP_SECRET_ROTATED, &user, &client.client_id).await;
    reveal_then_show(&state, &user, &client.client_id, Purpose::Rotated, &secret).await
}

/// `POST /settings/applications/{client_id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    jar: CookieJar,
    Developer(user): Developer,
    from: Origin,
    PagePath(client_id): PagePath<String>,
    PageForm(raw): PageForm<FormMap>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, raw.get("csrf_token").map(String::as_str))?;
    if !state.store.delete_app_of(&client_id, &user.user.id).await? {
        return Err(PageError::not_found());
    }
    tracing::info!(client_id = %client_id, "app deleted in the console");
    app_event(&state, &from, kind::APP_DELETED, &user, &client_id).await;
    Ok(Redirect::to(&format!("{}?deleted=1", routes::SETTINGS_APPLICATIONS)).into_response())
}

/// Records what a developer did to their app in the security log.
async fn app_event(state: &AppState, from: &Origin, what: &'static str, user: &CurrentUser, client_id: &str) {
    let event = Event::new(what).by_user(&user.user.id).client(client_id);
    crate::audit::record(state, from, event, now()).await;
}

fn hosted_page(
    state: &AppState,
    jar: CookieJar,
    user: &CurrentUser,
    fields: &BTreeMap<&str, String>,
    scopes: &[String],
    errors: &Errors,
) -> Result<Response, PageError> {
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let ctx = context! {
        fields => ser(fields),
        scopes => ser(scopes),
        errors => ser(errors),
        scope_options => ser(state.scopes.for_display(state.scopes.known())),
    };
    render(state, jar, status, "console_hosted.html", user, ctx)
}

/// `GET /settings/applications/hosted`.
pub async fn hosted_form(
    State(state): State<AppState>,
    jar: CookieJar,
    Developer(user): Developer,
) -> Result<Response, PageError> {
    let fields = BTreeMap::from([("token_minutes", hosted::DEFAULT_TOKEN_MINUTES.to_string())]);
    hosted_page(&state, jar, &user, &fields, &["openid".into(), "profile".into()], &Errors::new())
}

/// `POST /settings/applications/hosted`: what `doorway apps provision` does, for the owner.
pub async fn provision(
    State(state): State<AppState>,
    jar: CookieJar,
    Developer(user): Developer,
    from: Origin,
    PageForm(raw): PageForm<FormMap>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, raw.get("csrf_token").map(String::as_str))?;
    let text = |k: &str| raw.get(k).cloned().unwrap_or_default();
    let mut errors = Errors::new();
    let name = form::app_name(&text("name"), &mut errors);
    let origin = match hosted::parse_origin(&text("origin")) {
        Ok(origin) => Some(origin),
        Err(why) => {
            form::push(&mut errors, "origin", format!("The origin {why}."));
            None
        }
    };
    let checked: Vec<String> = raw.keys().filter_map(|k| k.strip_prefix("scope:")).map(str::to_owned).collect();
    let scopes = form::scopes(&checked, &state.scopes, &mut errors);
    let minutes = form::token_minutes(&text("token_minutes"), &mut errors).unwrap_or(hosted::DEFAULT_TOKEN_MINUTES);
    let authorized_org = form::org_name(&text("authorized_org"), &mut errors);
    let Some(origin) = origin.filter(|_| errors.is_empty()) else {
        let fields = ["name", "origin", "token_minutes", "authorized_org"].into_iter().map(|k| (k, text(k))).collect();
        return hosted_page(&state, jar, &user, &fields, &checked, &errors);
    };
    let app = hosted::Hosted {
        name,
        origin,
        scopes,
        token_minutes: minutes,
        authorized_org,
        owner_id: Some(user.user.id.clone()),
    };
    let (new, profile, secret) = hosted::build(app);
    let client = state.store.create_app(new, &profile, now()).await?;
    tracing::info!(client_id = %client.client_id, owner = %user.user.id, "hosted app provisioned in the console");
    app_event(&state, &from, kind::APP_CREATED, &user, &client.client_id).await;
    reveal_then_show(&state, &user, &client.client_id, Purpose::Created, &secret).await
}
