//! The self-service app registry: what the developer console and hosted-app provisioning need
//! beyond `clients.rs` — apps listed and changed by their owner only, secret rotation with an
//! optional grace period, and the settings only they set (description, policies, first-party,
//! token lifetime, authorized organization). A method that changes a `clients` row must make the
//! client cache forget it.

use doorway_core::model::Client;
use doorway_core::oauth::access_token::AccessTokenFormat;

use crate::clients::{CLIENT_COLUMNS, ClientRow, kind_str, uris_json};
use crate::{NewClient, Result, Store, StoreError, execute, on_pool};

/// The settings of an app that [`NewClient`] does not carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppProfile {
    pub description: Option<String>,
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    /// Skips consent. The caller must have checked that an operator asked for it.
    pub first_party: bool,
    /// Seconds; `None` = the server's default.
    pub access_token_ttl: Option<i64>,
    pub authorized_org: Option<String>,
    /// Opaque (default) or JWT access tokens.
    pub access_token_format: AccessTokenFormat,
}

impl From<&Client> for AppProfile {
    fn from(c: &Client) -> Self {
        AppProfile {
            description: c.description.clone(),
            policy_uri: c.policy_uri.clone(),
            tos_uri: c.tos_uri.clone(),
            first_party: c.first_party,
            access_token_ttl: c.access_token_ttl,
            authorized_org: c.authorized_org.clone(),
            access_token_format: c.access_token_format,
        }
    }
}

impl Store {
    /// Registers an app and its profile in one statement.
    pub async fn create_app(&self, client: NewClient, profile: &AppProfile, now: i64) -> Result<Client> {
        let uris = uris_json(&client.redirect_uris)?;
        let logout_uris = uris_json(&client.post_logout_redirect_uris)?;
        let sql = "INSERT INTO clients (client_id, secret_hash, kind, name, homepage_url, logo_uri, redirect_uris, \
                   redirect_policy, scopes, require_pkce, id_token_alg, owner_id, created_at, grant_types, \
                   post_logout_redirect_uris, backchannel_logout_uri, description, policy_uri, tos_uri, first_party, \
                   access_token_ttl, authorized_org, access_token_format) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
                   $21, $22, $23)";
        execute!(self, |pool| {
            sqlx::query(sql)
                .bind(&client.client_id)
                .bind(&client.secret_hash)
                .bind(kind_str(client.kind))
                .bind(&client.name)
                .bind(&client.homepage_url)
                .bind(&client.logo_uri)
                .bind(&uris)
                .bind(client.redirect_policy.as_str())
                .bind(client.scopes.to_string())
                .bind(client.require_pkce)
                .bind(&client.id_token_alg)
                .bind(&client.owner_id)
                .bind(now)
                .bind(client.grant_types.to_string())
                .bind(&logout_uris)
                .bind(&client.backchannel_logout_uri)
                .bind(&profile.description)
                .bind(&profile.policy_uri)
                .bind(&profile.tos_uri)
                .bind(profile.first_party)
                .bind(profile.access_token_ttl)
                .bind(&profile.authorized_org)
                .bind(profile.access_token_format.as_str())
                .execute(pool)
                .await
        })?;
        self.find_client(&client.client_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("client vanished after insert".into()))
    }

    /// The apps `owner_id` registered, oldest first.
    pub async fn list_apps_of(&self, owner_id: &str) -> Result<Vec<Client>> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE owner_id = $1 ORDER BY created_at, client_id");
        let rows: Vec<ClientRow> =
            on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(owner_id).fetch_all(pool).await)?;
        rows.into_iter().map(Client::try_from).collect()
    }

    /// One app, if `owner_id` registered it: anyone else's app is as absent as a missing one.
    pub async fn find_app_of(&self, client_id: &str, owner_id: &str) -> Result<Option<Client>> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1 AND owner_id = $2");
        let row: Option<ClientRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(client_id).bind(owner_id).fetch_optional(pool).await
        })?;
        row.map(Client::try_from).transpose()
    }

    /// Writes an app's settings and profile (everything but its id, kind, owner and secrets)
    /// if `owner_id` registered it (`None`: whoever did, for operators). False when no such app.
    pub async fn update_app(&self, owner_id: Option<&str>, client: &NewClient, profile: &AppProfile) -> Result<bool> {
        let uris = uris_json(&client.redirect_uris)?;
        let logout_uris = uris_json(&client.post_logout_redirect_uris)?;
        let mut sql = String::from(
            "UPDATE clients SET name = $1, homepage_url = $2, logo_uri = $3, redirect_uris = $4, \
             redirect_policy = $5, scopes = $6, require_pkce = $7, id_token_alg = $8, grant_types = $9, \
             post_logout_redirect_uris = $10, backchannel_logout_uri = $11, description = $12, policy_uri = $13, \
             tos_uri = $14, first_party = $15, access_token_ttl = $16, authorized_org = $17, \
             access_token_format = $18 WHERE client_id = $19",
        );
        if owner_id.is_some() {
            sql.push_str(" AND owner_id = $20");
        }
        let done = execute!(self, |pool| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&client.name)
                .bind(&client.homepage_url)
                .bind(&client.logo_uri)
                .bind(&uris)
                .bind(client.redirect_policy.as_str())
                .bind(client.scopes.to_string())
                .bind(client.require_pkce)
                .bind(&client.id_token_alg)
                .bind(client.grant_types.to_string())
                .bind(&logout_uris)
                .bind(&client.backchannel_logout_uri)
                .bind(&profile.description)
                .bind(&profile.policy_uri)
                .bind(&profile.tos_uri)
                .bind(profile.first_party)
                .bind(profile.access_token_ttl)
                .bind(&profile.authorized_org)
                .bind(profile.access_token_format.as_str())
                .bind(&client.client_id);
            if let Some(owner) = owner_id {
                query = query.bind(owner);
            }
            query.execute(pool).await
        })?;
        self.forget_client(&client.client_id);
        Ok(done == 1)
    }

    /// Gives an app a new secret (its hash). With `grace_until`, the replaced secret keeps
    /// working until then; without, it stops at once (and so does any earlier one in grace).
    pub async fn rotate_client_secret(
        &self,
        client_id: &str,
        secret_hash: &str,
        grace_until: Option<i64>,
    ) -> Result<bool> {
        // Every right-hand side reads the row as it was: previous_secret_hash gets the old secret.
        let sql = match grace_until {
            Some(_) => {
                "UPDATE clients SET previous_secret_hash = secret_hash, previous_secret_expires_at = $1, \
                 secret_hash = $2 WHERE client_id = $3 AND secret_hash IS NOT NULL"
            }
            None => {
                "UPDATE clients SET previous_secret_hash = NULL, previous_secret_expires_at = $1, secret_hash = $2 \
                 WHERE client_id = $3 AND secret_hash IS NOT NULL"
            }
        };
        let done = execute!(self, |pool| {
            sqlx::query(sql).bind(grace_until).bind(secret_hash).bind(client_id).execute(pool).await
        })?;
        self.forget_client(client_id);
        Ok(done == 1)
    }

    /// Deletes an app `owner_id` registered (with, by cascade, its codes, tokens and consents).
    pub async fn delete_app_of(&self, client_id: &str, owner_id: &str) -> Result<bool> {
        let done = execute!(self, |pool| {
            sqlx::query("DELETE FROM clients WHERE client_id = $1 AND owner_id = $2")
                .bind(client_id)
                .bind(owner_id)
                .execute(pool)
                .await
        })?;
        self.forget_client(client_id);
        Ok(done == 1)
    }
}
