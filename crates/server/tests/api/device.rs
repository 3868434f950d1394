//! The device authorization grant (RFC 8628) over HTTP: the device's requests, the `/device`
//! pages a person answers on, and every answer a polling device can get.

use doorway_core::model::ClientKind;
use doorway_core::oauth::grant::GrantTypes;
use doorway_core::secrets::hash_secret;
use doorway_core::types::RedirectPolicy;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// An app registered for `grants` (e.g. "device_code refresh_token").
async fn device_app(app: &TestApp, kind: ClientKind, grants: &str) -> TestClient {
    app.create_client_with("http://127.0.0.1/callback", kind, RedirectPolicy::Exact, |c| {
        c.grant_types = GrantTypes::parse(grants).unwrap();
    })
    .await
}

/// POSTs `form` to `path` as `client` (HTTP Basic for confidential apps, client_id otherwise).
async fn post_as(app: &TestApp, client: &TestClient, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(app.url(path));
    let mut form = form.to_vec();
    match &client.secret {
        Some(secret) => request = request.basic_auth(&client.client_id, Some(secret)),
        None => form.push(("client_id", &client.client_id)),
    }
    request.form(&form).send().await.unwrap()
}

/// Starts a device authorization; returns the JSON answer.
async fn start(app: &TestApp, client: &TestClient, extra: &[(&str, &str)]) -> Value {
    let response = post_as(app, client, "/oauth/device", extra).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

/// One poll of the token endpoint: status and body.
async fn poll(app: &TestApp, client: &TestClient, device_code: &str) -> (StatusCode, Value) {
    let response =
        post_as(app, client, "/oauth/token", &[("grant_type", DEVICE_GRANT), ("device_code", device_code)]).await;
    let status = response.status();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap())
}

/// Asserts a poll's OAuth error.
async fn poll_error(app: &TestApp, client: &TestClient, device_code: &str) -> String {
    let (status, body) = poll(app, client, device_code).await;
    assert_eq!(status, 400, "{body}");
    body["error"].as_str().unwrap().to_owned()
}

/// Submits the device form (its CSRF token from the entry page) with `user_code` and maybe a
/// decision.
async fn submit(browser: &Browser, app: &TestApp, user_code: &str, decision: Option<&str>) -> reqwest::Response {
    let page = browser.get(&app.url("/device")).await;
    assert_eq!(page.status(), 200);
    let csrf = input_value(&page.text().await.unwrap(), "csrf_token").unwrap();
    let mut form = vec![("csrf_token", csrf.as_str()), ("user_code", user_code)];
    if let Some(decision) = decision {
        form.push(("decision", decision));
    }
    browser.http.post(app.url("/device")).form(&form).send().await.unwrap()
}

/// Signs `username` in and answers `user_code` with `decision` through the pages, as a person
/// would: enter the code, see the app, click. Returns the final page.
async fn answer(app: &TestApp, username: &str, user_code: &str, decision: &str) -> String {
    let browser = Browser::new();
    browser.login(app, username).await;
    let confirm = submit(&browser, app, user_code, None).await;
    assert_eq!(confirm.status(), 200);
    let html = confirm.text().await.unwrap();
    assert!(html.contains("name=\"decision\""), "expected the confirmation page, got {html}");
    let csrf = input_value(&html, "csrf_token").unwrap();
    let done = browser
        .http
        .post(app.url("/device"))
        .form(&[("csrf_token", csrf.as_str()), ("user_code", user_code), ("decision", decision)])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    done.text().await.unwrap()
}

fn field<'a>(body: &'a Value, name: &str) -> &'a str {
    body[name].as_str().unwrap_or_else(|| panic!("no {name} in {body}"))
}

