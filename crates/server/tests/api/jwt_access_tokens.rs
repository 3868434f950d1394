//! JWT access tokens (RFC 9068) for apps that chose them: what a resource server receives and
//! verifies against the JWKS, what introspection and userinfo believe, and the forgeries they
//! refuse (`alg: none`, HS256 keyed with the public key, foreign keys, tampering, ID tokens).

use base64ct::{Base64UrlUnpadded, Encoding};
use doorway_core::jose::{SigningAlg, SigningKey};
use doorway_core::model::ClientKind;
use doorway_core::oauth::access_token::AccessTokenFormat;
use doorway_core::oauth::grant::{GrantType, GrantTypes};
use doorway_core::types::{RedirectPolicy, ScopeSet};
use doorway_server::config::ScopeDef;
use doorway_store::{AppProfile, NewClient};
use serde_json::{Value, json};

use crate::helpers::*;

async fn spawn() -> TestApp {
    spawn_app_with(|c| c.extra_scopes.push(ScopeDef::new("read-repos", "Read repos", &[]))).await
}

/// A confidential app with JWT access tokens signed with `alg`, allowed `grants`.
async fn jwt_app(app: &TestApp, alg: SigningAlg, grants: &[GrantType]) -> TestClient {
    let client = app
        .create_client_with("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact, |c| {
            c.grant_types = grants.iter().copied().collect::<GrantTypes>();
            c.scopes = ScopeSet::parse("openid profile email read-repos").unwrap();
            c.id_token_alg = alg.as_str().into();
        })
        .await;
    let stored = app.store.find_client(&client.client_id).await.unwrap().unwrap();
    let profile = AppProfile { access_token_format: AccessTokenFormat::Jwt, ..AppProfile::from(&stored) };
    assert!(app.store.update_app(None, &NewClient::from(&stored), &profile).await.unwrap());
    client
}

async fn machine_app(app: &TestApp, alg: SigningAlg) -> TestClient {
    jwt_app(app, alg, &[GrantType::ClientCredentials]).await
}

async fn post(app: &TestApp, path: &str, client: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url(path))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn client_credentials(app: &TestApp, client: &TestClient) -> Value {
    let response = post(app, "/oauth/token", client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn introspect(app: &TestApp, client: &TestClient, token: &str) -> Value {
    let response = post(app, "/oauth/introspect", client, &[("token", token)]).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn userinfo(app: &TestApp, token: &str) -> reqwest::Response {
    reqwest::Client::new().get(app.url("/oauth/userinfo")).bearer_auth(token).send().await.unwrap()
}

fn str_of<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key].as_str().unwrap_or_else(|| panic!("no {key} in {body}"))
}

/// Verifies an access token as a resource server does (RFC 9068 §4): the JWKS key of its kid,
/// with that key's algorithm; typ at+jwt; iss; exp; aud. Returns the header and the claims.
async fn verify_as_resource_server(app: &TestApp, token: &str, audience: &str) -> (jsonwebtoken::Header, Value) {
    let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(app.url("/oauth/jwks")).await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("the kid is in the JWKS");
    let alg: jsonwebtoken::Algorithm = jwk.common.key_algorithm.unwrap().to_string().parse().unwrap();
    assert_eq!(header.alg, alg, "signed with the algorithm its key is published for");
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[&app.issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap().claims;
    (header, claims)
}

fn segments(token: &str) -> Vec<&str> {
    token.split('.').collect()
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn payload_of(token: &str) -> Value {
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(segments(token)[1]).unwrap()).unwrap()
}

#[tokio::test]
async fn client_credentials_jwt_verifies_against_the_jwks_with_the_rfc_9068_claims() {
    let app = spawn().await;
    for alg in [SigningAlg::Es256, SigningAlg::EdDsa, SigningAlg::Rs256] {
        let client = machine_app(&app, alg).await;
        let before = time::OffsetDateTime::now_utc().unix_timestamp();
        let body = client_credentials(&app, &client).await;
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "read-repos");
        let token = str_of(&body, "access_token");
        assert_eq!(segments(token).len(), 3, "a compact JWS: {token}");

        let (header, claims) = verify_as_resource_server(&app, token, &client.client_id).await;
        assert_eq!(header.alg, alg.jwt(), "the app's id_token_alg signs");
        assert_eq!(claims["iss"], app.issuer);
        assert_eq!(claims["aud"], client.client_id);
        assert_eq!(claims["sub"], client.client_id, "RFC 9068 §2.2: no user, the client is the subject");
        assert_eq!(claims["client_id"], client.client_id);
        assert_eq!(claims["scope"], "read-repos");
        let iat = claims["iat"].as_i64().unwrap();
        assert!(iat >= before);
        assert_eq!(claims["exp"].as_i64().unwrap() - iat, body["expires_in"].as_i64().unwrap());
        assert!(claims["jti"].as_str().is_some_and(|jti| jti.len() >= 43), "a random jti: {claims}");
    }
}

#[tokio::test]
async fn every_client_credentials_jwt_has_its_own_jti() {
    let app = spawn().await;
    let client = machine_app(&app, SigningAlg::EdDsa).await;
    let a = payload_of(str_of(&client_credentials(&app, &client).await, "access_token"))["jti"].clone();
    let b = payload_of(str_of(&client_credentials(&app, &client).await, "access_token"))["jti"].clone();
    assert_ne!(a, b);
}

#[tokio::test]
async fn an_opaque_app_still_gets_opaque_tokens() {
    let app = spawn().await;
    let client = app
        .create_client_with("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact, |c| {
            c.grant_types = [GrantType::ClientCredentials].into_iter().collect::<GrantTypes>();
            c.scopes = ScopeSet::parse("read-repos").unwrap();
            c.id_token_alg = "ES256".into();
        })
        .await;
    let body = client_credentials(&app, &client).await;
    let token = str_of(&body, "access_token");
    assert!(!token.contains('.'), "opaque: {token}");
    assert!(token.starts_with("dw_oauth_"));
    assert_eq!(introspect(&app, &client, token).await["active"], true);
}

