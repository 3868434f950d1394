//! Passkey sign-in attacked with real signatures (a software authenticator, see `soft`):
//! replayed and raced assertions, a cloned authenticator's counter, a user handle naming
//! someone else, another origin or RP ID, a disabled account, a ceremony carried to another
//! browser or altered, and a flood of unauthenticated starts.

use doorway_core::model::User;
use doorway_store::StoredPasskey;
use serde_json::{Value, json};

use super::helpers::{Browser, TestApp};
use super::soft::{Assertion, SoftPasskey, b64u};
use super::{csrf, localhost_app, post_json};

/// `username` with a passkey (held by the returned software authenticator).
async fn with_passkey(app: &TestApp, username: &str) -> (User, SoftPasskey) {
    let user = app.create_user(username).await;
    let key = SoftPasskey::new("localhost");
    app.store
        .add_passkey(&StoredPasskey {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user.id.clone(),
            credential_id: b64u(&key.credential_id),
            passkey: key.stored_json(),
            name: "Soft key".into(),
            created_at: 1_800_000_000,
            last_used_at: None,
        })
        .await
        .unwrap();
    (user, key)
}

fn handle_of(user: &User) -> Vec<u8> {
    doorway_server::webauthn::user_handle(&user.id).as_bytes().to_vec()
}

/// The origin browsers report for this app: the issuer's.
fn origin(app: &TestApp) -> String {
    app.issuer.trim_end_matches('/').to_owned()
}

/// A sign-in started in `browser`: its CSRF token, the ceremony and the challenge to sign.
async fn start(app: &TestApp, browser: &Browser) -> (String, String, String) {
    let token = csrf(app, browser, "/login").await;
    let (status, body) = post_json(browser, &app.url("/login/passkey/start"), Some(&token), &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let ceremony = body["ceremony"].as_str().unwrap().to_owned();
    let challenge = body["options"]["publicKey"]["challenge"].as_str().unwrap().to_owned();
    (token, ceremony, challenge)
}

async fn finish(app: &TestApp, browser: &Browser, token: &str, ceremony: &str, credential: Value) -> (u16, Value) {
    let body = json!({ "ceremony": ceremony, "credential": credential });
    post_json(browser, &app.url("/login/passkey/finish"), Some(token), &body).await
}

async fn signed_in(app: &TestApp, browser: &Browser) -> bool {
    browser.get(&app.url("/account")).await.status() == 200
}

#[tokio::test]
async fn a_passkey_signs_in_once_and_a_replayed_assertion_is_refused() {
    let app = localhost_app().await;
    let (alice, key) = with_passkey(&app, "alice").await;
    let browser = Browser::new();
    let (token, ceremony, challenge) = start(&app, &browser).await;
    let origin = origin(&app);
    let handle = handle_of(&alice);
    let credential =
        key.assert(&Assertion { challenge: &challenge, origin: &origin, user_handle: &handle, counter: 1 });
    let (status, body) = finish(&app, &browser, &token, &ceremony, credential.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["redirect"], "/account");
    assert!(signed_in(&app, &browser).await);
    // The same answer again (a captured request): the ceremony is spent.
    let attacker = Browser::new();
    let attacker_token = csrf(&app, &attacker, "/login").await;
    let (status, body) = finish(&app, &attacker, &attacker_token, &ceremony, credential.clone()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("ceremony_expired")));
    assert!(!signed_in(&app, &attacker).await);
    let token = csrf(&app, &browser, "/login").await; // the sign-in rotated the CSRF cookie
    let (status, body) = finish(&app, &browser, &token, &ceremony, credential).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn concurrent_finishes_of_one_assertion_sign_in_exactly_once() {
    let app = localhost_app().await;
    let (alice, key) = with_passkey(&app, "alice").await;
    let browser = Browser::new();
    let (token, ceremony, challenge) = start(&app, &browser).await;
    let (origin, handle) = (origin(&app), handle_of(&alice));
    let credential =
        key.assert(&Assertion { challenge: &challenge, origin: &origin, user_handle: &handle, counter: 1 });
    let body = json!({ "ceremony": ceremony, "credential": credential });
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = browser.http.post(app.url("/login/passkey/finish")).header("x-csrf-token", &token).json(&body);
        tasks.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    let statuses = tasks.join_all().await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 400), "{statuses:?}");
}

