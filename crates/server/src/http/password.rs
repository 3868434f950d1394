//! Changing one's password. A new password ends every other session and revokes every token
//! issued to apps: whoever knew the old password keeps nothing.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use doorway_core::types::Password;
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use crate::audit::{self, Event, Origin, kind};
use crate::http::avatar::default_picture;
use crate::http::error::PageError;
use crate::http::form::PageForm;
use crate::http::session::{MaybeUser, check_csrf, csrf_token, start_session};
use crate::state::{AppState, now};
use crate::throttle::{self, PeerIp};
use crate::ui::ser;

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf_token: Option<String>,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PeerIp(peer): PeerIp,
    origin: Origin,
    PageForm(form): PageForm<PasswordForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(Redirect::to(doorway_core::routes::LOGIN).into_response()) };
    let now = now();
    // The current password is a password attempt like a sign-in, on the same account and
    // address counters: a stolen session cannot be used to guess it, nor to get around a
    // lockout (see `throttle`).
    let buckets = throttle::password_buckets(&state.config, current.user.username.as_str(), peer);
    let mut errors = Vec::new();
    let mut retry_after = None;
    match throttle::reserve(&state.store, &buckets, now).await? {
        Err(locked) => {
            errors.push(format!("Too many password attempts. Try again in {}.", locked.wait_text()));
            retry_after = Some(locked);
        }
        Ok(()) => {
            let stored = state.store.find_user_with_password(&current.user.username).await?;
            let stored_hash = stored.as_ref().map(|(_, hash)| hash.as_str());
            if state.passwords.verify(&form.current_password, stored_hash).await? {
                throttle::refund(&state.store, &buckets).await;
            } else {
                tracing::warn!(target: "security", event = "password_change_failed", user_id = %current.user.id,
                    "a password change gave a wrong current password");
                let event = Event::new(kind::PASSWORD_CHANGE_FAILED).by_user(&current.user.id);
                audit::record(&state, &origin, event, now).await;
                errors.push("The current password is not correct.".to_owned());
            }
        }
    }
    let new = Password::parse(form.new_password);
    if let Err(problem) = &new {
        errors.push(format!("The new password: {problem}."));
    }
    let new = match new {
        Ok(new) if errors.is_empty() => new,
        _ => {
            let (jar, csrf) = csrf_token(&state, jar);
            let user = &current.user;
            let picture =
                user.avatar_url.clone().filter(|u| !u.is_empty()).unwrap_or_else(|| default_picture(&state, &user.sub));
            let html = state.ui.render(
                "account.html",
                context! { current_user => ser(user), picture, password_errors => errors, csrf_token => csrf },
            )?;
            return Ok(match retry_after {
                Some(locked) => (StatusCode::TOO_MANY_REQUESTS, [locked.header()], jar, Html(html)).into_response(),
                None => (StatusCode::UNPROCESSABLE_ENTITY, jar, Html(html)).into_response(),
            });
        }
    };
    let (revoked, sids) = replace_password(&state, &current.user, &new, now).await?;
    let event = Event::new(kind::PASSWORD_CHANGED)
        .by_user(&current.user.id)
        .detail(json!({ "tokens_revoked": revoked, "sessions_ended": sids.len() }));
    audit::record(&state, &origin, event, now).await;
    tracing::info!(target: "security", event = "password_changed", user_id = %current.user.id, revoked,
        sessions = sids.len(), "password changed: tokens revoked, sessions ended, apps notified");
    // This browser stays signed in, on a new session.
    let jar = start_session(&state, jar, &current.user.id).await?;
    Ok((jar, Redirect::to("/account?password=changed")).into_response())
}

/// Sets a new password and ends everything the old one gave: every token revoked, every session
/// deleted (their apps told through back-channel logout), outstanding reset links and pending
/// changes of address retired.
/// Shared by the change on the account page and the reset by email. Returns (tokens revoked,
/// sessions ended). Lockouts are left alone: a new password does not unlock an account.
pub(crate) async fn replace_password(
    state: &AppState,
    user: &doorway_core::model::User,
    new: &Password,
    now: i64,
) -> Result<(u64, Vec<String>), PageError> {
    let hash = state.passwords.hash(new.expose()).await?;
    state.store.set_password(&user.id, &hash, now).await?;
    let revoked = state.store.revoke_user_tokens(&user.id, None, now).await?;
    let sids = state.store.delete_user_sessions(&user.id).await?;
    // A sign-in waiting for its second factor was started with the old password.
    state.store.delete_user_second_factor_challenges(&user.id).await?;
    let keys = state.keys.current();
    crate::http::logout::notify_ended_sessions(&state.store, &keys, &state.config.issuer, &user.sub, &sids, now).await;
    state.store.retire_email_tokens(&user.id, doorway_store::EmailPurpose::Reset, now).await?;
    // A change of address waiting for confirmation may be the intruder's (it needed only the
    // old password): cancelled, or its link would hand them the mail, and the next reset,
    // after the owner recovered the account (ASVS 2.5.7).
    state.store.retire_email_changes(&user.id, &user.email, now).await?;
    // Best effort: the password is already changed, and a full outbox must not undo that.
    if let Err(err) = crate::email::links::send_password_changed_notice(state, user).await {
        tracing::error!(error = %err, user_id = %user.id, "queueing the password-changed notice failed");
    }
    Ok((revoked, sids))
}
