//! The authorization request's options (OIDC Core §3.1.2.1): response_mode=form_post,
//! id_token_hint, max_age, login_hint, and the parameters that are accepted without effect.

use serde_json::Value;

use crate::helpers::*;

/// Signs alice in and approves the app once, so later requests can go straight through.
async fn signed_in_with_consent(app: &TestApp, client: &TestClient) -> (Browser, Value) {
    let browser = Browser::new();
    let code = obtain_code(app, &browser, client, &[]).await;
    let tokens: Value = exchange(app, client, &code).await.json().await.unwrap();
    (browser, tokens)
}

#[tokio::test]
async fn form_post_answers_with_an_auto_submitting_escaped_form() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let (browser, _) = signed_in_with_consent(&app, &client).await;
    let state = "\"><script>alert(1)</script>";
    let url = authorize_url(&app, &client, &[("response_mode", "form_post"), ("state", state)]);
    let response = browser.get(&url).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("location").is_none());
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{}\"", client.redirect_uri.replace('/', "&#x2f;"))), "{html}");
    assert!(html.contains("src=\"/static/form_post.js\""));
    assert!(!html.contains("<script>alert(1)"), "state is escaped");
    assert!(html.contains("name=\"code\""));
    assert!(html.contains("name=\"iss\""));
    assert!(html.contains("&quot;&gt;&lt;script&gt;"), "{html}");

    let script = reqwest::get(app.url("/static/form_post.js")).await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
}

#[tokio::test]
async fn form_post_carries_errors_too() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let url = authorize_url(&app, &client, &[("response_mode", "form_post"), ("response_type", "token")]);
    let response = Browser::new().get(&url).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert_eq!(input_value(&html, "error").as_deref(), Some("unsupported_response_type"));
    assert_eq!(input_value(&html, "state").as_deref(), Some("xyz-state"));
}

#[tokio::test]
async fn id_token_hint_for_the_signed_in_user_passes_with_prompt_none() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let (browser, tokens) = signed_in_with_consent(&app, &client).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let url = authorize_url(&app, &client, &[("prompt", "none"), ("id_token_hint", hint)]);
    let back = location(&browser.get(&url).await);
    assert!(query_of(&back).contains_key("code"), "{back}");
}

#[tokio::test]
async fn id_token_hint_for_another_user_with_prompt_none_is_login_required() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    app.create_user("bob").await;
    let client = app.confidential_client().await;
    // bob's ID token, obtained in another browser.
    let bob = Browser::new();
    let url = authorize_url(&app, &client, &[]);
    let back = bob.authorize(&app, &url, "bob", "allow").await;
    let bob_tokens: Value = exchange(&app, &client, &query_of(&back)["code"]).await.json().await.unwrap();

    let (alice, _) = signed_in_with_consent(&app, &client).await;
    let url = authorize_url(
        &app,
        &client,
        &[("prompt", "none"), ("id_token_hint", bob_tokens["id_token"].as_str().unwrap())],
    );
    let response = alice.get(&url).await;
    let query = redirected_error(&response, &client);
    assert_eq!(query["error"], "login_required");
    assert_eq!(query["state"], "xyz-state");

    // Without prompt=none the hint asks for a fresh sign-in instead.
    let url = authorize_url(&app, &client, &[("id_token_hint", bob_tokens["id_token"].as_str().unwrap())]);
    let response = alice.get(&url).await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/login?interaction="));
}

#[tokio::test]
async fn an_id_token_hint_not_issued_here_is_invalid_request() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let (browser, tokens) = signed_in_with_consent(&app, &client).await;
    // Flip one character in the middle of the signature (the last one may only hold padding bits).
    let genuine = tokens["id_token"].as_str().unwrap();
    let middle = genuine.rfind('.').unwrap() + 20;
    let flipped = if &genuine[middle..=middle] == "A" { "B" } else { "A" };
    let forged = format!("{}{}{}", &genuine[..middle], flipped, &genuine[middle + 1..]);
    for hint in ["garbage", forged.as_str()] {
        let url = authorize_url(&app, &client, &[("prompt", "none"), ("id_token_hint", hint)]);
        let query = redirected_error(&browser.get(&url).await, &client);
        assert_eq!(query["error"], "invalid_request", "{hint}");
    }
}

#[tokio::test]
async fn max_age_zero_forces_a_fresh_sign_in_and_auth_time_reflects_it() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let (browser, first) = signed_in_with_consent(&app, &client).await;
    let first_claims = verify_id_token(&app, &client, first["id_token"].as_str().unwrap()).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let url = authorize_url(&app, &client, &[("max_age", "0")]);
    let response = browser.get(&url).await;
    assert!(location(&response).starts_with("/login?interaction="), "max_age=0 asks for the password again");
    let back = browser.drive(&app, response, "alice", "allow").await;
    let tokens: Value = exchange(&app, &client, &query_of(&back)["code"]).await.json().await.unwrap();
    let claims = verify_id_token(&app, &client, tokens["id_token"].as_str().unwrap()).await;
    assert!(claims["auth_time"].as_i64() > first_claims["auth_time"].as_i64());
}

#[tokio::test]
async fn login_hint_prefills_the_username() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    let response = browser.get(&authorize_url(&app, &client, &[("login_hint", "alice")])).await;
    let page = browser.get(&app.url(&location(&response))).await.text().await.unwrap();
    let input = page.split("<input").find(|i| i.contains("name=\"username\"")).unwrap();
    assert!(input.contains("value=\"alice\""), "{input}");
}

#[tokio::test]
async fn ui_locales_display_acr_values_and_claims_locales_are_accepted() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let extra = [
        ("ui_locales", "fr-CA fr en"),
        ("display", "popup"),
        ("acr_values", "urn:mace:incommon:iap:silver"),
        ("claims_locales", "de"),
    ];
    let code = obtain_code(&app, &Browser::new(), &client, &extra).await;
    assert_eq!(exchange(&app, &client, &code).await.status(), 200);
}