#[tokio::test]
async fn introspection_describes_a_valid_client_credentials_jwt() {
    let app = spawn().await;
    let client = machine_app(&app, SigningAlg::Es256).await;
    let token = str_of(&client_credentials(&app, &client).await, "access_token").to_owned();
    let claims = payload_of(&token);
    let info = introspect(&app, &client, &token).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], client.client_id);
    assert_eq!(info["sub"], client.client_id);
    assert_eq!(info["aud"], client.client_id);
    assert_eq!(info["scope"], "read-repos");
    assert_eq!(info["token_type"], "Bearer");
    assert_eq!(info["iss"], app.issuer);
    assert_eq!(info["exp"], claims["exp"]);
    assert_eq!(info["jti"], claims["jti"]);
    // Another app (a resource server) may introspect it too.
    let resource_server = machine_app(&app, SigningAlg::Rs256).await;
    assert_eq!(introspect(&app, &resource_server, &token).await["active"], true);
}

#[tokio::test]
async fn introspection_refuses_a_tampered_jwt() {
    let app = spawn().await;
    let client = machine_app(&app, SigningAlg::Es256).await;
    let token = str_of(&client_credentials(&app, &client).await, "access_token").to_owned();
    let parts = segments(&token);

    // A wider scope, the signature kept.
    let mut claims = payload_of(&token);
    claims["scope"] = json!("admin");
    let widened = format!("{}.{}.{}", parts[0], b64(claims.to_string().as_bytes()), parts[2]);
    assert_eq!(introspect(&app, &client, &widened).await, json!({ "active": false }));

    // Another token's signature.
    let other = str_of(&client_credentials(&app, &client).await, "access_token").to_owned();
    let swapped = format!("{}.{}.{}", parts[0], parts[1], segments(&other)[2]);
    assert_eq!(introspect(&app, &client, &swapped).await, json!({ "active": false }));

    assert_eq!(introspect(&app, &client, &token).await["active"], true, "the original still is");
}

#[tokio::test]
async fn introspection_refuses_a_jwt_signed_by_a_key_not_ours() {
    let app = spawn().await;
    let client = machine_app(&app, SigningAlg::Es256).await;
    let token = str_of(&client_credentials(&app, &client).await, "access_token").to_owned();
    let claims = payload_of(&token);
    let foreign =
        SigningKey::from_pkcs8(SigningAlg::Es256, &SigningKey::generate_pkcs8(SigningAlg::Es256).unwrap()).unwrap();

    // Its own kid, unknown here.
    let forged = foreign.sign_with_typ(&claims, "at+jwt").unwrap();
    assert_eq!(introspect(&app, &client, &forged).await, json!({ "active": false }));

    // Our header (our kid), signed by the foreign key.
    let forged_parts = segments(&forged);
    let relabelled = format!("{}.{}.{}", segments(&token)[0], forged_parts[1], forged_parts[2]);
    assert_eq!(introspect(&app, &client, &relabelled).await, json!({ "active": false }));
}

