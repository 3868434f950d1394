//! The life of a grant after the code: refresh with rotation and reuse detection, revocation
//! (RFC 7009), introspection (RFC 7662), client credentials.

use doorway_core::model::ClientKind;
use doorway_core::oauth::grant::{GrantType, GrantTypes};
use doorway_core::types::{RedirectPolicy, ScopeSet};
use serde_json::Value;

use crate::helpers::*;

async fn post(app: &TestApp, path: &str, client: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(app.url(path));
    let mut form = form.to_vec();
    match &client.secret {
        Some(secret) => request = request.basic_auth(&client.client_id, Some(secret)),
        None => form.push(("client_id", &client.client_id)),
    }
    request.form(&form).send().await.unwrap()
}

async fn refresh(app: &TestApp, client: &TestClient, token: &str) -> reqwest::Response {
    post(app, "/oauth/token", client, &[("grant_type", "refresh_token"), ("refresh_token", token)]).await
}

async fn userinfo_status(app: &TestApp, access_token: &str) -> u16 {
    let response =
        reqwest::Client::new().get(app.url("/oauth/userinfo")).bearer_auth(access_token).send().await.unwrap();
    response.status().as_u16()
}

async fn introspect(app: &TestApp, client: &TestClient, token: &str) -> Value {
    let response = post(app, "/oauth/introspect", client, &[("token", token)]).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn str_of<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key].as_str().unwrap_or_else(|| panic!("no {key} in {body}"))
}

#[tokio::test]
async fn refresh_rotates_and_the_new_id_token_keeps_sub_aud_auth_time_without_nonce() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let first = tokens_for(&app, &client, "openid profile").await;
    let first_claims = verify_id_token(&app, &client, str_of(&first, "id_token")).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let response = refresh(&app, &client, str_of(&first, "refresh_token")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let second: Value = response.json().await.unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"], "rotated");
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["expires_in"], 3600);
    let claims = verify_id_token(&app, &client, str_of(&second, "id_token")).await;
    assert_eq!(claims["sub"], first_claims["sub"]);
    assert_eq!(claims["aud"], first_claims["aud"]);
    assert_eq!(claims["auth_time"], first_claims["auth_time"]);
    assert!(claims["iat"].as_i64() > first_claims["iat"].as_i64(), "a new iat");
    assert!(claims.get("nonce").is_none(), "no nonce on refresh");
    assert_eq!(userinfo_status(&app, str_of(&second, "access_token")).await, 200);
}

#[tokio::test]
async fn refresh_reuse_revokes_the_whole_family() {
    let app = spawn_app_with(|c| c.refresh_grace = 0).await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let first = tokens_for(&app, &client, "openid profile").await;
    let second: Value = refresh(&app, &client, str_of(&first, "refresh_token")).await.json().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // The rotated-out token again: a replay.
    let replay = refresh(&app, &client, str_of(&first, "refresh_token")).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(replay.json::<Value>().await.unwrap()["error"], "invalid_grant");

    // Everything descended from the grant is dead: the successor and both access tokens.
    let successor = refresh(&app, &client, str_of(&second, "refresh_token")).await;
    assert_eq!(successor.json::<Value>().await.unwrap()["error"], "invalid_grant");
    assert_eq!(userinfo_status(&app, str_of(&first, "access_token")).await, 401);
    assert_eq!(userinfo_status(&app, str_of(&second, "access_token")).await, 401);
}

