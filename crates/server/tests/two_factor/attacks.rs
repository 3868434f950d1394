//! Attacks on two-factor sign-in found in review: a stale (stolen, forgotten) session planting
//! a key of its own, code guesses at the settings page, a code replayed across endpoints, an
//! account disabled mid-challenge, and an open redirect carried through the challenge.

use doorway_core::model::{Session, User};
use doorway_core::secrets::{hash_secret, random_hex_id, random_token};
use reqwest::header::{COOKIE, HeaderMap};

use super::helpers::*;
use super::{Enrolled, SETTINGS, between, enrol, password_step, session_cookie_set, submit_code, unix_now};

/// A client holding a session of `user` that signed in `age` seconds ago (still unexpired), as
/// a thief of the cookie or the next person at a shared computer would: the client and the
/// CSRF token its cookie carries.
async fn session_signed_in_ago(app: &TestApp, user: &User, age: i64) -> (reqwest::Client, String) {
    let (id, csrf) = (random_token(""), random_token(""));
    let now = i64::try_from(unix_now()).unwrap();
    let session = Session {
        id_hash: hash_secret(&id),
        sid: random_hex_id(),
        user_id: user.id.clone(),
        auth_time: now - age,
        created_at: now - age,
        expires_at: now + 3600,
    };
    app.store.create_session(&session).await.unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, format!("doorway_session={id}; doorway_csrf={csrf}").parse().unwrap());
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (client, csrf)
}

#[tokio::test]
async fn a_stale_session_cannot_turn_on_two_factor_with_a_key_of_its_own() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let (thief, csrf) = session_signed_in_ago(&app, &alice, 3600).await;
    // The session is valid: the settings page shows.
    assert_eq!(thief.get(app.url(SETTINGS)).send().await.unwrap().status(), 200);
    // But a key the thief would hold (locking alice out): sign in again first.
    let setup = thief.post(app.url("/settings/two-factor/setup")).form(&[("csrf_token", &csrf)]).send().await.unwrap();
    assert_eq!(setup.status(), 303);
    assert_eq!(location(&setup), "/login?next=%2Fsettings%2Ftwo-factor");
    assert!(app.store.find_totp(&alice.id).await.unwrap().is_none());
    // A session that signed in a minute ago may.
    let (fresh, csrf) = session_signed_in_ago(&app, &alice, 60).await;
    let setup = fresh.post(app.url("/settings/two-factor/setup")).form(&[("csrf_token", &csrf)]).send().await.unwrap();
    assert_eq!(location(&setup), SETTINGS);
    assert!(app.store.find_totp(&alice.id).await.unwrap().is_some());
}

