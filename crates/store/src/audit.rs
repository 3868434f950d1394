//! The security log: append, list newest first, purge past the retention. What is recorded
//! (and that no secret ever is) is the server's business; this module stores what it is given.

use crate::{Result, Store, execute, on_pool};

/// One security event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Sorts by time (the caller makes it so): pages are ranges of ids.
    pub id: String,
    pub at: i64,
    /// `sign_in.succeeded`, `password.changed`, `admin.write`, …
    pub kind: String,
    /// The account the event concerns: it appears in that person's security log.
    pub user_id: Option<String>,
    /// Who acted: a person …
    pub actor_user_id: Option<String>,
    /// … or an admin API token (by id, never the token).
    pub actor_token_id: Option<String>,
    /// The app concerned, if any.
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// A small JSON object of particulars.
    pub detail: serde_json::Value,
}

/// Which entries to list: all filters are optional; `before` is the id of the last entry of
/// the previous page (ids sort by time).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery<'a> {
    pub user_id: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub before: Option<&'a str>,
    pub limit: i64,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: String,
    at: i64,
    kind: String,
    user_id: Option<String>,
    actor_user_id: Option<String>,
    actor_token_id: Option<String>,
    client_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        Self {
            // A detail that does not parse is shown as its text rather than lost.
            detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::String(r.detail)),
            id: r.id,
            at: r.at,
            kind: r.kind,
            user_id: r.user_id,
            actor_user_id: r.actor_user_id,
            actor_token_id: r.actor_token_id,
            client_id: r.client_id,
            ip: r.ip,
            user_agent: r.user_agent,
        }
    }
}

const COLUMNS: &str = "id, at, kind, user_id, actor_user_id, actor_token_id, client_id, ip, user_agent, detail";

impl Store {
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<()> {
        let sql = format!("INSERT INTO audit_events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
        execute!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&entry.id)
                .bind(entry.at)
                .bind(&entry.kind)
                .bind(&entry.user_id)
                .bind(&entry.actor_user_id)
                .bind(&entry.actor_token_id)
                .bind(&entry.client_id)
                .bind(&entry.ip)
                .bind(&entry.user_agent)
                .bind(entry.detail.to_string())
                .execute(pool)
                .await
        })?;
        Ok(())
    }

    /// Entries matching `query`, newest first, at most `query.limit`.
    pub async fn list_audit(&self, query: &AuditQuery<'_>) -> Result<Vec<AuditEntry>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_events \
             WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR kind = $2) \
             AND ($3 IS NULL OR id < $3) \
             ORDER BY id DESC LIMIT $4"
        );
        let rows: Vec<AuditRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(query.user_id)
                .bind(query.kind)
                .bind(query.before)
                .bind(query.limit.max(1))
                .fetch_all(pool)
                .await
        })?;
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }
}