#[tokio::test]
async fn concurrent_refreshes_get_the_same_successor_and_leave_one_lineage() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let first = tokens_for(&app, &client, "openid profile").await;
    let token = str_of(&first, "refresh_token").to_owned();
    let attempts = (0..10).map(|_| refresh(&app, &client, &token));
    let responses = futures::future::join_all(attempts).await;
    let mut successors = std::collections::BTreeSet::new();
    let mut access_tokens = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 200, "no refresh within the grace window trips reuse detection");
        let body: Value = response.json().await.unwrap();
        successors.insert(str_of(&body, "refresh_token").to_owned());
        access_tokens.push(str_of(&body, "access_token").to_owned());
    }
    assert_eq!(successors.len(), 1, "one successor: one live lineage");
    let successor = successors.into_iter().next().unwrap();
    for access in &access_tokens {
        assert_eq!(userinfo_status(&app, access).await, 200);
    }
    // The lineage continues from the one successor.
    let next = refresh(&app, &client, &successor).await;
    assert_eq!(next.status(), 200);
    let third: Value = next.json().await.unwrap();
    assert_ne!(str_of(&third, "refresh_token"), successor);
}

#[tokio::test]
async fn refresh_may_narrow_the_scope_but_not_widen_it() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let first = tokens_for(&app, &client, "openid profile").await;
    let token = str_of(&first, "refresh_token");

    let wider = post(
        &app,
        "/oauth/token",
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", token), ("scope", "openid profile email")],
    )
    .await;
    assert_eq!(wider.status(), 400);
    assert_eq!(wider.json::<Value>().await.unwrap()["error"], "invalid_scope");

    // The failed attempt did not consume the token.
    let narrower = post(
        &app,
        "/oauth/token",
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", token), ("scope", "openid")],
    )
    .await;
    assert_eq!(narrower.status(), 200);
    let body: Value = narrower.json().await.unwrap();
    assert_eq!(body["scope"], "openid");
    let claims = verify_id_token(&app, &client, str_of(&body, "id_token")).await;
    assert!(claims.get("preferred_username").is_none(), "profile was narrowed away");
    // The refresh token keeps the original grant: profile can come back on the next refresh.
    let full = refresh(&app, &client, str_of(&body, "refresh_token")).await.json::<Value>().await.unwrap();
    assert_eq!(full["scope"], "openid profile");
}

#[tokio::test]
async fn refresh_token_of_another_client_is_invalid_grant() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let other = app.confidential_client().await;
    let first = tokens_for(&app, &client, "openid").await;
    let stolen = refresh(&app, &other, str_of(&first, "refresh_token")).await;
    assert_eq!(stolen.status(), 400);
    assert_eq!(stolen.json::<Value>().await.unwrap()["error"], "invalid_grant");
    assert_eq!(
        refresh(&app, &client, str_of(&first, "refresh_token")).await.status(),
        200,
        "still usable by its owner"
    );
}

/// The user is read with the rotation, in its transaction: an account disabled behind the
/// tokens' back (here in the store alone, without the revocation the CLI and API add) gets nothing.
#[tokio::test]
async fn refresh_for_a_disabled_account_is_invalid_grant() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let client = app.confidential_client().await;
    let first = tokens_for(&app, &client, "openid").await;
    app.store.set_user_disabled(&alice.id, true, 1).await.unwrap();
    let refused = refresh(&app, &client, str_of(&first, "refresh_token")).await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(str_of(&body, "error_description").contains("disabled"), "{body}");
}

#[tokio::test]
async fn public_clients_get_refresh_tokens_too() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.create_client("http://127.0.0.1/cb", ClientKind::Public, RedirectPolicy::Exact).await;
    let first = tokens_for(&app, &client, "openid").await;
    let response = refresh(&app, &client, str_of(&first, "refresh_token")).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn apps_without_the_refresh_grant_get_no_refresh_token_and_cannot_refresh() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app
        .create_client_with("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact, |c| {
            c.grant_types = [GrantType::AuthorizationCode].into_iter().collect::<GrantTypes>();
        })
        .await;
    let tokens = tokens_for(&app, &client, "openid").await;
    assert!(tokens.get("refresh_token").is_none());
    let response = refresh(&app, &client, "dw_rt_whatever").await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "unauthorized_client");
}