#[tokio::test]
async fn a_cloned_authenticator_whose_counter_does_not_advance_is_refused() {
    let app = localhost_app().await;
    let (alice, key) = with_passkey(&app, "alice").await;
    let (origin, handle) = (origin(&app), handle_of(&alice));
    let sign_in = |counter: u32| {
        let (app, key, origin, handle) = (&app, &key, &origin, &handle);
        async move {
            let browser = Browser::new();
            let (token, ceremony, challenge) = start(app, &browser).await;
            let assertion = Assertion { challenge: &challenge, origin, user_handle: handle, counter };
            finish(app, &browser, &token, &ceremony, key.assert(&assertion)).await
        }
    };
    assert_eq!(sign_in(5).await.0, 200);
    // WebAuthn §7.2 step 21: a counter at or below the stored one signals a clone.
    for counter in [5, 3] {
        let (status, body) = sign_in(counter).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("passkey_refused")), "counter {counter}");
    }
    assert_eq!(sign_in(6).await.0, 200);
}

#[tokio::test]
async fn an_assertion_whose_user_handle_names_another_account_is_refused() {
    let app = localhost_app().await;
    let (_alice, key) = with_passkey(&app, "alice").await;
    let bob = app.create_user("bob").await;
    let browser = Browser::new();
    let (token, ceremony, challenge) = start(&app, &browser).await;
    let (origin, bobs) = (origin(&app), handle_of(&bob));
    // Alice's key, signing honestly, but the answer claims to be Bob's credential.
    let credential = key.assert(&Assertion { challenge: &challenge, origin: &origin, user_handle: &bobs, counter: 1 });
    let (status, body) = finish(&app, &browser, &token, &ceremony, credential).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("passkey_refused")));
    assert!(!signed_in(&app, &browser).await);
}

#[tokio::test]
async fn an_assertion_made_for_another_origin_or_rp_id_is_refused() {
    let app = localhost_app().await;
    let (alice, key) = with_passkey(&app, "alice").await;
    let handle = handle_of(&alice);
    // A phishing page's origin (whatever Host the request carried: only the issuer counts).
    let browser = Browser::new();
    let (token, ceremony, challenge) = start(&app, &browser).await;
    let phished = key.assert(&Assertion {
        challenge: &challenge,
        origin: "http://localhost.evil.example",
        user_handle: &handle,
        counter: 1,
    });
    let (status, body) = finish(&app, &browser, &token, &ceremony, phished).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("passkey_refused")));
    // The same key signing for another RP ID.
    let mut elsewhere = SoftPasskey::new("evil.example");
    elsewhere.credential_id.clone_from(&key.credential_id);
    let (token, ceremony, challenge) = start(&app, &browser).await;
    let origin = origin(&app);
    let other_rp =
        elsewhere.assert(&Assertion { challenge: &challenge, origin: &origin, user_handle: &handle, counter: 1 });
    let (status, _) = finish(&app, &browser, &token, &ceremony, other_rp).await;
    assert_eq!(status, 400);
    assert!(!signed_in(&app, &browser).await);
}

#[tokio::test]
async fn a_disabled_accounts_passkey_signs_nobody_in() {
    let app = localhost_app().await;
    let (alice, key) = with_passkey(&app, "alice").await;
    app.store.set_user_disabled(&alice.id, true, 1_800_000_000).await.unwrap();
    let browser = Browser::new();
    let (token, ceremony, challenge) = start(&app, &browser).await;
    let (origin, handle) = (origin(&app), handle_of(&alice));
    let credential =
        key.assert(&Assertion { challenge: &challenge, origin: &origin, user_handle: &handle, counter: 1 });
    let (status, body) = finish(&app, &browser, &token, &ceremony, credential).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("passkey_refused")));
    assert!(!signed_in(&app, &browser).await);
}

#[tokio::test]
async fn a_sign_in_ceremony_carried_to_another_browser_or_altered_is_refused() {
    let app = localhost_app().await;
    let (alice, key) = with_passkey(&app, "alice").await;
    let victim = Browser::new();
    let (token, ceremony, challenge) = start(&app, &victim).await;
    let (origin, handle) = (origin(&app), handle_of(&alice));
    let credential =
        key.assert(&Assertion { challenge: &challenge, origin: &origin, user_handle: &handle, counter: 1 });
    // Another browser (its own CSRF cookie and token) cannot finish the victim's ceremony.
    let other = Browser::new();
    let other_token = csrf(&app, &other, "/login").await;
    let (status, body) = finish(&app, &other, &other_token, &ceremony, credential.clone()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("ceremony_expired")));
    // One character changed: not a ceremony this server sealed.
    let mut altered = ceremony.clone().into_bytes();
    altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let (status, body) = finish(&app, &victim, &token, &altered, credential.clone()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("ceremony_expired")));
    // The browser that started it still can.
    let (status, body) = finish(&app, &victim, &token, &ceremony, credential).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_flood_of_unauthenticated_sign_in_starts_stores_nothing() {
    let app = localhost_app().await;
    let browser = Browser::new();
    let token = csrf(&app, &browser, "/login").await;
    for _ in 0..200 {
        let (status, _) = post_json(&browser, &app.url("/login/passkey/start"), Some(&token), &json!({})).await;
        assert_eq!(status, 200);
    }
    assert_eq!(app.store.count_passkey_ceremonies().await.unwrap(), 0);
    // A finish that does not verify stores nothing either.
    let (_, ceremony, _) = start(&app, &browser).await;
    let (status, _) = finish(&app, &browser, &token, &ceremony, super::fake_assertion(Some("AAAA"))).await;
    assert_eq!(status, 400);
    assert_eq!(app.store.count_passkey_ceremonies().await.unwrap(), 0);
}

