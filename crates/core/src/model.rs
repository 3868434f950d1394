//! The records Doorway reasons about: users, apps (clients), codes, tokens. The store reads
//! and writes them; the protocol code only reads them.

use serde::Serialize;

use crate::oauth::access_token::AccessTokenFormat;
use crate::oauth::grant::GrantTypes;
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
        self.name.as_deref().filter(|n| !n.is_empty()).unwrap_or(&self.username)
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
    /// The grants this app may use (RFC 7591 `grant_types`).
    pub grant_types: GrantTypes,
    /// Where RP-initiated logout may send the browser back to (exact match).
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// Where back-channel logout tokens are delivered.
    pub backchannel_logout_uri: Option<String>,
    /// What the app says about itself (console, consent page).
    pub description: Option<String>,
    /// Privacy policy and terms of service (RFC 7591 `policy_uri`, `tos_uri`).
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    /// Vouched for by an operator: no consent screen. Only operators can set it.
    pub first_party: bool,
    /// The secret replaced by the last rotation, still accepted until `previous_secret_expires_at`.
    #[serde(skip)]
    pub previous_secret_hash: Option<String>,
    #[serde(skip)]
    pub previous_secret_expires_at: Option<i64>,
    /// Lifetime of the access tokens issued to this app, when not the server's default.
    pub access_token_ttl: Option<i64>,
    /// Opaque (the default) or JWT access tokens (RFC 9068), signed with `id_token_alg`'s key.
    pub access_token_format: AccessTokenFormat,
    /// Only members of this organization (by name) may sign in; others get `access_denied`.
    pub authorized_org: Option<String>,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.kind == ClientKind::Public
    }

    /// PKCE is mandatory for public apps, and for confidential apps that opted in.
    pub fn pkce_required(&self) -> bool {
        self.is_public() || self.require_pkce
    }

    /// Lifetime of an access token issued to this app: its own, or `default`.
    pub fn access_token_ttl_or(&self, default: i64) -> i64 {
        self.access_token_ttl.filter(|ttl| *ttl > 0).unwrap_or(default)
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
    /// The public id of the browser session the code was issued in.
    pub sid: Option<String>,
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
    /// The grant this token belongs to (see [`RefreshToken::family_id`]).
    pub family_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
}

/// A server-side browser session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    /// The public session id, sent as `sid` in ID tokens and logout tokens.
    pub sid: String,
    pub user_id: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A refresh token as stored. Every token of one grant shares `family_id`; rotation marks the
/// old token `rotated_at` and stores its successor.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: ScopeSet,
    pub auth_time: i64,
    pub sid: Option<String>,
    pub created_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// The state of a device authorization (RFC 8628).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved,
    Denied,
    Consumed,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Consumed => "consumed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            "consumed" => Some(Self::Consumed),
            _ => None,
        }
    }
}

/// A device authorization as stored.
#[derive(Debug, Clone)]
pub struct DeviceCode {
    pub device_code_hash: String,
    pub user_code: String,
    pub client_id: String,
    pub scope: ScopeSet,
    pub status: DeviceStatus,
    pub user_id: Option<String>,
    pub auth_time: Option<i64>,
    pub sid: Option<String>,
    pub interval_secs: i64,
    pub last_polled_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An organization (issue #7). Apps see it in the `orgs` claim by `sub`, never by `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Org {
    /// Internal row id (UUID).
    pub id: String,
    /// The stable identifier apps see: 24 hex characters, like a user's.
    pub sub: String,
    pub name: String,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    /// Hugging Face's `isEnterprise`: set by operators only.
    pub is_enterprise: bool,
    pub created_at: i64,
}

impl Org {
    /// The name people read: the display name, or the name.
    pub fn title(&self) -> &str {
        self.display_name.as_deref().filter(|n| !n.is_empty()).unwrap_or(&self.name)
    }
}
