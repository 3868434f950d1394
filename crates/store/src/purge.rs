//! Purging what has expired. Every statement is an idempotent DELETE, so the job is safe to run
//! on every node at once. What detection still needs is kept: a consumed code until the tokens
//! it yielded have expired, a rotated-out refresh token until it would have expired anyway.

use crate::{Result, Store, execute};

/// How many rows each purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub codes: u64,
    pub access_tokens: u64,
    pub refresh_tokens: u64,
    pub sessions: u64,
    pub other: u64,
}

impl Purged {
    pub fn total(&self) -> u64 {
        self.codes + self.access_tokens + self.refresh_tokens + self.sessions + self.other
    }
}

impl Store {
    /// Deletes expired rows as of `now`. `code_grace` keeps codes that long past expiry (a
    /// replay of a code must still find it to revoke what it yielded).
    pub async fn purge_expired(&self, now: i64, code_grace: i64) -> Result<Purged> {
        let run = |sql: &'static str, at: i64| async move {
            Ok::<u64, crate::StoreError>(execute!(self, |pool| sqlx::query(sql).bind(at).execute(pool).await)?)
        };
        let codes = run("DELETE FROM authorization_codes WHERE expires_at < $1", now - code_grace).await?;
        let access_tokens = run("DELETE FROM access_tokens WHERE expires_at < $1", now).await?;
        // Dead at the earlier of its two expiries; the expression is the index's (migration 0016).
        let refresh_tokens = run(
            match self.pool {
                crate::Pool::Sqlite { .. } => {
                    "DELETE FROM refresh_tokens WHERE min(idle_expires_at, absolute_expires_at) < $1"
                }
                crate::Pool::Postgres(_) => {
                    "DELETE FROM refresh_tokens WHERE LEAST(idle_expires_at, absolute_expires_at) < $1"
                }
            },
            now,
        )
        .await?;
        let sessions = run("DELETE FROM sessions WHERE expires_at < $1", now).await?;
        let mut other = 0;
        other += run("DELETE FROM interactions WHERE expires_at < $1", now).await?;
        other += run("DELETE FROM device_codes WHERE expires_at < $1", now).await?;
        other += run("DELETE FROM second_factor_challenges WHERE expires_at < $1", now).await?;
        other += run("DELETE FROM device_code_misses WHERE missed_at < $1", now - 86_400).await?;
        // Attempt counts whose window and lockout are over count nothing any more.
        other += run("DELETE FROM auth_attempts WHERE expires_at <= $1", now).await?;
        // WebAuthn ceremonies nobody finished (the finish would refuse them anyway).
        other += run("DELETE FROM passkey_ceremonies WHERE expires_at <= $1", now).await?;
        // Delivered or abandoned logout notifications are kept a week for the CLI's report.
        other += run("DELETE FROM logout_deliveries WHERE status <> 'pending' AND created_at < $1", now - 7 * 86_400)
            .await?;
        // Email links past their expiry are worthless; sent or abandoned mail is kept a week
        // for operators (a sent message's body, which held the link, is already blank).
        other += run("DELETE FROM email_tokens WHERE expires_at < $1", now).await?;
        other +=
            run("DELETE FROM email_outbox WHERE status <> 'pending' AND created_at < $1", now - 7 * 86_400).await?;
        // Organization invitations nobody answered within their validity (14 days).
        other +=
            run("DELETE FROM org_invitations WHERE created_at <= $1", now - crate::orgs::ORG_INVITATION_TTL).await?;
        other += run(
            "DELETE FROM session_clients WHERE created_at < $1 AND sid NOT IN (SELECT sid FROM sessions WHERE sid IS NOT NULL)",
            now - 86_400,
        )
        .await?;
        Ok(Purged { codes, access_tokens, refresh_tokens, sessions, other })
    }

    /// Deletes security-log entries recorded before `before` (now minus the retention).
    pub async fn purge_audit_log(&self, before: i64) -> Result<u64> {
        Ok(execute!(self, |pool| sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(before)
            .execute(pool)
            .await)?)
    }
}