#[tokio::test]
async fn a_stale_session_can_neither_see_nor_confirm_a_key_left_pending() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    // Alice started enrolling and walked away from the page.
    let (own, csrf) = session_signed_in_ago(&app, &alice, 60).await;
    own.post(app.url("/settings/two-factor/setup")).form(&[("csrf_token", &csrf)]).send().await.unwrap();
    let page = own.get(app.url(SETTINGS)).send().await.unwrap().text().await.unwrap();
    let secret = between(&page, "<code class=\"totp-secret\">", "</code>").unwrap().to_owned();
    // An old session of hers is sent to sign in again instead of being shown the key ...
    let (thief, csrf) = session_signed_in_ago(&app, &alice, 3600).await;
    let shown = thief.get(app.url(SETTINGS)).send().await.unwrap();
    assert_eq!(shown.status(), 303);
    assert_eq!(location(&shown), "/login?next=%2Fsettings%2Ftwo-factor");
    // ... and cannot confirm it, even with a right code.
    let key = Enrolled { secret, recovery_codes: Vec::new(), step: 0 };
    let code = key.code(super::current_step());
    let confirm = thief
        .post(app.url("/settings/two-factor/confirm"))
        .form(&[("csrf_token", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 303);
    assert_eq!(location(&confirm), "/login?next=%2Fsettings%2Ftwo-factor");
    assert!(!app.store.totp_enabled(&alice.id).await.unwrap(), "the password alone still signs alice in");
}

#[tokio::test]
async fn code_guesses_at_the_settings_page_spend_the_sign_in_budget() {
    let app = spawn_app_with(|config| config.login_max_attempts = 3).await;
    app.create_user("alice").await;
    let browser = Browser::new();
    let enrolled = enrol(&app, &browser).await;
    let page = browser.get(&app.url(SETTINGS)).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let disable = app.url("/settings/two-factor/disable");
    for guess in ["000000", "111111", "222222"] {
        let wrong =
            browser.http.post(&disable).form(&[("csrf_token", csrf.as_str()), ("code", guess)]).send().await.unwrap();
        assert_eq!(wrong.status(), 422);
    }
    // The fourth guess is refused unseen, the right code too, here and at sign-in.
    let right = enrolled.code(enrolled.step + 1);
    let locked = browser
        .http
        .post(&disable)
        .form(&[("csrf_token", csrf.as_str()), ("code", right.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), 429);
    assert!(locked.headers().contains_key("retry-after"));
    let other = Browser::new();
    assert_eq!(location(&password_step(&app, &other, "").await), "/login/two-factor");
    assert_eq!(submit_code(&app, &other, &right).await.status(), 429);
}

#[tokio::test]
async fn a_code_accepted_at_the_settings_page_cannot_sign_in_again() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let browser = Browser::new();
    let enrolled = enrol(&app, &browser).await;
    let code = enrolled.code(enrolled.step + 1);
    let page = browser.get(&app.url(SETTINGS)).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let regenerated = browser
        .http
        .post(app.url("/settings/two-factor/recovery-codes"))
        .form(&[("csrf_token", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(regenerated.status(), 200);
    // Someone who watched the code being typed: RFC 6238 §5.2, accepted once anywhere.
    let watcher = Browser::new();
    password_step(&app, &watcher, "").await;
    let replayed = submit_code(&app, &watcher, &code).await;
    assert_eq!(replayed.status(), 400);
    assert!(!session_cookie_set(&replayed));
}

#[tokio::test]
async fn an_account_disabled_mid_challenge_is_not_signed_in_by_its_code() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let enrolled = enrol(&app, &Browser::new()).await;
    let browser = Browser::new();
    assert_eq!(location(&password_step(&app, &browser, "").await), "/login/two-factor");
    app.store.set_user_disabled(&alice.id, true, i64::try_from(unix_now()).unwrap()).await.unwrap();
    let refused = submit_code(&app, &browser, &enrolled.code(enrolled.step + 1)).await;
    assert_eq!(refused.status(), 303);
    assert_eq!(location(&refused), "/login");
    assert!(!session_cookie_set(&refused));
}

#[tokio::test]
async fn a_foreign_next_carried_through_the_challenge_is_dropped() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let enrolled = enrol(&app, &Browser::new()).await;
    for (i, next) in
        ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/settings/../../evil"].into_iter().enumerate()
    {
        let browser = Browser::new();
        let page = browser.get(&app.url("/login")).await.text().await.unwrap();
        let csrf = input_value(&page, "csrf_token").unwrap();
        let form = [("username", "alice"), ("password", PASSWORD), ("csrf_token", csrf.as_str()), ("next", next)];
        let step = browser.http.post(app.url("/login")).form(&form).send().await.unwrap();
        assert_eq!(location(&step), "/login/two-factor");
        // Codes of successive steps: each is accepted once (steps S+1, then S+2 is not valid
        // yet, so a recovery code signs in the later ones).
        let code = if i == 0 { enrolled.code(enrolled.step + 1) } else { enrolled.recovery_codes[i].clone() };
        let done = submit_code(&app, &browser, &code).await;
        assert_eq!(done.status(), 303, "{next}");
        assert_eq!(location(&done), "/account", "{next}");
    }
}

#[tokio::test]
async fn concurrent_submissions_of_one_recovery_code_let_exactly_one_through() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let enrolled = enrol(&app, &Browser::new()).await;
    let code = enrolled.recovery_codes[0].clone();
    let mut browsers = Vec::new();
    for _ in 0..5 {
        let browser = Browser::new();
        assert_eq!(location(&password_step(&app, &browser, "").await), "/login/two-factor");
        let page = browser.get(&app.url("/login/two-factor")).await.text().await.unwrap();
        let csrf = input_value(&page, "csrf_token").unwrap();
        browsers.push((browser, csrf));
    }
    let url = app.url("/login/two-factor");
    let results = futures::future::join_all(browsers.iter().map(|(browser, csrf)| {
        browser.http.post(&url).form(&[("csrf_token", csrf.as_str()), ("code", code.as_str())]).send()
    }))
    .await;
    let statuses: Vec<_> = results.iter().map(|r| r.as_ref().unwrap().status().as_u16()).collect();
    let signed_in = results.iter().filter(|r| session_cookie_set(r.as_ref().unwrap())).count();
    assert_eq!(signed_in, 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 4, "{statuses:?}");
}
