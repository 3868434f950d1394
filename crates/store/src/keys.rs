//! Signing keys, private halves sealed by the caller before they reach the database.
//! Lifecycle: `next` (published, not signing) → `active` (signing) → `retired` (published until
//! what it signed has expired) → deleted.

use crate::{Result, Store, execute, on_pool, on_writer};

/// A signing key row: `private_key` is sealed (AES-256-GCM), never plaintext.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub private_key: Vec<u8>,
    pub status: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
}

impl Store {
    pub async fn list_signing_keys(&self) -> Result<Vec<StoredKey>> {
        let sql = "SELECT kid, alg, private_key, status, created_at, activated_at, retired_at FROM signing_keys \
                   ORDER BY created_at, kid";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql).fetch_all(pool).await)?)
    }

    pub async fn insert_signing_key(&self, key: &StoredKey) -> Result<()> {
        let sql = "INSERT INTO signing_keys (kid, alg, private_key, status, created_at, activated_at, retired_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        execute!(self, |pool| {
            sqlx::query(sql)
                .bind(&key.kid)
                .bind(&key.alg)
                .bind(&key.private_key)
                .bind(&key.status)
                .bind(key.created_at)
                .bind(key.activated_at)
                .bind(key.retired_at)
                .execute(pool)
                .await
        })?;
        Ok(())
    }

    /// Makes the `next` key `kid` the active key of `alg`, atomically: the key it replaces is
    /// retired (it stays published), and older `next` keys of `alg` that it supersedes are
    /// deleted (they never signed anything), so a stale one cannot activate after it.
    /// Returns false when `kid` is not a `next` key of `alg` (another node got there first).
    ///
    /// The old key retires before the new one activates: at most one key of an algorithm is
    /// active at any moment (a unique index holds the database to it).
    pub async fn activate_signing_key(&self, kid: &str, alg: &str, now: i64) -> Result<bool> {
        on_writer!(self, |pool| {
            let mut tx = sqlx::Connection::begin(pool).await?;
            sqlx::query(
                "UPDATE signing_keys SET status = 'retired', retired_at = $1 \
                 WHERE alg = $2 AND status = 'active' AND kid <> $3 \
                 AND EXISTS (SELECT 1 FROM signing_keys WHERE kid = $3 AND alg = $2 AND status = 'next')",
            )
            .bind(now)
            .bind(alg)
            .bind(kid)
            .execute(&mut *tx)
            .await?;
            let promoted = sqlx::query(
                "UPDATE signing_keys SET status = 'active', activated_at = $1 \
                 WHERE kid = $2 AND alg = $3 AND status = 'next'",
            )
            .bind(now)
            .bind(kid)
            .bind(alg)
            .execute(&mut *tx)
            .await?;
            if promoted.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query(
                "DELETE FROM signing_keys WHERE alg = $1 AND status = 'next' AND kid <> $2 \
                 AND created_at <= (SELECT created_at FROM signing_keys WHERE kid = $2)",
            )
            .bind(alg)
            .bind(kid)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Deletes retired keys retired before `before` (nothing they signed is still valid).
    pub async fn delete_retired_keys(&self, before: i64) -> Result<u64> {
        // A key retired before retirement times were recorded counts from when it was made.
        let sql = "DELETE FROM signing_keys WHERE status = 'retired' \
                   AND COALESCE(retired_at, activated_at, created_at) < $1";
        Ok(execute!(self, |pool| sqlx::query(sql).bind(before).execute(pool).await)?)
    }
}
