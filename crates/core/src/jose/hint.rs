//! Reading back a JWS Doorway itself signed (an `id_token_hint`, OIDC Core §3.1.2.1 and
//! RP-Initiated Logout §2). Pure: the caller supplies the key lookup, so the parser can be
//! fuzzed without a database. Must never trust the token's own `alg` over the key's.

use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value};

use super::SigningAlg;

/// Verifies `token` as an ID token signed by one of Doorway's keys (found by `kid` through
/// `key_for`) and issued by `issuer`, returning its claims. Expiry is deliberately not
/// checked: an expired ID token is still a valid hint. Any malformed input yields `None`.
pub fn verify_issued<'k>(
    token: &str,
    issuer: &str,
    key_for: impl Fn(&str) -> Option<&'k (SigningAlg, DecodingKey)>,
) -> Option<Map<String, Value>> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    // Only ID tokens: a logout token (typ logout+jwt, an `events` claim) is no hint
    // (RFC 8725 §3.11, explicit typing).
    if header.typ.as_deref().is_some_and(|typ| !typ.eq_ignore_ascii_case("JWT")) {
        return None;
    }
    let (alg, key) = key_for(header.kid.as_deref()?)?;
    // The kid pins the algorithm: no alg confusion (HS256 with a public key, `none`).
    if header.alg != alg.jwt() {
        return None;
    }
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    // `iss` must be present, not merely right when present: jsonwebtoken checks a missing
    // claim only if it is required (found by fuzzing: a signed `{}` passed as a hint).
    validation.set_required_spec_claims(&["iss"]);
    validation.set_issuer(&[issuer]);
    let claims = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation).ok()?.claims;
    (!claims.contains_key("events")).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::SigningKey;
    use serde_json::json;

    const ISSUER: &str = "https://id.example";

    fn key() -> (SigningKey, (SigningAlg, DecodingKey)) {
        crate::jose::install_provider();
        let der = SigningKey::generate_pkcs8(SigningAlg::Es256).unwrap();
        let key = SigningKey::from_pkcs8(SigningAlg::Es256, &der).unwrap();
        let decoding = DecodingKey::from_jwk(key.public_jwk()).unwrap();
        (key, (SigningAlg::Es256, decoding))
    }

    #[test]
    fn an_id_token_of_this_issuer_is_a_valid_hint_even_expired() {
        let (key, verifier) = key();
        let token = key.sign(&json!({"iss": ISSUER, "sub": "u", "aud": "a", "exp": 1})).unwrap();
        let claims = verify_issued(&token, ISSUER, |kid| (kid == key.kid()).then_some(&verifier)).unwrap();
        assert_eq!(claims["sub"], "u");
    }

    #[test]
    fn a_signed_token_without_iss_is_no_hint() {
        let (key, verifier) = key();
        for claims in [json!({}), json!({"sub": "u"}), json!({"issi2luJbA5AAAAAA.": ""})] {
            let token = key.sign(&claims).unwrap();
            assert!(verify_issued(&token, ISSUER, |kid| (kid == key.kid()).then_some(&verifier)).is_none(), "{claims}");
        }
    }

    #[test]
    fn another_issuer_or_a_logout_token_is_no_hint() {
        let (key, verifier) = key();
        let lookup = |kid: &str| (kid == key.kid()).then_some(&verifier);
        let other = key.sign(&json!({"iss": "https://other.example", "sub": "u"})).unwrap();
        assert!(verify_issued(&other, ISSUER, lookup).is_none());
        let logout = key.sign_with_typ(&json!({"iss": ISSUER, "events": {}}), "logout+jwt").unwrap();
        assert!(verify_issued(&logout, ISSUER, lookup).is_none());
        let untyped_logout = key.sign(&json!({"iss": ISSUER, "events": {}})).unwrap();
        assert!(verify_issued(&untyped_logout, ISSUER, lookup).is_none());
    }
}
