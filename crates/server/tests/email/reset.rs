//! "Forgot password?": the reset by email, and what it must never do (reveal accounts, sign in,
//! lift a lockout, follow a forged Host).

use std::time::Duration;

use serde_json::Value;

use crate::helpers::*;
use crate::*;

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn request_reset(app: &TestApp, identifier: &str) -> reqwest::Response {
    post_form(app, &Browser::new(), "/login/forgot-password", &[("identifier", identifier)]).await
}

#[tokio::test]
async fn password_reset_by_email_sets_a_new_password_and_ends_every_token_and_session() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    let alice = app.create_user("alice").await;
    let client = app.confidential_client().await;
    let tokens = tokens_for(&app, &client, "openid email").await;
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    let signed_in = Browser::new();
    signed_in.login(&app, "alice").await;

    let login_page = Browser::new().get(&app.url("/login")).await.text().await.unwrap();
    assert!(login_page.contains("href=\"/login/forgot-password\">Forgot password?"), "{login_page}");
    let response = request_reset(&app, "alice").await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("If an account matches"));
    let mail = sink.message_to("alice@example.com").await;
    assert!(mail.subject.contains("Reset your"), "{}", mail.subject);
    let link = mail.link(&app.url("/login/reset-password?token="));

    // A password the sign-up rules refuse: the form again, and the link still works.
    let browser = Browser::new();
    let short = follow_link(&app, &browser, &link, &[("new_password", "short")]).await;
    assert_eq!(short.status(), 422);
    assert!(short.text().await.unwrap().contains("The new password"));
    let done = follow_link(&app, &browser, &link, &[("new_password", NEW_PASSWORD)]).await;
    assert_eq!(done.status(), 200);
    // Not signed in: no session cookie, and the account page sends to the login page.
    assert!(set_cookie(&done, "doorway_session").is_none_or(|c| c.starts_with("doorway_session=;")));
    assert!(done.text().await.unwrap().contains("Password changed"));
    let account = browser.get(&app.url("/account")).await;
    assert_eq!(account.status(), 303);
    assert_eq!(location(&account), "/login");

    // Everything the old password gave is gone.
    let info = reqwest::Client::new().get(app.url("/oauth/userinfo")).bearer_auth(&access_token).send().await.unwrap();
    assert_eq!(info.status(), 401);
    let refresh = tokens["refresh_token"].as_str();
    if let Some(refresh) = refresh {
        let response = reqwest::Client::new()
            .post(app.url("/oauth/token"))
            .basic_auth(&client.client_id, client.secret.as_deref())
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");
    }
    let old_session = signed_in.get(&app.url("/account")).await;
    assert_eq!(old_session.status(), 303, "the session signed in before the reset ended");
    assert_eq!(login_with(&app, &Browser::new(), "alice", PASSWORD).await.status(), 400);
    assert_eq!(login_with(&app, &Browser::new(), "alice", NEW_PASSWORD).await.status(), 303);

    // The link worked once.
    error_page(Browser::new().get(&link).await, 410).await;
    let kinds = audit_kinds(&app, &alice.id).await;
    assert!(kinds.contains(&"password.reset_requested".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"password.reset_completed".to_owned()), "{kinds:?}");
}

#[tokio::test]
async fn a_reset_for_an_unknown_account_answers_identically_and_sends_nothing() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    app.create_user("alice").await;
    let known = request_reset(&app, "alice").await;
    let (known_status, known_body) = (known.status(), known.text().await.unwrap());
    for unknown in ["nobody", "nobody@example.com", "ALICE@example.org"] {
        let response = request_reset(&app, unknown).await;
        assert_eq!(response.status(), known_status, "{unknown}");
        assert_eq!(response.text().await.unwrap(), known_body, "{unknown}");
    }
    // By address, any case, it is found too.
    assert_eq!(request_reset(&app, "Alice@Example.com").await.status(), known_status);
    let messages = sink.wait_for(2, 20).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let messages_later = sink.messages();
    assert_eq!(messages_later.len(), 2, "{messages:?}");
    assert!(messages_later.iter().all(|m| m.to == ["alice@example.com"]));
    assert_eq!(app.store.list_emails(100).await.unwrap().len(), 2);
}

