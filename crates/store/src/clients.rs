//! Registered OAuth apps.

use doorway_core::model::{Client, ClientKind};
use doorway_core::types::{RedirectPolicy, RedirectUri, ScopeSet};

use crate::{Result, Store, StoreError, execute, on_pool};

const CLIENT_COLUMNS: &str = "client_id, secret_hash, kind, name, homepage_url, logo_uri, redirect_uris, \
     redirect_policy, scopes, require_pkce, id_token_alg, owner_id, created_at";

#[derive(sqlx::FromRow)]
struct ClientRow {
    client_id: String,
    secret_hash: Option<String>,
    kind: String,
    name: String,
    homepage_url: Option<String>,
    logo_uri: Option<String>,
    redirect_uris: String,
    redirect_policy: String,
    scopes: String,
    require_pkce: bool,
    id_token_alg: String,
    owner_id: Option<String>,
    created_at: i64,
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;
    fn try_from(r: ClientRow) -> Result<Self> {
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("client {}: invalid {what}", r.client_id));
        let uris: Vec<String> =
            serde_json::from_str(&r.redirect_uris).map_err(|_| corrupt("redirect_uris"))?;
        let redirect_uris = uris
            .iter()
            .map(|u| RedirectUri::parse(u))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| corrupt("redirect_uris"))?;
        Ok(Client {
            kind: match r.kind.as_str() {
                "public" => ClientKind::Public,
                "confidential" => ClientKind::Confidential,
                _ => return Err(corrupt("kind")),
            },
            redirect_policy: RedirectPolicy::parse(&r.redirect_policy)
                .ok_or_else(|| corrupt("redirect_policy"))?,
            scopes: ScopeSet::parse(&r.scopes).map_err(|_| corrupt("scopes"))?,
            redirect_uris,
            client_id: r.client_id,
            secret_hash: r.secret_hash,
            name: r.name,
            homepage_url: r.homepage_url,
            logo_uri: r.logo_uri,
            require_pkce: r.require_pkce,
            id_token_alg: r.id_token_alg,
            owner_id: r.owner_id,
            created_at: r.created_at,
        })
    }
}

/// A new app; the secret arrives hashed.
#[derive(Debug)]
pub struct NewClient {
    pub client_id: String,
    pub secret_hash: Option<String>,
    pub kind: ClientKind,
    pub name: String,
    pub homepage_url: Option<String>,
    pub logo_uri: Option<String>,
    pub redirect_uris: Vec<RedirectUri>,
    pub redirect_policy: RedirectPolicy,
    pub scopes: ScopeSet,
    pub require_pkce: bool,
    pub id_token_alg: String,
    pub owner_id: Option<String>,
}

fn kind_str(kind: ClientKind) -> &'static str {
    match kind {
        ClientKind::Public => "public",
        ClientKind::Confidential => "confidential",
    }
}

impl Store {
    pub async fn create_client(&self, client: NewClient, now: i64) -> Result<Client> {
        let uris: Vec<&str> = client
            .redirect_uris
            .iter()
            .map(RedirectUri::as_str)
            .collect();
        let uris = serde_json::to_string(&uris).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sql = "INSERT INTO clients (client_id, secret_hash, kind, name, homepage_url, logo_uri, redirect_uris, \
                   redirect_policy, scopes, require_pkce, id_token_alg, owner_id, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
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
                .execute(pool)
                .await
        })?;
        self.find_client(&client.client_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("client vanished after insert".into()))
    }

    pub async fn find_client(&self, client_id: &str) -> Result<Option<Client>> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1");
        let row: Option<ClientRow> =
            on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(client_id)
                .fetch_optional(pool)
                .await)?;
        row.map(Client::try_from).transpose()
    }

    pub async fn list_clients(&self) -> Result<Vec<Client>> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients ORDER BY created_at, client_id");
        let rows: Vec<ClientRow> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(Client::try_from).collect()
    }

    /// Deletes an app and, by cascade, its codes, tokens and consents.
    pub async fn delete_client(&self, client_id: &str) -> Result<bool> {
        let done = execute!(self, |pool| {
            sqlx::query("DELETE FROM clients WHERE client_id = $1")
                .bind(client_id)
                .execute(pool)
                .await
        })?;
        Ok(done == 1)
    }

    /// Replaces the secret hash: the old secret stops working at once.
    pub async fn set_client_secret(&self, client_id: &str, secret_hash: &str) -> Result<bool> {
        let done = execute!(self, |pool| {
            sqlx::query("UPDATE clients SET secret_hash = $1 WHERE client_id = $2")
                .bind(secret_hash)
                .bind(client_id)
                .execute(pool)
                .await
        })?;
        Ok(done == 1)
    }
}
