//! An app restricted to one organization's members (`authorized_org`): leaving the org ends
//! what the person's earlier sign-in gave the app. RFC 6749 §5.2 `invalid_grant` at refresh
//! (and the family revoked), the same for a device code approved before leaving, RFC 6750 §3.1
//! `invalid_token` at userinfo and `active: false` at introspection. The `orgs` claim at
//! refresh follows current membership.

use doorway_core::model::ClientKind;
use doorway_core::oauth::grant::GrantTypes;
use doorway_core::secrets::hash_secret;
use doorway_core::types::{OrgRole, RedirectPolicy};
use doorway_store::{AppProfile, NewClient};
use serde_json::Value;

use crate::create_org;
use crate::helpers::*;

/// Restricts `client` to the members of `org`.
async fn restrict(app: &TestApp, client: TestClient, org: &str) -> TestClient {
    let stored = app.store.find_client(&client.client_id).await.unwrap().unwrap();
    let profile = AppProfile { authorized_org: Some(org.into()), ..AppProfile::from(&stored) };
    assert!(app.store.update_app(None, &NewClient::from(&stored), &profile).await.unwrap());
    client
}

async fn refresh(app: &TestApp, client: &TestClient, refresh_token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(app.url("/oauth/token"))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn introspect(app: &TestApp, client: &TestClient, token: &str) -> Value {
    let response = reqwest::Client::new()
        .post(app.url("/oauth/introspect"))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// carol, a reader in acme, signs in to `client` and gets tokens.
async fn carol_tokens(app: &TestApp, client: &TestClient) -> Value {
    let back = Browser::new().authorize(app, &authorize_url(app, client, &[]), "carol", "allow").await;
    let code = query_of(&back)["code"].clone();
    let response = exchange(app, client, &code).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn org_subs(claims: &Value) -> Vec<String> {
    let mut subs: Vec<String> =
        claims["orgs"].as_array().unwrap().iter().map(|o| o["sub"].as_str().unwrap().to_owned()).collect();
    subs.sort();
    subs
}

#[tokio::test]
async fn a_refresh_after_leaving_the_apps_organization_is_invalid_grant_and_ends_the_family() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let carol = app.create_user("carol").await;
    let acme = create_org(&app, "acme", &alice.id).await;
    app.store.add_org_member(&acme.id, &carol.id, OrgRole::Read, 2).await.unwrap();
    let client = restrict(&app, app.confidential_client().await, "acme").await;
    let tokens = carol_tokens(&app, &client).await;

    // A member refreshes as usual.
    let (status, refreshed) = refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{refreshed}");
    let live = refreshed["refresh_token"].as_str().unwrap().to_owned();

    // Removed from acme: the next refresh is refused with a reason, and the family ends.
    app.store.remove_org_member(&acme.id, &carol.id).await.unwrap();
    let (status, body) = refresh(&app, &client, &live).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "the user is no longer a member of the organization acme");
    let stored = app.store.find_refresh_token(&hash_secret(&live)).await.unwrap().unwrap();
    assert!(stored.revoked_at.is_some(), "the refresh token is revoked");

    // Back in acme, the old grant stays dead: a new sign-in is needed.
    app.store.add_org_member(&acme.id, &carol.id, OrgRole::Read, 3).await.unwrap();
    let (status, body) = refresh(&app, &client, &live).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(body["error_description"], "the refresh token is invalid, expired or revoked");
}

#[tokio::test]
async fn userinfo_and_introspection_refuse_the_tokens_of_a_person_who_left_the_apps_organization() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let carol = app.create_user("carol").await;
    let acme = create_org(&app, "acme", &alice.id).await;
    app.store.add_org_member(&acme.id, &carol.id, OrgRole::Read, 2).await.unwrap();
    let client = restrict(&app, app.confidential_client().await, "acme").await;
    let tokens = carol_tokens(&app, &client).await;
    let access_token = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let userinfo = || reqwest::Client::new().get(app.url("/oauth/userinfo")).bearer_auth(access_token).send();
    assert_eq!(userinfo().await.unwrap().status(), 200);
    assert_eq!(introspect(&app, &client, access_token).await["active"], true);
    assert_eq!(introspect(&app, &client, refresh_token).await["active"], true);

    app.store.remove_org_member(&acme.id, &carol.id).await.unwrap();
    // RFC 7662 §2.2: a resource server asking is told the tokens are no longer active.
    assert_eq!(introspect(&app, &client, access_token).await, serde_json::json!({ "active": false }));
    assert_eq!(introspect(&app, &client, refresh_token).await, serde_json::json!({ "active": false }));
    let refused = userinfo().await.unwrap();
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer realm=\"doorway\", error=\"invalid_token\""), "{challenge}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(body["error_description"], "the user is no longer a member of the organization this app admits");

    // An unrestricted app is not concerned: alice's token there keeps working.
    let open = app.confidential_client().await;
    let alice_tokens = tokens_for(&app, &open, "openid profile").await;
    let ok = reqwest::Client::new()
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(alice_tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn the_orgs_claim_of_a_refreshed_id_token_follows_current_membership() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    let acme = create_org(&app, "acme", &alice.id).await;
    let beta = create_org(&app, "beta", &bob.id).await;
    app.store.add_org_member(&beta.id, &alice.id, OrgRole::Write, 2).await.unwrap();
    let client = app.confidential_client().await;
    let tokens = tokens_for(&app, &client, "openid profile").await;
    let claims = verify_id_token(&app, &client, tokens["id_token"].as_str().unwrap()).await;
    let mut both = vec![acme.sub.clone(), beta.sub.clone()];
    both.sort();
    assert_eq!(org_subs(&claims), both);

    app.store.remove_org_member(&beta.id, &alice.id).await.unwrap();
    let (status, refreshed) = refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{refreshed}");
    let claims = verify_id_token(&app, &client, refreshed["id_token"].as_str().unwrap()).await;
    assert_eq!(org_subs(&claims), vec![acme.sub.clone()], "beta is gone from the claim");

    let gamma = create_org(&app, "gamma", &bob.id).await;
    app.store.add_org_member(&gamma.id, &alice.id, OrgRole::Read, 3).await.unwrap();
    let (status, again) = refresh(&app, &client, refreshed["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{again}");
    let claims = verify_id_token(&app, &client, again["id_token"].as_str().unwrap()).await;
    let mut now = vec![acme.sub.clone(), gamma.sub.clone()];
    now.sort();
    assert_eq!(org_subs(&claims), now, "a newly joined org appears");
}

#[tokio::test]
async fn a_device_code_approved_before_leaving_the_apps_organization_yields_invalid_grant() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let carol = app.create_user("carol").await;
    let acme = create_org(&app, "acme", &alice.id).await;
    app.store.add_org_member(&acme.id, &carol.id, OrgRole::Read, 2).await.unwrap();
    let client = app
        .create_client_with("http://127.0.0.1/callback", ClientKind::Public, RedirectPolicy::Exact, |c| {
            c.grant_types = GrantTypes::parse("device_code refresh_token").unwrap();
        })
        .await;
    let client = restrict(&app, client, "acme").await;
    let http = reqwest::Client::new();
    let form = [("client_id", client.client_id.as_str()), ("scope", "openid profile")];
    let started: Value = http.post(app.url("/oauth/device")).form(&form).send().await.unwrap().json().await.unwrap();
    let user_code = started["user_code"].as_str().unwrap();

    // carol, a member, approves on the /device pages.
    let browser = Browser::new();
    browser.login(&app, "carol").await;
    let page = browser.get(&app.url("/device")).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let confirm = browser
        .http
        .post(app.url("/device"))
        .form(&[("csrf_token", csrf.as_str()), ("user_code", user_code)])
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    let csrf = input_value(&confirm.text().await.unwrap(), "csrf_token").unwrap();
    let done = browser
        .http
        .post(app.url("/device"))
        .form(&[("csrf_token", csrf.as_str()), ("user_code", user_code), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);

    // She leaves before the device polls: no tokens.
    app.store.remove_org_member(&acme.id, &carol.id).await.unwrap();
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", started["device_code"].as_str().unwrap()),
        ("client_id", client.client_id.as_str()),
    ];
    let polled = http.post(app.url("/oauth/token")).form(&poll).send().await.unwrap();
    assert_eq!(polled.status(), 400);
    let body: Value = polled.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "the user is no longer a member of the organization acme");
}
