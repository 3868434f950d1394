//! The `orgs` claim as hf-compat.md specifies it, in the ID token and in userinfo alike: every
//! org of the user with `{sub, name, preferred_username, picture, isEnterprise}`, plus
//! `roleInOrg` only for the orgs the user granted the app on the consent page (none by default);
//! the choice remembered with the consent and changeable from connected apps; `orgIds`; and
//! apps restricted to one organization's members.

use doorway_core::model::{ClientKind, Org};
use doorway_core::oauth::grant::GrantTypes;
use doorway_core::types::{OrgRole, RedirectPolicy};
use doorway_store::{AppProfile, NewClient};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::orgs::create_org;

/// alice: admin of acme, writer in beta (bob's); an app asking for `openid profile email`.
async fn setup() -> (TestApp, TestClient, Org, Org) {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    let acme = create_org(&app, "acme", &alice.id).await;
    let beta = create_org(&app, "beta", &bob.id).await;
    app.store.add_org_member(&beta.id, &alice.id, OrgRole::Write, 2).await.unwrap();
    let client = app.confidential_client().await;
    (app, client, acme, beta)
}

/// An org as the claim must show it.
fn org_json(app: &TestApp, org: &Org, role: Option<&str>) -> Value {
    let mut value = json!({
        "sub": org.sub,
        "name": org.title(),
        "preferred_username": org.name,
        "picture": app.url(&format!("/avatars/{}.svg", org.sub)),
        "isEnterprise": false,
    });
    if let Some(role) = role {
        value["roleInOrg"] = json!(role);
    }
    value
}

/// Answers a consent page with Allow and `ticked` orgs; returns the code sent to the app.
async fn allow_with(app: &TestApp, browser: &Browser, form: &Form, ticked: &[&Org]) -> String {
    let mut fields: Vec<(String, String)> = vec![
        ("decision".into(), "allow".into()),
        ("csrf_token".into(), form.csrf_token.clone()),
        ("interaction".into(), form.interaction.clone()),
    ];
    fields.extend(ticked.iter().map(|org| (format!("org_{}", org.sub), "on".to_owned())));
    let response = browser.http.post(app.url("/oauth/consent")).form(&fields).send().await.unwrap();
    assert_eq!(response.status(), 303);
    query_of(&location(&response))["code"].clone()
}

/// The ID token's claims and userinfo's answer for a code.
async fn claims_for(app: &TestApp, client: &TestClient, code: &str) -> (Value, Value) {
    let tokens: Value = exchange(app, client, code).await.json().await.unwrap();
    let id_token = verify_id_token(app, client, tokens["id_token"].as_str().unwrap()).await;
    let userinfo: Value = reqwest::Client::new()
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (id_token, userinfo)
}

fn ticked(html: &str, org: &Org) -> bool {
    html.contains(&format!("name=\"org_{}\" value=\"on\" checked", org.sub))
}

fn offered(html: &str, org: &Org) -> bool {
    html.contains(&format!("name=\"org_{}\"", org.sub))
}

#[tokio::test]
async fn consent_offers_every_org_unticked_and_the_claim_has_the_role_only_for_granted_ones() {
    let (app, client, acme, beta) = setup().await;
    let browser = Browser::new();
    let form = browser.consent_page(&app, &authorize_url(&app, &client, &[]), "alice").await;
    assert!(offered(&form.html, &acme) && offered(&form.html, &beta), "{}", form.html);
    assert!(!ticked(&form.html, &acme) && !ticked(&form.html, &beta), "nothing is shared in detail by default");

    let code = allow_with(&app, &browser, &form, &[&acme]).await;
    let (id_token, userinfo) = claims_for(&app, &client, &code).await;
    let expected = json!([org_json(&app, &acme, Some("admin")), org_json(&app, &beta, None)]);
    assert_eq!(id_token["orgs"], expected);
    assert_eq!(userinfo["orgs"], expected);
}

