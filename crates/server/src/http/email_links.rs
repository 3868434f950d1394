//! The account's email address: the page that shows it (verified or not, and a change waiting
//! for confirmation), changing it, resending the verification, and the mailed link that
//! verifies an address.
//!
//! A new address never replaces the old one until its link is followed: until then it is only
//! the target of a live verification link, so a typo or a stolen session cannot take the
//! account's mail away. Following a link shows a confirmation button (a POST): mail scanners
//! that open links must not use them up.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use doorway_core::model::User;
use doorway_core::routes;
use doorway_core::secrets::hash_secret;
use doorway_core::types::Email;
use doorway_store::{AttemptPolicy, EmailPurpose, StoreError};
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use crate::audit::{self, Event, Origin, kind};
use crate::email::links::{self, VerifyReason};
use crate::http::error::PageError;
use crate::http::form::{PageForm, TypedQuery};
use crate::http::session::{MaybeUser, check_csrf, csrf_token};
use crate::state::{AppState, now};
use crate::throttle::{self, Bucket, Locked, PeerIp};
use crate::ui::ser;

/// One verification message per minute per person (resend and change together): the button
/// cannot be used to flood an inbox.
const SEND_POLICY: AttemptPolicy = AttemptPolicy { max_attempts: 1, window: 60, lockout: 60 };
/// Five an hour to one address, over all accounts: without it, accounts signed up with a
/// victim's address (or changing to it) could each mail it once a minute.
const ADDRESS_POLICY: AttemptPolicy = AttemptPolicy { max_attempts: 5, window: 3600, lockout: 3600 };

/// The page of a link that is used, expired, replaced or made up: a 410, never a 500.
pub(crate) fn link_gone() -> PageError {
    PageError::new(
        StatusCode::GONE,
        "This link no longer works",
        "It was already used, it has expired, or a newer message replaced it. Ask for a new link.",
    )
}

