//! Registered OAuth apps.

use doorway_core::model::{Client, ClientKind};
use doorway_core::oauth::access_token::AccessTokenFormat;
use doorway_core::oauth::grant::GrantTypes;
use doorway_core::types::{RedirectPolicy, RedirectUri, ScopeSet};

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::{Result, Store, StoreError, execute, on_pool};

/// How long a cached app may be served: bounds how stale another process's change can be.
pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(1);
/// Entries kept at most; past it, the cache starts over (only registered apps get in).
const CLIENT_CACHE_MAX: usize = 4096;

/// Recently read apps. A read that started before a local change (`generation` moved on) is
/// not cached, so a change made here is never hidden by a read racing with it.
#[derive(Debug, Default)]
pub(crate) struct ClientCache {
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    entries: HashMap<String, (Instant, Client)>,
    generation: u64,
}

impl ClientCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, client_id: &str) -> Option<Client> {
        let inner = self.lock();
        let (at, client) = inner.entries.get(client_id)?;
        (at.elapsed() < CLIENT_CACHE_TTL).then(|| client.clone())
    }

    fn generation(&self) -> u64 {
        self.lock().generation
    }

    fn put(&self, client: &Client, generation: u64) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= CLIENT_CACHE_MAX {
            inner.entries.clear();
        }
        inner.entries.insert(client.client_id.clone(), (Instant::now(), client.clone()));
    }

    fn forget(&self, client_id: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.remove(client_id);
    }
}

pub(crate) const CLIENT_COLUMNS: &str = "client_id, secret_hash, kind, name, homepage_url, logo_uri, redirect_uris, \
     redirect_policy, scopes, require_pkce, id_token_alg, owner_id, created_at, grant_types, \
     post_logout_redirect_uris, backchannel_logout_uri, description, policy_uri, tos_uri, first_party, \
     previous_secret_hash, previous_secret_expires_at, access_token_ttl, authorized_org, access_token_format";

#[derive(sqlx::FromRow)]
pub(crate) struct ClientRow {
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
    grant_types: String,
    post_logout_redirect_uris: String,
    backchannel_logout_uri: Option<String>,
    description: Option<String>,
    policy_uri: Option<String>,
    tos_uri: Option<String>,
    first_party: bool,
    previous_secret_hash: Option<String>,
    previous_secret_expires_at: Option<i64>,
    access_token_ttl: Option<i64>,
    authorized_org: Option<String>,
    access_token_format: String,
}

fn parse_uris(json: &str) -> Option<Vec<RedirectUri>> {
    let uris: Vec<String> = serde_json::from_str(json).ok()?;
    uris.iter().map(|u| RedirectUri::parse(u).ok()).collect()
}

pub(crate) fn uris_json(uris: &[RedirectUri]) -> Result<String> {
    let uris: Vec<&str> = uris.iter().map(RedirectUri::as_str).collect();
    serde_json::to_string(&uris).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;
    fn try_from(r: ClientRow) -> Result<Self> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("client {}: invalid {what}", r.client_id));
        Ok(Client {
            kind: match r.kind.as_str() {
                "public" => ClientKind::Public,
                "confidential" => ClientKind::Confidential,
                _ => return Err(corrupt("kind")),
            },
            redirect_policy: RedirectPolicy::parse(&r.redirect_policy).ok_or_else(|| corrupt("redirect_policy"))?,
            scopes: ScopeSet::parse(&r.scopes).map_err(|_| corrupt("scopes"))?,
            redirect_uris: parse_uris(&r.redirect_uris).ok_or_else(|| corrupt("redirect_uris"))?,
            post_logout_redirect_uris: parse_uris(&r.post_logout_redirect_uris)
                .ok_or_else(|| corrupt("post_logout_redirect_uris"))?,
            grant_types: GrantTypes::parse(&r.grant_types).map_err(|_| corrupt("grant_types"))?,
            access_token_format: AccessTokenFormat::parse(&r.access_token_format)
                .ok_or_else(|| corrupt("access_token_format"))?,
            client_id: r.client_id,
            secret_hash: r.secret_hash,
            name: r.name,
            homepage_url: r.homepage_url,
            logo_uri: r.logo_uri,
            require_pkce: r.require_pkce,
            id_token_alg: r.id_token_alg,
            owner_id: r.owner_id,
            created_at: r.created_at,
            backchannel_logout_uri: r.backchannel_logout_uri,
            description: r.description,
            policy_uri: r.policy_uri,
            tos_uri: r.tos_uri,
            first_party: r.first_party,
            previous_secret_hash: r.previous_secret_hash,
            previous_secret_expires_at: r.previous_secret_expires_at,
            access_token_ttl: r.access_token_ttl,
            authorized_org: r.authorized_org,
        })
    }
}

