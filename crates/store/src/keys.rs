//! Signing keys, private halves sealed by the caller before they reach the database.

use crate::{Result, Store, execute, on_pool};

/// A signing key row: `private_key` is sealed (AES-256-GCM), never plaintext.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub private_key: Vec<u8>,
    pub status: String,
    pub created_at: i64,
}

impl Store {
    pub async fn list_signing_keys(&self) -> Result<Vec<StoredKey>> {
        let sql = "SELECT kid, alg, private_key, status, created_at FROM signing_keys ORDER BY created_at, kid";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql)
            .fetch_all(pool)
            .await)?)
    }

    pub async fn insert_signing_key(&self, key: &StoredKey) -> Result<()> {
        let sql = "INSERT INTO signing_keys (kid, alg, private_key, status, created_at) VALUES ($1, $2, $3, $4, $5)";
        execute!(self, |pool| {
            sqlx::query(sql)
                .bind(&key.kid)
                .bind(&key.alg)
                .bind(&key.private_key)
                .bind(&key.status)
                .bind(key.created_at)
                .execute(pool)
                .await
        })?;
        Ok(())
    }
}