#[tokio::test]
async fn the_device_flow_signs_a_person_in_on_a_device() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let client = device_app(&app, ClientKind::Public, "device_code refresh_token").await;

    // RFC 8628 §3.2: the device authorization response.
    let device = start(&app, &client, &[]).await;
    let user_code = field(&device, "user_code");
    let device_code = field(&device, "device_code");
    assert!(user_code.len() == 9 && user_code.as_bytes()[4] == b'-', "{user_code}");
    assert!(user_code.bytes().all(|b| b == b'-' || b"BCDFGHJKLMNPQRSTVWXZ".contains(&b)), "{user_code}");
    assert_eq!(device["verification_uri"], app.url("/device"));
    assert_eq!(device["verification_uri_complete"], app.url(&format!("/device?user_code={user_code}")));
    assert_eq!(device["expires_in"], 600);
    assert_eq!(device["interval"], 5);
    let stored = app.store.find_device_code(&hash_secret(device_code)).await.unwrap().unwrap();
    assert_eq!(stored.scope.to_string(), "openid profile", "the default scope");

    assert_eq!(poll_error(&app, &client, device_code).await, "authorization_pending");

    // The person opens verification_uri_complete, signed in: the code is filled in, not acted on.
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let entry = browser.get(device["verification_uri_complete"].as_str().unwrap()).await;
    assert_eq!(entry.status(), 200);
    let entry = entry.text().await.unwrap();
    assert_eq!(input_value(&entry, "user_code").as_deref(), Some(user_code));
    assert_eq!(poll_error(&app, &client, device_code).await, "slow_down", "polled at once again");

    // Typed in lower case with a space: still the code. The app and its scopes are shown.
    let typed = user_code.to_lowercase().replace('-', " ");
    let confirm = submit(&browser, &app, &typed, None).await;
    assert_eq!(confirm.status(), 200);
    let confirm = confirm.text().await.unwrap();
    assert!(confirm.contains("Test App"), "{confirm}");
    assert!(confirm.contains("app.example"), "the homepage is shown");
    assert!(confirm.contains("Sign you in and know who you are"), "scopes in plain words");
    assert!(confirm.contains("Read your profile"), "scopes in plain words");
    assert!(!confirm.contains(device_code), "the device code never reaches the page");
    let csrf = input_value(&confirm, "csrf_token").unwrap();
    let done = browser
        .http
        .post(app.url("/device"))
        .form(&[("csrf_token", csrf.as_str()), ("user_code", user_code), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("Return to your device"));

    // RFC 8628 §3.5: the next poll gets the tokens.
    let (status, tokens) = poll(&app, &client, device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "openid profile");
    assert!(field(&tokens, "access_token").starts_with("dw_oauth_"));
    assert!(field(&tokens, "refresh_token").starts_with("dw_rt_"));
    let claims = verify_id_token(&app, &client, field(&tokens, "id_token")).await;
    assert_eq!(claims["sub"], alice.sub);
    assert_eq!(claims["preferred_username"], "alice");
    assert!(claims.get("nonce").is_none(), "no nonce in the device grant");
    let auth_time = claims["auth_time"].as_i64().unwrap();
    assert!((claims["iat"].as_i64().unwrap() - auth_time).abs() < 60, "auth_time is the approving sign-in");

    // The access token works, and the code is spent.
    let userinfo: Value = reqwest::Client::new()
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(field(&tokens, "access_token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], alice.sub);
    let (status, again) = poll(&app, &client, device_code).await;
    assert_eq!(status, 400);
    assert_eq!(again["error"], "invalid_grant");

    // The refresh token works for the device's app.
    let refreshed = post_as(
        &app,
        &client,
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("refresh_token", field(&tokens, "refresh_token"))],
    )
    .await;
    assert_eq!(refreshed.status(), 200);
}

#[tokio::test]
async fn a_confidential_app_authenticates_for_the_code_and_for_polling() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = device_app(&app, ClientKind::Confidential, "device_code").await;
    let wrong = TestClient { secret: Some("dws_wrong".into()), ..client.clone() };
    let response = post_as(&app, &wrong, "/oauth/device", &[]).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    // Naming a confidential app without its secret is not enough either.
    let anonymous = TestClient { secret: None, ..client.clone() };
    let response = post_as(&app, &anonymous, "/oauth/device", &[]).await;
    assert_eq!(response.status(), 401);

    let device = start(&app, &client, &[("scope", "openid email")]).await;
    answer(&app, "alice", field(&device, "user_code"), "allow").await;
    let device_code = field(&device, "device_code");
    let (status, _) = poll(&app, &wrong, device_code).await;
    assert_eq!(status, 401);
    let (status, tokens) = poll(&app, &client, device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "email openid");
    assert!(tokens.get("refresh_token").is_none(), "the app is not registered for refresh_token");
}

