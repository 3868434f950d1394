#![allow(dead_code)] // each target uses part of the fixtures
//! Fixtures shared by the targets: registered apps and an issued code, as the store would
//! return them. Nothing here is fuzzed itself.

use doorway_core::model::{AuthorizationCode, Client, ClientKind};
use doorway_core::oauth::params::Params;
use doorway_core::secrets::hash_secret;
use doorway_core::types::{CodeChallenge, CodeVerifier, RedirectPolicy, RedirectUri, ScopeSet};

pub const ISSUER: &str = "https://id.example";
pub const SECRET: &str = "dws_fuzz-secret";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// The same parser the server uses for query strings and form bodies.
pub fn params(bytes: &[u8]) -> Params {
    Params::new(url::form_urlencoded::parse(bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

fn scopes(raw: &str) -> ScopeSet {
    ScopeSet::parse(raw).unwrap_or_default()
}

/// `selector` picks one of four apps: confidential or public, exact or origin policy, an
/// https registration or a loopback one (RFC 8252 §7.3).
pub fn client(selector: u8) -> Client {
    let public = selector & 1 == 1;
    let origin = selector & 2 == 2;
    let uri = if selector & 4 == 4 { "http://127.0.0.1/callback" } else { "https://app.example/callback?x=1" };
    Client {
        client_id: "fuzz-app".into(),
        secret_hash: (!public).then(|| hash_secret(SECRET)),
        kind: if public { ClientKind::Public } else { ClientKind::Confidential },
        name: "Fuzz".into(),
        homepage_url: None,
        logo_uri: None,
        redirect_uris: RedirectUri::parse(uri).into_iter().collect(),
        redirect_policy: if origin { RedirectPolicy::Origin } else { RedirectPolicy::Exact },
        scopes: scopes("openid profile email"),
        require_pkce: selector & 8 == 8,
        id_token_alg: "RS256".into(),
        owner_id: None,
        created_at: 0,
        grant_types: Default::default(),
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        description: None,
        policy_uri: None,
        tos_uri: None,
        first_party: false,
        previous_secret_hash: Some(hash_secret("dws_previous")),
        previous_secret_expires_at: Some(100),
        access_token_ttl: None,
        access_token_format: Default::default(),
        authorized_org: None,
    }
}

pub fn known_scopes() -> ScopeSet {
    scopes("openid profile email read-billing")
}

/// A code issued to [`client`] with a PKCE challenge for [`VERIFIER`].
pub fn code(with_challenge: bool) -> AuthorizationCode {
    let challenge = CodeVerifier::parse(VERIFIER).ok().map(|v| CodeChallenge::for_verifier(&v).as_str().to_owned());
    AuthorizationCode {
        code_hash: hash_secret("code"),
        client_id: "fuzz-app".into(),
        user_id: "u".into(),
        redirect_uri: "https://app.example/callback?x=1".into(),
        redirect_uri_sent: true,
        scope: scopes("openid"),
        nonce: None,
        code_challenge: challenge.filter(|_| with_challenge),
        auth_time: 0,
        created_at: 0,
        expires_at: 60,
        sid: None,
    }
}
