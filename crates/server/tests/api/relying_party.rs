//! A real relying-party library, the `openidconnect` crate, signs a user in against Doorway:
//! discovery, authorization URL with PKCE (S256) and nonce, code exchange, ID token
//! verification against the JWKS (with `at_hash`), and userinfo.

use axum::http::{HeaderMap, Response, StatusCode};
use doorway_core::model::ClientKind;
use doorway_core::types::RedirectPolicy;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IdToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};

use crate::helpers::*;

/// The `openidconnect::AsyncHttpClient` the library needs, over reqwest (rustls on aws-lc-rs,
/// no redirects followed: a relying party must not be steered by its provider's redirects).
pub(crate) async fn http_client(
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let (parts, body) = request.into_parts();
    let response = client.request(parts.method, parts.uri.to_string()).headers(parts.headers).body(body).send().await?;
    let status: StatusCode = response.status();
    let headers: HeaderMap = response.headers().clone();
    let mut out = Response::new(response.bytes().await?.to_vec());
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

/// Hugging Face's extra claims, as a relying party reads them.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HfClaims {
    #[serde(rename = "isPro")]
    is_pro: Option<bool>,
    #[serde(rename = "canPay")]
    can_pay: Option<bool>,
    orgs: Option<Vec<serde_json::Value>>,
}

impl AdditionalClaims for HfClaims {}

type HfIdToken = IdToken<HfClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// Signs alice in with `client` through the library, and checks everything a careful relying
/// party checks.
async fn sign_in_with_openidconnect(app: &TestApp, client: &TestClient) {
    let alice = app.store.find_user_by_username("alice").await.unwrap().unwrap();
    let issuer = IssuerUrl::new(app.issuer.clone()).unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(issuer, &http_client).await.expect("discovery (metadata + JWKS) succeeds");
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.client_id.clone()),
        client.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(client.redirect_uri.clone()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf_state, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("read-billing".into()))
        .set_pkce_challenge(challenge)
        .url();

    let back = Browser::new().authorize(app, url.as_str(), "alice", "allow").await;
    assert!(back.starts_with(&client.redirect_uri), "{back}");
    let query = query_of(&back);
    assert_eq!(&query["state"], csrf_state.secret());
    assert_eq!(query["iss"], app.issuer, "RFC 9207 issuer identification");

    let tokens = rp
        .exchange_code(AuthorizationCode::new(query["code"].clone()))
        .expect("a token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http_client)
        .await
        .expect("the code exchange succeeds");
    assert!(tokens.expires_in().is_some(), "expires_in is always sent");
    let mut granted: Vec<String> =
        tokens.scopes().expect("the granted scope is stated").iter().map(|s| s.to_string()).collect();
    granted.sort();
    assert_eq!(granted, ["email", "openid", "profile", "read-billing"]);

    let id_token = tokens.id_token().expect("an ID token for openid");
    let id_verifier = rp.id_token_verifier();
    let claims = id_token.claims(&id_verifier, &nonce).expect("the ID token verifies: signature, iss, aud, exp, nonce");
    assert_eq!(claims.subject().as_str(), alice.sub);
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some("alice"));
    assert_eq!(claims.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert!(claims.auth_time().is_some());

    // at_hash binds the access token to the ID token (OIDC Core §3.1.3.8).
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));

    // The Hugging Face claims, read through the library with its own claim types.
    let hf: HfIdToken = id_token.to_string().parse().unwrap();
    let hf_claims = hf.claims(&id_verifier, &nonce).unwrap();
    assert_eq!(hf_claims.additional_claims().is_pro, Some(true));
    assert_eq!(hf_claims.additional_claims().can_pay, Some(false));
    assert_eq!(hf_claims.additional_claims().orgs, Some(vec![]));

    let userinfo: UserInfoClaims<HfClaims, CoreGenderClaim> = rp
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .expect("a userinfo endpoint")
        .request_async(&http_client)
        .await
        .expect("userinfo succeeds");
    assert_eq!(userinfo.subject(), claims.subject());
    assert_eq!(userinfo.preferred_username().map(|u| u.as_str()), Some("alice"));
    assert_eq!(userinfo.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("alice Example"));
    assert_eq!(userinfo.additional_claims().orgs, Some(vec![]));
    assert_eq!(userinfo.additional_claims().is_pro, Some(true));
}

#[tokio::test]
async fn openidconnect_crate_signs_in_with_client_secret_basic() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    sign_in_with_openidconnect(&app, &client).await;
}

#[tokio::test]
async fn openidconnect_crate_signs_in_as_a_public_client_with_pkce() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.create_client("http://127.0.0.1:4180/callback", ClientKind::Public, RedirectPolicy::Exact).await;
    assert!(client.secret.is_none());
    sign_in_with_openidconnect(&app, &client).await;
}

#[tokio::test]
async fn openidconnect_crate_signs_in_through_a_hosted_app_redirect_with_a_query() {
    // A Space's callback carries its own query string under the origin policy.
    let app = spawn_app().await;
    app.create_user("alice").await;
    let registered =
        app.create_client("https://space.example/", ClientKind::Confidential, RedirectPolicy::Origin).await;
    let client = TestClient {
        redirect_uri: "https://space.example/oauth/huggingface/callback?_target_url=%2F%3F".into(),
        ..registered
    };
    sign_in_with_openidconnect(&app, &client).await;
}

#[tokio::test]
async fn openidconnect_crate_rejects_an_id_token_for_another_nonce() {
    // The library's own check proves the nonce Doorway echoes is the one that was sent.
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http_client).await.unwrap();
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.client_id.clone()),
        client.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(client.redirect_uri.clone()).unwrap());
    let (url, _, _) =
        rp.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random).url();
    let back = Browser::new().authorize(&app, url.as_str(), "alice", "allow").await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(query_of(&back)["code"].clone()))
        .unwrap()
        .request_async(&http_client)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    let wrong = Nonce::new("not-the-nonce-that-was-sent".into());
    assert!(id_token.claims(&rp.id_token_verifier(), &wrong).is_err());
}
