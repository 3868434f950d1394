//! The client address behind reverse proxies: X-Forwarded-For is believed only from a peer
//! named by `--trusted-proxy`, and then only its right-most untrusted hop, so a client cannot
//! pick its own brute-force bucket or security-log address by sending the header itself.

use doorway_store::{AuditEntry, AuditQuery};

use crate::helpers::*;

async fn wrong_password(app: &TestApp, username: &str, forwarded_for: &str) -> reqwest::Response {
    let browser = Browser::new();
    let page = browser.get(&app.url("/login")).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    browser
        .http
        .post(app.url("/login"))
        .header("x-forwarded-for", forwarded_for)
        .form(&[("username", username), ("password", "not the password"), ("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap()
}

async fn failed_sign_ins(app: &TestApp) -> Vec<AuditEntry> {
    let all = app.store.list_audit(&AuditQuery { limit: 50, ..AuditQuery::default() }).await.unwrap();
    all.into_iter().filter(|e| e.kind == "sign_in.failed").collect()
}

fn trusting_loopback(config: &mut doorway_server::config::Config) {
    config.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
}

#[tokio::test]
async fn the_security_log_records_the_forwarded_client_behind_a_trusted_proxy() {
    let app = spawn_app_with(trusting_loopback).await;
    app.create_user("alice").await;
    // The left part is whatever the client sent; the proxy appended the address it heard from.
    let response = wrong_password(&app, "alice", "192.0.2.66, 203.0.113.9").await;
    assert_eq!(response.status(), 400);
    let entries = failed_sign_ins(&app).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].ip.as_deref(), Some("203.0.113.9"));
}

#[tokio::test]
async fn a_forwarded_for_header_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    wrong_password(&app, "alice", "203.0.113.9").await;
    let entries = failed_sign_ins(&app).await;
    assert_eq!(entries[0].ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn forging_forwarded_for_cannot_escape_the_address_lockout() {
    // One attempt per address over all accounts: the second guess, at another account and with
    // another forged address, is still the same client.
    let app = spawn_app_with(|config| {
        config.login_max_attempts = 1;
        config.login_ip_multiplier = 1;
    })
    .await;
    app.create_user("alice").await;
    app.create_user("bob").await;
    assert_eq!(wrong_password(&app, "alice", "203.0.113.1").await.status(), 400);
    let refused = wrong_password(&app, "bob", "203.0.113.2").await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_address_bucket() {
    let app = spawn_app_with(|config| {
        trusting_loopback(config);
        config.login_max_attempts = 1;
        config.login_ip_multiplier = 1;
    })
    .await;
    app.create_user("alice").await;
    app.create_user("bob").await;
    assert_eq!(wrong_password(&app, "alice", "203.0.113.1").await.status(), 400);
    // Another person behind the same proxy is not locked out by the first one's failure …
    assert_eq!(wrong_password(&app, "bob", "203.0.113.2").await.status(), 400);
    // … while the first person's address is.
    assert_eq!(wrong_password(&app, "bob", "203.0.113.1").await.status(), 429);
}
