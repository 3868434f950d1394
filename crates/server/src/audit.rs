//! The security log: what happened to an account or an app, who did it, when and from where,
//! stored in the database (people read their own under `/settings/security-log`, operators
//! all of it through `GET /api/v1/audit`). Recording is best effort: a failure is logged and
//! the request goes on. Details are ids, names, counts and reasons — never a password, a
//! token or a secret.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use doorway_store::AuditEntry;
use serde_json::Value;

use crate::state::AppState;

/// The kinds of event, as stored and as the admin API's `kind` filter takes them.
pub mod kind {
    pub const SIGN_IN_SUCCEEDED: &str = "sign_in.succeeded";
    pub const SIGN_IN_FAILED: &str = "sign_in.failed";
    /// Too many password attempts: the account (or the address) is locked for a while.
    pub const SIGN_IN_LOCKED: &str = "sign_in.locked";
    pub const PASSWORD_CHANGED: &str = "password.changed";
    pub const PASSWORD_CHANGE_FAILED: &str = "password.change_failed";
    pub const CONSENT_GRANTED: &str = "consent.granted";
    pub const CONSENT_REVOKED: &str = "consent.revoked";
    pub const APP_CREATED: &str = "app.created";
    pub const APP_SECRET_ROTATED: &str = "app.secret_rotated";
    pub const APP_DELETED: &str = "app.deleted";
    /// Too many failed client authentications of an app from one address.
    pub const CLIENT_AUTH_LOCKED: &str = "client_auth.locked";
    /// A write through the admin API (method, path, status).
    pub const ADMIN_WRITE: &str = "admin.write";
    pub const SESSION_ENDED: &str = "session.ended";
    /// A link to verify an address was mailed (detail: reason sign_up, change or resend).
    pub const EMAIL_VERIFICATION_SENT: &str = "email.verification_sent";
    pub const EMAIL_VERIFIED: &str = "email.verified";
    /// A verified link replaced the account's address with a new one.
    pub const EMAIL_CHANGED: &str = "email.changed";
    /// A password-reset link was mailed.
    pub const PASSWORD_RESET_REQUESTED: &str = "password.reset_requested";
    /// A password was set through a reset link: tokens revoked, sessions ended.
    pub const PASSWORD_RESET_COMPLETED: &str = "password.reset_completed";
    pub const TWO_FACTOR_ENABLED: &str = "two_factor.enabled";
    pub const TWO_FACTOR_DISABLED: &str = "two_factor.disabled";
    pub const RECOVERY_CODES_REGENERATED: &str = "two_factor.recovery_codes_regenerated";
    pub const RECOVERY_CODE_USED: &str = "two_factor.recovery_code_used";
    /// A wrong TOTP or recovery code at sign-in (or when re-authenticating).
    pub const SECOND_FACTOR_FAILED: &str = "two_factor.failed";
    /// Too many wrong codes: the sign-in attempt ended and the password is asked again.
    pub const SECOND_FACTOR_ENDED: &str = "two_factor.attempt_ended";
    /// An operator removed the second factor (`doorway users reset-two-factor`).
    pub const TWO_FACTOR_RESET: &str = "two_factor.reset";
    pub const PASSKEY_ADDED: &str = "passkey.added";
    pub const PASSKEY_REMOVED: &str = "passkey.removed";
    pub const PASSKEY_RENAMED: &str = "passkey.renamed";
    /// A passkey assertion was refused (unknown credential, bad signature, disabled account).
    pub const PASSKEY_SIGN_IN_FAILED: &str = "passkey.sign_in_failed";

    /// Every kind, for the admin API's filter and the security-log page.
    pub const ALL: &[&str] = &[
        SIGN_IN_SUCCEEDED,
        SIGN_IN_FAILED,
        SIGN_IN_LOCKED,
        PASSWORD_CHANGED,
        PASSWORD_CHANGE_FAILED,
        CONSENT_GRANTED,
        CONSENT_REVOKED,
        APP_CREATED,
        APP_SECRET_ROTATED,
        APP_DELETED,
        CLIENT_AUTH_LOCKED,
        ADMIN_WRITE,
        SESSION_ENDED,
        EMAIL_VERIFICATION_SENT,
        EMAIL_VERIFIED,
        EMAIL_CHANGED,
        PASSWORD_RESET_REQUESTED,
        PASSWORD_RESET_COMPLETED,
        TWO_FACTOR_ENABLED,
        TWO_FACTOR_DISABLED,
        RECOVERY_CODES_REGENERATED,
        RECOVERY_CODE_USED,
        SECOND_FACTOR_FAILED,
        SECOND_FACTOR_ENDED,
        TWO_FACTOR_RESET,
        PASSKEY_ADDED,
        PASSKEY_REMOVED,
        PASSKEY_RENAMED,
        PASSKEY_SIGN_IN_FAILED,
    ];

