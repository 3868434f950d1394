//! JWT access tokens (RFC 9068): the claims Doorway signs, and the checks a presented one must
//! pass before Doorway believes it. Verification never trusts the token's header for the
//! algorithm, and never accepts a JWT of another kind (an ID token, a logout token).

use aws_lc_rs::hmac;
use base64ct::{Base64UrlUnpadded, Encoding};
use jsonwebtoken::{DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use crate::jose::SigningAlg;
use crate::types::ScopeSet;

/// RFC 9068 §2.1: the `typ` header of a JWT access token.
pub const TYP: &str = "at+jwt";

/// What an app's access tokens look like.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessTokenFormat {
    /// A random string, meaningful only to Doorway (introspection, userinfo). The default.
    #[default]
    Opaque,
    /// A signed JWT (RFC 9068) a resource server can verify on its own against the JWKS.
    Jwt,
}

impl AccessTokenFormat {
    pub const ALL: [AccessTokenFormat; 2] = [Self::Opaque, Self::Jwt];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opaque => "opaque",
            Self::Jwt => "jwt",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        Self::ALL.into_iter().find(|f| f.as_str().eq_ignore_ascii_case(raw))
    }
}

/// RFC 9068 §2.2: the claims of a JWT access token, in the order the RFC lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub exp: i64,
    /// The app the token was issued to (no resource indicator is supported, RFC 9068 §3).
    pub aud: String,
    /// The user's `sub` for a user's grant; the client_id for client_credentials (§2.2).
    pub sub: String,
    pub client_id: String,
    pub iat: i64,
    pub jti: String,
    /// Absent when the token carries no scope (a client_credentials app with only identity
    /// scopes gets none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl AccessTokenClaims {
    /// A client_credentials token: its subject is the app itself (RFC 9068 §2.2). A user's `sub`
    /// is 24 hex characters and a client_id a UUID, so the two never coincide.
    pub fn is_client_token(&self) -> bool {
        self.sub == self.client_id
    }
}

/// The inputs of one JWT access token.
pub struct AccessTokenInput<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The user's `sub`, or `None` for client_credentials (the subject is then the app).
    pub subject: Option<&'a str>,
    pub scope: &'a ScopeSet,
    pub jti: String,
    pub now: i64,
    pub lifetime: i64,
}

pub fn claims(input: AccessTokenInput<'_>) -> AccessTokenClaims {
    let scope = input.scope.to_string();
    AccessTokenClaims {
        iss: input.issuer.to_owned(),
        exp: input.now + input.lifetime,
        aud: input.client_id.to_owned(),
        sub: input.subject.unwrap_or(input.client_id).to_owned(),
        client_id: input.client_id.to_owned(),
        iat: input.now,
        jti: input.jti,
        scope: Some(scope).filter(|s| !s.is_empty()),
    }
}

/// Why a presented JWT access token is refused. Never sent to the caller (introspection says
/// `active: false`, userinfo `invalid_token`); logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("not a JWT")]
    Malformed,
    #[error("typ is not at+jwt")]
    Type,
    #[error("signed by a key Doorway does not publish")]
    UnknownKey,
    #[error("alg differs from the key's algorithm")]
    Algorithm,
    #[error("bad signature, issuer or claims")]
    Invalid,
    #[error("expired")]
    Expired,
}

/// RFC 9068 §4: `at+jwt`, or its full media type; media types compare case-insensitively.
fn is_access_token_type(typ: &str) -> bool {
    typ.eq_ignore_ascii_case(TYP) || typ.eq_ignore_ascii_case("application/at+jwt")
}

/// RFC 9068 §4: the checks a JWT access token must pass. `key` finds the public key of a `kid`
/// among the keys Doorway publishes (next, active and retired), with that key's algorithm.
pub fn verify<'k>(
    token: &str,
    issuer: &str,
    now: i64,
    key: impl FnOnce(&str) -> Option<(SigningAlg, &'k DecodingKey)>,
) -> Result<AccessTokenClaims, Rejected> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| Rejected::Malformed)?;
    // RFC 8725 §3.11 / RFC 9068 §4: explicit typing; an ID token (typ JWT) is no access token.
    if !header.typ.as_deref().is_some_and(is_access_token_type) {
        return Err(Rejected::Type);
    }
    let (alg, key) = header.kid.as_deref().and_then(key).ok_or(Rejected::UnknownKey)?;
    // RFC 8725 §3.1: the key decides the algorithm, never the header: no HS256 keyed with a
    // public key, no `none`.
    if header.alg != alg.jwt() {
        return Err(Rejected::Algorithm);
    }
    let mut validation = Validation::new(alg.jwt());
    // Expiry is checked below against the caller's clock; the audience is the app, which
    // Doorway does not have to be.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims =
        jsonwebtoken::decode::<AccessTokenClaims>(token, key, &validation).map_err(|_| Rejected::Invalid)?.claims;
    if claims.iss != issuer {
        return Err(Rejected::Invalid);
    }
    if claims.exp <= now {
        return Err(Rejected::Expired);
    }
    Ok(claims)
}

/// Derives the stored handle of a user's JWT access token from its `jti`. The grant's row
/// (revocation with the code or the refresh family, the user being disabled) is keyed by it;
/// being keyed with a server secret, the handle cannot be computed from the public `jti`, so the
/// `jti` is not itself a bearer credential.
pub struct HandleKey(hmac::Key);

impl std::fmt::Debug for HandleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HandleKey([redacted])")
    }
}

impl HandleKey {
    pub fn new(secret: &[u8; 32]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// base64url(HMAC(key, jti)): the secret whose hash is stored, as for an opaque token.
    pub fn handle(&self, jti: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(b"doorway jwt access token handle v1\0");
        ctx.update(jti.as_bytes());
        Base64UrlUnpadded::encode_string(ctx.sign().as_ref())
    }
}

#[cfg(test)]
mod tests;