fn page(jar: CookieJar, status: StatusCode, html: String) -> Response {
    (status, jar, [(axum::http::header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

#[derive(Deserialize)]
pub struct EmailQuery {
    sent: Option<String>,
}

/// The address waiting for confirmation, if it is not already the account's own.
async fn pending_change(state: &AppState, user: &User) -> Result<Option<String>, PageError> {
    let pending = state.store.pending_email(&user.id, now()).await?;
    Ok(pending.filter(|p| !p.eq_ignore_ascii_case(&user.email)))
}

async fn render_email_page(
    state: &AppState,
    jar: CookieJar,
    user: &User,
    sent: bool,
    errors: Vec<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let pending = pending_change(state, user).await?;
    let (jar, csrf) = csrf_token(state, jar);
    let html = state.ui.render(
        "account_email.html",
        context! { current_user => ser(user), pending, sent, errors, csrf_token => csrf },
    )?;
    Ok(page(jar, status, html))
}

pub async fn email_page(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    TypedQuery(query): TypedQuery<EmailQuery>,
) -> Result<Response, PageError> {
    let Some(current) = user else { return Ok(Redirect::to(routes::LOGIN).into_response()) };
    render_email_page(&state, jar, &current.user, query.sent.is_some(), Vec::new(), StatusCode::OK).await
}

/// Spends the person's one message a minute and one of the address's five an hour, or says
/// when the next may go. (Keys: a user id, or "to:" and an address; neither can be the other.)
async fn reserve_send(state: &AppState, user: &User, to: &str) -> Result<Result<(), Locked>, PageError> {
    let buckets = [
        Bucket::new(throttle::EMAIL_SEND, &user.id, SEND_POLICY),
        Bucket::new(throttle::EMAIL_SEND, &format!("to:{}", to.to_ascii_lowercase()), ADDRESS_POLICY),
    ];
    Ok(throttle::reserve(&state.store, &buckets, now()).await?)
}

async fn too_many(state: &AppState, jar: CookieJar, user: &User, locked: &Locked) -> Result<Response, PageError> {
    let message = format!("A message was sent a moment ago. Try again in {}.", locked.wait_text());
    let mut response = render_email_page(state, jar, user, false, vec![message], StatusCode::TOO_MANY_REQUESTS).await?;
    let (name, value) = locked.header();
    response.headers_mut().insert(name, value);
    Ok(response)
}

#[derive(Deserialize)]
pub struct ChangeForm {
    csrf_token: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    current_password: String,
}

/// Asks to change the address: the current password is required (a stolen session must not be
/// enough to move the account's mail, and with it the password reset), the new address gets a
/// verification link and the old one a notice.
pub async fn change_email(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PeerIp(peer): PeerIp,
    origin: Origin,
    PageForm(form): PageForm<ChangeForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(Redirect::to(routes::LOGIN).into_response()) };
    let user = current.user;
    let now = now();
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(problem) => {
            let errors = vec![format!("The new address: {problem}.")];
            return render_email_page(&state, jar, &user, false, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    // The password is an attempt like a sign-in, on the same counters (see `throttle`).
    let buckets = throttle::password_buckets(&state.config, &user.username, peer);
    if let Err(locked) = throttle::reserve(&state.store, &buckets, now).await? {
        let message = format!("Too many password attempts. Try again in {}.", locked.wait_text());
        let mut response =
            render_email_page(&state, jar, &user, false, vec![message], StatusCode::TOO_MANY_REQUESTS).await?;
        let (name, value) = locked.header();
        response.headers_mut().insert(name, value);
        return Ok(response);
    }
    let stored = state.store.find_user_with_password(&user.username).await?;
    if !state.passwords.verify(&form.current_password, stored.as_ref().map(|(_, hash)| hash.as_str())).await? {
        let event = Event::new(kind::PASSWORD_CHANGE_FAILED).by_user(&user.id).detail(json!({ "for": "email_change" }));
        audit::record(&state, &origin, event, now).await;
        let errors = vec!["The current password is not correct.".to_owned()];
        return render_email_page(&state, jar, &user, false, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    throttle::refund(&state.store, &buckets).await;
    let same = email.as_str().eq_ignore_ascii_case(&user.email);
    if same && user.email_verified {
        let errors = vec!["This is already your verified address.".to_owned()];
        return render_email_page(&state, jar, &user, false, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    if state.store.email_taken(email.as_str(), &user.id).await? {
        let errors = vec!["An account with this email address already exists.".to_owned()];
        return render_email_page(&state, jar, &user, false, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    if let Err(locked) = reserve_send(&state, &user, email.as_str()).await? {
        return too_many(&state, jar, &user, &locked).await;
    }
    let reason = if same { VerifyReason::Resend } else { VerifyReason::Change };
    links::send_verification(&state, &origin, &user, email.as_str(), reason).await?;
    if !same {
        links::send_change_notice(&state, &user, email.as_str()).await?;
    }
    Ok(Redirect::to(&format!("{}?sent=1", routes::ACCOUNT_EMAIL)).into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf_token: Option<String>,
}

/// Sends the verification again: to the address waiting for confirmation, or else to the
/// current address while it is unverified.
pub async fn resend(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    origin: Origin,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(Redirect::to(routes::LOGIN).into_response()) };
    let user = current.user;
    let target = match pending_change(&state, &user).await? {
        Some(pending) => pending,
        None if !user.email_verified => user.email.clone(),
        None => {
            let errors = vec!["Your address is already verified.".to_owned()];
            return render_email_page(&state, jar, &user, false, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    if let Err(locked) = reserve_send(&state, &user, &target).await? {
        return too_many(&state, jar, &user, &locked).await;
    }
    links::send_verification(&state, &origin, &user, &target, VerifyReason::Resend).await?;
    Ok(Redirect::to(&format!("{}?sent=1", routes::ACCOUNT_EMAIL)).into_response())
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The page refusing a link of another account than the one signed in: whoever holds that
/// session is not the account's owner, so confirming would hand a stranger's account this
/// address (someone types a victim's address into their own account and waits for a click).
fn other_account() -> PageError {
    PageError::new(
        StatusCode::CONFLICT,
        "This link is for another account",
        "You are signed in to a different account than the one that asked to use this address. \
         If you did not ask for it, ignore the message; otherwise sign out and open the link again.",
    )
}

/// The live link's particulars and its account, or the 410 page; refused with a 409 while
/// signed in as someone else.
async fn live_link(
    state: &AppState,
    token: &str,
    signed_in: Option<&User>,
) -> Result<(doorway_store::EmailToken, User), PageError> {
    let found = state.store.find_email_token(&hash_secret(token), EmailPurpose::Verify, now()).await?;
    let Some(found) = found else { return Err(link_gone()) };
    let Some(owner) = state.store.find_user(&found.user_id).await? else { return Err(link_gone()) };
    if signed_in.is_some_and(|user| user.id != owner.id) {
        return Err(other_account());
    }
    Ok((found, owner))
}

/// The mailed link: a page with one button, naming the account the address would belong to.
/// The link is checked (so a dead one says so at once) but not used until the button is
/// pressed.
pub async fn verify_page(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    TypedQuery(query): TypedQuery<TokenQuery>,
) -> Result<Response, PageError> {
    let (found, owner) = live_link(&state, &query.token, user.as_ref().map(|u| &u.user)).await?;
    let (jar, csrf) = csrf_token(&state, jar);
    let html = state.ui.render(
        "email_verify.html",
        context! { csrf_token => csrf, token => query.token, email => found.email, username => owner.username },
    )?;
    Ok(page(jar, StatusCode::OK, html))
}

#[derive(Deserialize)]
pub struct VerifyForm {
    csrf_token: Option<String>,
    #[serde(default)]
    token: String,
}

/// Uses the link: its address becomes the account's, verified. Does not sign anybody in.
pub async fn verify(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(signed_in): MaybeUser,
    origin: Origin,
    PageForm(form): PageForm<VerifyForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    // Checked before the link is used up, so the owner can still use it.
    live_link(&state, &form.token, signed_in.as_ref().map(|u| &u.user)).await?;
    let now = now();
    let consumed = state.store.consume_email_token(&hash_secret(&form.token), EmailPurpose::Verify, now).await?;
    let Some(token) = consumed else { return Err(link_gone()) };
    let Some(user) = state.store.find_user(&token.user_id).await? else { return Err(link_gone()) };
    match state.store.set_verified_email(&user.id, &token.email, now).await {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(PageError::new(
                StatusCode::CONFLICT,
                "This address belongs to another account",
                "Another account started using this email address after the link was sent. Choose another address.",
            ));
        }
        Err(err) => return Err(err.into()),
    }
    let changed = !token.email.eq_ignore_ascii_case(&user.email);
    audit::record(&state, &origin, Event::new(kind::EMAIL_VERIFIED).user(&user.id), now).await;
    if changed {
        // Reset links went to the old address: whoever keeps that mailbox (often the reason
        // for the change) must not get the account back through one.
        state.store.retire_email_tokens(&user.id, EmailPurpose::Reset, now).await?;
        audit::record(&state, &origin, Event::new(kind::EMAIL_CHANGED).user(&user.id), now).await;
    }
    tracing::info!(target: "security", event = "email_verified", user_id = %user.id, changed, "email address verified");
    let (jar, csrf) = csrf_token(&state, jar);
    let html =
        state.ui.render("email_verify.html", context! { csrf_token => csrf, done => true, email => token.email })?;
    Ok(page(jar, StatusCode::OK, html))
}