    /// What a person reads in their security log.
    pub fn describe(kind: &str) -> &'static str {
        match kind {
            SIGN_IN_SUCCEEDED => "Signed in",
            SIGN_IN_FAILED => "Failed sign-in attempt",
            SIGN_IN_LOCKED => "Sign-in paused after too many failed attempts",
            PASSWORD_CHANGED => "Password changed",
            PASSWORD_CHANGE_FAILED => "Password change refused: wrong current password",
            CONSENT_GRANTED => "Access granted to an app",
            CONSENT_REVOKED => "Access revoked from an app",
            APP_CREATED => "Developer app created",
            APP_SECRET_ROTATED => "Developer app secret rotated",
            APP_DELETED => "Developer app deleted",
            CLIENT_AUTH_LOCKED => "App authentication paused after too many failures",
            ADMIN_WRITE => "Changed by an administrator",
            SESSION_ENDED => "Session ended",
            EMAIL_VERIFICATION_SENT => "Verification email sent",
            EMAIL_VERIFIED => "Email address verified",
            EMAIL_CHANGED => "Email address changed",
            PASSWORD_RESET_REQUESTED => "Password reset requested by email",
            PASSWORD_RESET_COMPLETED => "Password reset through an emailed link",
            TWO_FACTOR_ENABLED => "Two-factor authentication turned on",
            TWO_FACTOR_DISABLED => "Two-factor authentication turned off",
            RECOVERY_CODES_REGENERATED => "New recovery codes generated",
            RECOVERY_CODE_USED => "Signed in with a recovery code",
            SECOND_FACTOR_FAILED => "Wrong two-factor code",
            SECOND_FACTOR_ENDED => "Sign-in ended after too many wrong two-factor codes",
            TWO_FACTOR_RESET => "Two-factor authentication reset by an operator",
            PASSKEY_ADDED => "Passkey added",
            PASSKEY_REMOVED => "Passkey removed",
            PASSKEY_RENAMED => "Passkey renamed",
            PASSKEY_SIGN_IN_FAILED => "Failed sign-in with a passkey",
            _ => "Security event",
        }
    }
}

/// Longest User-Agent kept (as on the sessions page).
const MAX_USER_AGENT: usize = 400;

/// Where a request came from: the peer address and the User-Agent. Never rejects.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Origin {
    pub fn of(parts: &Parts) -> Self {
        Self::new(&parts.headers, crate::throttle::peer_of(&parts.extensions))
    }

    pub fn new(headers: &axum::http::HeaderMap, ip: Option<std::net::IpAddr>) -> Self {
        let user_agent = headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT).collect::<String>());
        Self { ip: ip.map(|ip| ip.to_canonical().to_string()), user_agent }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}

/// One event to record; built with the methods below.
#[derive(Debug, Clone)]
pub struct Event {
    kind: &'static str,
    user_id: Option<String>,
    actor_user_id: Option<String>,
    actor_token_id: Option<String>,
    client_id: Option<String>,
    detail: Value,
}

impl Event {
    pub fn new(kind: &'static str) -> Self {
        Self {
            kind,
            user_id: None,
            actor_user_id: None,
            actor_token_id: None,
            client_id: None,
            detail: Value::Object(serde_json::Map::new()),
        }
    }

    /// The account concerned (it appears in that person's log).
    pub fn user(mut self, user_id: &str) -> Self {
        self.user_id = Some(user_id.to_owned());
        self
    }

    /// The person concerned did it themselves.
    pub fn by_user(mut self, user_id: &str) -> Self {
        self.user_id = Some(user_id.to_owned());
        self.actor_user_id = Some(user_id.to_owned());
        self
    }

    /// An admin API token did it.
    pub fn by_token(mut self, token_id: &str) -> Self {
        self.actor_token_id = Some(token_id.to_owned());
        self
    }

    pub fn client(mut self, client_id: &str) -> Self {
        self.client_id = Some(client_id.to_owned());
        self
    }

    /// Particulars: a small JSON object, never a secret.
    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// A time-ordered id: microseconds, then randomness, as hex (sorts like the time, and two
/// events of one microsecond on two nodes still differ).
pub(crate) fn event_id() -> String {
    let micros = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
    let random = doorway_core::secrets::random_bytes::<6>();
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{micros:015x}{random}")
}

/// Records `event` from `origin` at `now`. Best effort: a failure is logged, not raised.
pub async fn record(state: &AppState, origin: &Origin, event: Event, now: i64) {
    record_with_store(&state.store, origin, event, now).await;
}

/// [`record`] for code that has a store but no running server (the command line).
pub async fn record_with_store(store: &doorway_store::Store, origin: &Origin, event: Event, now: i64) {
    let entry = AuditEntry {
        id: event_id(),
        at: now,
        kind: event.kind.to_owned(),
        user_id: event.user_id,
        actor_user_id: event.actor_user_id,
        actor_token_id: event.actor_token_id,
        client_id: event.client_id,
        ip: origin.ip.clone(),
        user_agent: origin.user_agent.clone(),
        detail: event.detail,
    };
    if let Err(err) = store.record_audit(&entry).await {
        tracing::error!(target: "security", error = %err, kind = event.kind, "recording a security-log entry failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_sort_by_time_and_every_kind_reads_as_a_sentence() {
        let first = event_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = event_id();
        assert_eq!(first.len(), second.len());
        assert!(first < second);
        for k in kind::ALL {
            assert_ne!(kind::describe(k), "Security event", "{k}");
        }
    }
}
