//! JWT access tokens: the RFC 9068 claims, and every way a presented token is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64ct::{Base64UrlUnpadded, Encoding};
use jsonwebtoken::{DecodingKey, EncodingKey, Header};

use super::*;
use crate::jose::SigningKey;

const ISSUER: &str = "https://id.example";

fn key(alg: SigningAlg) -> SigningKey {
    SigningKey::from_pkcs8(alg, &SigningKey::generate_pkcs8(alg).unwrap()).unwrap()
}

fn input<'a>(scope: &'a ScopeSet, subject: Option<&'a str>, now: i64) -> AccessTokenInput<'a> {
    AccessTokenInput { issuer: ISSUER, client_id: "app-1", subject, scope, jti: "jti-1".into(), now, lifetime: 60 }
}

fn verify_with(token: &str, signer: &SigningKey, now: i64) -> Result<AccessTokenClaims, Rejected> {
    let decoding = DecodingKey::from_jwk(signer.public_jwk()).unwrap();
    verify(token, ISSUER, now, |kid| (kid == signer.kid()).then_some((signer.alg(), &decoding)))
}

#[test]
fn client_credentials_claims_name_the_app_as_subject_and_audience() {
    let scope = ScopeSet::parse("read-repos").unwrap();
    let claims = claims(input(&scope, None, 100));
    assert_eq!(claims.sub, "app-1");
    assert_eq!(claims.aud, "app-1");
    assert_eq!(claims.client_id, "app-1");
    assert_eq!((claims.iat, claims.exp), (100, 160));
    assert_eq!(claims.scope.as_deref(), Some("read-repos"));
    assert!(claims.is_client_token());
}

#[test]
fn user_claims_name_the_user_and_an_empty_scope_is_left_out() {
    let scope = ScopeSet::default();
    let claims = claims(input(&scope, Some("0123456789abcdef01234567"), 100));
    assert_eq!(claims.sub, "0123456789abcdef01234567");
    assert!(!claims.is_client_token());
    let json = serde_json::to_value(&claims).unwrap();
    assert!(json.get("scope").is_none());
}

#[test]
fn a_signed_access_token_verifies_for_every_algorithm() {
    for alg in SigningAlg::ALL {
        let signer = key(alg);
        let scope = ScopeSet::parse("openid").unwrap();
        let expected = claims(input(&scope, Some("u"), 100));
        let token = signer.sign_with_typ(&expected, TYP).unwrap();
        assert_eq!(verify_with(&token, &signer, 120), Ok(expected), "{alg:?}");
    }
}

#[test]
fn an_expired_access_token_is_refused() {
    let signer = key(SigningAlg::EdDsa);
    let scope = ScopeSet::default();
    let token = signer.sign_with_typ(&claims(input(&scope, None, 100)), TYP).unwrap();
    assert_eq!(verify_with(&token, &signer, 160), Err(Rejected::Expired));
}

#[test]
fn an_id_token_is_not_an_access_token() {
    let signer = key(SigningAlg::Es256);
    let scope = ScopeSet::default();
    let token = signer.sign(&claims(input(&scope, None, 100))).unwrap();
    assert_eq!(verify_with(&token, &signer, 120), Err(Rejected::Type));
}

#[test]
fn another_issuers_token_is_refused() {
    let signer = key(SigningAlg::Es256);
    let scope = ScopeSet::default();
    let mut foreign = claims(input(&scope, None, 100));
    foreign.iss = "https://elsewhere.example".into();
    let token = signer.sign_with_typ(&foreign, TYP).unwrap();
    assert_eq!(verify_with(&token, &signer, 120), Err(Rejected::Invalid));
}

#[test]
fn alg_none_is_refused() {
    let signer = key(SigningAlg::Rs256);
    let scope = ScopeSet::default();
    let header = format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{}"}}"#, signer.kid());
    let body = serde_json::to_string(&claims(input(&scope, None, 100))).unwrap();
    let token = format!(
        "{}.{}.",
        Base64UrlUnpadded::encode_string(header.as_bytes()),
        Base64UrlUnpadded::encode_string(body.as_bytes())
    );
    assert!(verify_with(&token, &signer, 120).is_err());
}

#[test]
fn hs256_keyed_with_the_public_key_is_refused() {
    let signer = key(SigningAlg::Rs256);
    let scope = ScopeSet::default();
    let public = serde_json::to_vec(signer.public_jwk()).unwrap();
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some(TYP.into());
    header.kid = Some(signer.kid().into());
    let token =
        jsonwebtoken::encode(&header, &claims(input(&scope, None, 100)), &EncodingKey::from_secret(&public).unwrap())
            .unwrap();
    assert_eq!(verify_with(&token, &signer, 120), Err(Rejected::Algorithm));
}

#[test]
fn handles_are_keyed_and_differ_per_jti() {
    let key = HandleKey::new(&[7u8; 32]);
    assert_eq!(key.handle("a"), key.handle("a"));
    assert_ne!(key.handle("a"), key.handle("b"));
    assert_ne!(key.handle("a"), HandleKey::new(&[8u8; 32]).handle("a"));
}
