//! Regression tests from the security review of email verification and password reset: each
//! is named after the attack it stops.

use std::time::Duration;

use crate::helpers::*;
use crate::*;

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn request_reset(app: &TestApp, identifier: &str) -> reqwest::Response {
    post_form(app, &Browser::new(), "/login/forgot-password", &[("identifier", identifier)]).await
}

async fn change_email(app: &TestApp, browser: &Browser, to: &str) -> reqwest::Response {
    post_form(app, browser, "/account/email", &[("email", to), ("current_password", PASSWORD)]).await
}

#[tokio::test]
async fn a_password_reset_cancels_an_email_change_an_intruder_started() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    let alice = app.create_user("alice").await;
    // The intruder knows the password and asks to move the account's mail to their address.
    let intruder = Browser::new();
    intruder.login(&app, "alice").await;
    assert_eq!(change_email(&app, &intruder, "intruder@evil.example").await.status(), 303);
    let intruder_link = sink.message_to("intruder@evil.example").await.link(&app.url("/account/verify-email?token="));
    sink.message_to("alice@example.com").await;

    // Alice, warned by the notice, resets her password by email.
    assert_eq!(request_reset(&app, "alice").await.status(), 200);
    let reset = sink.wait_for(3, 20).await.into_iter().find(|m| m.subject.contains("Reset your")).unwrap();
    let link = reset.link(&app.url("/login/reset-password?token="));
    assert_eq!(follow_link(&app, &Browser::new(), &link, &[("new_password", NEW_PASSWORD)]).await.status(), 200);

    // The intruder's pending change is dead: the address stays Alice's.
    error_page(Browser::new().get(&intruder_link).await, 410).await;
    let user = app.store.find_user(&alice.id).await.unwrap().unwrap();
    assert_eq!((user.email.as_str(), user.email_verified), ("alice@example.com", true));
    assert_eq!(app.store.pending_email(&alice.id, now_secs()).await.unwrap(), None);
}

#[tokio::test]
async fn a_reset_link_mailed_to_the_old_address_dies_when_the_address_changes() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    let alice = app.create_user("alice").await;
    // A reset link reaches the old mailbox (which someone else may read) ...
    assert_eq!(request_reset(&app, "alice").await.status(), 200);
    let old_link = sink.message_to("alice@example.com").await.link(&app.url("/login/reset-password?token="));
    // ... then Alice moves to a new address.
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    assert_eq!(change_email(&app, &browser, "alice@new.example").await.status(), 303);
    let verify = sink.message_to("alice@new.example").await.link(&app.url("/account/verify-email?token="));
    assert_eq!(follow_link(&app, &browser, &verify, &[]).await.status(), 200);

    error_page(Browser::new().get(&old_link).await, 410).await;
    let user = app.store.find_user(&alice.id).await.unwrap().unwrap();
    assert_eq!(user.email, "alice@new.example");
    assert_eq!(login_with(&app, &Browser::new(), "alice", PASSWORD).await.status(), 303);
}

#[tokio::test]
async fn alternating_username_and_address_cannot_mail_bomb_one_account() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    app.create_user("alice").await;
    let spellings = ["alice", "alice@example.com", "ALICE", "Alice@Example.com", " alice@example.com"];
    let mut answers = Vec::new();
    for identifier in spellings.iter().cycle().take(8) {
        answers.push(request_reset(&app, identifier).await.status().as_u16());
    }
    sink.wait_for(3, 20).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(sink.messages().len(), 3, "three reset mails an hour per account, however it is named");
    // The page still says nothing: an unknown name answers the same way.
    assert!(answers.iter().all(|s| *s == 200 || *s == 429), "{answers:?}");
    assert_eq!(request_reset(&app, "nobody-else").await.status(), 200);
}

#[tokio::test]
async fn a_verification_link_cannot_be_confirmed_from_another_signed_in_account() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    let mallory = app.create_user("mallory").await;
    let victim = app.create_user("victim").await;
    // Mallory asks for an address that is not hers; the link reaches its owner.
    let attacker = Browser::new();
    attacker.login(&app, "mallory").await;
    assert_eq!(change_email(&app, &attacker, "someone@elsewhere.example").await.status(), 303);
    let link = sink.message_to("someone@elsewhere.example").await.link(&app.url("/account/verify-email?token="));

    // The page names the account the address would join.
    let page = Browser::new().get(&link).await.text().await.unwrap();
    assert!(page.contains("for the account <strong>mallory</strong>"), "{page}");

    // Someone signed in to another account opens it: refused, and the link is not used up.
    let other = Browser::new();
    other.login(&app, "victim").await;
    error_page(other.get(&link).await, 409).await;
    let token = input_value(&page, "token").unwrap();
    let csrf = csrf(&app, &other, "/login/forgot-password").await;
    let post = other
        .http
        .post(app.url("/account/verify-email"))
        .form(&[("csrf_token", csrf.as_str()), ("token", token.as_str())])
        .send()
        .await
        .unwrap();
    error_page(post, 409).await;
    let user = app.store.find_user(&mallory.id).await.unwrap().unwrap();
    assert_eq!(user.email, "mallory@example.com");
    let victim_now = app.store.find_user(&victim.id).await.unwrap().unwrap();
    assert_eq!(victim_now.email, "victim@example.com");
    assert_eq!(Browser::new().get(&link).await.status(), 200, "the link still works for its own account");
}