#[tokio::test]
async fn an_expired_jwt_is_inactive() {
    let app = spawn_app_with(|c| {
        c.access_token_ttl = 1;
        c.extra_scopes.push(ScopeDef::new("read-repos", "Read repos", &[]));
    })
    .await;
    let client = machine_app(&app, SigningAlg::EdDsa).await;
    let body = client_credentials(&app, &client).await;
    assert_eq!(body["expires_in"], 1);
    let token = str_of(&body, "access_token").to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(introspect(&app, &client, &token).await, json!({ "active": false }));
}

#[tokio::test]
async fn alg_none_is_refused_at_introspection_and_userinfo() {
    let app = spawn().await;
    app.create_user("alice").await;
    let client = jwt_app(&app, SigningAlg::Rs256, &[GrantType::AuthorizationCode]).await;
    let token = str_of(&tokens_for(&app, &client, "openid profile").await, "access_token").to_owned();
    assert_eq!(userinfo(&app, &token).await.status(), 200);
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    let header = json!({ "alg": "none", "typ": "at+jwt", "kid": kid });
    let unsigned = format!("{}.{}.", b64(header.to_string().as_bytes()), segments(&token)[1]);
    assert_eq!(introspect(&app, &client, &unsigned).await, json!({ "active": false }));
    assert_eq!(userinfo(&app, &unsigned).await.status(), 401);
}

#[tokio::test]
async fn hs256_keyed_with_the_public_key_is_refused_at_introspection_and_userinfo() {
    let app = spawn().await;
    app.create_user("alice").await;
    let client = jwt_app(&app, SigningAlg::Rs256, &[GrantType::AuthorizationCode]).await;
    let token = str_of(&tokens_for(&app, &client, "openid profile").await, "access_token").to_owned();
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    // The key confusion attack: HMAC keyed with the published RSA key, under its kid.
    let jwks: Value = reqwest::get(app.url("/oauth/jwks")).await.unwrap().json().await.unwrap();
    let public = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).unwrap().to_string();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid);
    let forged = jsonwebtoken::encode(
        &header,
        &payload_of(&token),
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(introspect(&app, &client, &forged).await, json!({ "active": false }));
    assert_eq!(userinfo(&app, &forged).await.status(), 401);
}

#[tokio::test]
async fn userinfo_and_introspection_accept_a_users_jwt_until_it_is_revoked() {
    let app = spawn().await;
    let alice = app.create_user("alice").await;
    let client = jwt_app(&app, SigningAlg::Es256, &[GrantType::AuthorizationCode, GrantType::RefreshToken]).await;
    let tokens = tokens_for(&app, &client, "openid profile email").await;
    let token = str_of(&tokens, "access_token").to_owned();

    let (_, claims) = verify_as_resource_server(&app, &token, &client.client_id).await;
    assert_eq!(claims["sub"], alice.sub, "RFC 9068 §2.2: the user is the subject");
    assert_eq!(claims["client_id"], client.client_id);
    assert_eq!(claims["scope"], tokens["scope"], "the granted scope, as the token response says");
    assert_eq!(claims["scope"], "email openid profile");
    let id_token = verify_id_token(&app, &client, str_of(&tokens, "id_token")).await;
    assert_eq!(id_token["sub"], alice.sub);

    let response = userinfo(&app, &token).await;
    assert_eq!(response.status(), 200);
    let info: Value = response.json().await.unwrap();
    assert_eq!(info["sub"], alice.sub);
    assert_eq!(info["email"], "alice@example.com");
    let introspected = introspect(&app, &client, &token).await;
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["sub"], alice.sub);
    assert_eq!(introspected["username"], "alice");

    // A refresh gives a new JWT of the same grant.
    let refreshed = post(
        &app,
        "/oauth/token",
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", str_of(&tokens, "refresh_token"))],
    )
    .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    let second = str_of(&refreshed, "access_token").to_owned();
    assert_eq!(verify_as_resource_server(&app, &second, &client.client_id).await.1["sub"], alice.sub);
    assert_eq!(userinfo(&app, &second).await.status(), 200);

    // RFC 7009: revoking the first ends it at Doorway's endpoints, and it alone.
    let revoked = post(&app, "/oauth/revoke", &client, &[("token", token.as_str())]).await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(userinfo(&app, &token).await.status(), 401);
    assert_eq!(introspect(&app, &client, &token).await, json!({ "active": false }));
    assert_eq!(userinfo(&app, &second).await.status(), 200);
}