#[tokio::test]
async fn reset_requests_are_throttled_per_account_so_the_form_cannot_mail_bomb() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    app.create_user("alice").await;
    for _ in 0..3 {
        assert_eq!(request_reset(&app, "alice").await.status(), 200);
    }
    let refused = request_reset(&app, "alice").await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    // The same for a name no account has: the limit says nothing about existence.
    for _ in 0..3 {
        assert_eq!(request_reset(&app, "nobody").await.status(), 200);
    }
    assert_eq!(request_reset(&app, "nobody").await.status(), 429);
    sink.wait_for(3, 20).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.messages().len(), 3);
}

#[tokio::test]
async fn a_reset_link_does_not_unlock_a_locked_account() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = spawn_app_with(move |config| {
        config.smtp_url = Some(url);
        config.login_max_attempts = 3;
    })
    .await;
    app.create_user("alice").await;
    let mut last = 0;
    for _ in 0..4 {
        last = login_with(&app, &Browser::new(), "alice", "wrong password").await.status().as_u16();
    }
    assert_eq!(last, 429, "the account is locked");

    assert_eq!(request_reset(&app, "alice").await.status(), 200);
    let link = sink.message_to("alice@example.com").await.link(&app.url("/login/reset-password?token="));
    let done = follow_link(&app, &Browser::new(), &link, &[("new_password", NEW_PASSWORD)]).await;
    assert_eq!(done.status(), 200);

    // The new password is refused until the lockout ends, like any password.
    let response = login_with(&app, &Browser::new(), "alice", NEW_PASSWORD).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_forged_host_header_does_not_change_the_link() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    app.create_user("alice").await;
    let browser = Browser::new();
    let token = csrf(&app, &browser, "/login/forgot-password").await;
    let response = browser
        .http
        .post(app.url("/login/forgot-password"))
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .header("X-Forwarded-Proto", "https")
        .header("Forwarded", "host=evil.example;proto=https")
        .form(&[("identifier", "alice"), ("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mail = sink.message_to("alice@example.com").await;
    let links = mail.links();
    assert_eq!(links.len(), 1, "{}", mail.text);
    assert!(links[0].starts_with(&app.url("/login/reset-password?token=")), "{}", links[0]);
    assert!(!mail.text.contains("evil.example"), "{}", mail.text);
}

#[tokio::test]
async fn the_reset_pages_answer_bad_input_with_readable_4xx_pages() {
    let app = spawn_app().await;
    let empty = request_reset(&app, "   ").await;
    assert_eq!(empty.status(), 422);
    assert!(empty.text().await.unwrap().contains("Enter your username or email address"));
    let long = request_reset(&app, &"x".repeat(300)).await;
    assert_eq!(long.status(), 422);
    let browser = Browser::new();
    error_page(browser.get(&app.url("/login/reset-password")).await, 410).await;
    error_page(browser.get(&app.url("/login/reset-password?token=made-up")).await, 410).await;
    // A form posted with a made-up token: the same page, whatever the password.
    let token = csrf(&app, &browser, "/login/forgot-password").await;
    for password in ["short", NEW_PASSWORD] {
        let response = browser
            .http
            .post(app.url("/login/reset-password"))
            .form(&[("csrf_token", token.as_str()), ("token", "made-up"), ("new_password", password)])
            .send()
            .await
            .unwrap();
        error_page(response, 410).await;
    }
    // Without the CSRF token nothing is looked at.
    let response = Browser::new()
        .http
        .post(app.url("/login/forgot-password"))
        .form(&[("identifier", "alice")])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    assert!(app.store.list_emails(10).await.unwrap().is_empty());
}
