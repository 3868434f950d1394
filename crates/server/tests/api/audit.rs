//! The security log over the wire: each event is recorded with its kind, account, actor,
//! address, User-Agent and detail (never a secret); a person sees only their own entries,
//! escaped, under /settings/security-log; operators read and filter everything through
//! `GET /api/v1/audit` with an admin API token.

use doorway_core::secrets::{hash_secret, random_hex_id, random_token};
use doorway_store::{AuditEntry, AuditQuery, NewAdminToken};
use reqwest::redirect::Policy;
use serde_json::Value;

use crate::helpers::*;

const AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn browser_as(user_agent: &str) -> Browser {
    Browser {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .user_agent(user_agent)
            .build()
            .unwrap(),
    }
}

async fn sign_in(browser: &Browser, app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    let page = browser.get(&app.url("/login")).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    browser
        .http
        .post(app.url("/login"))
        .form(&[("username", username), ("password", password), ("csrf_token", &csrf)])
        .send()
        .await
        .unwrap()
}

/// Every entry, newest first.
async fn log(app: &TestApp) -> Vec<AuditEntry> {
    app.store.list_audit(&AuditQuery { limit: 200, ..AuditQuery::default() }).await.unwrap()
}

async fn of_kind(app: &TestApp, kind: &str) -> Vec<AuditEntry> {
    log(app).await.into_iter().filter(|e| e.kind == kind).collect()
}

/// The CSRF token of a page the browser can see.
async fn csrf_of(browser: &Browser, app: &TestApp, path: &str) -> String {
    let page = browser.get(&app.url(path)).await.text().await.unwrap();
    input_value(&page, "csrf_token").unwrap()
}

async fn admin_token(app: &TestApp) -> (String, String) {
    let token = random_token("dwa_");
    let id = random_hex_id();
    let new = NewAdminToken { id: id.clone(), name: "audit".into(), token_hash: hash_secret(&token), read_only: false };
    app.store.create_admin_token(&new, 0).await.unwrap();
    (id, token)
}

#[tokio::test]
async fn sign_ins_and_failed_attempts_are_recorded_with_address_and_device() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let browser = browser_as(AGENT);
    assert_eq!(sign_in(&browser, &app, "alice", "not it").await.status(), 400);
    assert_eq!(sign_in(&browser, &app, "nobody", "not it").await.status(), 400);
    assert_eq!(sign_in(&browser, &app, "alice", PASSWORD).await.status(), 303);

    let entries = log(&app).await;
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["sign_in.succeeded", "sign_in.failed", "sign_in.failed"]);
    let (ok, unknown, wrong) = (&entries[0], &entries[1], &entries[2]);
    assert_eq!(ok.user_id.as_deref(), Some(alice.id.as_str()));
    assert_eq!(ok.actor_user_id.as_deref(), Some(alice.id.as_str()));
    assert_eq!(ok.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(ok.user_agent.as_deref(), Some(AGENT));
    assert_eq!(wrong.user_id.as_deref(), Some(alice.id.as_str()));
    assert_eq!(wrong.actor_user_id, None, "nobody proved to be anyone");
    assert_eq!(wrong.detail["reason"], "wrong_password");
    assert_eq!(unknown.user_id, None);
    assert_eq!(unknown.detail["reason"], "unknown_user");
    // Never the password typed, nor the unknown name (often a password typed in the wrong box).
    let text = format!("{entries:?}");
    assert!(!text.contains("not it") && !text.contains("nobody") && !text.contains(PASSWORD), "{text}");
}

#[tokio::test]
async fn a_lockout_is_recorded_once_however_long_the_attack() {
    let app = spawn_app_with(|c| c.login_max_attempts = 2).await;
    let alice = app.create_user("alice").await;
    let browser = Browser::new();
    for _ in 0..6 {
        sign_in(&browser, &app, "alice", "guess").await;
    }
    let locked = of_kind(&app, "sign_in.locked").await;
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0].user_id.as_deref(), Some(alice.id.as_str()));
    assert_eq!(locked[0].detail["bucket"], "login_account");
    assert_eq!(locked[0].detail["retry_after"], 900);
    assert_eq!(of_kind(&app, "sign_in.failed").await.len(), 2, "refused attempts are not checked, nor logged");
}

