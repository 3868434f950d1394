//! A person's browser sessions as they see them on the account pages: which device, from where,
//! when last seen, and ending any of them. Sessions are named by their public id (`sid`), never
//! by the hash that keys them.

use doorway_core::model::Session;

use crate::{Result, Store, execute, on_pool, on_writer};

/// How often a session's `last_seen_at`, device and address are rewritten: at most once a
/// minute, so that browsing does not cost a write per request.
pub const SESSION_TOUCH_INTERVAL: i64 = 60;

/// A live session, as listed to its owner.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionInfo {
    pub sid: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    pub expires_at: i64,
}

/// Sessions made before `sid` existed are named by their hash prefix, as in `sessions.rs`.
const SID: &str = "COALESCE(sid, substr(id_hash, 1, 24))";

#[derive(sqlx::FromRow)]
struct SessionRow {
    id_hash: String,
    sid: String,
    user_id: String,
    auth_time: i64,
    created_at: i64,
    expires_at: i64,
}

impl Store {
    /// The live sessions of a person, most recently seen first.
    pub async fn list_user_sessions(&self, user_id: &str, now: i64) -> Result<Vec<SessionInfo>> {
        let sql = format!(
            "SELECT {SID} AS sid, user_agent, ip, auth_time, created_at, last_seen_at, expires_at FROM sessions \
             WHERE user_id = $1 AND expires_at > $2 ORDER BY COALESCE(last_seen_at, created_at) DESC, created_at DESC"
        );
        Ok(on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(now)
            .fetch_all(pool)
            .await)?)
    }

    /// Records the device and address of a session's latest request. The caller only calls
    /// this when the stored `last_seen_at` is older than [`SESSION_TOUCH_INTERVAL`]; the
    /// condition here keeps concurrent requests from writing twice.
    pub async fn touch_session(
        &self,
        id_hash: &str,
        user_agent: Option<&str>,
        ip: Option<&str>,
        now: i64,
    ) -> Result<()> {
        let sql = "UPDATE sessions SET user_agent = $1, ip = $2, last_seen_at = $3 \
                   WHERE id_hash = $4 AND (last_seen_at IS NULL OR last_seen_at <= $5)";
        execute!(self, |pool| {
            sqlx::query(sql)
                .bind(user_agent)
                .bind(ip)
                .bind(now)
                .bind(id_hash)
                .bind(now - SESSION_TOUCH_INTERVAL)
                .execute(pool)
                .await
        })?;
        Ok(())
    }

    /// A live session of this person, by its public id (to end it).
    pub async fn find_user_session(&self, user_id: &str, sid: &str, now: i64) -> Result<Option<Session>> {
        let sql = format!(
            "SELECT id_hash, {SID} AS sid, user_id, auth_time, created_at, expires_at FROM sessions \
             WHERE user_id = $1 AND {SID} = $2 AND expires_at > $3"
        );
        let row: Option<SessionRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id).bind(sid).bind(now).fetch_optional(pool).await
        })?;
        Ok(row.map(|r| Session {
            id_hash: r.id_hash,
            sid: r.sid,
            user_id: r.user_id,
            auth_time: r.auth_time,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }))
    }

    /// Ends every session of a person but `keep_id_hash` (sign out everywhere else); returns
    /// the public ids of the sessions ended, for back-channel logout.
    pub async fn delete_other_sessions(&self, user_id: &str, keep_id_hash: &str) -> Result<Vec<String>> {
        let sql = format!("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2 RETURNING {SID}");
        Ok(on_writer!(self, |pool| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(user_id).bind(keep_id_hash).fetch_all(pool).await
        })?)
    }
}
