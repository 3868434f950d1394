//! Brute-force protection over the wire: password guesses at /login (and at the password
//! change) and client-secret guesses at /oauth/token are counted per account (app) and per
//! address in the database, and answered `429` + `Retry-After` once spent — before any
//! password is checked, so concurrency gets no more guesses through and a correct password
//! during a lockout reveals nothing. Lockouts end by themselves.

use doorway_server::config::Config;
use reqwest::header::{RETRY_AFTER, SET_COOKIE};
use serde_json::Value;

use crate::helpers::*;

/// The login page's CSRF token, for a browser.
async fn csrf(browser: &Browser, app: &TestApp) -> String {
    let page = browser.get(&app.url("/login")).await.text().await.unwrap();
    input_value(&page, "csrf_token").unwrap()
}

async fn sign_in(browser: &Browser, app: &TestApp, csrf: &str, username: &str, password: &str) -> reqwest::Response {
    browser
        .http
        .post(app.url("/login"))
        .form(&[("username", username), ("password", password), ("csrf_token", csrf)])
        .send()
        .await
        .unwrap()
}

fn retry_after(response: &reqwest::Response) -> i64 {
    response.headers().get(RETRY_AFTER).expect("a Retry-After header").to_str().unwrap().parse().unwrap()
}

fn limits(max: i64, window: i64, lockout: i64, ip_multiplier: i64) -> impl FnOnce(&mut Config) {
    move |config| {
        config.login_max_attempts = max;
        config.login_window = window;
        config.login_lockout = lockout;
        config.login_ip_multiplier = ip_multiplier;
    }
}

#[tokio::test]
async fn fifty_concurrent_wrong_passwords_get_no_more_than_the_limit_through() {
    let app = spawn_app_with(limits(5, 600, 600, 10)).await;
    app.create_user("alice").await;
    let browser = Browser::new();
    let csrf = csrf(&browser, &app).await;
    let guesses = (0..50).map(|i| {
        let http = browser.http.clone();
        let (url, csrf) = (app.url("/login"), csrf.clone());
        tokio::spawn(async move {
            let password = format!("wrong guess {i}");
            let form = [("username", "alice"), ("password", password.as_str()), ("csrf_token", csrf.as_str())];
            http.post(url).form(&form).send().await.unwrap()
        })
    });
    let responses: Vec<reqwest::Response> =
        futures::future::join_all(guesses).await.into_iter().map(Result::unwrap).collect();
    let checked = responses.iter().filter(|r| r.status() == 400).count();
    let refused: Vec<_> = responses.iter().filter(|r| r.status() == 429).collect();
    assert_eq!(checked, 5, "exactly the limit was checked");
    assert_eq!(refused.len(), 45, "every other guess was refused unchecked");
    for response in refused {
        let wait = retry_after(response);
        assert!((1..=600).contains(&wait), "Retry-After: {wait}");
    }
}

#[tokio::test]
async fn a_correct_password_during_a_lockout_is_refused_like_a_wrong_one() {
    let app = spawn_app_with(limits(3, 600, 900, 10)).await;
    app.create_user("alice").await;
    let browser = Browser::new();
    let csrf = csrf(&browser, &app).await;
    for _ in 0..3 {
        assert_eq!(sign_in(&browser, &app, &csrf, "alice", "wrong").await.status(), 400);
    }
    let wrong = sign_in(&browser, &app, &csrf, "alice", "still wrong").await;
    let right = sign_in(&browser, &app, &csrf, "alice", PASSWORD).await;
    for response in [wrong, right] {
        assert_eq!(response.status(), 429);
        assert!((899..=900).contains(&retry_after(&response)));
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert!(response.headers().get_all(SET_COOKIE).iter().all(|c| !c.to_str().unwrap().contains("session")));
        let html = response.text().await.unwrap();
        assert!(html.contains("Too many sign-in attempts. Try again in 15 minutes."), "{html}");
    }
    // An unknown username is throttled the same way: the answer says nothing of existence.
    for _ in 0..3 {
        assert_eq!(sign_in(&browser, &app, &csrf, "nobody-here", "x").await.status(), 400);
    }
    assert_eq!(sign_in(&browser, &app, &csrf, "nobody-here", "x").await.status(), 429);
    // Another account is not affected.
    app.create_user("bob").await;
    assert_eq!(sign_in(&browser, &app, &csrf, "bob", PASSWORD).await.status(), 303);
}

