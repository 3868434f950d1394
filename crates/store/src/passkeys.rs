//! Passkeys (see migration 0015): the credentials people registered, and the short-lived state
//! of a WebAuthn ceremony between its start and its finish. The store never interprets the
//! serialized passkey or ceremony state: the server's WebAuthn code owns their format.
//! A ceremony is taken at most once: a replayed finish finds nothing.

use crate::{Result, Store, execute, on_pool, on_writer};

/// A registered passkey.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredPasskey {
    /// Doorway's id for it (what the settings page names), not the WebAuthn credential id.
    pub id: String,
    pub user_id: String,
    /// The WebAuthn credential id, base64url without padding.
    pub credential_id: String,
    /// The serialized `Passkey` (JSON).
    pub passkey: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyPurpose {
    Register,
    Authenticate,
}

impl CeremonyPurpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Authenticate => "authenticate",
        }
    }
}

/// A ceremony taken back at its finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenCeremony {
    /// For a registration: whose passkey it is.
    pub user_id: Option<String>,
    pub state: String,
    pub expires_at: i64,
}

const COLUMNS: &str = "id, user_id, credential_id, passkey, name, created_at, last_used_at";

impl Store {
    /// Stores a new passkey. A credential id registered before (to anyone) is a `Conflict`.
    pub async fn add_passkey(&self, passkey: &StoredPasskey) -> Result<()> {
        let sql = "INSERT INTO passkeys (id, user_id, credential_id, passkey, name, created_at, last_used_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        execute!(self, |pool| {
            sqlx::query(sql)
                .bind(&passkey.id)
                .bind(&passkey.user_id)
                .bind(&passkey.credential_id)
                .bind(&passkey.passkey)
                .bind(&passkey.name)
                .bind(passkey.created_at)
                .bind(passkey.last_used_at)
                .execute(pool)
                .await
        })?;
        Ok(())
    }

    /// A person's passkeys, oldest first.
    pub async fn list_passkeys(&self, user_id: &str) -> Result<Vec<StoredPasskey>> {
        let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id");
        Ok(on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_all(pool).await)?)
    }

    /// The passkey with this WebAuthn credential id, whoever it belongs to.
    pub async fn find_passkey_by_credential(&self, credential_id: &str) -> Result<Option<StoredPasskey>> {
        let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = $1");
        Ok(on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(credential_id)
            .fetch_optional(pool)
            .await)?)
    }

    /// Renames one of this person's passkeys; false when they have none with this id.
    pub async fn rename_passkey(&self, user_id: &str, id: &str, name: &str) -> Result<bool> {
        let sql = "UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3";
        let n = execute!(self, |pool| sqlx::query(sql).bind(name).bind(id).bind(user_id).execute(pool).await)?;
        Ok(n == 1)
    }

    /// Deletes every passkey of this person (a reset that found factors nobody proved to own
    /// the address enrolled); returns how many.
    pub async fn delete_user_passkeys(&self, user_id: &str) -> Result<u64> {
        let sql = "DELETE FROM passkeys WHERE user_id = $1";
        Ok(execute!(self, |pool| sqlx::query(sql).bind(user_id).execute(pool).await)?)
    }

    /// Deletes one of this person's passkeys and returns its name; None when they have none
    /// with this id.
    pub async fn delete_passkey(&self, user_id: &str, id: &str) -> Result<Option<String>> {
        let sql = "DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING name";
        let row: Option<(String,)> =
            on_writer!(self, |pool| sqlx::query_as(sql).bind(id).bind(user_id).fetch_optional(pool).await)?;
        Ok(row.map(|(name,)| name))
    }

    /// After a sign-in: the updated serialized passkey (counter, backup state) and when, only
    /// if the stored one is still `previous`, the one the assertion was checked against.
    /// `false` when another sign-in with this credential got there first: two assertions
    /// checked against the same counter cannot both pass, so a cloned authenticator used at
    /// the same moment as the original is caught (WebAuthn §7.2 step 21).
    pub async fn record_passkey_use(&self, id: &str, previous: &str, passkey: &str, now: i64) -> Result<bool> {
        let sql = "UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3 AND passkey = $4";
        let done = execute!(self, |pool| sqlx::query(sql)
            .bind(passkey)
            .bind(now)
            .bind(id)
            .bind(previous)
            .execute(pool)
            .await)?;
        Ok(done == 1)
    }

    /// Keeps a ceremony's state until its finish (or `expires_at`).
    pub async fn stash_passkey_ceremony(
        &self,
        id_hash: &str,
        purpose: CeremonyPurpose,
        user_id: Option<&str>,
        state: &str,
        expires_at: i64,
    ) -> Result<()> {
        let sql = "INSERT INTO passkey_ceremonies (id_hash, purpose, user_id, state, expires_at) \
                   VALUES ($1, $2, $3, $4, $5)";
        execute!(self, |pool| {
            sqlx::query(sql)
                .bind(id_hash)
                .bind(purpose.as_str())
                .bind(user_id)
                .bind(state)
                .bind(expires_at)
                .execute(pool)
                .await
        })?;
        Ok(())
    }

    /// Marks a passkey sign-in ceremony (whose state the browser carried, sealed) as used, until
    /// `expires_at`: `true` for exactly one caller, so an assertion that verified cannot be
    /// replayed, even concurrently. Kept as an `authenticate` row without state, purged with
    /// the others once expired.
    pub async fn mark_passkey_sign_in_used(&self, id_hash: &str, expires_at: i64) -> Result<bool> {
        let sql = "INSERT INTO passkey_ceremonies (id_hash, purpose, user_id, state, expires_at) \
                   VALUES ($1, 'authenticate', NULL, '', $2) ON CONFLICT (id_hash) DO NOTHING";
        let done = execute!(self, |pool| sqlx::query(sql).bind(id_hash).bind(expires_at).execute(pool).await)?;
        Ok(done == 1)
    }

    /// How many ceremony rows are kept (started registrations and used sign-ins): what a
    /// flood of unauthenticated requests must not be able to grow.
    pub async fn count_passkey_ceremonies(&self) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM passkey_ceremonies";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql).fetch_one(pool).await)?)
    }

    /// Deletes and returns the ceremony, if there is one of this purpose that has not expired
    /// as of `now`. An expired one is deleted all the same; a second call finds nothing.
    pub async fn take_passkey_ceremony(
        &self,
        id_hash: &str,
        purpose: CeremonyPurpose,
        now: i64,
    ) -> Result<Option<TakenCeremony>> {
        let sql = "DELETE FROM passkey_ceremonies WHERE id_hash = $1 AND purpose = $2 \
                   RETURNING user_id, state, expires_at";
        let row: Option<(Option<String>, String, i64)> = on_writer!(self, |pool| {
            sqlx::query_as(sql).bind(id_hash).bind(purpose.as_str()).fetch_optional(pool).await
        })?;
        Ok(row.filter(|(_, _, expires_at)| *expires_at > now).map(|(user_id, state, expires_at)| TakenCeremony {
            user_id,
            state,
            expires_at,
        }))
    }
}
