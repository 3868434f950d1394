//! Admin API tokens: bearer credentials for operators' scripts. Only the SHA-256 of a token is
//! stored; a revoked token stays listed (who had access, until when) but never authenticates.

use crate::{Result, Store, execute, on_pool};

/// An admin token as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AdminToken {
    /// The public handle, shown by `list` and given to `revoke`.
    pub id: String,
    pub name: String,
    /// Reads only: every write of the admin API is refused with 403.
    pub read_only: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A token to store: its hash, never its value.
#[derive(Debug, Clone)]
pub struct NewAdminToken {
    pub id: String,
    pub name: String,
    pub token_hash: String,
    pub read_only: bool,
}

const COLUMNS: &str = "id, name, read_only, created_at, last_used_at, revoked_at";

/// How often a token's `last_used_at` is rewritten: once a minute is precise enough for an
/// audit, and spares a write on every API call.
pub const ADMIN_TOKEN_TOUCH_INTERVAL: i64 = 60;

impl Store {
    pub async fn create_admin_token(&self, token: &NewAdminToken, now: i64) -> Result<AdminToken> {
        let sql = "INSERT INTO admin_tokens (id, name, token_hash, read_only, created_at) VALUES ($1, $2, $3, $4, $5)";
        execute!(self, |pool| {
            sqlx::query(sql)
                .bind(&token.id)
                .bind(&token.name)
                .bind(&token.token_hash)
                .bind(token.read_only)
                .bind(now)
                .execute(pool)
                .await
        })?;
        Ok(AdminToken {
            id: token.id.clone(),
            name: token.name.clone(),
            read_only: token.read_only,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        })
    }

    /// Every token, revoked ones included, oldest first.
    pub async fn list_admin_tokens(&self) -> Result<Vec<AdminToken>> {
        let sql = format!("SELECT {COLUMNS} FROM admin_tokens ORDER BY created_at, id");
        Ok(on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await)?)
    }

    /// The live (not revoked) token with this hash.
    pub async fn find_admin_token(&self, token_hash: &str) -> Result<Option<AdminToken>> {
        let sql = format!("SELECT {COLUMNS} FROM admin_tokens WHERE token_hash = $1 AND revoked_at IS NULL");
        Ok(on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(token_hash).fetch_optional(pool).await)?)
    }

    /// Revokes a token by id; false when there is no such live token.
    pub async fn revoke_admin_token(&self, id: &str, now: i64) -> Result<bool> {
        let sql = "UPDATE admin_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
        Ok(execute!(self, |pool| sqlx::query(sql).bind(now).bind(id).execute(pool).await)? == 1)
    }

    /// Records a use of the token, unless one was recorded within the last minute.
    pub async fn touch_admin_token(&self, token: &AdminToken, now: i64) -> Result<()> {
        if token.last_used_at.is_some_and(|at| now - at < ADMIN_TOKEN_TOUCH_INTERVAL) {
            return Ok(());
        }
        let sql = "UPDATE admin_tokens SET last_used_at = $1 WHERE id = $2";
        execute!(self, |pool| sqlx::query(sql).bind(now).bind(&token.id).execute(pool).await)?;
        Ok(())
    }
}
