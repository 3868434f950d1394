//! Passkeys over HTTP, for what needs no authenticator: who may call the ceremony endpoints,
//! single-use and expiring ceremonies, the refusal of IP-address issuers, and renaming and
//! removing only one's own passkeys. Real registrations and sign-ins run in Chromium
//! (tests/browser/passkeys.mjs); `attacks` signs with a software authenticator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod attacks;
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
mod soft;

use doorway_core::secrets::hash_secret;
use doorway_store::{CeremonyPurpose, StoredPasskey};
use helpers::{Browser, TestApp, input_value, location, spawn_app, spawn_app_with};
use serde_json::{Value, json};

/// A Doorway whose issuer is `http://localhost:PORT`: a domain name, so passkeys are offered.
async fn localhost_app() -> TestApp {
    spawn_app_with(|config| config.issuer = format!("http://localhost:{}", config.listen.port())).await
}

/// The CSRF token of a page the browser loads (the login page sets the cookie).
async fn csrf(app: &TestApp, browser: &Browser, path: &str) -> String {
    let page = browser.get(&app.url(path)).await.text().await.unwrap();
    input_value(&page, "csrf_token").expect("a csrf_token on the page")
}

async fn post_json(browser: &Browser, url: &str, csrf: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = browser.http.post(url).json(body);
    if let Some(token) = csrf {
        request = request.header("x-csrf-token", token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text })))
}

/// A well-formed assertion that no authenticator made.
fn fake_assertion(user_handle: Option<&str>) -> Value {
    json!({
        "id": "AAECAwQ", "rawId": "AAECAwQ", "type": "public-key",
        "response": {
            "authenticatorData": "AAAA", "clientDataJSON": "e30", "signature": "AAAA",
            "userHandle": user_handle,
        },
        "extensions": {}
    })
}

