//! "Forgot password?": a form that mails a reset link, and the page of that link that sets a
//! new password.
//!
//! Rules this module keeps: the request form answers the same page and status whether or not
//! an account matches (no account enumeration); requests are throttled per typed account and
//! per client address (no mail-bombing); the new password is checked like a sign-up's and set
//! through the same code as a change on the account page (every token revoked, every session
//! ended, apps notified); the reset never signs anybody in (a second factor may be due) and
//! never clears a lockout (`throttle`: a locked account stays locked until its time is up).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::CookieJar;
use doorway_core::secrets::hash_secret;
use doorway_core::types::Password;
use doorway_store::{AttemptPolicy, EmailPurpose};
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use crate::audit::{self, Event, Origin, kind};
use crate::email::links;
use crate::http::email_links::link_gone;
use crate::http::error::PageError;
use crate::http::form::{PageForm, TypedQuery};
use crate::http::session::{check_csrf, csrf_token};
use crate::state::{AppState, now};
use crate::throttle::{self, Bucket, PeerIp};

/// Three reset requests an hour per typed account, existing or not.
const ACCOUNT_POLICY: AttemptPolicy = AttemptPolicy { max_attempts: 3, window: 3600, lockout: 3600 };
/// Thirty an hour per client address, over all accounts.
const ADDRESS_POLICY: AttemptPolicy = AttemptPolicy { max_attempts: 30, window: 3600, lockout: 3600 };
/// Longest username or address looked up (an address is at most 254 characters).
const MAX_IDENTIFIER: usize = 254;

