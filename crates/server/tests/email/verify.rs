//! Verifying an address: after sign-up, on a change of address, resending; single use,
//! expiry, and `email_verified` in userinfo and ID tokens following the account.

use doorway_core::secrets::{hash_secret, random_token};
use doorway_store::EmailPurpose;
use serde_json::Value;

use crate::helpers::*;
use crate::*;

/// Signs `username` up through the sign-up form (password [`PASSWORD`]).
async fn sign_up(app: &TestApp, browser: &Browser, username: &str, email: &str) {
    let response =
        post_form(app, browser, "/signup", &[("username", username), ("email", email), ("password", PASSWORD)]).await;
    assert_eq!(response.status(), 303, "sign-up should succeed");
}

async fn userinfo(app: &TestApp, access_token: &str) -> Value {
    let response =
        reqwest::Client::new().get(app.url("/oauth/userinfo")).bearer_auth(access_token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Runs the code flow as `username` (already signed in, or signing in with [`PASSWORD`]).
async fn tokens_as(app: &TestApp, browser: &Browser, client: &TestClient, username: &str) -> Value {
    let url = authorize_url(app, client, &[("scope", "openid email")]);
    let back = browser.authorize(app, &url, username, "allow").await;
    let code = query_of(&back).get("code").cloned().unwrap();
    let response = exchange(app, client, &code).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn sign_up_mails_a_verification_link_that_verifies_the_address() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    sign_up(&app, &browser, "bob", "bob@example.com").await;

    let mail = sink.message_to("bob@example.com").await;
    assert!(mail.subject.contains("Confirm your email address"), "{}", mail.subject);
    let link = mail.link(&app.url("/account/verify-email?token="));
    let tokens = tokens_as(&app, &browser, &client, "bob").await;
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access_token).await["email_verified"], false);
    let id_token = verify_id_token(&app, &client, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id_token["email_verified"], false);

    // Opening the link from the mail, in another browser (no session), then confirming.
    let response = follow_link(&app, &Browser::new(), &link, &[]).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Email address verified"));

    let info = userinfo(&app, access_token).await;
    assert_eq!(info["email"], "bob@example.com");
    assert_eq!(info["email_verified"], true);
    let tokens = tokens_as(&app, &browser, &client, "bob").await;
    let id_token = verify_id_token(&app, &client, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(id_token["email_verified"], true);
    let user = app.store.find_user_by_username("bob").await.unwrap().unwrap();
    let kinds = audit_kinds(&app, &user.id).await;
    assert!(kinds.contains(&"email.verification_sent".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"email.verified".to_owned()), "{kinds:?}");
}

#[tokio::test]
async fn a_verification_link_works_once_then_shows_a_readable_410() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    sign_up(&app, &Browser::new(), "carol", "carol@example.com").await;
    let link = sink.message_to("carol@example.com").await.link(&app.url("/account/verify-email?token="));
    let browser = Browser::new();
    let page = browser.get(&link).await.text().await.unwrap();
    let (csrf, token) = (input_value(&page, "csrf_token").unwrap(), input_value(&page, "token").unwrap());
    let confirm = || {
        browser
            .http
            .post(app.url("/account/verify-email"))
            .form(&[("csrf_token", csrf.as_str()), ("token", token.as_str())])
            .send()
    };
    assert_eq!(confirm().await.unwrap().status(), 200);
    // The second click, as a POST or as the link itself: a page saying so, never a 500.
    let again = error_page(confirm().await.unwrap(), 410).await;
    assert!(again.contains("This link no longer works"), "{again}");
    let again = error_page(browser.get(&link).await, 410).await;
    assert!(again.contains("already used"), "{again}");
}

#[tokio::test]
async fn an_expired_or_made_up_verification_link_is_refused() {
    let app = spawn_app().await;
    let user = app.create_user("dave").await;
    // A link issued two days ago with the 24-hour lifetime.
    let token = random_token("");
    let issued = doorway_server::state::now() - 2 * 86_400;
    app.store
        .create_email_token(&hash_secret(&token), EmailPurpose::Verify, &user.id, "dave@example.com", issued, 86_400)
        .await
        .unwrap();
    let browser = Browser::new();
    error_page(browser.get(&app.url(&format!("/account/verify-email?token={token}"))).await, 410).await;
    error_page(browser.get(&app.url("/account/verify-email?token=made-up")).await, 410).await;
    error_page(browser.get(&app.url("/account/verify-email")).await, 410).await;
    // A reset token is not a verification token.
    let reset = random_token("");
    app.store
        .create_email_token(
            &hash_secret(&reset),
            EmailPurpose::Reset,
            &user.id,
            "dave@example.com",
            issued + 86_400 * 2,
            3600,
        )
        .await
        .unwrap();
    error_page(browser.get(&app.url(&format!("/account/verify-email?token={reset}"))).await, 410).await;
}