/// A stored passkey row for `user_id` (its `passkey` JSON is never parsed by these tests).
async fn stored_passkey(app: &TestApp, user_id: &str, name: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    app.store
        .add_passkey(&StoredPasskey {
            id: id.clone(),
            user_id: user_id.to_owned(),
            credential_id: format!("cred-{id}"),
            passkey: "{}".into(),
            name: name.into(),
            created_at: 1_800_000_000,
            last_used_at: None,
        })
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn registration_requires_a_signed_in_person() {
    let app = localhost_app().await;
    let browser = Browser::new();
    let token = csrf(&app, &browser, "/login").await;
    let (status, body) =
        post_json(&browser, &app.url("/settings/passkeys/register/start"), Some(&token), &json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "login_required");
    let (status, body) = post_json(
        &browser,
        &app.url("/settings/passkeys/register/finish"),
        Some(&token),
        &json!({ "ceremony": "x", "credential": {} }),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "login_required");
}

#[tokio::test]
async fn ceremony_endpoints_refuse_a_missing_or_forged_csrf_token() {
    let app = localhost_app().await;
    app.create_user("alice").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    for path in ["/settings/passkeys/register/start", "/login/passkey/start", "/login/passkey/finish"] {
        let (status, body) = post_json(&browser, &app.url(path), None, &json!({})).await;
        assert_eq!(status, 403, "{path} without a token");
        assert_eq!(body["error"], "invalid_csrf_token", "{path}");
        let forged = "f".repeat(43);
        let (status, _) = post_json(&browser, &app.url(path), Some(&forged), &json!({})).await;
        assert_eq!(status, 403, "{path} with a forged token");
    }
    // A page of another site cannot read the cookie, so cannot send the token: a cross-site
    // POST that only carries cookies starts nothing.
    let (status, _) = post_json(&Browser::new(), &app.url("/login/passkey/start"), None, &json!({})).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn registration_options_require_a_discoverable_user_verified_passkey_for_the_issuer_host() {
    let app = localhost_app().await;
    let alice = app.create_user("alice").await;
    stored_passkey(&app, &alice.id, "Old laptop").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let token = csrf(&app, &browser, "/settings/passkeys").await;
    let (status, body) =
        post_json(&browser, &app.url("/settings/passkeys/register/start"), Some(&token), &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["ceremony"].as_str().unwrap().len() >= 32);
    let pk = &body["options"]["publicKey"];
    // RP ID = the issuer's host, never the request's Host (the request went to localhost too).
    assert_eq!(pk["rp"]["id"], "localhost");
    assert_eq!(pk["user"]["name"], "alice");
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["requireResidentKey"], true);
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    // The stored row's JSON is not a passkey: it is skipped, not a 500.
    assert!(pk["excludeCredentials"].as_array().is_none_or(Vec::is_empty), "{pk}");
}

#[tokio::test]
async fn sign_in_options_let_the_browser_offer_any_passkey_with_user_verification() {
    let app = localhost_app().await;
    let browser = Browser::new();
    let token = csrf(&app, &browser, "/login").await;
    let (status, body) = post_json(&browser, &app.url("/login/passkey/start"), Some(&token), &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let pk = &body["options"]["publicKey"];
    assert_eq!(pk["rpId"], "localhost");
    assert_eq!(pk["userVerification"], "required");
    assert!(pk["allowCredentials"].as_array().is_none_or(Vec::is_empty), "discoverable: {pk}");
    assert_eq!(body["options"]["mediation"], "conditional");
}

#[tokio::test]
async fn a_finish_without_a_start_is_refused() {
    let app = localhost_app().await;
    let browser = Browser::new();
    let token = csrf(&app, &browser, "/login").await;
    let body = json!({ "ceremony": "never-started", "credential": fake_assertion(None) });
    let (status, body) = post_json(&browser, &app.url("/login/passkey/finish"), Some(&token), &body).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "ceremony_expired");
}

#[tokio::test]
async fn an_expired_ceremony_or_one_of_another_kind_is_refused() {
    let app = localhost_app().await;
    let browser = Browser::new();
    let token = csrf(&app, &browser, "/login").await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    app.store
        .stash_passkey_ceremony(&hash_secret("expired-one"), CeremonyPurpose::Authenticate, None, "{}", now - 1)
        .await
        .unwrap();
    let body = json!({ "ceremony": "expired-one", "credential": fake_assertion(None) });
    let (status, body) = post_json(&browser, &app.url("/login/passkey/finish"), Some(&token), &body).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "ceremony_expired");
    // A registration's ceremony cannot finish a sign-in.
    app.store
        .stash_passkey_ceremony(&hash_secret("a-registration"), CeremonyPurpose::Register, None, "{}", now + 300)
        .await
        .unwrap();
    let body = json!({ "ceremony": "a-registration", "credential": fake_assertion(None) });
    let (status, body) = post_json(&browser, &app.url("/login/passkey/finish"), Some(&token), &body).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "ceremony_expired");
    // Expired ceremonies are purged. Expired by a clock an hour ahead: the server's own purge job
    // (real time, first run at start-up) cannot take it first and leave this purge nothing.
    app.store
        .stash_passkey_ceremony(&hash_secret("left-over"), CeremonyPurpose::Authenticate, None, "{}", now + 3600)
        .await
        .unwrap();
    let purged = app.store.purge_expired(now + 7200, 0).await.unwrap();
    assert!(purged.other >= 1, "{purged:?}");
    assert!(
        app.store
            .take_passkey_ceremony(&hash_secret("left-over"), CeremonyPurpose::Authenticate, 0)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_registration_ceremony_started_by_another_account_is_refused() {
    let app = localhost_app().await;
    app.create_user("alice").await;
    app.create_user("mallory").await;
    let alice = Browser::new();
    alice.login(&app, "alice").await;
    let alice_token = csrf(&app, &alice, "/settings/passkeys").await;
    let (_, start) =
        post_json(&alice, &app.url("/settings/passkeys/register/start"), Some(&alice_token), &json!({})).await;
    let mallory = Browser::new();
    mallory.login(&app, "mallory").await;
    let token = csrf(&app, &mallory, "/settings/passkeys").await;
    let credential = json!({
        "id": "AAECAwQ", "rawId": "AAECAwQ", "type": "public-key",
        "response": { "attestationObject": "AAAA", "clientDataJSON": "e30" }
    });
    let body = json!({ "ceremony": start["ceremony"], "name": "stolen", "credential": credential });
    let (status, body) = post_json(&mallory, &app.url("/settings/passkeys/register/finish"), Some(&token), &body).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "ceremony_expired");
}