fn page(jar: CookieJar, status: StatusCode, html: String) -> Response {
    (status, jar, [(axum::http::header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn render_forgot(
    state: &AppState,
    jar: CookieJar,
    sent: bool,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (jar, csrf) = csrf_token(state, jar);
    let html = state.ui.render("password_forgot.html", context! { csrf_token => csrf, sent, error })?;
    Ok(page(jar, status, html))
}

pub async fn forgot_page(State(state): State<AppState>, jar: CookieJar) -> Result<Response, PageError> {
    render_forgot(&state, jar, false, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct ForgotForm {
    csrf_token: Option<String>,
    #[serde(default)]
    identifier: String,
}

pub async fn forgot(
    State(state): State<AppState>,
    jar: CookieJar,
    PeerIp(peer): PeerIp,
    origin: Origin,
    PageForm(form): PageForm<ForgotForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let identifier = form.identifier.trim();
    if identifier.is_empty() || identifier.chars().count() > MAX_IDENTIFIER {
        let error = Some("Enter your username or email address.".to_owned());
        return render_forgot(&state, jar, false, error, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let now = now();
    // The account bucket is keyed by what was typed, so throttling says nothing about whether
    // an account exists.
    let buckets = [
        Bucket::new(throttle::RESET_IP, &throttle::address_key(peer), ADDRESS_POLICY),
        Bucket::new(throttle::RESET_ACCOUNT, &identifier.to_lowercase(), ACCOUNT_POLICY),
    ];
    if let Err(locked) = throttle::reserve(&state.store, &buckets, now).await? {
        let error = Some(format!("Too many reset requests. Try again in {}.", locked.wait_text()));
        let mut response = render_forgot(&state, jar, false, error, StatusCode::TOO_MANY_REQUESTS)?;
        let (name, value) = locked.header();
        response.headers_mut().insert(name, value);
        return Ok(response);
    }
    let user = if identifier.contains('@') {
        state.store.find_user_by_email(identifier).await?
    } else {
        state.store.find_user_by_username(identifier).await?
    };
    match user.filter(|u| !u.disabled) {
        // Queued off the request, so the answer takes as long whether or not an account
        // matched (the writes would otherwise tell, by timing, that one did).
        Some(user) => {
            let state = state.clone();
            tokio::spawn(async move {
                // The account itself has a cap too: the typed-identifier bucket alone lets one
                // alternate username, address and their spellings to multiply the mails. It is
                // silent (the page above is the same), so it cannot link a username to an address;
                // the person still has the links already sent, and the newest one works.
                let bucket = [Bucket::new(throttle::EMAIL_SEND, &format!("reset:{}", user.id), ACCOUNT_POLICY)];
                match throttle::reserve(&state.store, &bucket, now).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return,
                    Err(err) => {
                        tracing::error!(error = %err, user_id = %user.id, "checking the reset-mail cap failed");
                        return;
                    }
                }
                if let Err(err) = links::send_reset(&state, &origin, &user).await {
                    tracing::error!(error = %err, user_id = %user.id, "queueing a password-reset email failed");
                }
            });
        }
        None => tracing::info!(target: "security", event = "password_reset_unknown",
            "a password reset was asked for an unknown or disabled account; nothing sent"),
    }
    // The same page whether or not an account matched.
    render_forgot(&state, jar, true, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn render_reset(
    state: &AppState,
    jar: CookieJar,
    token: &str,
    errors: Vec<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (jar, csrf) = csrf_token(state, jar);
    let html = state.ui.render("password_reset.html", context! { csrf_token => csrf, token, errors })?;
    Ok(page(jar, status, html))
}

/// The mailed link: the new-password form, if the link is alive (it is used by the POST).
pub async fn reset_page(
    State(state): State<AppState>,
    jar: CookieJar,
    TypedQuery(query): TypedQuery<TokenQuery>,
) -> Result<Response, PageError> {
    let found = state.store.find_email_token(&hash_secret(&query.token), EmailPurpose::Reset, now()).await?;
    if found.is_none() {
        return Err(link_gone());
    }
    render_reset(&state, jar, &query.token, Vec::new(), StatusCode::OK)
}

#[derive(Deserialize)]
pub struct ResetForm {
    csrf_token: Option<String>,
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
}

pub async fn reset(
    State(state): State<AppState>,
    jar: CookieJar,
    origin: Origin,
    PageForm(form): PageForm<ResetForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let now = now();
    let token_hash = hash_secret(&form.token);
    // A password refused by the rules keeps the link usable: the person tries another.
    let new = match Password::parse(form.new_password) {
        Ok(new) => new,
        Err(problem) => {
            if state.store.find_email_token(&token_hash, EmailPurpose::Reset, now).await?.is_none() {
                return Err(link_gone());
            }
            let errors = vec![format!("The new password: {problem}.")];
            return render_reset(&state, jar, &form.token, errors, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let Some(token) = state.store.consume_email_token(&token_hash, EmailPurpose::Reset, now).await? else {
        return Err(link_gone());
    };
    // A link mailed to an address the account no longer has is dead: whoever keeps the old
    // mailbox (the reason for a change, often) must not get the account back through it.
    let Some(user) = state
        .store
        .find_user(&token.user_id)
        .await?
        .filter(|u| !u.disabled && u.email.eq_ignore_ascii_case(&token.email))
    else {
        return Err(link_gone());
    };
    let (revoked, sids) = crate::http::password::replace_password(&state, &user, &new, now).await?;
    // Pre-hijacking: someone may have signed up with this address before its owner did, and
    // enrolled a passkey or TOTP key to keep a way in. Nobody had proved the address then; the
    // owner of the mailbox just did, so factors set up before that proof are removed and the
    // address counts as verified.
    let mut factors_removed = 0;
    if !user.email_verified {
        factors_removed += state.store.delete_user_passkeys(&user.id).await?;
        factors_removed += u64::from(state.store.disable_totp(&user.id).await?);
        state.store.mark_email_verified(&user.id, now).await?;
    }
    let event = Event::new(kind::PASSWORD_RESET_COMPLETED)
        .user(&user.id)
        .detail(json!({ "tokens_revoked": revoked, "sessions_ended": sids.len(), "factors_removed": factors_removed }));
    audit::record(&state, &origin, event, now).await;
    tracing::info!(target: "security", event = "password_reset", user_id = %user.id, revoked,
        sessions = sids.len(), "password reset by email: tokens revoked, sessions ended, apps notified");
    let (jar, csrf) = csrf_token(&state, jar);
    let html = state.ui.render("password_reset.html", context! { csrf_token => csrf, done => true })?;
    Ok(page(jar, StatusCode::OK, html))
}