#[tokio::test]
async fn polling_faster_than_the_interval_is_slow_down_and_the_interval_grows() {
    let app = spawn_app().await;
    let client = device_app(&app, ClientKind::Public, "device_code").await;
    let device = start(&app, &client, &[]).await;
    let device_code = field(&device, "device_code");
    assert_eq!(poll_error(&app, &client, device_code).await, "authorization_pending");
    let (status, body) = poll(&app, &client, device_code).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "slow_down");
    assert!(body["error_description"].is_string());
    let stored = app.store.find_device_code(&hash_secret(device_code)).await.unwrap().unwrap();
    assert_eq!(stored.interval_secs, 10, "RFC 8628 §3.5: the interval grows by 5 seconds");
    assert_eq!(poll_error(&app, &client, device_code).await, "slow_down");
    let stored = app.store.find_device_code(&hash_secret(device_code)).await.unwrap().unwrap();
    assert_eq!(stored.interval_secs, 15);
}

#[tokio::test]
async fn an_expired_device_code_is_expired_token_and_cannot_be_approved() {
    let app = spawn_app_with(|config| config.device_code_ttl = 1).await;
    app.create_user("alice").await;
    let client = device_app(&app, ClientKind::Public, "device_code").await;
    let device = start(&app, &client, &[]).await;
    assert_eq!(device["expires_in"], 1);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(poll_error(&app, &client, field(&device, "device_code")).await, "expired_token");

    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let response = submit(&browser, &app, field(&device, "user_code"), None).await;
    assert_eq!(response.status(), 400);
    let html = response.text().await.unwrap();
    assert!(html.contains("has expired"), "{html}");
    let response = submit(&browser, &app, field(&device, "user_code"), Some("allow")).await;
    assert_eq!(response.status(), 400);
    assert_eq!(poll_error(&app, &client, field(&device, "device_code")).await, "expired_token");
}

#[tokio::test]
async fn a_denied_device_code_is_access_denied() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = device_app(&app, ClientKind::Public, "device_code").await;
    let device = start(&app, &client, &[]).await;
    let done = answer(&app, "alice", field(&device, "user_code"), "deny").await;
    assert!(done.contains("Access denied"), "{done}");
    let (status, body) = poll(&app, &client, field(&device, "device_code")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "access_denied");
    assert_eq!(body["error_description"], "the user denied the request");
    assert_eq!(poll_error(&app, &client, field(&device, "device_code")).await, "access_denied");
}

#[tokio::test]
async fn unknown_missing_and_foreign_device_codes_are_refused() {
    let app = spawn_app().await;
    let client = device_app(&app, ClientKind::Public, "device_code").await;
    let other = device_app(&app, ClientKind::Public, "device_code").await;
    assert_eq!(poll_error(&app, &client, "not-a-device-code").await, "invalid_grant");

    let response = post_as(&app, &client, "/oauth/token", &[("grant_type", DEVICE_GRANT)]).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_description"], "device_code is missing");

    // Another app's code: invalid_grant, and the code is untouched for its own app.
    let device = start(&app, &client, &[]).await;
    let device_code = field(&device, "device_code");
    let (status, body) = poll(&app, &other, device_code).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "the device code is invalid", "the same answer as for an unknown code");
    assert_eq!(poll_error(&app, &client, device_code).await, "authorization_pending");
}

#[tokio::test]
async fn an_app_without_the_device_grant_is_unauthorized_client() {
    let app = spawn_app().await;
    let client = device_app(&app, ClientKind::Public, "authorization_code refresh_token").await;
    let response = post_as(&app, &client, "/oauth/device", &[]).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client");
    let (status, body) = poll(&app, &client, "whatever").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unauthorized_client");
}