#[tokio::test]
async fn an_expired_sign_in_ceremony_is_refused_even_with_a_valid_signature() {
    use doorway_server::webauthn::{CEREMONY_TTL, relying_party, seal_sign_in};
    let app = localhost_app().await;
    let (alice, key) = with_passkey(&app, "alice").await;
    let browser = Browser::new();
    // The CSRF token is the cookie's value (double submit): what ceremonies are bound to.
    let token = csrf(&app, &browser, "/login").await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (origin, handle) = (origin(&app), handle_of(&alice));
    for (started, expected) in [(now - CEREMONY_TTL - 1, 400), (now, 200)] {
        let (options, state) = relying_party(&app.state.config).unwrap().start_discoverable_authentication().unwrap();
        let ceremony = seal_sign_in(&app.state.keys, &token, &state, started).unwrap();
        let options = serde_json::to_value(options).unwrap();
        let challenge = options["publicKey"]["challenge"].as_str().unwrap();
        let credential = key.assert(&Assertion { challenge, origin: &origin, user_handle: &handle, counter: 1 });
        let (status, body) = finish(&app, &browser, &token, &ceremony, credential).await;
        assert_eq!(status, expected, "started {} s ago: {body}", now - started);
        if status == 400 {
            assert_eq!(body["error"], "ceremony_expired");
        }
    }
}

#[tokio::test]
async fn a_stale_session_cannot_add_a_passkey_of_its_own() {
    use doorway_core::secrets::{hash_secret, random_hex_id, random_token};
    let app = localhost_app().await;
    let alice = app.create_user("alice").await;
    // A session that signed in an hour ago (a stolen cookie, a shared computer): still valid.
    let (id, token) = (random_token(""), random_token(""));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let session = doorway_core::model::Session {
        id_hash: hash_secret(&id),
        sid: random_hex_id(),
        user_id: alice.id.clone(),
        auth_time: now - 3600,
        created_at: now - 3600,
        expires_at: now + 3600,
    };
    app.store.create_session(&session).await.unwrap();
    let cookies = format!("doorway_session={id}; doorway_csrf={token}");
    let thief = reqwest::Client::new();
    assert_eq!(thief.get(app.url("/settings/passkeys")).header("cookie", &cookies).send().await.unwrap().status(), 200);
    for path in ["/settings/passkeys/register/start", "/settings/passkeys/register/finish"] {
        let response = thief
            .post(app.url(path))
            .header("cookie", &cookies)
            .header("x-csrf-token", &token)
            .json(&json!({ "ceremony": "x", "credential": {} }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "reauthentication_required", "{path}");
    }
    assert_eq!(app.store.count_passkey_ceremonies().await.unwrap(), 0);
}

#[tokio::test]
async fn a_cloned_authenticator_used_at_the_same_moment_as_the_original_signs_in_once() {
    let app = localhost_app().await;
    let (alice, key) = with_passkey(&app, "alice").await;
    let (origin, handle) = (origin(&app), handle_of(&alice));
    // Two browsers, two ceremonies, one counter value: both checked against the same stored
    // counter, only one may be recorded over it.
    let mut requests = Vec::new();
    for _ in 0..2 {
        let browser = Browser::new();
        let (token, ceremony, challenge) = start(&app, &browser).await;
        let credential =
            key.assert(&Assertion { challenge: &challenge, origin: &origin, user_handle: &handle, counter: 1 });
        let body = json!({ "ceremony": ceremony, "credential": credential });
        requests.push(browser.http.post(app.url("/login/passkey/finish")).header("x-csrf-token", token).json(&body));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for request in requests {
        tasks.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    let mut statuses = tasks.join_all().await;
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400]);
}
