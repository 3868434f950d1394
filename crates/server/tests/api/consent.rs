//! Consent and the `prompt` values: what is remembered, what is asked again, and who may answer
//! a consent form.

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn deny_redirects_access_denied_with_state_and_iss() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let back = Browser::new().authorize(&app, &authorize_url(&app, &client, &[]), "alice", "deny").await;
    assert!(back.starts_with(&client.redirect_uri), "{back}");
    let query = query_of(&back);
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["error_description"], "the user denied the request");
    assert_eq!(query["state"], "xyz-state");
    assert_eq!(query["iss"], app.issuer);
    assert!(!query.contains_key("code"));
}

#[tokio::test]
async fn deny_is_a_303_and_remembers_nothing() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    let url = authorize_url(&app, &client, &[]);
    let form = browser.consent_page(&app, &url, "alice").await;
    let response = browser.answer_consent(&app, &form, "deny").await;
    assert_eq!(redirected_error(&response, &client)["error"], "access_denied");
    // Asked again next time.
    browser.consent_page(&app, &url, "alice").await;
}

#[tokio::test]
async fn consent_is_remembered_and_the_next_request_goes_straight_back() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    obtain_code(&app, &browser, &client, &[]).await;

    let response = browser.get(&authorize_url(&app, &client, &[("state", "second")])).await;
    assert_eq!(response.status(), 303);
    let back = location(&response);
    assert!(back.starts_with(&client.redirect_uri), "no consent page: {back}");
    let query = query_of(&back);
    assert_eq!(query["state"], "second");
    assert_eq!(query["iss"], app.issuer);
    assert_eq!(exchange(&app, &client, &query["code"]).await.status(), 200);
}

#[tokio::test]
async fn consent_covers_a_request_for_fewer_scopes() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    obtain_code(&app, &browser, &client, &[]).await;
    let response = browser.get(&authorize_url(&app, &client, &[("scope", "openid profile")])).await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with(&client.redirect_uri));
}

#[tokio::test]
async fn consent_is_per_app() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let first = app.confidential_client().await;
    let second = app.confidential_client().await;
    let browser = Browser::new();
    obtain_code(&app, &browser, &first, &[]).await;
    browser.consent_page(&app, &authorize_url(&app, &second, &[]), "alice").await;
}

#[tokio::test]
async fn prompt_consent_forces_the_consent_page() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    obtain_code(&app, &browser, &client, &[]).await;
    let url = authorize_url(&app, &client, &[("prompt", "consent")]);
    let form = browser.consent_page(&app, &url, "alice").await;
    assert!(form.html.contains("Test App"));
    let response = browser.answer_consent(&app, &form, "allow").await;
    assert_eq!(response.status(), 303);
    assert!(query_of(&location(&response)).contains_key("code"));
}

#[tokio::test]
async fn a_request_for_a_new_scope_asks_again() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    obtain_code(&app, &browser, &client, &[("scope", "openid profile")]).await;
    let url = authorize_url(&app, &client, &[("scope", "openid profile read-billing")]);
    let form = browser.consent_page(&app, &url, "alice").await;
    assert!(
        form.html.contains("Know whether you have a payment method on file"),
        "the new scope is described in plain words"
    );
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let response = Browser::new().get(&authorize_url(&app, &client, &[("prompt", "none")])).await;
    let query = redirected_error(&response, &client);
    assert_eq!(query["error"], "login_required");
    assert_eq!(query["error_description"], "the user is not signed in");
    assert_eq!(query["state"], "xyz-state");
    assert_eq!(query["iss"], app.issuer);
}

#[tokio::test]
async fn prompt_none_with_a_session_but_no_consent_is_consent_required() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let response = browser.get(&authorize_url(&app, &client, &[("prompt", "none")])).await;
    let query = redirected_error(&response, &client);
    assert_eq!(query["error"], "consent_required");
    assert_eq!(query["error_description"], "the user has not approved this app");
    assert_eq!(query["state"], "xyz-state");
    assert_eq!(query["iss"], app.issuer);
}

#[tokio::test]
async fn prompt_none_with_session_and_consent_issues_a_code_silently() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    obtain_code(&app, &browser, &client, &[]).await;
    let response = browser.get(&authorize_url(&app, &client, &[("prompt", "none")])).await;
    assert_eq!(response.status(), 303);
    let query = query_of(&location(&response));
    assert!(query.contains_key("code"), "{query:?}");
    assert_eq!(query["iss"], app.issuer);
}

#[tokio::test]
async fn prompt_login_forces_the_login_page_even_with_a_session() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    obtain_code(&app, &browser, &client, &[]).await;

    let url = authorize_url(&app, &client, &[("prompt", "login")]);
    let response = browser.get(&url).await;
    assert_eq!(response.status(), 303);
    let login = location(&response);
    assert!(login.starts_with("/login?interaction="), "{login}");

    // After signing in again, the flow completes (consent is remembered) and does not loop.
    let back = browser.drive(&app, response, "alice", "allow").await;
    let query = query_of(&back);
    assert!(query.contains_key("code"), "{back}");
    let tokens: Value = exchange(&app, &client, &query["code"]).await.json().await.unwrap();
    assert!(tokens["id_token"].is_string());
}