#[tokio::test]
async fn scopes_are_checked_as_at_the_authorization_endpoint() {
    let app = spawn_app().await;
    let client = device_app(&app, ClientKind::Public, "device_code").await;
    for (scope, description) in
        [("openid admin", "unknown scope 'admin'"), ("openid write-repos", "unknown scope 'write-repos'")]
    {
        let response = post_as(&app, &client, "/oauth/device", &[("scope", scope)]).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_scope");
        assert_eq!(body["error_description"], description);
    }
    let narrow = app
        .create_client_with("http://127.0.0.1/callback", ClientKind::Public, RedirectPolicy::Exact, |c| {
            c.grant_types = GrantTypes::parse("device_code").unwrap();
            c.scopes = doorway_core::types::ScopeSet::parse("email").unwrap();
        })
        .await;
    let response = post_as(&app, &narrow, "/oauth/device", &[("scope", "openid")]).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_scope");
    assert_eq!(body["error_description"], "this app is not allowed the scope 'openid'");
    // No scope and no default (openid, profile) among the app's scopes.
    let response = post_as(&app, &narrow, "/oauth/device", &[]).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_scope");
    let device = start(&app, &narrow, &[("scope", "email")]).await;
    assert!(device["device_code"].is_string());
}

#[tokio::test]
async fn the_device_form_needs_its_csrf_token() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = device_app(&app, ClientKind::Public, "device_code").await;
    let device = start(&app, &client, &[]).await;
    let user_code = field(&device, "user_code");
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    for csrf in [None, Some("forged-forged-forged-forged-forged-forged")] {
        let mut form = vec![("user_code", user_code), ("decision", "allow")];
        if let Some(token) = csrf {
            form.push(("csrf_token", token));
        }
        let response = browser.http.post(app.url("/device")).form(&form).send().await.unwrap();
        let html = error_page(response, 403).await;
        assert!(html.contains("This form has expired"), "{html}");
    }
    assert_eq!(poll_error(&app, &client, field(&device, "device_code")).await, "authorization_pending");
}

