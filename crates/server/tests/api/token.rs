//! The token endpoint: the code exchange and its attacks.

use doorway_core::model::ClientKind;
use doorway_core::types::RedirectPolicy;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn code_flow_issues_tokens_with_hugging_face_claims() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    let code = obtain_code(&app, &browser, &client, &[]).await;

    let response = exchange(&app, &client, &code).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "email openid profile");
    assert!(body["access_token"].as_str().unwrap().starts_with("dw_oauth_"));
    assert!(body["refresh_token"].as_str().unwrap().starts_with("dw_rt_"), "refresh tokens are on by default");

    let claims = verify_id_token(&app, &client, body["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], alice.sub);
    assert_eq!(claims["aud"], client.client_id);
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["name"], "alice Example");
    assert_eq!(claims["profile"], app.url("/alice"));
    assert_eq!(claims["isPro"], true);
    assert_eq!(claims["orgs"], serde_json::json!([]));
    assert_eq!(claims["email"], "alice@example.com");
    assert!(claims["picture"].as_str().unwrap().starts_with(&app.url("/avatars/")));
    assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());
    assert!(claims.get("at_hash").is_some());
    assert!(claims.get("canPay").is_none(), "canPay needs read-billing");
}

#[tokio::test]
async fn code_reuse_fails_and_revokes_issued_tokens() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let code = obtain_code(&app, &Browser::new(), &client, &[]).await;
    let first: Value = exchange(&app, &client, &code).await.json().await.unwrap();
    let access_token = first["access_token"].as_str().unwrap().to_owned();
    let userinfo = || reqwest::Client::new().get(app.url("/oauth/userinfo")).bearer_auth(&access_token).send();
    assert_eq!(userinfo().await.unwrap().status(), 200);

    let second = exchange(&app, &client, &code).await;
    assert_eq!(second.status(), 400);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");

    assert_eq!(userinfo().await.unwrap().status(), 401, "the token issued from the replayed code is revoked");
}

#[tokio::test]
async fn parallel_redemptions_of_one_code_succeed_exactly_once() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let code = obtain_code(&app, &Browser::new(), &client, &[]).await;
    let attempts = (0..8).map(|_| exchange(&app, &client, &code));
    let statuses: Vec<u16> = futures::future::join_all(attempts).await.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 7, "{statuses:?}");
}

#[tokio::test]
async fn pkce_downgrade_is_rejected() {
    // A verifier presented for a code that was issued without a challenge.
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let code =
        obtain_code(&app, &Browser::new(), &client, &[("code_challenge", ""), ("code_challenge_method", "")]).await;
    let response = exchange(&app, &client, &code).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn wrong_pkce_verifier_is_invalid_grant() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let code = obtain_code(&app, &Browser::new(), &client, &[]).await;
    let response = reqwest::Client::new()
        .post(app.url("/oauth/token"))
        .basic_auth(&client.client_id, client.secret.as_ref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", "a-wrong-verifier-that-is-long-enough-to-be-well-formed-0123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

#[tokio::test]
async fn wrong_secret_with_basic_is_401_with_www_authenticate() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let response = reqwest::Client::new()
        .post(app.url("/oauth/token"))
        .basic_auth(&client.client_id, Some("not-the-secret"))
        .form(&[("grant_type", "authorization_code"), ("code", "whatever")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_client");
}

#[tokio::test]
async fn public_client_redeems_without_client_id_identified_by_its_code() {
    // What @huggingface/hub sends: no client_id, no authentication, PKCE.
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.create_client("http://localhost:5173/callback", ClientKind::Public, RedirectPolicy::Exact).await;
    let code = obtain_code(&app, &Browser::new(), &client, &[]).await;
    let response = reqwest::Client::new()
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    verify_id_token(&app, &client, body["id_token"].as_str().unwrap()).await;
}