#[tokio::test]
async fn consent_post_without_csrf_token_is_403() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    let form = browser.consent_page(&app, &authorize_url(&app, &client, &[]), "alice").await;
    let response = browser
        .http
        .post(app.url("/oauth/consent"))
        .form(&[("decision", "allow"), ("interaction", &form.interaction)])
        .send()
        .await
        .unwrap();
    error_page(response, 403).await;
}

#[tokio::test]
async fn consent_post_with_a_wrong_csrf_token_is_403() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    let form = browser.consent_page(&app, &authorize_url(&app, &client, &[]), "alice").await;
    let forged = Form { csrf_token: "A".repeat(form.csrf_token.len()), ..form.clone() };
    let body = error_page(browser.answer_consent(&app, &forged, "allow").await, 403).await;
    assert!(body.contains("This form has expired"), "{body}");
    // The genuine form still works: the forgery consumed nothing.
    let response = browser.answer_consent(&app, &form, "allow").await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn consent_form_of_one_user_cannot_be_answered_by_another_session() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    app.create_user("bob").await;
    let client = app.confidential_client().await;
    let alice = Browser::new();
    let form = alice.consent_page(&app, &authorize_url(&app, &client, &[]), "alice").await;

    // Bob, signed in in his own browser, submits alice's pending request with his own CSRF token.
    let bob = Browser::new();
    bob.login(&app, "bob").await;
    let bob_csrf = Form::new(bob.get(&app.url("/logout")).await.text().await.unwrap()).csrf_token;
    let stolen = Form { csrf_token: bob_csrf, ..form.clone() };
    let body = error_page(bob.answer_consent(&app, &stolen, "allow").await, 403).await;
    assert!(body.contains("belongs to another account"), "{body}");

    // Alice's own answer still counts.
    let response = alice.answer_consent(&app, &form, "allow").await;
    assert_eq!(response.status(), 303);
    assert!(query_of(&location(&response)).contains_key("code"));
}

#[tokio::test]
async fn consent_form_double_submit_acts_once() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    let form = browser.consent_page(&app, &authorize_url(&app, &client, &[]), "alice").await;
    let first = browser.answer_consent(&app, &form, "allow").await;
    assert_eq!(first.status(), 303);
    assert!(query_of(&location(&first)).contains_key("code"));

    let second = browser.answer_consent(&app, &form, "allow").await;
    error_page(second, 400).await;
}

#[tokio::test]
async fn parallel_consent_submissions_issue_exactly_one_code() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    let form = browser.consent_page(&app, &authorize_url(&app, &client, &[]), "alice").await;
    let answers = (0..4).map(|_| browser.answer_consent(&app, &form, "allow"));
    let responses = futures::future::join_all(answers).await;
    let codes = responses.iter().filter(|r| r.status() == 303 && location(r).contains("code=")).count();
    assert_eq!(codes, 1);
}

#[tokio::test]
async fn consent_without_a_session_is_sent_to_login() {
    // A consent form answered after signing out does not issue a code.
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    let form = browser.consent_page(&app, &authorize_url(&app, &client, &[]), "alice").await;
    let logout = Form::new(browser.get(&app.url("/logout")).await.text().await.unwrap());
    browser.http.post(app.url("/logout")).form(&[("csrf_token", &logout.csrf_token)]).send().await.unwrap();
    let response = browser.answer_consent(&app, &form, "allow").await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/login?interaction="));
}

#[tokio::test]
async fn consent_page_names_the_app_and_its_scopes() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let form = Browser::new().consent_page(&app, &authorize_url(&app, &client, &[]), "alice").await;
    assert!(form.html.contains("Test App"));
    // The homepage, HTML-escaped ('/' too).
    assert!(form.html.contains(">https:&#x2f;&#x2f;app.example</a>"));
    assert!(form.html.contains("Read your email address"));
    assert!(form.html.contains("name=\"decision\" value=\"allow\""));
    assert!(form.html.contains("name=\"decision\" value=\"deny\""));
}

#[tokio::test]
async fn consent_decision_other_than_allow_or_deny_is_refused_and_consumes_nothing() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    let form = browser.consent_page(&app, &authorize_url(&app, &client, &[]), "alice").await;
    let body = error_page(browser.answer_consent(&app, &form, "maybe").await, 400).await;
    assert!(body.contains("Choose Allow or Deny."), "{body}");
    let response = browser.answer_consent(&app, &form, "allow").await;
    assert_eq!(response.status(), 303);
    assert!(query_of(&location(&response)).contains_key("code"));
}
