//! Counting credential attempts per bucket (an account, a client address, an app from an
//! address), in the database so every node sees the same counts. The policy is the server's
//! (`throttle`); this module only reserves and forgets.
//!
//! An attempt is reserved *before* the credential is checked, by one conditional UPSERT
//! returning the new count, so any number of concurrent requests get at most the limit
//! through. Nothing here is permanent: every window and every lockout ends.

use crate::{Result, Store, execute, on_pool, on_writer};

/// How many attempts a bucket allows in a window, and how long it refuses once they are spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptPolicy {
    /// Attempts allowed per window (at least 1).
    pub max_attempts: i64,
    /// Seconds; the window starts at the first attempt after the previous one ended.
    pub window: i64,
    /// Seconds of refusal after the limit was passed; a fresh window follows.
    pub lockout: i64,
}

/// The answer to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Check the credential: this is attempt number `attempt` of the window.
    Allowed { attempt: i64 },
    /// Refused without looking at the credential, for `retry_after` more seconds (at least 1).
    /// `started` is true for exactly one refusal per lockout, the one that began it.
    Locked { retry_after: i64, started: bool },
}

impl Reservation {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed { .. })
    }
}

/// One statement, so concurrent reservations serialise on the row (PostgreSQL locks it for
/// `ON CONFLICT DO UPDATE`; SQLite has one writer). Every `SET` expression reads the row as it
/// was: a row whose time is up starts over; the attempt past the limit starts the lockout,
/// which does not grow with further attempts (an attacker cannot extend it indefinitely by
/// hammering: it ends `lockout` seconds after it began).
const RESERVE: &str = "INSERT INTO auth_attempts (kind, bucket, attempts, locked_until, expires_at) \
     VALUES ($1, $2, 1, 0, $3 + $4) \
     ON CONFLICT (kind, bucket) DO UPDATE SET \
     attempts = CASE WHEN auth_attempts.expires_at <= $3 THEN 1 ELSE auth_attempts.attempts + 1 END, \
     locked_until = CASE WHEN auth_attempts.expires_at <= $3 THEN 0 \
         WHEN auth_attempts.locked_until = 0 AND auth_attempts.attempts + 1 > $5 THEN $3 + $6 \
         ELSE auth_attempts.locked_until END, \
     expires_at = CASE WHEN auth_attempts.expires_at <= $3 THEN $3 + $4 \
         WHEN auth_attempts.locked_until = 0 AND auth_attempts.attempts + 1 > $5 THEN $3 + $6 \
         ELSE auth_attempts.expires_at END \
     RETURNING attempts, locked_until";

impl Store {
    /// Reserves one attempt in bucket (`kind`, `bucket`) at `now`, or refuses it.
    pub async fn reserve_attempt(
        &self,
        kind: &str,
        bucket: &str,
        policy: &AttemptPolicy,
        now: i64,
    ) -> Result<Reservation> {
        let max = policy.max_attempts.max(1);
        let (attempts, locked_until): (i64, i64) = on_writer!(self, |pool| {
            sqlx::query_as(RESERVE)
                .bind(kind)
                .bind(bucket)
                .bind(now)
                .bind(policy.window.max(1))
                .bind(max)
                .bind(policy.lockout.max(1))
                .fetch_one(pool)
                .await
        })?;
        Ok(if locked_until > now {
            Reservation::Locked { retry_after: (locked_until - now).max(1), started: attempts == max + 1 }
        } else {
            Reservation::Allowed { attempt: attempts }
        })
    }

    /// Gives back one reserved attempt (the credential was right): only failures, and attempts
    /// still being checked, count against a bucket, so a busy address whose sign-ins succeed
    /// is never throttled. A lockout already begun is not lifted.
    pub async fn refund_attempt(&self, kind: &str, bucket: &str) -> Result<()> {
        execute!(self, |pool| {
            sqlx::query(
                "UPDATE auth_attempts SET attempts = attempts - 1 \
                 WHERE kind = $1 AND bucket = $2 AND attempts > 0 AND locked_until = 0",
            )
            .bind(kind)
            .bind(bucket)
            .execute(pool)
            .await
        })?;
        Ok(())
    }

    /// The latest lockout among `buckets` that is still running at `now`: seconds left, if any.
    /// A read, for credentials cheap to check (client secrets), whose failures alone are then
    /// reserved.
    pub async fn attempt_lockout(&self, buckets: &[(&str, &str)], now: i64) -> Result<Option<i64>> {
        if buckets.is_empty() {
            return Ok(None);
        }
        // One query for every bucket: client authentication asks on every token request.
        let matches: Vec<String> =
            (0..buckets.len()).map(|i| format!("(kind = ${} AND bucket = ${})", 2 * i + 2, 2 * i + 3)).collect();
        let sql = format!(
            "SELECT MAX(locked_until) FROM auth_attempts WHERE locked_until > $1 AND ({})",
            matches.join(" OR ")
        );
        let until: Option<i64> = on_pool!(self, |pool| {
            let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(now);
            for (kind, bucket) in buckets {
                query = query.bind(*kind).bind(*bucket);
            }
            query.fetch_one(pool).await
        })?;
        Ok(until.map(|until| until - now))
    }

    /// Forgets a bucket's count (an account after a successful sign-in). Never called during
    /// a lockout: a refused attempt is not checked, so it cannot succeed.
    pub async fn clear_attempts(&self, kind: &str, bucket: &str) -> Result<()> {
        execute!(self, |pool| {
            sqlx::query("DELETE FROM auth_attempts WHERE kind = $1 AND bucket = $2")
                .bind(kind)
                .bind(bucket)
                .execute(pool)
                .await
        })?;
        Ok(())
    }
}
