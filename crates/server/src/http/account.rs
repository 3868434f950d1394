//! Accounts in the browser: sign-up, sign-in, sign-out, profile.
//!
//! A wrong password and an unknown user get the same page, status and timing (argon2 runs
//! against a dummy hash for unknown users).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use doorway_core::secrets::random_hex_id;
use doorway_core::types::{Email, Password, Username};
use doorway_store::{NewUser, ProfileUpdate, StoreError};
use minijinja::{Value, context};
use serde::Deserialize;
use serde_json::json;

use crate::audit::{self, Event, Origin, kind};
use crate::http::avatar::default_picture;
use crate::http::error::PageError;
use crate::http::form::{PageForm, TypedQuery};
use crate::http::session::{MaybeUser, check_csrf, csrf_token, end_session, start_session};
use crate::state::{AppState, now};
use crate::throttle::{self, PeerIp};
use crate::ui::ser;

fn page(jar: CookieJar, status: StatusCode, html: String) -> Response {
    (status, jar, [(axum::http::header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

pub async fn home(State(state): State<AppState>, MaybeUser(user): MaybeUser) -> Result<Response, PageError> {
    let html = state.ui.render("home.html", context! { current_user => ser(user.map(|u| u.user)) })?;
    Ok(Html(html).into_response())
}

#[derive(Deserialize)]
pub struct LoginQuery {
    interaction: Option<String>,
    /// Where to go back to after signing in: only the device page and the settings pages (see
    /// [`allowed_next`]).
    next: Option<String>,
    login_hint: Option<String>,
}

/// The app a parked request is for, to name it on the login and sign-up pages.
pub(crate) async fn app_for(state: &AppState, interaction: Option<&str>) -> Result<Value, PageError> {
    let Some(id) = interaction else {
        return Ok(Value::from(()));
    };
    let Some(found) = state.store.find_interaction(id, now()).await? else {
        return Ok(Value::from(()));
    };
    let client = state.store.find_client(&found.client_id).await?;
    Ok(client.map_or(Value::from(()), |c| context! { name => c.name }))
}

/// Where to go after signing in: back into the parked request, to an allowed `next` page, or
/// to the account page.
fn after_login(interaction: Option<&str>, next: Option<&str>) -> String {
    match (interaction, next) {
        (Some(id), _) => format!(
            "{}?interaction={}",
            doorway_core::routes::AUTHORIZE_RESUME,
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        ),
        (None, Some(next)) => next.to_owned(),
        (None, None) => doorway_core::routes::ACCOUNT.to_owned(),
    }
}

/// A `next` that passed the allow-list; anything else is dropped (never an open redirect).
pub(crate) fn allowed_next(raw: Option<&String>) -> Option<&str> {
    raw.and_then(|next| crate::http::device::safe_next(next).or_else(|| settings_path(next)))
}

/// A settings page (the console, connected apps, sessions): a local path of plain segments.
fn settings_path(raw: &str) -> Option<&str> {
    let rest = raw.strip_prefix("/settings/")?;
    let plain = rest.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/'));
    (plain && !rest.contains("//")).then_some(raw)
}

/// The login page, coming back to `path` afterwards when it is a page `next` may name.
pub fn login_then(path: &str) -> Response {
    match settings_path(path) {
        Some(path) => {
            let next = url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>();
            Redirect::to(&format!("{}?next={next}", doorway_core::routes::LOGIN)).into_response()
        }
        None => Redirect::to(doorway_core::routes::LOGIN).into_response(),
    }
}

pub async fn login_page(
    State(state): State<AppState>,
    jar: CookieJar,
    TypedQuery(query): TypedQuery<LoginQuery>,
) -> Result<Response, PageError> {
    let (jar, csrf) = csrf_token(&state, jar);
    let app = app_for(&state, query.interaction.as_deref()).await?;
    let next = allowed_next(query.next.as_ref());
    let html = state.ui.render(
        "login.html",
        context! { csrf_token => csrf, interaction => query.interaction, app, username => query.login_hint, next },
    )?;
    Ok(page(jar, StatusCode::OK, html))
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf_token: Option<String>,
    interaction: Option<String>,
    next: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    PeerIp(peer): PeerIp,
    origin: Origin,
    PageForm(form): PageForm<LoginForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let interaction = form.interaction.as_deref().filter(|i| !i.is_empty());
    let next = allowed_next(form.next.as_ref());
    let username = form.username.trim();
    let now = now();
    // Brute-force protection: the attempt is reserved before the password is looked at, so
    // concurrent guesses cannot exceed the limit, and a refused one is never checked — a
    // correct password during a lockout is refused too (see `throttle`).
    let buckets = throttle::password_buckets(&state.config, username, peer);
    if let Err(locked) = throttle::reserve(&state.store, &buckets, now).await? {
        crate::metrics::sign_in(false);
        if locked.started {
            let mut event = Event::new(kind::SIGN_IN_LOCKED)
                .detail(json!({ "bucket": locked.kind, "retry_after": locked.retry_after }));
            if locked.kind == throttle::LOGIN_ACCOUNT
                && let Some(user) = state.store.find_user_by_username(username).await?
            {
                event = event.user(&user.id);
            }
            audit::record(&state, &origin, event, now).await;
        }
        let message = format!("Too many sign-in attempts. Try again in {}.", locked.wait_text());
        let mut response =
            login_error(&state, jar, interaction, next, &form.username, &message, StatusCode::TOO_MANY_REQUESTS)
                .await?;
        let (name, value) = locked.header();
        response.headers_mut().insert(name, value);
        return Ok(response);
    }
    let found = state.store.find_user_with_password(username).await?;
    let stored_hash = found.as_ref().map(|(_, hash)| hash.as_str());
    let password_ok =
        form.password.len() <= Password::MAX && state.passwords.verify(&form.password, stored_hash).await?;
    let (user, failure) = match found.map(|(user, _)| user) {
        Some(user) if password_ok && !user.disabled => (Some(user), None),
        Some(user) => (None, Some((Some(user.id), if password_ok { "disabled" } else { "wrong_password" }))),
        None => (None, Some((None, "unknown_user"))),
    };
    let Some(user) = user else {
        tracing::warn!(target: "security", event = "login_failed", "a sign-in failed");
        crate::metrics::sign_in(false);
        if let Some((user_id, reason)) = failure {
            let mut event = Event::new(kind::SIGN_IN_FAILED).detail(json!({ "reason": reason }));
            if let Some(user_id) = user_id {
                event = event.user(&user_id);
            }
            audit::record(&state, &origin, event, now).await;
        }
        let message = "Incorrect username or password.";
        return login_error(&state, jar, interaction, next, &form.username, message, StatusCode::BAD_REQUEST).await;
    };
    // Only failures count against the account and the address.
    throttle::refund(&state.store, &buckets).await;
    // Two-factor: the password alone signs nobody in. The sign-in is parked in a challenge
    // (no session, the interaction not marked) until a TOTP or recovery code is given.
    if state.store.totp_enabled(&user.id).await? {
        return crate::http::two_factor::begin(&state, jar, &user.id, interaction, next).await;
    }
    finish_sign_in(&state, jar, &origin, &user.id, interaction, next, "password").await
}

/// The end of every successful sign-in, whatever proved it (`method`: "password", "totp",
/// "recovery_code", "passkey"): a fresh session, the parked request marked as signed in, the
/// audit entry, and the redirect back. `next` must already have passed [`allowed_next`].
pub(crate) async fn finish_sign_in(
    state: &AppState,
    jar: CookieJar,
    origin: &Origin,
    user_id: &str,
    interaction: Option<&str>,
    next: Option<&str>,
    method: &'static str,
) -> Result<Response, PageError> {
    let now = now();
    let jar = start_session(state, jar, user_id).await?;
    let mut detail = json!({ "method": method });
    if let Some(id) = interaction {
        if let Some(found) = state.store.find_interaction(id, now).await? {
            detail["client_id"] = json!(found.client_id);
        }
        state.store.mark_interaction_login(id, user_id, now).await?;
    }
    audit::record(state, origin, Event::new(kind::SIGN_IN_SUCCEEDED).by_user(user_id).detail(detail), now).await;
    tracing::info!(user_id = %user_id, method, "signed in");
    crate::metrics::sign_in(true);
    Ok((jar, Redirect::to(&after_login(interaction, next))).into_response())
}

/// The login page again, with `message` and `status` (a wrong password, a lockout).
async fn login_error(
    state: &AppState,
    jar: CookieJar,
    interaction: Option<&str>,
    next: Option<&str>,
    username: &str,
    message: &str,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (jar, csrf) = csrf_token(state, jar);
    let app = app_for(state, interaction).await?;
    let html = state
        .ui
        .render("login.html", context! { csrf_token => csrf, interaction, app, username, next, error => message })?;
    Ok(page(jar, status, html))
}

pub async fn signup_page(
    State(state): State<AppState>,
    jar: CookieJar,
    TypedQuery(query): TypedQuery<LoginQuery>,
) -> Result<Response, PageError> {
    let (jar, csrf) = csrf_token(&state, jar);
    let app = app_for(&state, query.interaction.as_deref()).await?;
    let next = allowed_next(query.next.as_ref());
    let html = state.ui.render(
        "signup.html",
        // The template reads `form.username`: an undefined `form` would fail to render.
        context! { csrf_token => csrf, interaction => query.interaction, app, next, form => context! {} },
    )?;
    Ok(page(jar, StatusCode::OK, html))
}

#[derive(Deserialize)]
pub struct SignupForm {
    csrf_token: Option<String>,
    interaction: Option<String>,
    next: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn signup(
    State(state): State<AppState>,
    jar: CookieJar,
    origin: Origin,
    PageForm(form): PageForm<SignupForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let interaction = form.interaction.as_deref().filter(|i| !i.is_empty());
    let next = allowed_next(form.next.as_ref());
    let username = Username::parse(form.username.trim());
    let email = Email::parse(&form.email);
    let password = Password::parse(form.password.clone());
    let mut errors: Vec<String> = [username.as_ref().err(), email.as_ref().err(), password.as_ref().err()]
        .into_iter()
        .flatten()
        .map(|e| capitalise(e))
        .collect();
    if let (Ok(username), Ok(email), Ok(password)) = (username, email, password) {
        let password_hash = state.passwords.hash(password.expose()).await?;
        let new = NewUser {
            id: uuid::Uuid::new_v4().to_string(),
            sub: random_hex_id(),
            username,
            email,
            email_verified: false,
            name: None,
            password_hash,
            is_admin: false,
            is_pro: false,
            can_pay: false,
        };
        match state.store.create_user(new, now()).await {
            Ok(user) => {
                let jar = start_session(&state, jar, &user.id).await?;
                if let Some(id) = interaction {
                    state.store.mark_interaction_login(id, &user.id, now()).await?;
                }
                tracing::info!(user_id = %user.id, "account created");
                // The address is unverified (`email_verified` false in tokens) until its link is
                // used. Best effort: the account exists either way, and the account page resends.
                let reason = crate::email::links::VerifyReason::SignUp;
                if let Err(err) =
                    crate::email::links::send_verification(&state, &origin, &user, &user.email, reason).await
                {
                    tracing::error!(error = %err, user_id = %user.id, "queueing the verification email failed");
                }
                return Ok((jar, Redirect::to(&after_login(interaction, next))).into_response());
            }
            Err(StoreError::Conflict(what)) => errors.push(match what {
                "email" => "An account with this email address already exists.".to_owned(),
                _ => "This username is taken.".to_owned(),
            }),
            Err(err) => return Err(err.into()),
        }
    }
    let (jar, csrf) = csrf_token(&state, jar);
    let app = app_for(&state, interaction).await?;
    let html = state.ui.render(
        "signup.html",
        context! {
            csrf_token => csrf, interaction, app, errors, next,
            form => context! { username => form.username, email => form.email },
        },
    )?;
    Ok(page(jar, StatusCode::UNPROCESSABLE_ENTITY, html))
}

fn capitalise(message: &str) -> String {
    let mut chars = message.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>() + ".").unwrap_or_default()
}

pub async fn logout_page(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
) -> Result<Response, PageError> {
    let (jar, csrf) = csrf_token(&state, jar);
    let html =
        state.ui.render("logout.html", context! { csrf_token => csrf, current_user => ser(user.map(|u| u.user)) })?;
    Ok(page(jar, StatusCode::OK, html))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf_token: Option<String>,
}

pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    origin: Origin,
    PageForm(form): PageForm<CsrfOnly>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let jar = end_session(&state, jar).await?;
    if let Some(current) = user {
        crate::http::settings::sessions::session_ended(&state, &origin, &current.user.id, "this", 1).await;
    }
    Ok((jar, Redirect::to(doorway_core::routes::LOGIN)).into_response())
}

#[derive(Deserialize)]
pub struct AccountQuery {
    saved: Option<String>,
    password: Option<String>,
}

pub async fn account_page(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    TypedQuery(query): TypedQuery<AccountQuery>,
) -> Result<Response, PageError> {
    let Some(current) = user else {
        return Ok(Redirect::to(doorway_core::routes::LOGIN).into_response());
    };
    if query.password.is_some() {
        let (jar, csrf) = csrf_token(&state, jar);
        let user = &current.user;
        let picture =
            user.avatar_url.clone().filter(|u| !u.is_empty()).unwrap_or_else(|| default_picture(&state, &user.sub));
        let html = state.ui.render(
            "account.html",
            context! { current_user => ser(user), picture, password_changed => true, csrf_token => csrf },
        )?;
        return Ok(page(jar, StatusCode::OK, html));
    }
    render_account(&state, jar, &current.user, query.saved.is_some(), Vec::new(), StatusCode::OK)
}

fn render_account(
    state: &AppState,
    jar: CookieJar,
    user: &doorway_core::model::User,
    saved: bool,
    errors: Vec<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (jar, csrf) = csrf_token(state, jar);
    let picture =
        user.avatar_url.clone().filter(|u| !u.is_empty()).unwrap_or_else(|| default_picture(state, &user.sub));
    let html = state
        .ui
        .render("account.html", context! { current_user => ser(user), picture, saved, errors, csrf_token => csrf })?;
    Ok(page(jar, status, html))
}

#[derive(Deserialize)]
pub struct ProfileForm {
    csrf_token: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    avatar_url: String,
    #[serde(default)]
    website: String,
}

/// An optional https URL field (avatar, website): never fetched by the server.
pub(crate) fn optional_url(raw: &str, label: &str, errors: &mut Vec<String>) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match url::Url::parse(raw) {
        Ok(url) if url.scheme() == "https" && url.host().is_some() && raw.len() <= 2000 => Some(raw.to_owned()),
        _ => {
            errors.push(format!("{label} must be an https:// URL."));
            None
        }
    }
}

pub async fn update_account(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PageForm(form): PageForm<ProfileForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else {
        return Ok(Redirect::to(doorway_core::routes::LOGIN).into_response());
    };
    let mut errors = Vec::new();
    let name = form.name.trim();
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        errors.push("The display name is at most 100 characters.".to_owned());
    }
    let update = ProfileUpdate {
        name: Some(name.to_owned()).filter(|n| !n.is_empty()),
        avatar_url: optional_url(&form.avatar_url, "The avatar URL", &mut errors),
        website: optional_url(&form.website, "The website", &mut errors),
    };
    if !errors.is_empty() {
        return render_account(&state, jar, &current.user, false, errors, StatusCode::UNPROCESSABLE_ENTITY);
    }
    state.store.update_profile(&current.user.id, &update, now()).await?;
    Ok(Redirect::to("/account?saved=1").into_response())
}

/// A public profile, the page the `profile` claim points at.
pub async fn profile(
    State(state): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    crate::http::form::PagePath(username): crate::http::form::PagePath<String>,
) -> Result<Response, PageError> {
    let user = state.store.find_user_by_username(&username).await?.filter(|u| !u.disabled);
    let Some(user) = user else {
        // Organizations share the `/<name>` namespace with users.
        return match state.store.find_org_by_name(&username).await? {
            Some(org) => crate::http::orgs::pages::profile(&state, viewer.map(|v| v.user), org).await,
            None => Err(PageError::not_found()),
        };
    };
    let picture =
        user.avatar_url.clone().filter(|u| !u.is_empty()).unwrap_or_else(|| default_picture(&state, &user.sub));
    let html = state.ui.render(
        "profile.html",
        context! {
            current_user => ser(viewer.map(|v| v.user)),
            profile => context! { username => &user.username, name => user.display_name(), website => &user.website, picture },
        },
    )?;
    Ok(Html(html).into_response())
}