#[tokio::test]
async fn many_accounts_cannot_mail_bomb_one_address_with_verification_links() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    let mut statuses = Vec::new();
    for n in 0..6 {
        let name = format!("bomber{n}");
        app.create_user(&name).await;
        let browser = Browser::new();
        browser.login(&app, &name).await;
        let response = change_email(&app, &browser, "Target@victim.example").await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
        }
    }
    assert_eq!(statuses, [303, 303, 303, 303, 303, 429], "five an hour to one address, over all accounts");
}

#[tokio::test]
async fn a_reset_link_for_alice_used_while_signed_in_as_bob_signs_nobody_in_as_alice() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    app.create_user("alice").await;
    app.create_user("bob").await;
    assert_eq!(request_reset(&app, "alice").await.status(), 200);
    let link = sink.message_to("alice@example.com").await.link(&app.url("/login/reset-password?token="));
    let bob = Browser::new();
    bob.login(&app, "bob").await;
    let done = follow_link(&app, &bob, &link, &[("new_password", NEW_PASSWORD)]).await;
    assert_eq!(done.status(), 200);
    assert!(set_cookie(&done, "doorway_session").is_none_or(|c| c.starts_with("doorway_session=;")), "no session");
    let account = bob.get(&app.url("/account")).await.text().await.unwrap();
    assert!(account.contains("bob"), "still bob");
    assert!(!account.contains("alice@example.com"), "never alice");
    assert_eq!(login_with(&app, &Browser::new(), "alice", NEW_PASSWORD).await.status(), 303);
}

#[tokio::test]
async fn two_concurrent_uses_of_one_reset_link_set_one_password() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    app.create_user("alice").await;
    assert_eq!(request_reset(&app, "alice").await.status(), 200);
    let link = sink.message_to("alice@example.com").await.link(&app.url("/login/reset-password?token="));
    let (first, second) = (Browser::new(), Browser::new());
    let mut forms = Vec::new();
    for browser in [&first, &second] {
        let html = browser.get(&link).await.text().await.unwrap();
        forms.push((input_value(&html, "csrf_token").unwrap(), input_value(&html, "token").unwrap()));
    }
    let post = |browser: &Browser, (csrf, token): (String, String), password: &'static str| {
        let request = browser.http.post(app.url("/login/reset-password")).form(&[
            ("csrf_token", csrf.as_str()),
            ("token", token.as_str()),
            ("new_password", password),
        ]);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let mut forms = forms.into_iter();
    let (a, b) = tokio::join!(
        post(&first, forms.next().unwrap(), "first new passphrase"),
        post(&second, forms.next().unwrap(), "second new passphrase"),
    );
    let mut statuses = [a, b];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 410], "exactly one use wins");
    let first_works = login_with(&app, &Browser::new(), "alice", "first new passphrase").await.status() == 303;
    let second_works = login_with(&app, &Browser::new(), "alice", "second new passphrase").await.status() == 303;
    assert!(first_works != second_works, "one password set, not both");
}

#[tokio::test]
async fn a_verification_link_used_as_a_reset_link_is_refused() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    app.create_user("alice").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    assert_eq!(change_email(&app, &browser, "alice@new.example").await.status(), 303);
    let verify = sink.message_to("alice@new.example").await.link(&app.url("/account/verify-email?token="));
    let token = verify.split("token=").nth(1).unwrap();
    error_page(Browser::new().get(&app.url(&format!("/login/reset-password?token={token}"))).await, 410).await;
    let csrf = csrf(&app, &browser, "/login/forgot-password").await;
    let response = browser
        .http
        .post(app.url("/login/reset-password"))
        .form(&[("csrf_token", csrf.as_str()), ("token", token), ("new_password", NEW_PASSWORD)])
        .send()
        .await
        .unwrap();
    error_page(response, 410).await;
    assert_eq!(login_with(&app, &Browser::new(), "alice", PASSWORD).await.status(), 303);
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}
