//! Two-factor storage: a person's TOTP credential (its secret sealed by the server, never in
//! clear), their hashed single-use recovery codes, and the sign-in challenges that wait for a
//! second factor. Every "use once" rule is one conditional statement, so two concurrent
//! requests can never both pass: a TOTP time step is accepted by an UPDATE that requires a
//! higher step than the last accepted one, a recovery code by a DELETE of exactly one row.

use crate::{Result, Store, execute, on_pool, on_writer};

/// A person's TOTP credential. `enabled_at` is `None` while enrolment waits for its
/// confirmation code: such a credential must never be asked for at sign-in.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TotpCredential {
    pub user_id: String,
    /// The shared secret, sealed with the label `totp:<user id>`.
    pub secret_sealed: Vec<u8>,
    pub enabled_at: Option<i64>,
    /// The last accepted time step (-1: none yet).
    pub last_step: i64,
    pub created_at: i64,
}

impl std::fmt::Debug for TotpCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpCredential")
            .field("user_id", &self.user_id)
            .field("enabled_at", &self.enabled_at)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

/// A sign-in that passed its password and still owes a second factor.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SecondFactorChallenge {
    pub id_hash: String,
    pub user_id: String,
    pub interaction: Option<String>,
    pub next: Option<String>,
    pub failures: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Store {
    /// The TOTP credential of a person, enabled or pending.
    pub async fn find_totp(&self, user_id: &str) -> Result<Option<TotpCredential>> {
        let sql = "SELECT user_id, secret_sealed, enabled_at, last_step, created_at FROM totp_credentials \
                   WHERE user_id = $1";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql).bind(user_id).fetch_optional(pool).await)?)
    }

    /// Whether sign-in must ask this person for a second factor (a pending enrolment does not
    /// count).
    pub async fn totp_enabled(&self, user_id: &str) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM totp_credentials WHERE user_id = $1 AND enabled_at IS NOT NULL";
        let n: i64 = on_pool!(self, |pool| sqlx::query_scalar(sql).bind(user_id).fetch_one(pool).await)?;
        Ok(n > 0)
    }

    /// Starts (or restarts) an enrolment with a new sealed secret. Returns `false`, changing
    /// nothing, when TOTP is already enabled: an enabled secret is only replaced by disabling
    /// it first (which needs re-authentication).
    pub async fn begin_totp_enrolment(&self, user_id: &str, secret_sealed: &[u8], now: i64) -> Result<bool> {
        let sql = "INSERT INTO totp_credentials (user_id, secret_sealed, enabled_at, last_step, created_at) \
                   VALUES ($1, $2, NULL, -1, $3) \
                   ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, \
                   last_step = -1, created_at = excluded.created_at \
                   WHERE totp_credentials.enabled_at IS NULL";
        let done =
            execute!(self, |pool| sqlx::query(sql).bind(user_id).bind(secret_sealed).bind(now).execute(pool).await)?;
        Ok(done == 1)
    }

    /// Confirms a pending enrolment with the step its confirmation code matched, and stores the
    /// recovery codes (hashes), in one transaction. `false` if there was no pending enrolment
    /// (already confirmed by a concurrent request, or disabled meanwhile).
    pub async fn enable_totp(&self, user_id: &str, step: i64, recovery_hashes: &[String], now: i64) -> Result<bool> {
        let enable = "UPDATE totp_credentials SET enabled_at = $1, last_step = $2 \
                      WHERE user_id = $3 AND enabled_at IS NULL AND last_step < $4";
        on_writer!(self, |pool| {
            let mut tx = sqlx::Connection::begin(pool).await?;
            let done = sqlx::query(enable).bind(now).bind(step).bind(user_id).bind(step).execute(&mut *tx).await?;
            if done.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query("DELETE FROM totp_recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            for hash in recovery_hashes {
                sqlx::query("INSERT INTO totp_recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
                    .bind(user_id)
                    .bind(hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Accepts time step `step` of an enabled credential: `true` for exactly one caller, and
    /// only if no later or equal step was accepted before (RFC 6238 §5.2: a code is accepted
    /// once).
    pub async fn accept_totp_step(&self, user_id: &str, step: i64) -> Result<bool> {
        let sql = "UPDATE totp_credentials SET last_step = $1 \
                   WHERE user_id = $2 AND enabled_at IS NOT NULL AND last_step < $3";
        let done = execute!(self, |pool| sqlx::query(sql).bind(step).bind(user_id).bind(step).execute(pool).await)?;
        Ok(done == 1)
    }

    /// Replaces every recovery code of a person with `hashes` (regeneration).
    pub async fn replace_recovery_codes(&self, user_id: &str, hashes: &[String], now: i64) -> Result<()> {
        on_writer!(self, |pool| {
            let mut tx = sqlx::Connection::begin(pool).await?;
            sqlx::query("DELETE FROM totp_recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            for hash in hashes {
                sqlx::query("INSERT INTO totp_recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
                    .bind(user_id)
                    .bind(hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<(), sqlx::Error>(())
        })?;
        Ok(())
    }

    /// Uses up a recovery code: `true` for exactly one caller, never twice.
    pub async fn use_recovery_code(&self, user_id: &str, code_hash: &str) -> Result<bool> {
        let sql = "DELETE FROM totp_recovery_codes WHERE user_id = $1 AND code_hash = $2";
        let done = execute!(self, |pool| sqlx::query(sql).bind(user_id).bind(code_hash).execute(pool).await)?;
        Ok(done == 1)
    }

    /// How many unused recovery codes a person has left.
    pub async fn count_recovery_codes(&self, user_id: &str) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM totp_recovery_codes WHERE user_id = $1";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql).bind(user_id).fetch_one(pool).await)?)
    }

    /// Removes a person's TOTP credential, recovery codes and pending challenges (disabling, or
    /// an operator's reset). Returns whether a credential existed.
    pub async fn disable_totp(&self, user_id: &str) -> Result<bool> {
        on_writer!(self, |pool| {
            let mut tx = sqlx::Connection::begin(pool).await?;
            let done =
                sqlx::query("DELETE FROM totp_credentials WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM totp_recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM second_factor_challenges WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<bool, sqlx::Error>(done.rows_affected() > 0)
        })
        .map_err(Into::into)
    }

    pub async fn create_second_factor_challenge(&self, challenge: &SecondFactorChallenge) -> Result<()> {
        let sql = "INSERT INTO second_factor_challenges \
                   (id_hash, user_id, interaction, next, failures, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        execute!(self, |pool| {
            sqlx::query(sql)
                .bind(&challenge.id_hash)
                .bind(&challenge.user_id)
                .bind(&challenge.interaction)
                .bind(&challenge.next)
                .bind(challenge.failures)
                .bind(challenge.created_at)
                .bind(challenge.expires_at)
                .execute(pool)
                .await
        })?;
        Ok(())
    }

    /// A challenge still running at `now`.
    pub async fn find_second_factor_challenge(&self, id_hash: &str, now: i64) -> Result<Option<SecondFactorChallenge>> {
        let sql = "SELECT id_hash, user_id, interaction, next, failures, created_at, expires_at \
                   FROM second_factor_challenges WHERE id_hash = $1 AND expires_at > $2";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql).bind(id_hash).bind(now).fetch_optional(pool).await)?)
    }

    /// Counts a wrong code against a challenge; returns the failures so far (0 if the
    /// challenge is gone).
    pub async fn fail_second_factor_challenge(&self, id_hash: &str) -> Result<i64> {
        let sql = "UPDATE second_factor_challenges SET failures = failures + 1 WHERE id_hash = $1 RETURNING failures";
        let failures: Option<i64> =
            on_writer!(self, |pool| sqlx::query_scalar(sql).bind(id_hash).fetch_optional(pool).await)?;
        Ok(failures.unwrap_or(0))
    }

    /// Ends every second-factor challenge of this person: a new password makes a sign-in
    /// half-done with the old one worthless.
    pub async fn delete_user_second_factor_challenges(&self, user_id: &str) -> Result<u64> {
        let sql = "DELETE FROM second_factor_challenges WHERE user_id = $1";
        Ok(execute!(self, |pool| sqlx::query(sql).bind(user_id).execute(pool).await)?)
    }

    /// Ends a challenge: `true` for exactly one caller (the one that may finish the sign-in).
    pub async fn delete_second_factor_challenge(&self, id_hash: &str) -> Result<bool> {
        let sql = "DELETE FROM second_factor_challenges WHERE id_hash = $1";
        Ok(execute!(self, |pool| sqlx::query(sql).bind(id_hash).execute(pool).await)? == 1)
    }
}
