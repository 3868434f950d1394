//! The `openidconnect` crate as a relying party, past the sign-in: it refreshes (rotation, the
//! refreshed ID token verifies); revocation (RFC 7009) follows.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreRevocableToken};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, RevocationUrl, Scope, TokenResponse,
};

use crate::helpers::*;
use crate::relying_party::http_client;

#[tokio::test]
async fn openidconnect_crate_refreshes_then_the_token_is_revoked() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let client = app.confidential_client().await;
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http_client).await.unwrap();
    let revocation = app.discovery().await["revocation_endpoint"].as_str().unwrap().to_owned();
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.client_id.clone()),
        client.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(client.redirect_uri.clone()).unwrap())
    .set_revocation_url(RevocationUrl::new(revocation).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let back = Browser::new().authorize(&app, url.as_str(), "alice", "allow").await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(query_of(&back)["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http_client)
        .await
        .unwrap();
    tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &nonce).unwrap();
    let refresh_token = tokens.refresh_token().expect("a refresh token").clone();

    let refreshed = rp.exchange_refresh_token(&refresh_token).unwrap().request_async(&http_client).await.unwrap();
    let rotated = refreshed.refresh_token().expect("a rotated refresh token").clone();
    assert_ne!(rotated.secret(), refresh_token.secret());
    // A refreshed ID token has no nonce: the library verifies it with a nonce-agnostic check.
    let claims = refreshed.id_token().unwrap().claims(&rp.id_token_verifier(), |_: Option<&Nonce>| Ok(())).unwrap();
    assert_eq!(claims.subject().as_str(), alice.sub);
    assert!(claims.nonce().is_none());

    // The library only revokes over https (RFC 7009 §2: TLS is required); it builds the request
    // and refuses http, which is correct of it. So it is checked to refuse, and the same request
    // is sent by hand over the test's loopback http.
    let refused = rp.revoke_token(CoreRevocableToken::from(rotated.clone()));
    assert!(matches!(refused, Err(openidconnect::ConfigurationError::InsecureUrl(_))));
    let revoked = reqwest::Client::new()
        .post(app.url("/oauth/revoke"))
        .basic_auth(&client.client_id, client.secret.as_ref())
        .form(&[("token", rotated.secret().as_str()), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let after = rp.exchange_refresh_token(&rotated).unwrap().request_async(&http_client).await;
    assert!(after.is_err(), "a revoked refresh token no longer refreshes");
    let userinfo: Result<openidconnect::core::CoreUserInfoClaims, _> =
        rp.user_info(refreshed.access_token().clone(), None).unwrap().request_async(&http_client).await;
    assert!(userinfo.is_err(), "revoking the refresh token revoked its family's access tokens");
}
