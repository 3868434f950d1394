//! Browser sessions, pending authorization requests (interactions) and remembered consent.

use doorway_core::model::Session;
use doorway_core::types::ScopeSet;
use rusqlite::OptionalExtension;

use crate::{Result, Store, StoreError, execute, on_pool, on_writer};

#[derive(sqlx::FromRow)]
struct SessionRow {
    id_hash: String,
    sid: Option<String>,
    user_id: String,
    auth_time: i64,
    created_at: i64,
    expires_at: i64,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Session {
            // Sessions created before `sid` existed are identified by their hash prefix.
            sid: r.sid.unwrap_or_else(|| r.id_hash.chars().take(24).collect()),
            id_hash: r.id_hash,
            user_id: r.user_id,
            auth_time: r.auth_time,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

/// An authorization request waiting on the person.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Interaction {
    pub id: String,
    pub client_id: String,
    /// The original request parameters, JSON `[[name, value], …]`.
    pub params: String,
    pub user_id: Option<String>,
    pub login_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Interaction {
    pub fn params(&self) -> Result<Vec<(String, String)>> {
        serde_json::from_str(&self.params).map_err(|e| StoreError::Corrupt(format!("interaction params: {e}")))
    }
}

/// See [`Store::find_consent_state`].
#[derive(Debug, Clone)]
pub struct ConsentState {
    pub scopes: ScopeSet,
    pub last_used_at: Option<i64>,
    pub session_recorded: bool,
}

impl Store {
    pub async fn create_session(&self, session: &Session) -> Result<()> {
        let sql = "INSERT INTO sessions (id_hash, sid, user_id, auth_time, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4, $5, $6)";
        execute!(self, |pool| {
            sqlx::query(sql)
                .bind(&session.id_hash)
                .bind(&session.sid)
                .bind(&session.user_id)
                .bind(session.auth_time)
                .bind(session.created_at)
                .bind(session.expires_at)
                .execute(pool)
                .await
        })?;
        Ok(())
    }

    /// A live session of an enabled user.
    pub async fn find_session(&self, id_hash: &str, now: i64) -> Result<Option<Session>> {
        let sql = "SELECT s.id_hash, s.sid, s.user_id, s.auth_time, s.created_at, s.expires_at FROM sessions s \
                   JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND s.expires_at > $2 AND NOT u.disabled";
        let row: Option<SessionRow> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(id_hash).bind(now).fetch_optional(pool).await)?;
        Ok(row.map(Session::from))
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        execute!(self, |pool| sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(pool)
            .await)?;
        Ok(())
    }

    /// Ends every session of a user (password change, disable).
    /// Ends every session of a user (password change, disable) and returns their public ids,
    /// so that the apps they signed in to can be told (back-channel logout).
    pub async fn delete_user_sessions(&self, user_id: &str) -> Result<Vec<String>> {
        let sids: Vec<Option<String>> = on_writer!(self, |pool| {
            sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 RETURNING sid")
                .bind(user_id)
                .fetch_all(pool)
                .await
        })?;
        Ok(sids.into_iter().flatten().collect())
    }

    /// Records that a session signed in to an app (for back-channel logout).
    pub async fn record_session_client(&self, sid: &str, client_id: &str, user_id: &str, now: i64) -> Result<()> {
        let sql = "INSERT INTO session_clients (sid, client_id, user_id, created_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (sid, client_id) DO NOTHING";
        execute!(self, |pool| {
            sqlx::query(sql).bind(sid).bind(client_id).bind(user_id).bind(now).execute(pool).await
        })?;
        Ok(())
    }

    /// The apps a session signed in to, and forgets them (the session is ending).
    pub async fn take_session_clients(&self, sid: &str) -> Result<Vec<String>> {
        let ids: Vec<String> = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT client_id FROM session_clients WHERE sid = $1 ORDER BY client_id")
                .bind(sid)
                .fetch_all(pool)
                .await
        })?;
        execute!(self, |pool| sqlx::query("DELETE FROM session_clients WHERE sid = $1").bind(sid).execute(pool).await)?;
        Ok(ids)
    }

    pub async fn create_interaction(
        &self,
        id: &str,
        client_id: &str,
        params: &[(String, String)],
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        let params = serde_json::to_string(params).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sql =
            "INSERT INTO interactions (id, client_id, params, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
        execute!(self, |pool| {
            sqlx::query(sql).bind(id).bind(client_id).bind(&params).bind(now).bind(expires_at).execute(pool).await
        })?;
        Ok(())
    }

    pub async fn find_interaction(&self, id: &str, now: i64) -> Result<Option<Interaction>> {
        let sql = "SELECT id, client_id, params, user_id, login_at, created_at, expires_at FROM interactions \
                   WHERE id = $1 AND expires_at > $2";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql).bind(id).bind(now).fetch_optional(pool).await)?)
    }

    /// Records that `user_id` signed in for this interaction (satisfies prompt=login, max_age).
    pub async fn mark_interaction_login(&self, id: &str, user_id: &str, now: i64) -> Result<()> {
        let sql = "UPDATE interactions SET user_id = $1, login_at = $2 WHERE id = $3";
        execute!(self, |pool| sqlx::query(sql).bind(user_id).bind(now).bind(id).execute(pool).await)?;
        Ok(())
    }

    /// Ends an interaction; true if this call ended it (so a double submit acts once).
    pub async fn delete_interaction(&self, id: &str) -> Result<bool> {
        let done =
            execute!(self, |pool| sqlx::query("DELETE FROM interactions WHERE id = $1").bind(id).execute(pool).await)?;
        Ok(done == 1)
    }

    /// The scopes the user has approved for the app, if any.
    pub async fn find_consent(&self, user_id: &str, client_id: &str) -> Result<Option<ScopeSet>> {
        let sql = "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2";
        let scope: Option<String> =
            on_pool!(self, |pool| sqlx::query_scalar(sql).bind(user_id).bind(client_id).fetch_optional(pool).await)?;
        scope.map(|s| ScopeSet::parse(&s).map_err(|e| StoreError::Corrupt(format!("consent scope: {e}")))).transpose()
    }

    /// A person's consent to an app as the authorization endpoint needs it, in one query: the
    /// scopes, when it was last used, and whether session `sid` already signed in to the app
    /// (so a repeat sign-in writes nothing it does not have to).
    pub async fn find_consent_state(&self, user_id: &str, client_id: &str, sid: &str) -> Result<Option<ConsentState>> {
        let sql = "SELECT c.scope, c.last_used_at, EXISTS (SELECT 1 FROM session_clients s \
                   WHERE s.sid = $1 AND s.client_id = $2) AS session_recorded \
                   FROM consents c WHERE c.client_id = $2 AND c.user_id = $3";
        let row: Option<(String, Option<i64>, bool)> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(sid)
            .bind(client_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await)?;
        row.map(|(scope, last_used_at, session_recorded)| {
            let scopes = ScopeSet::parse(&scope).map_err(|e| StoreError::Corrupt(format!("consent scope: {e}")))?;
            Ok(ConsentState { scopes, last_used_at, session_recorded })
        })
        .transpose()
    }

    /// Remembers approval of `scopes`, adding to what was approved before.
    pub async fn grant_consent(&self, user_id: &str, client_id: &str, scopes: &ScopeSet, now: i64) -> Result<()> {
        let merged = match self.find_consent(user_id, client_id).await? {
            Some(existing) => existing.union(scopes),
            None => scopes.clone(),
        };
        let sql = "INSERT INTO consents (user_id, client_id, scope, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
                   ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at";
        execute!(self, |pool| {
            sqlx::query(sql).bind(user_id).bind(client_id).bind(merged.to_string()).bind(now).execute(pool).await
        })?;
        Ok(())
    }
}