#[tokio::test]
async fn the_org_choice_is_remembered_and_changeable_from_connected_apps() {
    let (app, client, acme, beta) = setup().await;
    let browser = Browser::new();
    let form = browser.consent_page(&app, &authorize_url(&app, &client, &[]), "alice").await;
    allow_with(&app, &browser, &form, &[&beta]).await;

    // The next sign-in skips consent and keeps the choice.
    let code = obtain_code(&app, &browser, &client, &[]).await;
    let (id_token, _) = claims_for(&app, &client, &code).await;
    assert_eq!(id_token["orgs"], json!([org_json(&app, &acme, None), org_json(&app, &beta, Some("write"))]));

    let page = browser.get(&app.url("/settings/connected-applications")).await.text().await.unwrap();
    assert!(ticked(&page, &beta) && offered(&page, &acme) && !ticked(&page, &acme), "{page}");
    let csrf = input_value(&page, "csrf_token").unwrap();
    let acme_field = format!("org_{}", acme.sub);
    let form = [("csrf_token", csrf.as_str()), ("client_id", client.client_id.as_str()), (acme_field.as_str(), "on")];
    let saved = browser.http.post(app.url("/settings/connected-applications/orgs")).form(&form).send().await.unwrap();
    assert_eq!(saved.status(), 303);
    assert_eq!(location(&saved), "/settings/connected-applications?orgs_saved=1");

    let code = obtain_code(&app, &browser, &client, &[]).await;
    let (id_token, userinfo) = claims_for(&app, &client, &code).await;
    let expected = json!([org_json(&app, &acme, Some("admin")), org_json(&app, &beta, None)]);
    assert_eq!(id_token["orgs"], expected);
    assert_eq!(userinfo["orgs"], expected);
}

#[tokio::test]
async fn org_ids_offers_that_org_alone_ticked_and_asks_again_until_granted() {
    let (app, client, acme, beta) = setup().await;
    let browser = Browser::new();
    // A first consent that shares nothing in detail.
    let code = obtain_code(&app, &browser, &client, &[]).await;
    let (id_token, _) = claims_for(&app, &client, &code).await;
    assert_eq!(id_token["orgs"], json!([org_json(&app, &acme, None), org_json(&app, &beta, None)]));

    // Asking for beta shows the consent page again, offering beta alone, ticked.
    let url = authorize_url(&app, &client, &[("orgIds", &beta.sub)]);
    let page = browser.get(&url).await;
    assert_eq!(page.status(), 200, "the remembered consent does not cover beta");
    let form = Form::new(page.text().await.unwrap());
    assert!(ticked(&form.html, &beta) && !offered(&form.html, &acme), "{}", form.html);
    let code = allow_with(&app, &browser, &form, &[&beta]).await;
    let (id_token, _) = claims_for(&app, &client, &code).await;
    assert_eq!(id_token["orgs"], json!([org_json(&app, &acme, None), org_json(&app, &beta, Some("write"))]));

    // Granted now: no consent page. An org alice is not in asks for nothing.
    let again = browser.get(&url).await;
    assert!(redirected_code(&again, &client));
    let bob = app.store.find_user_by_username("bob").await.unwrap().unwrap();
    let gamma = create_org(&app, "gamma", &bob.id).await;
    let foreign = browser.get(&authorize_url(&app, &client, &[("orgIds", &gamma.sub)])).await;
    assert!(redirected_code(&foreign, &client));
}

/// Whether the response sends the browser straight back to the app with a code.
fn redirected_code(response: &reqwest::Response, client: &TestClient) -> bool {
    response.status() == 303
        && location(response).starts_with(&client.redirect_uri)
        && query_of(&location(response)).contains_key("code")
}

#[tokio::test]
async fn without_profile_there_is_neither_a_picker_nor_an_orgs_claim() {
    let (app, client, acme, _) = setup().await;
    let browser = Browser::new();
    let url = authorize_url(&app, &client, &[("scope", "openid email")]);
    let form = browser.consent_page(&app, &url, "alice").await;
    assert!(!offered(&form.html, &acme) && !form.html.contains("org_"));
    let code = allow_with(&app, &browser, &form, &[&acme]).await;
    let (id_token, userinfo) = claims_for(&app, &client, &code).await;
    assert!(id_token.get("orgs").is_none() && userinfo.get("orgs").is_none(), "{id_token} {userinfo}");
}

/// An app registered with `authorized_org = acme`.
async fn restricted_client(app: &TestApp) -> TestClient {
    restrict(app, app.confidential_client().await).await
}