/// A new app, or the new settings of one; the secret arrives hashed.
#[derive(Debug, Clone)]
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
    pub grant_types: GrantTypes,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub backchannel_logout_uri: Option<String>,
}

impl From<&Client> for NewClient {
    /// The settings of an existing app, to change some and write them back.
    fn from(c: &Client) -> Self {
        NewClient {
            client_id: c.client_id.clone(),
            secret_hash: c.secret_hash.clone(),
            kind: c.kind,
            name: c.name.clone(),
            homepage_url: c.homepage_url.clone(),
            logo_uri: c.logo_uri.clone(),
            redirect_uris: c.redirect_uris.clone(),
            redirect_policy: c.redirect_policy,
            scopes: c.scopes.clone(),
            require_pkce: c.require_pkce,
            id_token_alg: c.id_token_alg.clone(),
            owner_id: c.owner_id.clone(),
            grant_types: c.grant_types.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: c.backchannel_logout_uri.clone(),
        }
    }
}

pub(crate) fn kind_str(kind: ClientKind) -> &'static str {
    match kind {
        ClientKind::Public => "public",
        ClientKind::Confidential => "confidential",
    }
}

impl Store {
    /// Registers an app with the default profile (see [`Store::create_app`]).
    pub async fn create_client(&self, client: NewClient, now: i64) -> Result<Client> {
        self.create_app(client, &crate::AppProfile::default(), now).await
    }

    /// Writes an app's settings (everything but its id, kind, owner and secret).
    pub async fn update_client(&self, client: &NewClient) -> Result<bool> {
        let uris = uris_json(&client.redirect_uris)?;
        let logout_uris = uris_json(&client.post_logout_redirect_uris)?;
        let sql = "UPDATE clients SET name = $1, homepage_url = $2, logo_uri = $3, redirect_uris = $4, \
                   redirect_policy = $5, scopes = $6, require_pkce = $7, id_token_alg = $8, grant_types = $9, \
                   post_logout_redirect_uris = $10, backchannel_logout_uri = $11 WHERE client_id = $12";
        let done = execute!(self, |pool| {
            sqlx::query(sql)
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
                .bind(&client.client_id)
                .execute(pool)
                .await
        })?;
        self.forget_client(&client.client_id);
        Ok(done == 1)
    }

    /// An app by id. Served from a per-process cache for up to [`CLIENT_CACHE_TTL`]: the token,
    /// introspection and authorization endpoints read the app on every call. Changes made
    /// through this store are seen at once; changes made by another process (another node, the
    /// CLI) within the TTL.
    pub async fn find_client(&self, client_id: &str) -> Result<Option<Client>> {
        if let Some(client) = self.clients.get(client_id) {
            return Ok(Some(client));
        }
        let generation = self.clients.generation();
        let client = self.find_client_uncached(client_id).await?;
        if let Some(client) = &client {
            self.clients.put(client, generation);
        }
        Ok(client)
    }

    /// Forgets a cached app: every store method that changes or deletes a `clients` row calls it.
    pub fn forget_client(&self, client_id: &str) {
        self.clients.forget(client_id);
    }

    async fn find_client_uncached(&self, client_id: &str) -> Result<Option<Client>> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1");
        let row: Option<ClientRow> =
            on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(client_id).fetch_optional(pool).await)?;
        row.map(Client::try_from).transpose()
    }

    pub async fn list_clients(&self) -> Result<Vec<Client>> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients ORDER BY created_at, client_id");
        let rows: Vec<ClientRow> =
            on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await)?;
        rows.into_iter().map(Client::try_from).collect()
    }

    /// Deletes an app and, by cascade, its codes, tokens and consents.
    pub async fn delete_client(&self, client_id: &str) -> Result<bool> {
        let done = execute!(self, |pool| {
            sqlx::query("DELETE FROM clients WHERE client_id = $1").bind(client_id).execute(pool).await
        })?;
        self.forget_client(client_id);
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
        self.forget_client(client_id);
        Ok(done == 1)
    }
}