impl Store {
    /// Binds an interaction to the signed-in person who will answer its consent page.
    pub async fn mark_interaction_user(&self, id: &str, user_id: &str) -> Result<()> {
        execute!(self, |pool| {
            sqlx::query("UPDATE interactions SET user_id = $1 WHERE id = $2").bind(user_id).bind(id).execute(pool).await
        })?;
        Ok(())
    }
}

/// A session and its user, read in one query (every page and authorization request needs both).
#[derive(sqlx::FromRow)]
struct SessionUserRow {
    #[sqlx(flatten)]
    user: crate::users::UserRow,
    session_id_hash: String,
    session_sid: Option<String>,
    session_auth_time: i64,
    session_created_at: i64,
    session_expires_at: i64,
    session_last_seen_at: Option<i64>,
}

impl Store {
    /// A live session with its (enabled) user.
    pub async fn find_session_user(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<(Session, doorway_core::model::User)>> {
        Ok(self.find_session_user_seen(id_hash, now).await?.map(|(session, user, _)| (session, user)))
    }

    /// A live session with its (enabled) user, and when the session was last seen (see
    /// [`Store::touch_session`]), in one query.
    pub async fn find_session_user_seen(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<(Session, doorway_core::model::User, Option<i64>)>> {
        let sql = "SELECT u.id, u.sub, u.username, u.email, u.email_verified, u.name, u.avatar_url, u.website, \
                   u.is_admin, u.is_pro, u.can_pay, u.disabled, u.created_at, \
                   s.id_hash AS session_id_hash, s.sid AS session_sid, s.auth_time AS session_auth_time, \
                   s.created_at AS session_created_at, s.expires_at AS session_expires_at, \
                   s.last_seen_at AS session_last_seen_at \
                   FROM sessions s JOIN users u ON u.id = s.user_id \
                   WHERE s.id_hash = $1 AND s.expires_at > $2 AND NOT u.disabled";
        if let crate::Pool::Sqlite { inline, .. } = &self.pool
            && let Some(found) = inline.read(|conn| {
                let mut statement = conn.prepare_cached(sql)?;
                statement
                    .query_row(rusqlite::params![id_hash, now], |row| {
                        let user = crate::users::user_at(row, 0)?;
                        let session = Session::from(SessionRow {
                            id_hash: row.get(13)?,
                            sid: row.get(14)?,
                            user_id: user.id.clone(),
                            auth_time: row.get(15)?,
                            created_at: row.get(16)?,
                            expires_at: row.get(17)?,
                        });
                        Ok((session, user, row.get(18)?))
                    })
                    .optional()
            })
        {
            return found;
        }
        let row: Option<SessionUserRow> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(id_hash).bind(now).fetch_optional(pool).await)?;
        Ok(row.map(|r| {
            let last_seen_at = r.session_last_seen_at;
            let user = doorway_core::model::User::from(r.user);
            let session = Session::from(SessionRow {
                id_hash: r.session_id_hash,
                sid: r.session_sid,
                user_id: user.id.clone(),
                auth_time: r.session_auth_time,
                created_at: r.session_created_at,
                expires_at: r.session_expires_at,
            });
            (session, user, last_seen_at)
        }))
    }
}