/// Restricts `client` to the members of acme.
async fn restrict(app: &TestApp, client: TestClient) -> TestClient {
    let stored = app.store.find_client(&client.client_id).await.unwrap().unwrap();
    let profile = AppProfile { authorized_org: Some("acme".into()), ..AppProfile::from(&stored) };
    assert!(app.store.update_app(None, &NewClient::from(&stored), &profile).await.unwrap());
    client
}

#[tokio::test]
async fn an_app_restricted_to_an_organization_refuses_non_members_with_access_denied() {
    let (app, _, _, _) = setup().await;
    let client = restricted_client(&app).await;

    // bob is not in acme: a page saying why, whose button returns access_denied to the app.
    let bob = Browser::new();
    bob.login(&app, "bob").await;
    let refused = bob.get(&authorize_url(&app, &client, &[])).await;
    let page = error_page(refused, 403).await;
    assert!(page.contains("only admits members of the organization <strong>acme</strong>"), "{page}");
    let marker = "id=\"back-to-app\" href=\"";
    let start = page.find(marker).unwrap() + marker.len();
    let back = page[start..start + page[start..].find('"').unwrap()].replace("&amp;", "&").replace("&#x2f;", "/");
    assert!(back.starts_with(&client.redirect_uri), "{back}");
    let query = query_of(&back);
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["error_description"], "only members of the organization acme may sign in to this app");
    assert_eq!(query["state"], "xyz-state");
    assert_eq!(query["iss"], app.issuer);

    // prompt=none shows no page: straight back with the error.
    let silent = bob.get(&authorize_url(&app, &client, &[("prompt", "none")])).await;
    let query = redirected_error(&silent, &client);
    assert_eq!((query["error"].as_str(), query["state"].as_str()), ("access_denied", "xyz-state"));

    // alice, a member, signs in as usual.
    let code = obtain_code(&app, &Browser::new(), &client, &[]).await;
    assert_eq!(exchange(&app, &client, &code).await.status(), 200);
}

#[tokio::test]
async fn a_member_who_leaves_is_refused_by_the_restricted_app_even_with_a_remembered_consent() {
    let (app, _, acme, _) = setup().await;
    let client = restricted_client(&app).await;
    let carol = app.create_user("carol").await;
    app.store.add_org_member(&acme.id, &carol.id, OrgRole::Read, 3).await.unwrap();
    let browser = Browser::new();
    let back = browser.authorize(&app, &authorize_url(&app, &client, &[]), "carol", "allow").await;
    assert!(query_of(&back).contains_key("code"), "{back}");

    app.store.remove_org_member(&acme.id, &carol.id).await.unwrap();
    let refused = browser.get(&authorize_url(&app, &client, &[])).await;
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn a_device_sign_in_to_a_restricted_app_is_denied_for_non_members() {
    let (app, _, _, _) = setup().await;
    let client = app
        .create_client_with("http://127.0.0.1/callback", ClientKind::Public, RedirectPolicy::Exact, |c| {
            c.grant_types = GrantTypes::parse("device_code").unwrap();
        })
        .await;
    let client = restrict(&app, client).await;
    let http = reqwest::Client::new();
    let form = [("client_id", client.client_id.as_str()), ("scope", "openid profile")];
    let started: Value = http.post(app.url("/oauth/device")).form(&form).send().await.unwrap().json().await.unwrap();

    let bob = Browser::new();
    bob.login(&app, "bob").await;
    let page = bob.get(&app.url("/device")).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let form = [("csrf_token", csrf.as_str()), ("user_code", started["user_code"].as_str().unwrap())];
    let refused = bob.http.post(app.url("/device")).form(&form).send().await.unwrap();
    let page = error_page(refused, 403).await;
    assert!(page.contains("only admits members of the organization acme"), "{page}");

    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", started["device_code"].as_str().unwrap()),
        ("client_id", client.client_id.as_str()),
    ];
    let polled = http.post(app.url("/oauth/token")).form(&poll).send().await.unwrap();
    assert_eq!(polled.status(), 400);
    let body: Value = polled.json().await.unwrap();
    assert_eq!(body["error"], "access_denied");
}
