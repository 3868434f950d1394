//! The userinfo endpoint (OIDC Core §5.3) and its bearer errors (RFC 6750 §3).

use serde_json::{Value, json};

use crate::helpers::*;

fn access_token(tokens: &Value) -> String {
    tokens["access_token"].as_str().unwrap().to_owned()
}

async fn userinfo_get(app: &TestApp, token: &str) -> reqwest::Response {
    reqwest::Client::new().get(app.url("/oauth/userinfo")).bearer_auth(token).send().await.unwrap()
}

fn www_authenticate(response: &reqwest::Response) -> String {
    response.headers()["www-authenticate"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn get_with_a_bearer_header_returns_the_claims() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let client = app.confidential_client().await;
    let token = access_token(&tokens_for(&app, &client, "openid profile email").await);
    let response = userinfo_get(&app, &token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let claims: Value = response.json().await.unwrap();
    assert_eq!(claims["sub"], alice.sub);
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["name"], "alice Example");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
}

#[tokio::test]
async fn post_with_a_bearer_header_returns_the_claims() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let client = app.confidential_client().await;
    let token = access_token(&tokens_for(&app, &client, "openid profile").await);
    let response = reqwest::Client::new().post(app.url("/oauth/userinfo")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["sub"], alice.sub);
}

#[tokio::test]
async fn post_with_the_token_in_the_form_body_returns_the_claims() {
    // RFC 6750 §2.2.
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let client = app.confidential_client().await;
    let token = access_token(&tokens_for(&app, &client, "openid").await);
    let response =
        reqwest::Client::new().post(app.url("/oauth/userinfo")).form(&[("access_token", &token)]).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "sub": alice.sub }));
}

#[tokio::test]
async fn token_in_the_query_string_is_not_accepted() {
    // RFC 6750 §2.3 is a MAY that leaks tokens into logs: Doorway does not offer it.
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let token = access_token(&tokens_for(&app, &client, "openid").await);
    let response = reqwest::get(app.url(&format!("/oauth/userinfo?access_token={token}"))).await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn token_in_both_header_and_body_is_invalid_request() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let token = access_token(&tokens_for(&app, &client, "openid").await);
    let response = reqwest::Client::new()
        .post(app.url("/oauth/userinfo"))
        .bearer_auth(&token)
        .form(&[("access_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(www_authenticate(&response).contains("error=\"invalid_request\""));
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_request");
}

#[tokio::test]
async fn no_token_is_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let response = reqwest::Client::new().request(method.clone(), app.url("/oauth/userinfo")).send().await.unwrap();
        assert_eq!(response.status(), 401, "{method}");
        let challenge = www_authenticate(&response);
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        // RFC 6750 §3.1: no error code when the request carried no credentials at all.
        assert!(!challenge.contains("error="), "{challenge}");
    }
}

#[tokio::test]
async fn bad_token_is_401_invalid_token() {
    let app = spawn_app().await;
    for token in ["dw_oauth_not-a-real-token", "x"] {
        let response = userinfo_get(&app, token).await;
        assert_eq!(response.status(), 401);
        let challenge = www_authenticate(&response);
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token");
    }
}

#[tokio::test]
async fn another_authorization_scheme_is_not_a_bearer_token() {
    let app = spawn_app().await;
    let response = reqwest::Client::new()
        .get(app.url("/oauth/userinfo"))
        .basic_auth("user", Some("password"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(www_authenticate(&response).starts_with("Bearer"));
}

#[tokio::test]
async fn token_granted_without_openid_is_403_insufficient_scope() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let tokens = tokens_for(&app, &client, "profile").await;
    assert!(tokens.get("id_token").is_none());
    let response = userinfo_get(&app, &access_token(&tokens)).await;
    assert_eq!(response.status(), 403);
    let challenge = www_authenticate(&response);
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "insufficient_scope");
}

#[tokio::test]
async fn claims_follow_the_granted_scopes() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let client = app.confidential_client().await;
    let claims = |scope: &'static str| {
        let (app, client) = (&app, &client);
        async move {
            let token = access_token(&tokens_for(app, client, scope).await);
            userinfo_get(app, &token).await.json::<Value>().await.unwrap()
        }
    };

    let only_openid = claims("openid").await;
    assert_eq!(only_openid, json!({ "sub": alice.sub }));

    let profile = claims("openid profile").await;
    assert_eq!(profile["preferred_username"], "alice");
    assert_eq!(profile["profile"], app.url("/alice"));
    assert_eq!(profile["orgs"], json!([]), "orgs is an empty array, never absent");
    assert_eq!(profile["isPro"], true);
    assert_eq!(profile["website"], "");
    assert_eq!(profile["picture"], app.url(&format!("/avatars/{}.svg", alice.sub)));
    assert!(profile.get("email").is_none(), "email needs the email scope");
    assert!(profile.get("canPay").is_none(), "canPay needs read-billing");

    let email = claims("openid email").await;
    assert_eq!(email["email"], "alice@example.com");
    assert_eq!(email["email_verified"], true);
    assert!(email.get("preferred_username").is_none());

    let billing = claims("openid read-billing").await;
    assert_eq!(billing["canPay"], false);
    assert!(billing.get("email").is_none());
}

#[tokio::test]
async fn userinfo_and_id_token_carry_the_same_profile_claims() {
    // Authlib clients read only the ID token; others only userinfo: they must agree.
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let tokens = tokens_for(&app, &client, "openid profile email read-billing").await;
    let id_claims = verify_id_token(&app, &client, tokens["id_token"].as_str().unwrap()).await;
    let userinfo: Value = userinfo_get(&app, &access_token(&tokens)).await.json().await.unwrap();
    let userinfo = userinfo.as_object().unwrap();
    for (name, value) in userinfo {
        assert_eq!(&id_claims[name], value, "{name} differs");
    }
    for name in [
        "sub",
        "name",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "email",
        "email_verified",
        "isPro",
        "canPay",
        "orgs",
    ] {
        assert!(userinfo.contains_key(name), "{name} missing from userinfo");
    }
}

#[tokio::test]
async fn userinfo_reflects_a_profile_change() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let client = app.confidential_client().await;
    let token = access_token(&tokens_for(&app, &client, "openid profile").await);
    app.store
        .update_profile(
            &alice.id,
            &doorway_store::ProfileUpdate {
                name: Some("Alice Liddell".into()),
                avatar_url: Some("https://cdn.example/alice.png".into()),
                website: Some("https://alice.example".into()),
            },
            0,
        )
        .await
        .unwrap();
    let claims: Value = userinfo_get(&app, &token).await.json().await.unwrap();
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["picture"], "https://cdn.example/alice.png");
    assert_eq!(claims["website"], "https://alice.example");
}

#[tokio::test]
async fn userinfo_is_reachable_cross_origin() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let token = access_token(&tokens_for(&app, &client, "openid").await);
    let response = reqwest::Client::new()
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(&token)
        .header("origin", "https://spa.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("access-control-allow-origin").is_some());
}
