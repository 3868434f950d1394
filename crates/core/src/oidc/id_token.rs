//! ID token claims (OIDC Core §2, §3.1.3.6).

use aws_lc_rs::digest;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value, json};

use crate::jose::SigningAlg;

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the hash of the access token, where the
/// hash is the one the signing algorithm uses (SHA-512 for Ed25519).
pub fn at_hash(access_token: &str, alg: SigningAlg) -> String {
    let algorithm = match alg {
        SigningAlg::Rs256 | SigningAlg::Ps256 | SigningAlg::Es256 => &digest::SHA256,
        SigningAlg::EdDsa => &digest::SHA512,
    };
    let hash = digest::digest(algorithm, access_token.as_bytes());
    let bytes = hash.as_ref();
    Base64UrlUnpadded::encode_string(&bytes[..bytes.len() / 2])
}

/// The inputs of one ID token.
pub struct IdTokenInput<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub user_claims: Map<String, Value>,
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    pub access_token: Option<&'a str>,
    pub now: i64,
    pub lifetime: i64,
    pub alg: SigningAlg,
}

/// The full claim set: the user's claims plus the protocol claims. `nonce` only when the
/// request carried one, and then exactly it.
pub fn claims(input: IdTokenInput<'_>) -> Map<String, Value> {
    let mut claims = input.user_claims;
    claims.insert("iss".into(), json!(input.issuer));
    claims.insert("aud".into(), json!(input.client_id));
    claims.insert("iat".into(), json!(input.now));
    claims.insert("exp".into(), json!(input.now + input.lifetime));
    claims.insert("auth_time".into(), json!(input.auth_time));
    if let Some(nonce) = input.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    if let Some(token) = input.access_token {
        claims.insert("at_hash".into(), json!(at_hash(token, input.alg)));
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_oidc_core_example() {
        // OIDC Core, Appendix A.3 (RS256): the access token and its at_hash.
        assert_eq!(at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", SigningAlg::Rs256), "77QmUPtjPfzWtF2AnpK9RQ");
    }

    #[test]
    fn nonce_appears_only_when_sent() {
        let base = |nonce| IdTokenInput {
            issuer: "https://id.example",
            client_id: "c",
            user_claims: Map::new(),
            auth_time: 1,
            nonce,
            access_token: None,
            now: 10,
            lifetime: 60,
            alg: SigningAlg::Rs256,
        };
        assert!(!claims(base(None)).contains_key("nonce"));
        assert_eq!(claims(base(Some("n-0S6_WzA2Mj")))["nonce"], "n-0S6_WzA2Mj");
        assert_eq!(claims(base(None))["exp"], 70);
    }
}