#[tokio::test]
async fn password_changes_and_ended_sessions_are_recorded() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let browser = browser_as(AGENT);
    browser.login(&app, "alice").await;
    let csrf = csrf_of(&browser, &app, "/account").await;
    let change = |current: &str| {
        let form =
            [("csrf_token", csrf.as_str()), ("current_password", current), ("new_password", "a new passphrase!")];
        browser.http.post(app.url("/account/password")).form(&form).send()
    };
    assert_eq!(change("wrong").await.unwrap().status(), 422);
    assert_eq!(change(PASSWORD).await.unwrap().status(), 303);
    let failed = of_kind(&app, "password.change_failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].actor_user_id.as_deref(), Some(alice.id.as_str()));
    let changed = of_kind(&app, "password.changed").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].user_id.as_deref(), Some(alice.id.as_str()));
    assert_eq!(changed[0].user_agent.as_deref(), Some(AGENT));
    assert!(changed[0].detail.get("sessions_ended").is_some());
    assert!(!format!("{changed:?}").contains("a new passphrase"));

    let csrf = csrf_of(&browser, &app, "/account").await;
    let out = browser.http.post(app.url("/logout")).form(&[("csrf_token", csrf.as_str())]).send().await.unwrap();
    assert_eq!(out.status(), 303);
    let ended = of_kind(&app, "session.ended").await;
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].user_id.as_deref(), Some(alice.id.as_str()));
    assert_eq!(ended[0].detail["which"], "this");
}

#[tokio::test]
async fn consent_granted_and_revoked_are_recorded_with_the_app() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    obtain_code(&app, &browser, &client, &[]).await;
    let granted = of_kind(&app, "consent.granted").await;
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0].user_id.as_deref(), Some(alice.id.as_str()));
    assert_eq!(granted[0].client_id.as_deref(), Some(client.client_id.as_str()));
    let scope: Vec<&str> = granted[0].detail["scope"].as_str().unwrap().split(' ').collect();
    assert!(["openid", "profile", "email"].iter().all(|s| scope.contains(s)), "{scope:?}");

    let csrf = csrf_of(&browser, &app, "/settings/connected-applications").await;
    let revoke = browser
        .http
        .post(app.url("/settings/connected-applications/revoke"))
        .form(&[("csrf_token", csrf.as_str()), ("client_id", client.client_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 303);
    let revoked = of_kind(&app, "consent.revoked").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].client_id.as_deref(), Some(client.client_id.as_str()));
    assert_eq!(revoked[0].actor_user_id.as_deref(), Some(alice.id.as_str()));
}

#[tokio::test]
async fn admin_writes_are_recorded_with_the_token_and_appear_in_the_person_s_log() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let (token_id, token) = admin_token(&app).await;
    let http = reqwest::Client::new();
    let disable =
        http.post(app.url(&format!("/api/v1/users/{}/disable", alice.id))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(disable.status(), 200);
    // Reads are not recorded; a call without a token did nothing and is not either.
    http.get(app.url("/api/v1/users")).bearer_auth(&token).send().await.unwrap();
    let anonymous = http.post(app.url(&format!("/api/v1/users/{}/enable", alice.id))).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    let writes = of_kind(&app, "admin.write").await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    let write = &writes[0];
    assert_eq!(write.actor_token_id.as_deref(), Some(token_id.as_str()));
    assert_eq!(write.actor_user_id, None);
    assert_eq!(write.user_id.as_deref(), Some(alice.id.as_str()));
    assert_eq!(write.detail["method"], "POST");
    assert_eq!(write.detail["path"], format!("/api/v1/users/{}/disable", alice.id));
    assert_eq!(write.detail["status"], 200);
    assert!(!format!("{writes:?}").contains(&token), "never the token itself");
}

