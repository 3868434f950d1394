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

#[tokio::test]
async fn a_password_reset_does_not_skip_the_second_factor() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    let alice = app.create_user("alice").await;
    // Two-factor on (the sealed key is never read before the code step this test stops at).
    assert!(app.store.begin_totp_enrolment(&alice.id, b"sealed", now_secs()).await.unwrap());
    assert!(app.store.enable_totp(&alice.id, 1, &[], now_secs()).await.unwrap());
    assert_eq!(request_reset(&app, "alice").await.status(), 200);
    let link = sink.message_to("alice@example.com").await.link(&app.url("/login/reset-password?token="));
    let browser = Browser::new();
    let done = follow_link(&app, &browser, &link, &[("new_password", NEW_PASSWORD)]).await;
    assert_eq!(done.status(), 200);
    assert!(set_cookie(&done, "doorway_session").is_none_or(|c| c.starts_with("doorway_session=;")));
    // The new password leads to the second factor, not into the account.
    let signed = login_with(&app, &browser, "alice", NEW_PASSWORD).await;
    assert_eq!(signed.status(), 303);
    assert_eq!(location(&signed), "/login/two-factor");
    assert!(set_cookie(&signed, "doorway_session").is_none_or(|c| c.starts_with("doorway_session=;")));
    assert_eq!(location(&browser.get(&app.url("/account")).await), "/login");
    assert!(app.store.totp_enabled(&alice.id).await.unwrap(), "the reset leaves the second factor on");
}

#[tokio::test]
async fn factors_enrolled_before_anyone_proved_the_address_do_not_survive_its_owners_reset() {
    // Pre-hijacking: the attacker signs up first with the victim's address (never verified)
    // and enrols TOTP and a passkey to keep a way in.
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    let new = doorway_store::NewUser {
        id: "victim-id".into(),
        sub: doorway_core::secrets::random_hex_id(),
        username: doorway_core::types::Username::parse("victim").unwrap(),
        email: doorway_core::types::Email::parse("victim@example.com").unwrap(),
        email_verified: false,
        name: None,
        password_hash: doorway_server::password::hash_blocking("the attacker's password").unwrap(),
        is_admin: false,
        is_pro: false,
        can_pay: false,
    };
    let victim = app.store.create_user(new, now_secs()).await.unwrap();
    assert!(app.store.begin_totp_enrolment(&victim.id, b"sealed", now_secs()).await.unwrap());
    assert!(app.store.enable_totp(&victim.id, 1, &[], now_secs()).await.unwrap());
    let planted = doorway_store::StoredPasskey {
        id: "pk1".into(),
        user_id: victim.id.clone(),
        credential_id: "attackers-credential".into(),
        passkey: "{}".into(),
        name: "attacker".into(),
        created_at: now_secs(),
        last_used_at: None,
    };
    app.store.add_passkey(&planted).await.unwrap();
    // The owner of the mailbox resets the password through the mailed link.
    assert_eq!(request_reset(&app, "victim").await.status(), 200);
    let link = sink.message_to("victim@example.com").await.link(&app.url("/login/reset-password?token="));
    let done = follow_link(&app, &Browser::new(), &link, &[("new_password", NEW_PASSWORD)]).await;
    assert_eq!(done.status(), 200);
    assert!(!app.store.totp_enabled(&victim.id).await.unwrap(), "the planted TOTP key is gone");
    assert!(app.store.list_passkeys(&victim.id).await.unwrap().is_empty(), "the planted passkey is gone");
    assert!(app.store.find_user(&victim.id).await.unwrap().unwrap().email_verified, "the link proved the address");
    // The owner signs straight in with the new password: no second factor of the attacker's.
    let signed = login_with(&app, &Browser::new(), "victim", NEW_PASSWORD).await;
    assert_eq!(location(&signed), "/account");
}

#[tokio::test]
async fn every_email_form_refuses_a_cross_site_post_and_hostile_input_never_gets_a_500() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    app.create_user("alice").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    // A signed-in victim's browser, posting from another site: it has the cookies but not the
    // form's CSRF token.
    let forms: [(&str, &[(&str, &str)]); 5] = [
        ("/account/email", &[("email", "x@evil.example"), ("current_password", PASSWORD)]),
        ("/account/email/resend", &[]),
        ("/account/verify-email", &[("token", "anything")]),
        ("/login/forgot-password", &[("identifier", "alice")]),
        ("/login/reset-password", &[("token", "anything"), ("new_password", NEW_PASSWORD)]),
    ];
    for (path, form) in forms {
        let mut fields = form.to_vec();
        fields.push(("csrf_token", "forged-forged-forged-forged-forged-forged"));
        let response = browser.http.post(app.url(path)).form(&fields).send().await.unwrap();
        error_page(response, 403).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sink.messages().is_empty(), "nothing was sent: {:?}", sink.messages());

    let token = csrf(&app, &browser, "/login/forgot-password").await;
    let hostile_pages = [
        "/account/verify-email?token=%FF%FE",
        "/account/verify-email?token=a&token=b",
        "/login/reset-password?token=%00",
        "/login/reset-password?token=a&token=b",
        "/account/email?sent=%FF",
    ];
    for path in hostile_pages {
        let status = browser.get(&app.url(path)).await.status();
        assert!(status.is_client_error() || status.is_success(), "{path}: {status}");
    }
    let long = "x".repeat(60_000);
    let bodies = [
        format!("csrf_token={token}&token=%FF&new_password=%FF%FF%FF%FF%FF%FF%FF%FF"),
        format!("csrf_token={token}&token={long}"),
        format!("csrf_token={token}&identifier=%0d%0aBcc:%20x@evil.example"),
        format!("csrf_token={token}&email=a%0d%0aBcc:x@evil.example&current_password={PASSWORD}"),
    ];
    for path in ["/login/reset-password", "/account/verify-email", "/login/forgot-password", "/account/email"] {
        for body in &bodies {
            let response = browser
                .http
                .post(app.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = response.status();
            assert!(status.is_client_error() || status.is_success() || status.is_redirection(), "{path}: {status}");
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sink.messages().iter().all(|m| m.to == ["alice@example.com"]), "{:?}", sink.messages());
}

#[tokio::test]
async fn a_password_changed_behind_the_owners_back_is_announced_to_their_address() {
    let sink = SmtpSink::start().await;
    let app = spawn_with_sink(&sink).await;
    app.create_user("alice").await;
    // By a reset link ...
    assert_eq!(request_reset(&app, "alice").await.status(), 200);
    let link = sink.message_to("alice@example.com").await.link(&app.url("/login/reset-password?token="));
    assert_eq!(follow_link(&app, &Browser::new(), &link, &[("new_password", NEW_PASSWORD)]).await.status(), 200);
    let notices = sink.wait_for(2, 20).await;
    let notice = notices.iter().find(|m| m.subject.contains("password was changed")).unwrap();
    assert_eq!(notice.to, ["alice@example.com"]);
    assert!(notice.links().iter().all(|l| !l.contains("token=")), "a notice carries no link that acts");
    // ... and on the account page.
    let browser = Browser::new();
    login_with(&app, &browser, "alice", NEW_PASSWORD).await;
    let changed = post_form_from(
        &app,
        &browser,
        "/account",
        "/account/password",
        &[("current_password", NEW_PASSWORD), ("new_password", "a third passphrase")],
    )
    .await;
    assert_eq!(changed.status(), 303);
    let all = sink.wait_for(3, 20).await;
    assert_eq!(all.iter().filter(|m| m.subject.contains("password was changed")).count(), 2);
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}
