//! Client secrets waiting for their one view in the developer console (see migration 0008):
//! stashed sealed by the caller, taken at most once, by their owner, before they expire.

use crate::{Result, Store, execute, on_writer};

/// A secret to show once.
#[derive(Debug, Clone)]
pub struct SecretReveal {
    /// SHA-256 of the one-time id carried in the page's URL.
    pub id_hash: String,
    pub owner_id: String,
    pub client_id: String,
    /// `created` or `rotated`: what the page says around the secret.
    pub purpose: String,
    /// The secret, sealed under the master key by the caller.
    pub sealed: Vec<u8>,
    pub expires_at: i64,
}

impl Store {
    pub async fn stash_secret_reveal(&self, reveal: &SecretReveal) -> Result<()> {
        let sql = "INSERT INTO secret_reveals (id_hash, owner_id, client_id, purpose, sealed, expires_at) \
                   VALUES ($1, $2, $3, $4, $5, $6)";
        execute!(self, |pool| {
            sqlx::query(sql)
                .bind(&reveal.id_hash)
                .bind(&reveal.owner_id)
                .bind(&reveal.client_id)
                .bind(&reveal.purpose)
                .bind(&reveal.sealed)
                .bind(reveal.expires_at)
                .execute(pool)
                .await
        })?;
        Ok(())
    }

    /// Deletes and returns `(purpose, sealed)` of the reveal, if it is this owner's, for this
    /// app, and not expired. A second call finds nothing. Expired rows are swept on the way.
    pub async fn take_secret_reveal(
        &self,
        id_hash: &str,
        owner_id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Option<(String, Vec<u8>)>> {
        execute!(self, |pool| sqlx::query("DELETE FROM secret_reveals WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *pool)
            .await)?;
        let sql = "DELETE FROM secret_reveals WHERE id_hash = $1 AND owner_id = $2 AND client_id = $3 \
                   AND expires_at > $4 RETURNING purpose, sealed";
        let row: Option<(String, Vec<u8>)> = on_writer!(self, |pool| {
            sqlx::query_as(sql).bind(id_hash).bind(owner_id).bind(client_id).bind(now).fetch_optional(pool).await
        })?;
        Ok(row)
    }
}