#[tokio::test]
async fn a_lockout_ends_by_itself() {
    let app = spawn_app_with(limits(2, 2, 2, 10)).await;
    app.create_user("alice").await;
    let browser = Browser::new();
    let csrf = csrf(&browser, &app).await;
    for _ in 0..2 {
        assert_eq!(sign_in(&browser, &app, &csrf, "alice", "wrong").await.status(), 400);
    }
    let refused = sign_in(&browser, &app, &csrf, "alice", PASSWORD).await;
    assert_eq!(refused.status(), 429);
    assert!((1..=2).contains(&retry_after(&refused)));
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(sign_in(&browser, &app, &csrf, "alice", PASSWORD).await.status(), 303);
}

#[tokio::test]
async fn successful_sign_ins_do_not_count_against_the_account_or_the_address() {
    let app = spawn_app_with(limits(2, 600, 600, 1)).await;
    app.create_user("alice").await;
    for _ in 0..4 {
        let browser = Browser::new();
        let csrf = csrf(&browser, &app).await;
        assert_eq!(sign_in(&browser, &app, &csrf, "alice", PASSWORD).await.status(), 303);
    }
}

#[tokio::test]
async fn one_address_gets_a_bounded_number_of_guesses_over_many_usernames() {
    // Two per account, four per address.
    let app = spawn_app_with(limits(2, 600, 600, 2)).await;
    app.create_user("alice").await;
    let browser = Browser::new();
    let csrf = csrf(&browser, &app).await;
    for name in ["user-a", "user-b", "user-c", "user-d"] {
        assert_eq!(sign_in(&browser, &app, &csrf, name, "guess").await.status(), 400, "{name}");
    }
    let next = sign_in(&browser, &app, &csrf, "user-e", "guess").await;
    assert_eq!(next.status(), 429);
    assert!(retry_after(&next) > 0);
    // The address is blocked for every account, the right password included.
    assert_eq!(sign_in(&browser, &app, &csrf, "alice", PASSWORD).await.status(), 429);
}

#[tokio::test]
async fn an_existing_session_keeps_working_during_a_lockout_but_cannot_get_around_it() {
    let app = spawn_app_with(limits(2, 600, 600, 10)).await;
    app.create_user("alice").await;
    let alice = Browser::new();
    alice.login(&app, "alice").await;
    let attacker = Browser::new();
    let csrf_attacker = csrf(&attacker, &app).await;
    for _ in 0..3 {
        sign_in(&attacker, &app, &csrf_attacker, "alice", "guess").await;
    }
    // Alice's session still works …
    let account = alice.get(&app.url("/account")).await;
    assert_eq!(account.status(), 200);
    let page = account.text().await.unwrap();
    let csrf_alice = input_value(&page, "csrf_token").unwrap();
    // … but signing in again, or checking the password through a password change, is refused.
    assert_eq!(sign_in(&alice, &app, &csrf_alice, "alice", PASSWORD).await.status(), 429);
    let change = alice
        .http
        .post(app.url("/account/password"))
        .form(&[
            ("csrf_token", csrf_alice.as_str()),
            ("current_password", PASSWORD),
            ("new_password", "a brand new passphrase"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), 429);
    assert!(retry_after(&change) > 0);
    assert!(change.text().await.unwrap().contains("Too many password attempts"));
    assert_eq!(alice.get(&app.url("/account")).await.status(), 200, "the session was not ended either");
}

#[tokio::test]
async fn wrong_current_passwords_at_the_password_change_count_like_sign_ins() {
    let app = spawn_app_with(limits(2, 600, 600, 10)).await;
    app.create_user("alice").await;
    let alice = Browser::new();
    alice.login(&app, "alice").await;
    let page = alice.get(&app.url("/account")).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let change = |current: &'static str| {
        let form = [
            ("csrf_token", csrf.clone()),
            ("current_password", current.to_owned()),
            ("new_password", "a brand new passphrase".to_owned()),
        ];
        alice.http.post(app.url("/account/password")).form(&form).send()
    };
    assert_eq!(change("wrong one").await.unwrap().status(), 422);
    assert_eq!(change("wrong two").await.unwrap().status(), 422);
    assert_eq!(change(PASSWORD).await.unwrap().status(), 429);
}

