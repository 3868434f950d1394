//! The back-channel logout outbox: logout tokens waiting for delivery, claimed by one node at a
//! time (`locked_until`), retried with backoff until delivered or given up.

use crate::{Result, Store, execute, on_pool, on_writer};

/// One delivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LogoutDelivery {
    pub id: String,
    pub client_id: String,
    pub uri: String,
    pub logout_token: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

const COLUMNS: &str =
    "id, client_id, uri, logout_token, status, attempts, next_attempt_at, last_error, created_at, delivered_at";

impl Store {
    pub async fn enqueue_logout(
        &self,
        id: &str,
        client_id: &str,
        uri: &str,
        logout_token: &str,
        now: i64,
    ) -> Result<()> {
        let sql = "INSERT INTO logout_deliveries (id, client_id, uri, logout_token, status, attempts, next_attempt_at, \
                   created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6)";
        execute!(self, |pool| {
            sqlx::query(sql)
                .bind(id)
                .bind(client_id)
                .bind(uri)
                .bind(logout_token)
                .bind(now)
                .bind(now)
                .execute(pool)
                .await
        })?;
        Ok(())
    }

    /// Claims up to `limit` due deliveries for `lease` seconds (see [`Store::claim_outbox`]).
    pub async fn claim_logout_deliveries(&self, now: i64, lease: i64, limit: i64) -> Result<Vec<LogoutDelivery>> {
        self.claim_outbox("logout_deliveries", COLUMNS, now, lease, limit).await
    }

    /// Claims up to `limit` due rows of an outbox table (this one, or `email_outbox`) for
    /// `lease` seconds, returning `columns`. A claim is one conditional UPDATE per row, so two
    /// nodes never deliver the same row at once.
    pub(crate) async fn claim_outbox<T>(
        &self,
        table: &str,
        columns: &str,
        now: i64,
        lease: i64,
        limit: i64,
    ) -> Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        let due = format!(
            "SELECT id FROM {table} WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (locked_until IS NULL OR locked_until <= $2) ORDER BY next_attempt_at LIMIT $3"
        );
        let ids: Vec<String> = on_pool!(self, |pool| sqlx::query_scalar(sqlx::AssertSqlSafe(due.clone()))
            .bind(now)
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        let claim = format!(
            "UPDATE {table} SET locked_until = $1 WHERE id = $2 AND status = 'pending' \
             AND (locked_until IS NULL OR locked_until <= $3) RETURNING {columns}"
        );
        let mut claimed = Vec::new();
        for id in ids {
            let row: Option<T> = on_writer!(self, |pool| {
                sqlx::query_as(sqlx::AssertSqlSafe(claim.clone()))
                    .bind(now + lease)
                    .bind(&id)
                    .bind(now)
                    .fetch_optional(pool)
                    .await
            })?;
            claimed.extend(row);
        }
        Ok(claimed)
    }

    pub async fn mark_logout_delivered(&self, id: &str, now: i64) -> Result<()> {
        let sql = "UPDATE logout_deliveries SET status = 'delivered', delivered_at = $1, attempts = attempts + 1, \
                   locked_until = NULL, last_error = NULL WHERE id = $2";
        execute!(self, |pool| sqlx::query(sql).bind(now).bind(id).execute(pool).await)?;
        Ok(())
    }

    /// Records a failed attempt: retried at `next_attempt_at`, or given up (`failed`).
    pub async fn mark_logout_failed(&self, id: &str, error: &str, next_attempt_at: Option<i64>) -> Result<()> {
        let sql = "UPDATE logout_deliveries SET status = $1, attempts = attempts + 1, next_attempt_at = $2, \
                   locked_until = NULL, last_error = $3 WHERE id = $4";
        let status = if next_attempt_at.is_some() { "pending" } else { "failed" };
        execute!(self, |pool| {
            sqlx::query(sql).bind(status).bind(next_attempt_at.unwrap_or(0)).bind(error).bind(id).execute(pool).await
        })?;
        Ok(())
    }

    /// Deliveries for one app (or all), newest first, for the CLI and the console.
    pub async fn list_logout_deliveries(&self, client_id: Option<&str>, limit: i64) -> Result<Vec<LogoutDelivery>> {
        let rows = match client_id {
            Some(id) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM logout_deliveries WHERE client_id = $1 ORDER BY created_at DESC LIMIT $2"
                );
                on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .bind(limit)
                    .fetch_all(pool)
                    .await)?
            }
            None => {
                let sql = format!("SELECT {COLUMNS} FROM logout_deliveries ORDER BY created_at DESC LIMIT $1");
                on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(pool).await)?
            }
        };
        Ok(rows)
    }
}
