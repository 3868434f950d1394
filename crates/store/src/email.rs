//! Email: the outbox (messages waiting for the SMTP server, claimed by one node at a time with
//! `locked_until`, retried with backoff, like `logout_deliveries`) and the single-use tokens of
//! the links sent in them. A token is stored only as its SHA-256; a raw token never reaches
//! this module.

use doorway_core::model::User;

use crate::users::{USER_COLUMNS, UserRow};
use crate::{Result, Store, execute, on_pool, on_writer};

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewEmail {
    pub id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// A queued message, as claimed for sending or listed.
#[derive(Clone, sqlx::FromRow)]
pub struct OutboxEmail {
    pub id: String,
    pub to_address: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// The body holds a live link: never in a debug print or a log line.
impl std::fmt::Debug for OutboxEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxEmail")
            .field("id", &self.id)
            .field("to_address", &self.to_address)
            .field("subject", &self.subject)
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

const OUTBOX_COLUMNS: &str = "id, to_address, subject, body_text, body_html, status, attempts, next_attempt_at, \
     last_error, created_at, sent_at";

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailPurpose {
    /// Proves the address: it becomes the account's verified address.
    Verify,
    /// Lets the holder set a new password.
    Reset,
}

impl EmailPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Reset => "reset",
        }
    }
}

/// A valid (unused, unexpired) link's particulars.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmailToken {
    pub user_id: String,
    pub email: String,
    pub expires_at: i64,
}

impl Store {
    pub async fn enqueue_email(&self, email: &NewEmail, now: i64) -> Result<()> {
        let sql = "INSERT INTO email_outbox (id, to_address, subject, body_text, body_html, status, attempts, \
                   next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7)";
        execute!(self, |pool| {
            sqlx::query(sql)
                .bind(&email.id)
                .bind(&email.to)
                .bind(&email.subject)
                .bind(&email.text)
                .bind(&email.html)
                .bind(now)
                .bind(now)
                .execute(pool)
                .await
        })?;
        Ok(())
    }

    /// Claims up to `limit` due messages for `lease` seconds (see [`Store::claim_outbox`]), so
    /// two nodes never send the same message at once.
    pub async fn claim_emails(&self, now: i64, lease: i64, limit: i64) -> Result<Vec<OutboxEmail>> {
        self.claim_outbox("email_outbox", OUTBOX_COLUMNS, now, lease, limit).await
    }

    /// Marks a message sent and blanks its body (it held a live link).
    pub async fn mark_email_sent(&self, id: &str, now: i64) -> Result<()> {
        let sql = "UPDATE email_outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, \
                   locked_until = NULL, last_error = NULL, body_text = '', body_html = NULL WHERE id = $2";
        execute!(self, |pool| sqlx::query(sql).bind(now).bind(id).execute(pool).await)?;
        Ok(())
    }

    /// Records a failed attempt: retried at `next_attempt_at`, or given up (`failed`).
    pub async fn mark_email_failed(&self, id: &str, error: &str, next_attempt_at: Option<i64>) -> Result<()> {
        // A message given up is never sent: its body (a live link) is blanked like a sent one's,
        // so the table holds no usable link for the week until the purge.
        let (sql, status) = match next_attempt_at {
            Some(_) => (
                "UPDATE email_outbox SET status = $1, attempts = attempts + 1, next_attempt_at = $2, \
                 locked_until = NULL, last_error = $3 WHERE id = $4",
                "pending",
            ),
            None => (
                "UPDATE email_outbox SET status = $1, attempts = attempts + 1, next_attempt_at = $2, \
                 locked_until = NULL, last_error = $3, body_text = '', body_html = NULL WHERE id = $4",
                "failed",
            ),
        };
        execute!(self, |pool| {
            sqlx::query(sql).bind(status).bind(next_attempt_at.unwrap_or(0)).bind(error).bind(id).execute(pool).await
        })?;
        Ok(())
    }