#[tokio::test]
async fn an_email_change_keeps_the_old_address_until_the_new_one_is_verified() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    let alice = app.create_user("alice").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;

    // The current password is required.
    let wrong =
        post_form(&app, &browser, "/account/email", &[("email", "new@example.org"), ("current_password", "nope")])
            .await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().await.unwrap().contains("The current password is not correct"));

    let response = post_form(
        &app,
        &browser,
        "/account/email",
        &[("email", "alice.new@example.org"), ("current_password", PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/account/email?sent=1");
    let verification = sink.message_to("alice.new@example.org").await;
    let notice = sink.message_to("alice@example.com").await;
    assert!(notice.text.contains("alice.new@example.org"), "{}", notice.text);
    assert!(notice.links().iter().all(|l| !l.contains("token=")), "the old address gets no link: {}", notice.text);

    // Until the link is used, nothing changed.
    let user = app.store.find_user(&alice.id).await.unwrap().unwrap();
    assert_eq!((user.email.as_str(), user.email_verified), ("alice@example.com", true));
    let page = browser.get(&app.url("/account/email")).await.text().await.unwrap();
    assert!(page.contains("Waiting for confirmation: <strong>alice.new@example.org</strong>"), "{page}");

    let link = verification.link(&app.url("/account/verify-email?token="));
    assert_eq!(follow_link(&app, &browser, &link, &[]).await.status(), 200);
    let user = app.store.find_user(&alice.id).await.unwrap().unwrap();
    assert_eq!((user.email.as_str(), user.email_verified), ("alice.new@example.org", true));
    let kinds = audit_kinds(&app, &alice.id).await;
    assert!(kinds.contains(&"email.changed".to_owned()), "{kinds:?}");
    let page = browser.get(&app.url("/account/email")).await.text().await.unwrap();
    assert!(!page.contains("Waiting for confirmation"), "{page}");
}

#[tokio::test]
async fn an_address_another_account_holds_cannot_be_taken() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    app.create_user("bob").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let response =
        post_form(&app, &browser, "/account/email", &[("email", "BOB@example.com"), ("current_password", PASSWORD)])
            .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("already exists"));
    assert!(app.store.list_emails(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn resend_sends_again_but_at_most_once_a_minute() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    let browser = Browser::new();
    sign_up(&app, &browser, "erin", "erin@example.com").await;
    let first = sink.message_to("erin@example.com").await.link(&app.url("/account/verify-email?token="));

    let page = browser.get(&app.url("/account/email")).await.text().await.unwrap();
    assert!(page.contains("Resend verification email"), "{page}");
    let response = post_form_from(&app, &browser, "/account/email", "/account/email/resend", &[]).await;
    assert_eq!(response.status(), 303);
    let messages = sink.wait_for(2, 20).await;
    let second = messages[1].link(&app.url("/account/verify-email?token="));
    assert_ne!(first, second);
    // Only the newest link works.
    error_page(browser.get(&first).await, 410).await;

    let response = post_form_from(&app, &browser, "/account/email", "/account/email/resend", &[]).await;
    assert_eq!(response.status(), 429);
    let retry_after: i64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(sink.messages().len(), 2, "the refused resend sent nothing");
    assert_eq!(follow_link(&app, &browser, &second, &[]).await.status(), 200);
}

#[tokio::test]
async fn the_cli_marks_an_email_verified() {
    let app = spawn_app().await;
    let browser = Browser::new();
    sign_up(&app, &browser, "frank", "frank@example.com").await;
    assert!(!app.store.find_user_by_username("frank").await.unwrap().unwrap().email_verified);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_doorway"))
        .arg("--data-dir")
        .arg(app._dir.path())
        .args(["users", "verify-email", "frank", "--json"])
        .env_remove("DOORWAY_DATABASE_URL")
        .env_remove("DOORWAY_CONFIG")
        .env_remove("DOORWAY_DATA_DIR")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["action"], "email verified");
    assert!(app.store.find_user_by_username("frank").await.unwrap().unwrap().email_verified);
    let unknown = std::process::Command::new(env!("CARGO_BIN_EXE_doorway"))
        .arg("--data-dir")
        .arg(app._dir.path())
        .args(["users", "verify-email", "nobody"])
        .env_remove("DOORWAY_DATABASE_URL")
        .env_remove("DOORWAY_CONFIG")
        .env_remove("DOORWAY_DATA_DIR")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(!unknown.status.success());
}

#[tokio::test]
async fn the_email_page_needs_a_session() {
    let app = spawn_app().await;
    let response = Browser::new().get(&app.url("/account/email")).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login");
    let account = {
        app.create_user("alice").await;
        let browser = Browser::new();
        browser.login(&app, "alice").await;
        browser.get(&app.url("/account")).await.text().await.unwrap()
    };
    assert!(account.contains("href=\"/account/email\""), "{account}");
}