#[tokio::test]
async fn a_replayed_code_revokes_the_jwt_issued_from_it() {
    let app = spawn().await;
    app.create_user("alice").await;
    let client = jwt_app(&app, SigningAlg::EdDsa, &[GrantType::AuthorizationCode]).await;
    let code = obtain_code(&app, &Browser::new(), &client, &[("scope", "openid")]).await;
    let first = exchange(&app, &client, &code).await;
    assert_eq!(first.status(), 200);
    let token = str_of(&first.json::<Value>().await.unwrap(), "access_token").to_owned();
    assert_eq!(userinfo(&app, &token).await.status(), 200);

    let replay = exchange(&app, &client, &code).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(userinfo(&app, &token).await.status(), 401, "RFC 6749 §4.1.2: tokens from a replayed code die");
    assert_eq!(introspect(&app, &client, &token).await, json!({ "active": false }));
}

#[tokio::test]
async fn the_jti_of_a_users_jwt_is_no_bearer_token() {
    let app = spawn().await;
    app.create_user("alice").await;
    let client = jwt_app(&app, SigningAlg::Es256, &[GrantType::AuthorizationCode]).await;
    let token = str_of(&tokens_for(&app, &client, "openid").await, "access_token").to_owned();
    let jti = payload_of(&token)["jti"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&app, &jti).await.status(), 401);
    assert_eq!(introspect(&app, &client, &jti).await, json!({ "active": false }));
}

#[tokio::test]
async fn an_id_token_is_no_access_token() {
    let app = spawn().await;
    app.create_user("alice").await;
    let client = jwt_app(&app, SigningAlg::Es256, &[GrantType::AuthorizationCode]).await;
    let id_token = str_of(&tokens_for(&app, &client, "openid").await, "id_token").to_owned();
    assert_eq!(userinfo(&app, &id_token).await.status(), 401);
    assert_eq!(introspect(&app, &client, &id_token).await, json!({ "active": false }));
}

#[tokio::test]
async fn a_jwt_signed_before_a_key_rotation_still_works() {
    let app = spawn().await;
    app.create_user("alice").await;
    let client = jwt_app(&app, SigningAlg::Es256, &[GrantType::AuthorizationCode]).await;
    let token = str_of(&tokens_for(&app, &client, "openid").await, "access_token").to_owned();
    let old = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let kids = app.state.keys.rotate_own(&app.store, &[SigningAlg::Es256], true, now).await.unwrap();
    assert_ne!(kids[0], old);
    let fresh = str_of(&tokens_for(&app, &client, "openid").await, "access_token").to_owned();
    assert_eq!(jsonwebtoken::decode_header(&fresh).unwrap().kid.unwrap(), kids[0]);
    assert_eq!(userinfo(&app, &token).await.status(), 200, "the retired key is still published");
    assert_eq!(introspect(&app, &client, &token).await["active"], true);
}

#[tokio::test]
async fn a_client_credentials_jwt_cannot_be_revoked_and_has_no_userinfo() {
    let app = spawn().await;
    let client = machine_app(&app, SigningAlg::EdDsa).await;
    let token = str_of(&client_credentials(&app, &client).await, "access_token").to_owned();
    let response = userinfo(&app, &token).await;
    assert_eq!(response.status(), 403, "valid, but no user and no openid scope");
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "insufficient_scope");
    // Not stored, by design: RFC 7009 §2.2 still answers 200, and the token lives until exp.
    let revoked = post(&app, "/oauth/revoke", &client, &[("token", token.as_str())]).await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(introspect(&app, &client, &token).await["active"], true);
    // Deleting the app ends its tokens at introspection.
    let resource_server = machine_app(&app, SigningAlg::Rs256).await;
    assert!(app.store.delete_client(&client.client_id).await.unwrap());
    assert_eq!(introspect(&app, &resource_server, &token).await, json!({ "active": false }));
}
