//! Connected apps: the consents a person gave, read back with the app they were given to, and
//! their revocation. Revoking removes the consent (the next sign-in asks again) and revokes every
//! token and pending grant of that person for that app.

use doorway_core::types::ScopeSet;

use crate::{Result, Store, StoreError, execute, on_pool, on_writer};

/// One app a person granted access to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedApp {
    pub client_id: String,
    pub name: String,
    pub logo_uri: Option<String>,
    pub homepage_url: Option<String>,
    /// Every scope the person approved for the app (the union of their consents).
    pub scope: ScopeSet,
    /// When the person first approved the app.
    pub granted_at: i64,
    /// When the approved scopes last changed.
    pub updated_at: i64,
    /// The last sign-in or token issued to the app for this person, if known.
    pub last_used_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ConnectedRow {
    client_id: String,
    name: String,
    logo_uri: Option<String>,
    homepage_url: Option<String>,
    scope: String,
    created_at: i64,
    updated_at: i64,
    last_used_at: Option<i64>,
    last_token_at: Option<i64>,
}

impl TryFrom<ConnectedRow> for ConnectedApp {
    type Error = StoreError;
    fn try_from(r: ConnectedRow) -> Result<Self> {
        Ok(ConnectedApp {
            scope: ScopeSet::parse(&r.scope).map_err(|e| StoreError::Corrupt(format!("consent scope: {e}")))?,
            client_id: r.client_id,
            name: r.name,
            logo_uri: r.logo_uri,
            homepage_url: r.homepage_url,
            granted_at: r.created_at,
            updated_at: r.updated_at,
            // A refresh (or a device-flow token) is use too: the newest access token counts.
            last_used_at: r.last_used_at.max(r.last_token_at),
        })
    }
}

/// What revoking an app removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevokedGrant {
    /// Whether there was a consent to remove.
    pub consent: bool,
    /// Access and refresh tokens revoked.
    pub tokens: u64,
    /// The sessions that had signed in to the app (for back-channel logout); forgotten here.
    pub sids: Vec<String>,
}

impl RevokedGrant {
    /// Whether the person had anything with the app at all.
    pub fn found(&self) -> bool {
        self.consent || self.tokens > 0 || !self.sids.is_empty()
    }
}

const SELECT: &str = "SELECT c.client_id, cl.name, cl.logo_uri, cl.homepage_url, c.scope, c.created_at, \
     c.updated_at, c.last_used_at, \
     (SELECT MAX(a.created_at) FROM access_tokens a WHERE a.user_id = c.user_id AND a.client_id = c.client_id) \
     AS last_token_at \
     FROM consents c JOIN clients cl ON cl.client_id = c.client_id";

impl Store {
    /// The apps a person approved, most recently used first.
    pub async fn list_connected_apps(&self, user_id: &str) -> Result<Vec<ConnectedApp>> {
        let sql = format!(
            "{SELECT} WHERE c.user_id = $1 ORDER BY COALESCE(c.last_used_at, c.updated_at) DESC, cl.name, c.client_id"
        );
        let rows: Vec<ConnectedRow> =
            on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_all(pool).await)?;
        rows.into_iter().map(ConnectedApp::try_from).collect()
    }

    /// One app a person approved.
    pub async fn find_connected_app(&self, user_id: &str, client_id: &str) -> Result<Option<ConnectedApp>> {
        let sql = format!("{SELECT} WHERE c.user_id = $1 AND c.client_id = $2");
        let row: Option<ConnectedRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id).bind(client_id).fetch_optional(pool).await
        })?;
        row.map(ConnectedApp::try_from).transpose()
    }

    /// Records that the person signed in to the app (a code was issued).
    pub async fn touch_consent(&self, user_id: &str, client_id: &str, now: i64) -> Result<()> {
        let sql = "UPDATE consents SET last_used_at = $1 WHERE user_id = $2 AND client_id = $3";
        execute!(self, |pool| sqlx::query(sql).bind(now).bind(user_id).bind(client_id).execute(pool).await)?;
        Ok(())
    }

    /// Revokes everything a person gave an app: the consent first (so no new sign-in skips the
    /// consent page), then every token and pending grant, then the record of which sessions
    /// signed in to it (returned, so the app can be told by back-channel logout).
    pub async fn revoke_connected_app(&self, user_id: &str, client_id: &str, now: i64) -> Result<RevokedGrant> {
        let deleted = execute!(self, |pool| {
            sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
                .bind(user_id)
                .bind(client_id)
                .execute(pool)
                .await
        })?;
        let tokens = self.revoke_user_tokens(user_id, Some(client_id), now).await?;
        let sids: Vec<String> = on_writer!(self, |pool| {
            sqlx::query_scalar("DELETE FROM session_clients WHERE user_id = $1 AND client_id = $2 RETURNING sid")
                .bind(user_id)
                .bind(client_id)
                .fetch_all(pool)
                .await
        })?;
        Ok(RevokedGrant { consent: deleted > 0, tokens, sids })
    }
}