#[tokio::test]
async fn a_person_sees_only_their_own_entries_escaped_and_paged() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    app.create_user("bob").await;
    // A hostile User-Agent on a failed attempt at alice's account.
    let hostile = browser_as("<script>alert(1)</script>");
    sign_in(&hostile, &app, "alice", "guess").await;
    let bob = browser_as("BobsOwnBrowser/1.0");
    sign_in(&bob, &app, "bob", PASSWORD).await;
    let alice = browser_as(AGENT);
    sign_in(&alice, &app, "alice", PASSWORD).await;

    let response = alice.get(&app.url("/settings/security-log")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("Signed in") && html.contains("Failed sign-in attempt"), "{html}");
    assert!(html.contains("wrong password"), "{html}");
    assert!(!html.contains("<script>alert(1)</script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(!html.contains("BobsOwnBrowser"), "bob's entries are not alice's: {html}");
    assert!(html.contains("href=\"/settings/security-log\""), "the settings nav links the page");

    // Paging: 25 a page, an "Older" link to the rest.
    for _ in 0..30 {
        sign_in(&alice, &app, "alice", PASSWORD).await;
    }
    let first = alice.get(&app.url("/settings/security-log")).await.text().await.unwrap();
    assert_eq!(first.matches("class=\"session audit-event\"").count(), 25);
    let marker = "/settings/security-log?before=";
    let at = first.find(marker).expect("an Older link");
    let before: String = first[at + marker.len()..].chars().take_while(char::is_ascii_hexdigit).collect();
    let second = alice.get(&app.url(&format!("{marker}{before}"))).await.text().await.unwrap();
    assert_eq!(second.matches("class=\"session audit-event\"").count(), 32 - 25);
    assert!(second.contains("&lt;script&gt;"), "the oldest entry is on the last page");

    // Signed out, the page sends to the login page and back.
    let response = Browser::new().get(&app.url("/settings/security-log")).await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/login?next="));
}

#[tokio::test]
async fn operators_filter_and_page_the_log_through_the_admin_api_with_a_token() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    app.create_user("bob").await;
    let browser = Browser::new();
    sign_in(&browser, &app, "alice", "guess").await;
    sign_in(&browser, &app, "bob", "guess").await;
    sign_in(&browser, &app, "alice", PASSWORD).await;
    let (_, token) = admin_token(&app).await;
    let http = reqwest::Client::new();
    let get = |query: &str| http.get(app.url(&format!("/api/v1/audit{query}"))).bearer_auth(&token).send();

    assert_eq!(http.get(app.url("/api/v1/audit")).send().await.unwrap().status(), 401);
    let wrong = http.get(app.url("/api/v1/audit")).bearer_auth("dwa_not-a-token").send().await.unwrap();
    assert_eq!(wrong.status(), 401);

    let all: Value = get("").await.unwrap().json().await.unwrap();
    assert_eq!(all["data"].as_array().unwrap().len(), 3);
    assert_eq!(all["next_before"], Value::Null);
    let first = &all["data"][0];
    assert_eq!(first["kind"], "sign_in.succeeded");
    assert_eq!(first["user_id"], alice.id.as_str());
    assert_eq!(first["ip"], "127.0.0.1");

    let failed_alice: Value =
        get(&format!("?user_id={}&kind=sign_in.failed", alice.id)).await.unwrap().json().await.unwrap();
    let data = failed_alice["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["detail"]["reason"], "wrong_password");

    let page: Value = get("?limit=2").await.unwrap().json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let before = page["next_before"].as_str().unwrap().to_owned();
    let rest: Value = get(&format!("?limit=2&before={before}")).await.unwrap().json().await.unwrap();
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["data"][0]["kind"], "sign_in.failed");

    for bad in ["?kind=bogus", "?limit=0", "?before=not-hex!"] {
        let response = get(bad).await.unwrap();
        assert_eq!(response.status(), 422, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{bad}");
    }
}

#[tokio::test]
async fn a_developer_s_app_created_rotated_and_deleted_is_recorded_without_its_secret() {
    use crate::console::{csrf, developer, post, register};
    let app = spawn_app().await;
    let browser = developer(&app, "alice").await;
    let alice = app.store.find_user_by_username("alice").await.unwrap().unwrap();
    let registered = register(&browser, &app, &[]).await;
    let path = format!("/settings/applications/{}", registered.client_id);
    let token = csrf(&browser, &app, &path).await;
    let grace = [("grace".to_owned(), "0".to_owned())];
    assert_eq!(post(&browser, &app, &format!("{path}/rotate-secret"), &token, &grace).await.status(), 303);
    assert_eq!(post(&browser, &app, &format!("{path}/delete"), &token, &[]).await.status(), 303);
    for kind in ["app.created", "app.secret_rotated", "app.deleted"] {
        let entries = of_kind(&app, kind).await;
        assert_eq!(entries.len(), 1, "{kind}");
        assert_eq!(entries[0].client_id.as_deref(), Some(registered.client_id.as_str()), "{kind}");
        assert_eq!(entries[0].actor_user_id.as_deref(), Some(alice.id.as_str()), "{kind}");
        assert_eq!(entries[0].user_id.as_deref(), Some(alice.id.as_str()), "{kind}");
    }
    let text = format!("{:?}", log(&app).await);
    assert!(!text.contains(registered.secret.as_deref().unwrap()), "never the secret");
}

#[tokio::test]
async fn signing_out_at_the_end_session_endpoint_is_recorded() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let csrf = csrf_of(&browser, &app, "/oauth/logout").await;
    let response = browser.http.post(app.url("/oauth/logout")).form(&[("csrf_token", csrf.as_str())]).send().await;
    assert!(response.unwrap().status().as_u16() < 400);
    assert_eq!(browser.get(&app.url("/account")).await.status(), 303, "signed out");
    let ended = of_kind(&app, "session.ended").await;
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].user_id.as_deref(), Some(alice.id.as_str()));
    assert_eq!(ended[0].detail["at"], "end_session_endpoint");
}