    /// The newest messages first (operators, tests).
    pub async fn list_emails(&self, limit: i64) -> Result<Vec<OutboxEmail>> {
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM email_outbox ORDER BY created_at DESC, id LIMIT $1");
        Ok(on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(pool).await)?)
    }

    /// Stores a new link's token hash. Earlier unused links of the same purpose for the user
    /// stop working: only the newest message counts.
    pub async fn create_email_token(
        &self,
        token_hash: &str,
        purpose: EmailPurpose,
        user_id: &str,
        email: &str,
        now: i64,
        ttl: i64,
    ) -> Result<()> {
        let retire = "UPDATE email_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL";
        execute!(self, |pool| sqlx::query(retire).bind(now).bind(user_id).bind(purpose.as_str()).execute(pool).await)?;
        let insert = "INSERT INTO email_tokens (token_hash, purpose, user_id, email, created_at, expires_at) \
                      VALUES ($1, $2, $3, $4, $5, $6)";
        execute!(self, |pool| {
            sqlx::query(insert)
                .bind(token_hash)
                .bind(purpose.as_str())
                .bind(user_id)
                .bind(email)
                .bind(now)
                .bind(now + ttl)
                .execute(pool)
                .await
        })?;
        Ok(())
    }

    /// The link's particulars if it is unused and unexpired (it stays usable).
    pub async fn find_email_token(
        &self,
        token_hash: &str,
        purpose: EmailPurpose,
        now: i64,
    ) -> Result<Option<EmailToken>> {
        let sql = "SELECT user_id, email, expires_at FROM email_tokens WHERE token_hash = $1 AND purpose = $2 \
                   AND used_at IS NULL AND expires_at > $3";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(token_hash)
            .bind(purpose.as_str())
            .bind(now)
            .fetch_optional(pool)
            .await)?)
    }

    /// Uses the link up: one conditional UPDATE, so of two concurrent clicks exactly one wins.
    pub async fn consume_email_token(
        &self,
        token_hash: &str,
        purpose: EmailPurpose,
        now: i64,
    ) -> Result<Option<EmailToken>> {
        let sql = "UPDATE email_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 \
                   AND used_at IS NULL AND expires_at > $4 RETURNING user_id, email, expires_at";
        Ok(on_writer!(self, |pool| sqlx::query_as(sql)
            .bind(now)
            .bind(token_hash)
            .bind(purpose.as_str())
            .bind(now)
            .fetch_optional(pool)
            .await)?)
    }

    /// Retires every unused link of `purpose` for the user (a password was reset, so the other
    /// reset links must not work any more).
    pub async fn retire_email_tokens(&self, user_id: &str, purpose: EmailPurpose, now: i64) -> Result<u64> {
        let sql = "UPDATE email_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL";
        Ok(execute!(self, |pool| sqlx::query(sql).bind(now).bind(user_id).bind(purpose.as_str()).execute(pool).await)?)
    }

    /// Retires every unused verification link for an address other than `current_email`: a
    /// change of address someone started is cancelled (a new password must leave whoever knew
    /// the old one no way to take the account's mail). A link for the current address stays.
    pub async fn retire_email_changes(&self, user_id: &str, current_email: &str, now: i64) -> Result<u64> {
        let sql = "UPDATE email_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = 'verify' \
                   AND used_at IS NULL AND LOWER(email) <> $3";
        Ok(execute!(self, |pool| {
            sqlx::query(sql).bind(now).bind(user_id).bind(current_email.to_ascii_lowercase()).execute(pool).await
        })?)
    }

    /// The address waiting for verification (the newest live verify link), whatever it is.
    pub async fn pending_email(&self, user_id: &str, now: i64) -> Result<Option<String>> {
        let sql = "SELECT email FROM email_tokens WHERE user_id = $1 AND purpose = 'verify' AND used_at IS NULL \
                   AND expires_at > $2 ORDER BY created_at DESC LIMIT 1";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql).bind(user_id).bind(now).fetch_optional(pool).await)?)
    }

    /// Makes `email` the account's address, verified. `Conflict("email")` when another account
    /// took the address meanwhile.
    pub async fn set_verified_email(&self, user_id: &str, email: &str, now: i64) -> Result<bool> {
        let sql = "UPDATE users SET email = $1, email_canonical = $2, email_verified = TRUE, updated_at = $3 \
                   WHERE id = $4";
        let done = execute!(self, |pool| {
            sqlx::query(sql).bind(email).bind(email.to_ascii_lowercase()).bind(now).bind(user_id).execute(pool).await
        })?;
        Ok(done == 1)
    }

    /// Marks the account's current address verified (the operator's `users verify-email`).
    pub async fn mark_email_verified(&self, user_id: &str, now: i64) -> Result<bool> {
        let sql = "UPDATE users SET email_verified = TRUE, updated_at = $1 WHERE id = $2";
        let done = execute!(self, |pool| sqlx::query(sql).bind(now).bind(user_id).execute(pool).await)?;
        Ok(done == 1)
    }

    /// Finds a user by email address, ignoring case.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_canonical = $1");
        let row: Option<UserRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(email.trim().to_ascii_lowercase()).fetch_optional(pool).await
        })?;
        Ok(row.map(User::from))
    }

    /// Whether an account other than `user_id` holds `email` (case-insensitive).
    pub async fn email_taken(&self, email: &str, user_id: &str) -> Result<bool> {
        Ok(self.find_user_by_email(email).await?.is_some_and(|u| u.id != user_id))
    }
}