#[tokio::test]
async fn expired_refresh_token_is_invalid_grant() {
    let app = spawn_app_with(|c| c.refresh_idle_ttl = 1).await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let first = tokens_for(&app, &client, "openid").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let response = refresh(&app, &client, str_of(&first, "refresh_token")).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let tokens = tokens_for(&app, &client, "openid").await;
    let response = post(
        &app,
        "/oauth/revoke",
        &client,
        &[("token", str_of(&tokens, "refresh_token")), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(userinfo_status(&app, str_of(&tokens, "access_token")).await, 401);
    assert_eq!(refresh(&app, &client, str_of(&tokens, "refresh_token")).await.status(), 400);
}

#[tokio::test]
async fn revoking_an_access_token_ends_it_alone() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let tokens = tokens_for(&app, &client, "openid").await;
    // The hint is only a hint: a wrong one still finds the token.
    let response = post(
        &app,
        "/oauth/revoke",
        &client,
        &[("token", str_of(&tokens, "access_token")), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(userinfo_status(&app, str_of(&tokens, "access_token")).await, 401);
    assert_eq!(refresh(&app, &client, str_of(&tokens, "refresh_token")).await.status(), 200);
}

#[tokio::test]
async fn revoking_an_unknown_token_answers_200() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let response = post(&app, "/oauth/revoke", &client, &[("token", "dw_oauth_never-issued")]).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn revocation_requires_client_authentication_and_ownership() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let other = app.confidential_client().await;
    let tokens = tokens_for(&app, &client, "openid").await;
    let anonymous = reqwest::Client::new()
        .post(app.url("/oauth/revoke"))
        .form(&[("token", str_of(&tokens, "access_token")), ("client_id", &client.client_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "a confidential client must authenticate");
    let foreign = post(&app, "/oauth/revoke", &other, &[("token", str_of(&tokens, "access_token"))]).await;
    assert_eq!(foreign.status(), 400);
    assert_eq!(userinfo_status(&app, str_of(&tokens, "access_token")).await, 200, "not revoked by another app");
}

#[tokio::test]
async fn introspection_describes_live_tokens_and_only_says_inactive_otherwise() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let client = app.confidential_client().await;
    let tokens = tokens_for(&app, &client, "openid profile").await;

    let access = introspect(&app, &client, str_of(&tokens, "access_token")).await;
    assert_eq!(access["active"], true);
    assert_eq!(access["scope"], "openid profile");
    assert_eq!(access["client_id"], client.client_id);
    assert_eq!(access["username"], "alice");
    assert_eq!(access["sub"], alice.sub);
    assert_eq!(access["token_type"], "Bearer");
    assert!(access["exp"].as_i64().unwrap() > access["iat"].as_i64().unwrap());

    let refresh_info = introspect(&app, &client, str_of(&tokens, "refresh_token")).await;
    assert_eq!(refresh_info["active"], true);
    assert_eq!(refresh_info["token_type"], "refresh_token");

    assert_eq!(introspect(&app, &client, "nonsense").await, serde_json::json!({"active": false}));
    post(&app, "/oauth/revoke", &client, &[("token", str_of(&tokens, "access_token"))]).await;
    assert_eq!(introspect(&app, &client, str_of(&tokens, "access_token")).await, serde_json::json!({"active": false}));
}

#[tokio::test]
async fn expired_access_tokens_are_inactive_and_refused_at_userinfo() {
    let app = spawn_app_with(|c| c.access_token_ttl = 1).await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let tokens = tokens_for(&app, &client, "openid").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(userinfo_status(&app, str_of(&tokens, "access_token")).await, 401);
    assert_eq!(introspect(&app, &client, str_of(&tokens, "access_token")).await["active"], false);
}

#[tokio::test]
async fn introspection_needs_an_authenticated_confidential_client() {
    let app = spawn_app().await;
    let public = app.create_client("http://127.0.0.1/cb", ClientKind::Public, RedirectPolicy::Exact).await;
    let response = post(&app, "/oauth/introspect", &public, &[("token", "x")]).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_client");
    let confidential = app.confidential_client().await;
    let wrong = reqwest::Client::new()
        .post(app.url("/oauth/introspect"))
        .basic_auth(&confidential.client_id, Some("wrong"))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}

async fn machine_client(app: &TestApp) -> TestClient {
    app.create_client_with("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact, |c| {
        c.grant_types = [GrantType::ClientCredentials].into_iter().collect::<GrantTypes>();
        c.scopes = ScopeSet::parse("openid read-repos").unwrap();
    })
    .await
}

#[tokio::test]
async fn client_credentials_issue_an_opaque_token_without_a_user() {
    let app =
        spawn_app_with(|c| c.extra_scopes.push(doorway_server::config::ScopeDef::new("read-repos", "Read repos", &[])))
            .await;
    let client = machine_client(&app).await;
    let response = post(&app, "/oauth/token", &client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "read-repos", "identity scopes make no sense without a user");
    assert!(body.get("id_token").is_none());
    assert!(body.get("refresh_token").is_none());
    let info = introspect(&app, &client, str_of(&body, "access_token")).await;
    assert_eq!(info["active"], true);
    assert!(info.get("sub").is_none());
    assert_eq!(userinfo_status(&app, str_of(&body, "access_token")).await, 403, "no openid scope");

    let wide = post(&app, "/oauth/token", &client, &[("grant_type", "client_credentials"), ("scope", "openid")]).await;
    assert_eq!(wide.json::<Value>().await.unwrap()["error"], "invalid_scope");
}

#[tokio::test]
async fn client_credentials_are_refused_to_apps_that_did_not_enable_them() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let response = post(&app, "/oauth/token", &client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "unauthorized_client");
    let unknown = post(&app, "/oauth/token", &client, &[("grant_type", "password")]).await;
    assert_eq!(unknown.json::<Value>().await.unwrap()["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn changing_the_password_revokes_every_token_and_ends_other_sessions() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let tokens = tokens_for(&app, &client, "openid").await;
    let other_browser = Browser::new();
    other_browser.login(&app, "alice").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let page = browser.get(&app.url("/account")).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();

    let wrong = browser
        .http
        .post(app.url("/account/password"))
        .form(&[("csrf_token", csrf.as_str()), ("current_password", "not it"), ("new_password", "a new long password")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    assert_eq!(userinfo_status(&app, str_of(&tokens, "access_token")).await, 200, "nothing changed");

    let changed = browser
        .http
        .post(app.url("/account/password"))
        .form(&[("csrf_token", csrf.as_str()), ("current_password", PASSWORD), ("new_password", "a new long password")])
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 303);
    assert_eq!(userinfo_status(&app, str_of(&tokens, "access_token")).await, 401);
    assert_eq!(refresh(&app, &client, str_of(&tokens, "refresh_token")).await.status(), 400);
    assert_eq!(browser.get(&app.url("/account")).await.status(), 200, "this browser stays signed in");
    assert_eq!(other_browser.get(&app.url("/account")).await.status(), 303, "other sessions end");
}

#[tokio::test]
async fn a_password_change_also_kills_codes_not_yet_redeemed() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    let code = obtain_code(&app, &browser, &client, &[]).await;
    let page = browser.get(&app.url("/account")).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let changed = browser
        .http
        .post(app.url("/account/password"))
        .form(&[("csrf_token", csrf.as_str()), ("current_password", PASSWORD), ("new_password", "a new long password")])
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 303);
    let response = exchange(&app, &client, &code).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

#[tokio::test]
async fn apps_without_the_code_grant_cannot_ask_for_a_code() {
    let app = spawn_app().await;
    let client = app
        .create_client_with("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact, |c| {
            c.grant_types = [GrantType::ClientCredentials].into_iter().collect::<GrantTypes>();
        })
        .await;
    let response = Browser::new().get(&authorize_url(&app, &client, &[])).await;
    let query = redirected_error(&response, &client);
    assert_eq!(query["error"], "unauthorized_client");
}