async fn client_credentials(app: &TestApp, client_id: &str, secret: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/oauth/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn wrong_client_secrets_lock_the_app_out_of_the_token_endpoint_for_a_while() {
    let app = spawn_app_with(limits(3, 600, 300, 10)).await;
    let client = app.confidential_client().await;
    let other = app.confidential_client().await;
    let secret = client.secret.clone().unwrap();
    for _ in 0..3 {
        let response = client_credentials(&app, &client.client_id, "dws_wrong").await;
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
    }
    // Refused unchecked, the right secret too: 429, a registered "try later" error, and when.
    let refused = client_credentials(&app, &client.client_id, &secret).await;
    assert_eq!(refused.status(), 429);
    assert!((299..=300).contains(&retry_after(&refused)));
    assert_eq!(refused.headers()["cache-control"], "no-store");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(body["error_description"].as_str().unwrap().contains("too many failed client authentications"));
    // The same at the other endpoints that authenticate the client.
    let introspect = reqwest::Client::new()
        .post(app.url("/oauth/introspect"))
        .basic_auth(&client.client_id, Some(&secret))
        .form(&[("token", "anything")])
        .send()
        .await
        .unwrap();
    assert_eq!(introspect.status(), 429);
    // Another app is not affected.
    let fine = client_credentials(&app, &other.client_id, other.secret.as_deref().unwrap()).await;
    assert_ne!(fine.status(), 429);
    assert_ne!(fine.status(), 401);
}

#[tokio::test]
async fn a_client_lockout_started_elsewhere_is_honoured_within_a_second() {
    let app = spawn_app_with(limits(3, 600, 300, 10)).await;
    let client = app.confidential_client().await;
    let secret = client.secret.clone().unwrap();
    // Authenticated (the app may not use this grant: 400, not 401 or 429); "no lockout" remembered.
    let first = client_credentials(&app, &client.client_id, &secret).await.status();
    assert!(first != 401 && first != 429, "{first}");
    // Another node counts three wrong secrets from this address into the shared table.
    let config = app.state.config.clone();
    let buckets = doorway_server::throttle::client_buckets(&config, &client.client_id, Some([127, 0, 0, 1].into()));
    let now = doorway_server::state::now();
    for _ in 0..3 {
        doorway_server::throttle::record_failure(&app.store, &buckets, now).await.unwrap();
    }
    tokio::time::sleep(doorway_server::throttle::CLEAR_TTL + std::time::Duration::from_millis(100)).await;
    let refused = client_credentials(&app, &client.client_id, &secret).await;
    assert_eq!(refused.status(), 429, "the shared lockout is seen once the remembered answer expires");
}

#[tokio::test]
async fn two_nodes_share_the_count_so_fifty_guesses_across_them_get_the_limit_through() {
    use crate::nodes::{Cluster, browser};
    let Some(cluster) = Cluster::start("throttle", &["--login-max-attempts", "5"]).await else { return };
    cluster.create_user("alice").await;
    let http = browser();
    let page = http.get(cluster.a.url("/login")).send().await.unwrap().text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let guesses = (0..50).map(|i| {
        let node = if i % 2 == 0 { &cluster.a } else { &cluster.b };
        let password = format!("wrong guess {i}");
        let form = [("username", "alice"), ("password", password.as_str()), ("csrf_token", csrf.as_str())];
        http.post(node.url("/login")).form(&form).send()
    });
    let statuses: Vec<u16> =
        futures::future::join_all(guesses).await.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 45, "{statuses:?}");
    cluster.finish().await;
}
