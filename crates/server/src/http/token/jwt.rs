//! Access tokens at the HTTP edge: opaque or JWT (RFC 9068) as the app chose, and recognising a
//! presented JWT at userinfo, introspection and revocation. Only JWTs Doorway signed, with a key
//! it publishes, are ever believed.
//!
//! A client_credentials JWT is self-contained and never stored: nothing can revoke it before it
//! expires. A JWT of a user's grant is stored like an opaque token, under a keyed handle of its
//! `jti`, so a replayed code, a reused refresh token, a revocation or a disabled user still ends
//! it at Doorway's own endpoints.

use doorway_core::OAuthError;
use doorway_core::jose::SigningAlg;
use doorway_core::model::Client;
use doorway_core::oauth::access_token::{self, AccessTokenClaims, AccessTokenFormat, AccessTokenInput, Rejected};
use doorway_core::secrets::{hash_secret, random_token};
use doorway_core::types::ScopeSet;

use crate::state::AppState;

/// A `jti`: 256 random bits. It is public (resource servers log it); the stored handle is not.
fn new_jti() -> String {
    random_token("")
}

/// Signs an access token for `client` with its ID token algorithm, `subject` being the user's
/// `sub` (`None`: the app itself, for client_credentials).
fn sign(
    state: &AppState,
    client: &Client,
    subject: Option<&str>,
    scope: &ScopeSet,
    jti: String,
    now: i64,
) -> Result<String, OAuthError> {
    let alg = SigningAlg::parse(&client.id_token_alg).unwrap_or(SigningAlg::Rs256);
    let key = state.keys.current().signer(alg).ok_or_else(OAuthError::server_error)?;
    let claims = access_token::claims(AccessTokenInput {
        issuer: &state.config.issuer,
        client_id: &client.client_id,
        subject,
        scope,
        jti,
        now,
        lifetime: client.access_token_ttl_or(state.config.access_token_ttl),
    });
    key.sign_with_typ(&claims, access_token::TYP).map_err(|err| {
        tracing::error!(error = %err, client_id = %client.client_id, "signing a JWT access token failed");
        OAuthError::server_error()
    })
}

/// A client_credentials JWT: self-contained, not stored.
pub fn client_token(state: &AppState, client: &Client, scope: &ScopeSet, now: i64) -> Result<String, OAuthError> {
    sign(state, client, None, scope, new_jti(), now)
}

/// The access token of a user's grant, between the redemption (which stores its hash) and the
/// response (which needs the user's `sub`, read with the redemption).
pub enum PendingAccessToken {
    Opaque(String),
    Jwt { jti: String, token_hash: String },
}

impl PendingAccessToken {
    pub fn new(state: &AppState, client: &Client) -> Self {
        match client.access_token_format {
            AccessTokenFormat::Opaque => Self::Opaque(random_token(&state.config.token_prefix)),
            AccessTokenFormat::Jwt => {
                let jti = new_jti();
                let token_hash = hash_secret(&state.access_token_handles.handle(&jti));
                Self::Jwt { jti, token_hash }
            }
        }
    }

    /// What the store keeps: the hash of the opaque token, or of the JWT's handle.
    pub fn token_hash(&self) -> String {
        match self {
            Self::Opaque(token) => hash_secret(token),
            Self::Jwt { token_hash, .. } => token_hash.clone(),
        }
    }

    /// The token to send, for the user whose `sub` is `sub`.
    pub fn into_token(
        self,
        state: &AppState,
        client: &Client,
        sub: &str,
        scope: &ScopeSet,
        now: i64,
    ) -> Result<String, OAuthError> {
        match self {
            Self::Opaque(token) => Ok(token),
            Self::Jwt { jti, .. } => sign(state, client, Some(sub), scope, jti, now),
        }
    }
}

/// A presented access token, looked at.
pub enum Presented {
    /// Not a JWT: looked up by its hash.
    Opaque,
    /// A valid JWT access token Doorway signed.
    Jwt(AccessTokenClaims),
    /// Shaped as a JWT, but not a valid one of Doorway's (forged, tampered, expired, another
    /// kind of JWT, another issuer's).
    Invalid,
}

/// Is `token` a JWT? Then it must verify: signature by a published key (next, active or
/// retired) whose algorithm the header names, `typ` at+jwt, `iss`, `exp` (RFC 9068 §4).
pub fn inspect(state: &AppState, token: &str, now: i64) -> Presented {
    // An opaque token is one base64url string after its prefix: it has no JOSE header.
    if token.split('.').count() != 3 || jsonwebtoken::decode_header(token).is_err() {
        return Presented::Opaque;
    }
    let keys = state.keys.current();
    match access_token::verify(token, &state.config.issuer, now, |kid| keys.verifier(kid).map(|(a, k)| (*a, k))) {
        Ok(claims) => Presented::Jwt(claims),
        Err(Rejected::Expired) => Presented::Invalid,
        Err(why) => {
            tracing::warn!(target: "security", event = "jwt_access_token_rejected", reason = %why,
                "a JWT presented as an access token was refused");
            Presented::Invalid
        }
    }
}

/// Where a user's JWT access token is stored: the hash of its handle.
pub fn stored_hash(state: &AppState, claims: &AccessTokenClaims) -> String {
    hash_secret(&state.access_token_handles.handle(&claims.jti))
}
