//! The records Doorway reasons about: users, apps (clients), codes, tokens. The store reads
//! and writes them; the protocol code only reads them.

use serde::Serialize;

use crate::types::{RedirectPolicy, RedirectUri, ScopeSet};

/// A person with an account.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// Internal row id (UUID).
    pub id: String,
    /// The stable subject identifier sent to apps: 24 hex characters, never the username.
    pub sub: String,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    pub website: Option<String>,
    pub is_admin: bool,
    pub is_pro: bool,
    pub can_pay: bool,
    pub disabled: bool,
    pub created_at: i64,
}

impl User {
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.username)
    }
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    /// Holds a secret (`client_secret_basic` or `client_secret_post`).
    Confidential,
    /// Cannot keep a secret (browser or native app): PKCE is mandatory.
    Public,
}

/// A registered OAuth app.
#[derive(Debug, Clone, Serialize)]
pub struct Client {
    pub client_id: String,
    #[serde(skip)]
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
    pub created_at: i64,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.kind == ClientKind::Public
    }

    /// PKCE is mandatory for public apps, and for confidential apps that opted in.
    pub fn pkce_required(&self) -> bool {
        self.is_public() || self.require_pkce
    }
}

/// An authorization code as stored: bound to client, user, redirect URI and PKCE challenge.
#[derive(Debug, Clone)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub redirect_uri_sent: bool,
    pub scope: ScopeSet,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An opaque access token as stored (the token itself is never stored).
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token_hash: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub scope: ScopeSet,
    /// The code this token was issued from: a replayed code revokes everything issued from it.
    pub code_hash: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
}

/// A server-side browser session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub user_id: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
}