#[tokio::test]
async fn signing_in_from_the_device_page_comes_back_to_it() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let browser = Browser::new();
    let response = browser.get(&app.url("/device?user_code=wdjb-mjht")).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login?next=%2Fdevice%3Fuser_code%3DWDJB-MJHT");

    let login = browser.get(&app.url(&location(&response))).await.text().await.unwrap();
    let next = input_value(&login, "next").expect("the login form carries next");
    assert_eq!(next, "/device?user_code=WDJB-MJHT");
    // (minijinja's urlencode keeps '/', which the template then escapes as an entity.)
    assert!(login.contains("/signup?next=&#x2f;device%3Fuser_code%3DWDJB-MJHT"), "so does the sign-up link");
    let csrf = input_value(&login, "csrf_token").unwrap();
    let response = browser
        .http
        .post(app.url("/login"))
        .form(&[("username", "alice"), ("password", PASSWORD), ("csrf_token", &csrf), ("next", &next)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/device?user_code=WDJB-MJHT");
    let page = browser.get(&app.url("/device?user_code=WDJB-MJHT")).await;
    assert_eq!(page.status(), 200);
    assert_eq!(input_value(&page.text().await.unwrap(), "user_code").as_deref(), Some("WDJB-MJHT"));
}

#[tokio::test]
async fn signing_up_from_the_device_page_comes_back_to_it() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let signup = browser.get(&app.url("/signup?next=%2Fdevice")).await.text().await.unwrap();
    assert_eq!(input_value(&signup, "next").as_deref(), Some("/device"));
    let csrf = input_value(&signup, "csrf_token").unwrap();
    let response = browser
        .http
        .post(app.url("/signup"))
        .form(&[
            ("username", "dora"),
            ("email", "dora@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
            ("next", "/device"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/device");
}

#[tokio::test]
async fn login_next_is_never_an_open_redirect() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    for next in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "/\\/evil.example",
        "/device.evil.example",
        "/device@evil.example",
        "/devices",
        "/device/../account",
        "/device//evil.example",
        "/device?next=//evil.example",
        "/device?user_code=%0d%0aLocation:%20https://evil.example",
        "/device#@evil.example",
        "/account",
        "javascript:alert(1)",
    ] {
        let browser = Browser::new();
        let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("next", next).finish();
        let login = browser.get(&app.url(&format!("/login?{query}"))).await.text().await.unwrap();
        assert_eq!(input_value(&login, "next"), None, "{next} reached the form");
        assert!(!login.contains("evil.example"), "{next} reached the page");
        let csrf = input_value(&login, "csrf_token").unwrap();
        let response = browser
            .http
            .post(app.url("/login"))
            .form(&[("username", "alice"), ("password", PASSWORD), ("csrf_token", &csrf), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/account", "{next} was followed");
    }
}

#[tokio::test]
async fn wrong_codes_are_limited_per_person() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    app.create_user("bob").await;
    let client = device_app(&app, ClientKind::Public, "device_code").await;
    let device = start(&app, &client, &[]).await;
    let user_code = field(&device, "user_code");
    // A wrong code that cannot be this one: change its first letter.
    let first = if user_code.starts_with('B') { "C" } else { "B" };
    let wrong = format!("{first}{}", &user_code[1..]);

    let mallory = Browser::new();
    mallory.login(&app, "alice").await;
    // A malformed code is a typo, not a guess: it is not counted.
    let typo = submit(&mallory, &app, "AEIO-UUUU", None).await;
    assert_eq!(typo.status(), 400);
    for _ in 0..5 {
        let response = submit(&mallory, &app, &wrong, Some("deny")).await;
        assert_eq!(response.status(), 400);
    }
    // Now even the right code is not looked up for this person, nor answered.
    let response = submit(&mallory, &app, user_code, Some("deny")).await;
    assert_eq!(response.status(), 429);
    assert!(response.text().await.unwrap().contains("Too many wrong codes"));
    assert_eq!(poll_error(&app, &client, field(&device, "device_code")).await, "authorization_pending");

    // Someone else is not affected.
    answer(&app, "bob", user_code, "allow").await;
    let (status, _) = poll(&app, &client, field(&device, "device_code")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_answered_code_cannot_be_answered_again() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = device_app(&app, ClientKind::Public, "device_code").await;
    let device = start(&app, &client, &[]).await;
    let user_code = field(&device, "user_code");
    answer(&app, "alice", user_code, "allow").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let response = submit(&browser, &app, user_code, Some("deny")).await;
    assert_eq!(response.status(), 400);
    let (status, _) = poll(&app, &client, field(&device, "device_code")).await;
    assert_eq!(status, 200, "the first answer stands");
}

#[tokio::test]
async fn parallel_polls_after_approval_yield_exactly_one_set_of_tokens() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = device_app(&app, ClientKind::Public, "device_code refresh_token").await;
    let device = start(&app, &client, &[]).await;
    answer(&app, "alice", field(&device, "user_code"), "allow").await;
    let device_code = field(&device, "device_code").to_owned();
    let polls = (0..10).map(|_| {
        let (app, client, device_code) = (&app, &client, device_code.clone());
        async move { poll(app, client, &device_code).await }
    });
    let results = futures::future::join_all(polls).await;
    let winners: Vec<_> = results.iter().filter(|(status, _)| *status == 200).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (status, body) in results.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(*status, 400);
        assert_eq!(body["error"], "invalid_grant");
    }
    // Exactly one access token and one refresh token exist for this grant.
    let hash = hash_secret(&device_code);
    let access = winners[0].1["access_token"].as_str().unwrap();
    let token = app.store.find_access_token(&hash_secret(access)).await.unwrap().unwrap();
    assert_eq!(token.family_id.as_deref(), Some(hash.as_str()));
}

#[tokio::test]
async fn the_device_page_needs_a_signed_in_person_to_answer() {
    let app = spawn_app().await;
    let client = device_app(&app, ClientKind::Public, "device_code").await;
    let device = start(&app, &client, &[]).await;
    let user_code = field(&device, "user_code");
    // A browser with a CSRF cookie but no session (e.g. signed out in another tab).
    let browser = Browser::new();
    let login = browser.get(&app.url("/login")).await.text().await.unwrap();
    let csrf = input_value(&login, "csrf_token").unwrap();
    let response = browser
        .http
        .post(app.url("/device"))
        .form(&[("csrf_token", csrf.as_str()), ("user_code", user_code), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/login?next=%2Fdevice"), "{}", location(&response));
    assert_eq!(poll_error(&app, &client, field(&device, "device_code")).await, "authorization_pending");
}
