//! The links Doorway mails: verify an address, reset a password, and the notice to an old
//! address that a change was asked for.
//!
//! A link carries 256 random bits; the database keeps only their SHA-256, with the account,
//! the address, the expiry and whether it was used. That stored row is what makes the link
//! trustworthy — a token cannot be guessed, and one not in the table (or used, or expired) is
//! refused — so a signature over it would add nothing: the server must look the row up anyway
//! to make it single-use. Links are built on the configured issuer, never on the request's
//! `Host` or `X-Forwarded-Host`, so a forged header cannot point a link at another site.

use doorway_core::model::User;
use doorway_core::routes;
use doorway_core::secrets::{hash_secret, random_token};
use doorway_store::{EmailPurpose, NewEmail, StoreError};
use serde_json::json;

use crate::audit::{self, Event, Origin, kind};
use crate::state::{AppState, now};

/// A verification link works for a day: long enough to find the message the next morning.
pub const VERIFY_TTL: i64 = 24 * 3600;
/// A reset link works for an hour: it is as good as the password.
pub const RESET_TTL: i64 = 3600;

/// Why a verification message is sent (recorded in the security log).
#[derive(Debug, Clone, Copy)]
pub enum VerifyReason {
    SignUp,
    Change,
    Resend,
}

impl VerifyReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::SignUp => "sign_up",
            Self::Change => "change",
            Self::Resend => "resend",
        }
    }
}

/// `<issuer><path>?token=<token>`.
fn link(state: &AppState, path: &str, token: &str) -> String {
    format!("{}{path}?token={token}", state.config.issuer)
}

async fn queue(state: &AppState, to: &str, subject: String, text: String) -> Result<(), StoreError> {
    let email = NewEmail { id: uuid::Uuid::new_v4().to_string(), to: to.to_owned(), subject, text, html: None };
    state.store.enqueue_email(&email, now()).await
}

/// Mails a link that makes `address` the user's verified address (their current one, or the
/// one they are changing to).
pub async fn send_verification(
    state: &AppState,
    origin: &Origin,
    user: &User,
    address: &str,
    reason: VerifyReason,
) -> Result<(), StoreError> {
    let now = now();
    let token = random_token("");
    state
        .store
        .create_email_token(&hash_secret(&token), EmailPurpose::Verify, &user.id, address, now, VERIFY_TTL)
        .await?;
    let platform = &state.config.platform_name;
    let url = link(state, routes::EMAIL_VERIFY, &token);
    let text = format!(
        "Hello {username},\n\nconfirm that {address} is your email address for {platform} by opening this link:\n\n\
         {url}\n\nThe link works once, for 24 hours. If you did not ask for this, ignore this message.\n",
        username = user.username,
    );
    queue(state, address, format!("Confirm your email address for {platform}"), text).await?;
    let event = Event::new(kind::EMAIL_VERIFICATION_SENT).user(&user.id).detail(json!({ "reason": reason.as_str() }));
    audit::record(state, origin, event, now).await;
    Ok(())
}

/// Tells the current address that a change to another was asked for (the change happens only
/// when the new address confirms; this lets the owner notice a stolen session).
pub async fn send_change_notice(state: &AppState, user: &User, new_address: &str) -> Result<(), StoreError> {
    let platform = &state.config.platform_name;
    let text = format!(
        "Hello {username},\n\nsomeone signed in to your {platform} account asked to change its email address to \
         {new_address}. The change happens only when that address confirms it.\n\nIf this was not you, change your \
         password at {issuer}{account} and end your other sessions.\n",
        username = user.username,
        issuer = state.config.issuer,
        account = routes::ACCOUNT,
    );
    queue(state, &user.email, format!("Your {platform} email address is being changed"), text).await
}

/// Tells the account's address that its password was changed (on the account page or by a
/// reset link): ASVS 2.5.5, the owner learns of a change they did not make. No link that acts:
/// only where to go.
pub async fn send_password_changed_notice(state: &AppState, user: &User) -> Result<(), StoreError> {
    let platform = &state.config.platform_name;
    let text = format!(
        "Hello {username},\n\nthe password of your {platform} account was changed. Every session was ended and \
         every app must sign you in again.\n\nIf this was not you, reset your password at {issuer}{forgot} and \
         check the passkeys and two-factor settings of your account.\n",
        username = user.username,
        issuer = state.config.issuer,
        forgot = routes::PASSWORD_FORGOT,
    );
    queue(state, &user.email, format!("Your {platform} password was changed"), text).await
}

/// Mails a password-reset link to the user's current address.
pub async fn send_reset(state: &AppState, origin: &Origin, user: &User) -> Result<(), StoreError> {
    let now = now();
    let token = random_token("");
    state
        .store
        .create_email_token(&hash_secret(&token), EmailPurpose::Reset, &user.id, &user.email, now, RESET_TTL)
        .await?;
    let platform = &state.config.platform_name;
    let url = link(state, routes::PASSWORD_RESET, &token);
    let text = format!(
        "Hello {username},\n\nsomeone asked to reset the password of your {platform} account. To choose a new \
         password, open this link:\n\n{url}\n\nThe link works once, for 1 hour. If you did not ask for this, \
         ignore this message: your password stays as it is.\n",
        username = user.username,
    );
    queue(state, &user.email, format!("Reset your {platform} password"), text).await?;
    audit::record(state, origin, Event::new(kind::PASSWORD_RESET_REQUESTED).user(&user.id), now).await;
    Ok(())
}