#[tokio::test]
async fn an_ip_address_issuer_refuses_passkeys_clearly() {
    let app = spawn_app().await; // http://127.0.0.1:PORT
    app.create_user("alice").await;
    let browser = Browser::new();
    let login = browser.get(&app.url("/login")).await.text().await.unwrap();
    assert!(!login.contains("passkey-signin"), "no passkey button on an IP-address issuer");
    assert!(login.contains(r#"autocomplete="username""#));
    let token = input_value(&login, "csrf_token").unwrap();
    let (status, body) = post_json(&browser, &app.url("/login/passkey/start"), Some(&token), &json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "passkeys_unavailable");
    assert!(body["error_description"].as_str().unwrap().contains("IP address"));
    browser.login(&app, "alice").await;
    let (status, body) =
        post_json(&browser, &app.url("/settings/passkeys/register/start"), Some(&token), &json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "passkeys_unavailable");
    let page = browser.get(&app.url("/settings/passkeys")).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("passkeys-unavailable") && !page.contains("passkey-add"));
}

#[tokio::test]
async fn the_login_page_offers_passkeys_on_a_domain_issuer() {
    let app = localhost_app().await;
    let page = Browser::new().get(&app.url("/login")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"autocomplete="username webauthn""#));
    assert!(html.contains(r#"id="passkey-signin""#));
    assert!(html.contains(r#"<script src="/static/passkeys.js" defer></script>"#));
    let script = reqwest::get(app.url("/static/passkeys.js")).await.unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(script.headers()["content-type"], "text/javascript; charset=utf-8");
    assert!(script.text().await.unwrap().contains("isConditionalMediationAvailable"));
}

#[tokio::test]
async fn renaming_or_removing_another_accounts_passkey_is_not_found() {
    let app = localhost_app().await;
    let alice = app.create_user("alice").await;
    app.create_user("mallory").await;
    let passkey = stored_passkey(&app, &alice.id, "Alice's phone").await;
    let mallory = Browser::new();
    mallory.login(&app, "mallory").await;
    let token = csrf(&app, &mallory, "/settings/passkeys").await;
    let mallory_page = mallory.get(&app.url("/settings/passkeys")).await.text().await.unwrap();
    assert!(!mallory_page.contains("Alice&#x27;s phone") && !mallory_page.contains(&passkey));
    let rename = mallory
        .http
        .post(app.url(&format!("/settings/passkeys/{passkey}/rename")))
        .form(&[("csrf_token", token.as_str()), ("name", "pwned")])
        .send()
        .await
        .unwrap();
    assert_eq!(rename.status(), 404);
    let delete = mallory
        .http
        .post(app.url(&format!("/settings/passkeys/{passkey}/delete")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 404);
    let kept = app.store.list_passkeys(&alice.id).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].name, "Alice's phone");
}

#[tokio::test]
async fn a_person_renames_and_removes_their_passkeys_and_the_security_log_says_so() {
    let app = localhost_app().await;
    let alice = app.create_user("alice").await;
    let phone = stored_passkey(&app, &alice.id, "Phone").await;
    let laptop = stored_passkey(&app, &alice.id, "Laptop").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let page = browser.get(&app.url("/settings/passkeys")).await.text().await.unwrap();
    assert!(page.contains("Phone") && page.contains("Laptop") && page.contains("Not used yet"));
    let token = input_value(&page, "csrf_token").unwrap();
    // Without the form's token: refused.
    let forged = browser
        .http
        .post(app.url(&format!("/settings/passkeys/{phone}/delete")))
        .form(&[("csrf_token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    // A name too long or blank is a readable 422, not a rename.
    for bad in ["", &"x".repeat(65)] {
        let response = browser
            .http
            .post(app.url(&format!("/settings/passkeys/{phone}/rename")))
            .form(&[("csrf_token", token.as_str()), ("name", bad)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
    }
    let renamed = browser
        .http
        .post(app.url(&format!("/settings/passkeys/{phone}/rename")))
        .form(&[("csrf_token", token.as_str()), ("name", "  Work phone ")])
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 303);
    assert_eq!(location(&renamed), "/settings/passkeys?done=renamed");
    let removed = browser
        .http
        .post(app.url(&format!("/settings/passkeys/{laptop}/delete")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 303);
    let left = app.store.list_passkeys(&alice.id).await.unwrap();
    assert_eq!(left.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Work phone"]);
    let log = browser.get(&app.url("/settings/security-log")).await.text().await.unwrap();
    assert!(log.contains("Passkey renamed"), "{log}");
    assert!(log.contains("Passkey removed"));
    // Signed out, the page sends people to sign in and back.
    let anonymous = Browser::new().get(&app.url("/settings/passkeys")).await;
    assert_eq!(anonymous.status(), 303);
    assert!(location(&anonymous).starts_with("/login?next=%2Fsettings%2Fpasskeys"));
}

#[tokio::test]
async fn an_unknown_passkey_is_refused_and_logged_without_a_500() {
    let app = localhost_app().await;
    let browser = Browser::new();
    let token = csrf(&app, &browser, "/login").await;
    let (_, start) = post_json(&browser, &app.url("/login/passkey/start"), Some(&token), &json!({})).await;
    // No user handle: not a discoverable credential's answer.
    let body = json!({ "ceremony": start["ceremony"], "credential": fake_assertion(None) });
    let (status, body) = post_json(&browser, &app.url("/login/passkey/finish"), Some(&token), &body).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "passkey_refused");
}

#[tokio::test]
async fn garbage_bodies_are_4xx_never_500() {
    let app = localhost_app().await;
    app.create_user("alice").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let token = csrf(&app, &browser, "/settings/passkeys").await;
    let paths = ["/login/passkey/finish", "/settings/passkeys/register/finish"];
    let bodies: Vec<(&str, String)> = vec![
        ("application/json", "not json".into()),
        ("application/json", "{}".into()),
        ("application/json", r#"{"ceremony": 5, "credential": []}"#.into()),
        ("application/json", r#"{"ceremony": "x", "credential": {"id": "***", "rawId": "%%%"}}"#.into()),
        ("application/json", format!(r#"{{"ceremony": "{}"}}"#, "a".repeat(30_000))),
        ("application/json", "\u{0}\u{1}".into()),
        ("text/plain", r#"{"ceremony": "x"}"#.into()),
    ];
    for path in paths {
        for (content_type, body) in &bodies {
            let response = browser
                .http
                .post(app.url(path))
                .header("content-type", *content_type)
                .header("x-csrf-token", &token)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            assert!((400..500).contains(&status), "{path} {content_type} {body:.40}: {status}");
            let json: Value = response.json().await.unwrap();
            assert!(json["error"].is_string(), "{path}: {json}");
        }
    }
    let huge = browser
        .http
        .post(app.url("/login/passkey/finish"))
        .header("content-type", "application/json")
        .header("x-csrf-token", &token)
        .body(vec![b'['; 1_000_000])
        .send()
        .await
        .unwrap();
    assert!((400..500).contains(&huge.status().as_u16()));
}
