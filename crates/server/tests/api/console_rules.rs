//! The rules an app's registration must follow wherever it comes from (console, admin API),
//! and the attacks they stop: a developer's back-channel URI aimed at Doorway's own network
//! (SSRF), names that read differently from what they are, forged log lines, paths that are
//! not text; and what an operator's mark or a partial update must leave alone.

use std::sync::{Arc, Mutex};

use doorway_core::secrets::{hash_secret, random_hex_id, random_token};
use doorway_store::{AppProfile, NewAdminToken, NewClient};
use serde_json::{Value, json};

use crate::console::{CONSOLE, SCOPE, csrf, developer, element_text, operator, post, register, registration};
use crate::helpers::*;

async fn admin_token(app: &TestApp) -> String {
    let token = random_token("dwa_");
    let new =
        NewAdminToken { id: random_hex_id(), name: "tests".into(), token_hash: hash_secret(&token), read_only: false };
    app.store.create_admin_token(&new, 0).await.unwrap();
    token
}

async fn admin_call(app: &TestApp, token: &str, method: reqwest::Method, path: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new().request(method, app.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
}

/// The message under a console field, tags removed.
fn field_error(html: &str, field: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{field}-error\""))?;
    let end = start + html[start..].find("</ul>")?;
    let mut text = String::new();
    let mut in_tag = false;
    for c in html[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    Some(text)
}

// --- SSRF: the back-channel logout URI ------------------------------------------------------

#[tokio::test]
async fn a_developer_cannot_aim_back_channel_logout_at_private_networks() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let token = csrf(&alice, &app, &format!("{CONSOLE}/new")).await;
    let cases: &[(&str, &str)] = &[
        ("http://127.0.0.1:8080/logout", "must use https"),
        ("http://localhost:8080/logout", "must use https"),
        ("https://127.0.0.1:8443/logout", "not an IP address"),
        ("https://10.0.0.7/logout", "not an IP address"),
        ("https://172.16.0.1/logout", "not an IP address"),
        ("https://192.168.1.1/logout", "not an IP address"),
        ("https://100.64.0.1/logout", "not an IP address"),
        ("https://169.254.169.254/latest/meta-data", "not an IP address"),
        ("https://[::1]/logout", "not an IP address"),
        ("https://[fd00::1]/logout", "not an IP address"),
        ("https://[fe80::1]/logout", "not an IP address"),
        ("https://[::ffff:127.0.0.1]/logout", "not an IP address"),
        ("https://2130706433/logout", "not an IP address"),
        ("https://localhost/logout", "not localhost or an internal host name"),
        ("https://metadata/logout", "not localhost or an internal host name"),
        ("https://vault.internal/logout", "not localhost or an internal host name"),
        ("https://nas.local/logout", "not localhost or an internal host name"),
    ];
    for (uri, expected) in cases {
        let response = post(&alice, &app, CONSOLE, &token, &registration(&[("backchannel_logout_uri", uri)])).await;
        assert_eq!(response.status(), 422, "{uri} should be refused");
        let page = response.text().await.unwrap();
        let message = field_error(&page, "backchannel_logout_uri").unwrap_or_else(|| panic!("{uri}: no message"));
        assert!(message.contains("The back-channel logout URI"), "{uri}: {message}");
        assert!(message.contains(expected), "{uri}: {message:?} should say {expected:?}");
    }
    assert!(app.store.list_clients().await.unwrap().is_empty());
    // A public host by name is fine; so is an operator's own network, for an operator.
    register(&alice, &app, &[("backchannel_logout_uri", "https://app.example/logout")]).await;
    let root = operator(&app, "root").await;
    register(&root, &app, &[("backchannel_logout_uri", "http://127.0.0.1:8080/logout")]).await;
}

#[tokio::test]
async fn the_admin_api_keeps_a_developers_app_to_public_back_channel_targets() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let registered = register(&alice, &app, &[]).await;
    let token = admin_token(&app).await;
    let path = format!("/api/v1/apps/{}", registered.client_id);
    let body = json!({ "backchannel_logout_uri": "http://127.0.0.1:9/logout" });
    let response = admin_call(&app, &token, reqwest::Method::PATCH, &path, body).await;
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    assert!(error["error_description"].as_str().unwrap().contains("backchannel_logout_uri"), "{error}");
    // The operator's own app (no owner) may.
    let body = json!({ "name": "Ops", "redirect_uris": ["https://ops.example/cb"],
        "backchannel_logout_uri": "http://127.0.0.1:9/logout" });
    let response = admin_call(&app, &token, reqwest::Method::POST, "/api/v1/apps", body).await;
    assert_eq!(response.status(), 201);
}

// --- First-party ----------------------------------------------------------------------------

#[tokio::test]
async fn a_developer_can_still_edit_an_app_an_operator_made_first_party() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let registered = register(&alice, &app, &[]).await;
    let stored = app.store.find_client(&registered.client_id).await.unwrap().unwrap();
    let profile = AppProfile { first_party: true, ..AppProfile::from(&stored) };
    assert!(app.store.update_app(None, &NewClient::from(&stored), &profile).await.unwrap());
    let path = format!("{CONSOLE}/{}", registered.client_id);
    let token = csrf(&alice, &app, &format!("{path}/edit")).await;
    // The form has no first-party box for her: its absence changes nothing.
    let response = post(&alice, &app, &path, &token, &registration(&[("name", "Chat App 2")])).await;
    assert_eq!(response.status(), 303);
    let stored = app.store.find_client(&registered.client_id).await.unwrap().unwrap();
    assert_eq!(stored.name, "Chat App 2");
    assert!(stored.first_party, "the operator's mark stays");
}

// --- Names that read differently from what they are -----------------------------------------

const DISGUISES: [&str; 6] = [
    "Bank\u{202E}ppA",
    "Pay\u{200B}Pal",
    "\u{FEFF}Mail",
    "Iso\u{2066}late\u{2069}",
    "Soft\u{00AD}hyphen",
    "Tag\u{E0041}",
];

#[tokio::test]
async fn app_names_and_descriptions_refuse_invisible_formatting_characters() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let token = csrf(&alice, &app, &format!("{CONSOLE}/new")).await;
    let admin = admin_token(&app).await;
    for disguise in DISGUISES {
        for field in ["name", "description"] {
            let response = post(&alice, &app, CONSOLE, &token, &registration(&[(field, disguise)])).await;
            assert_eq!(response.status(), 422, "{field}={disguise:?}");
            let message = field_error(&response.text().await.unwrap(), field).unwrap();
            assert!(message.contains("invisible formatting characters"), "{field}: {message}");
            let mut body = json!({ "name": "Fine", "redirect_uris": ["https://app.example/cb"] });
            body[field] = json!(disguise);
            let response = admin_call(&app, &admin, reqwest::Method::POST, "/api/v1/apps", body).await;
            assert_eq!(response.status(), 422, "admin API {field}={disguise:?}");
            let error: Value = response.json().await.unwrap();
            assert!(error["error_description"].as_str().unwrap().contains("invisible formatting"), "{error}");
        }
    }
    assert!(app.store.list_clients().await.unwrap().is_empty());
}

// --- Logs -----------------------------------------------------------------------------------

/// Everything the server logs on this test's thread (a current-thread runtime runs the server
/// here too), as the plain-text format operators read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_line_break_in_a_revoked_client_id_cannot_forge_a_log_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let token = csrf(&alice, &app, &format!("{CONSOLE}/new")).await;
    let forged = "x\n2030-01-01T00:00:00Z  INFO security: admin login succeeded user=root";
    let form = [("csrf_token", token.as_str()), ("client_id", forged)];
    let response = alice.http.post(app.url("/settings/connected-applications/revoke")).form(&form).send().await;
    assert_eq!(response.unwrap().status(), 303);
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let revoked: Vec<&str> = logs.lines().filter(|l| l.contains("the user revoked an app")).collect();
    assert_eq!(revoked.len(), 1, "the revocation is logged: {logs}");
    assert!(revoked[0].contains(r#"client_id="x\n2030"#), "quoted and escaped: {}", revoked[0]);
    assert!(!logs.lines().any(|l| l.contains("admin login succeeded") && !l.contains("the user revoked")), "{logs}");
}

// --- Paths that are not text ----------------------------------------------------------------

#[tokio::test]
async fn a_path_that_is_not_utf8_gets_a_readable_page_or_a_json_error() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    for path in [format!("{CONSOLE}/%FF"), format!("{CONSOLE}/%FF%FE/edit")] {
        let html = error_page(alice.get(&app.url(&path)).await, 400).await;
        assert!(html.contains("not readable text"), "{path}: {html}");
    }
    let token = admin_token(&app).await;
    for path in ["/api/v1/users/%FF%FE", "/api/v1/apps/%FF", "/api/v1/users/%FF/grants"] {
        let response = reqwest::Client::new().get(app.url(path)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{body}");
        assert!(body["error_description"].as_str().unwrap().contains("UTF-8"), "{body}");
    }
}

// --- The admin API's partial updates --------------------------------------------------------

#[tokio::test]
async fn an_admin_patch_judges_only_the_fields_it_sends() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    // Registered under the CLI's older, looser rules: plain http homepage off loopback.
    let legacy = app
        .create_client_with(
            "https://legacy.example/cb",
            doorway_core::model::ClientKind::Confidential,
            doorway_core::types::RedirectPolicy::Exact,
            |c| c.homepage_url = Some("http://legacy.example".into()),
        )
        .await;
    let path = format!("/api/v1/apps/{}", legacy.client_id);
    let response = admin_call(&app, &token, reqwest::Method::PATCH, &path, json!({ "name": "Renamed" })).await;
    assert_eq!(response.status(), 200);
    let stored = app.store.find_client(&legacy.client_id).await.unwrap().unwrap();
    assert_eq!(stored.name, "Renamed");
    assert_eq!(stored.homepage_url.as_deref(), Some("http://legacy.example"), "left as it was");
    // Sent, it is judged.
    let body = json!({ "homepage_url": "http://legacy.example/new" });
    let response = admin_call(&app, &token, reqwest::Method::PATCH, &path, body).await;
    assert_eq!(response.status(), 422);
}

#[tokio::test]
async fn an_app_without_the_code_grant_needs_no_redirect_uri_in_the_admin_api() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;
    let body = json!({ "name": "Batch job", "grant_types": "client_credentials", "scopes": "openid" });
    let response = admin_call(&app, &token, reqwest::Method::POST, "/api/v1/apps", body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let path = format!("/api/v1/apps/{}", created["client_id"].as_str().unwrap());
    let response = admin_call(&app, &token, reqwest::Method::PATCH, &path, json!({ "name": "Nightly job" })).await;
    assert_eq!(response.status(), 200);
    // Giving it the code grant then needs one.
    let body = json!({ "grant_types": "authorization_code" });
    let response = admin_call(&app, &token, reqwest::Method::PATCH, &path, body).await;
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    assert!(error["error_description"].as_str().unwrap().contains("redirect URI"), "{error}");
    let body = json!({ "name": "Web", "scopes": "openid" });
    let response = admin_call(&app, &token, reqwest::Method::POST, "/api/v1/apps", body).await;
    assert_eq!(response.status(), 422, "the default grants include authorization_code");
}

// --- Consent --------------------------------------------------------------------------------

#[tokio::test]
async fn the_consent_page_shows_the_apps_description_escaped_and_bounded() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let description = format!("<b>Chat</b> with your team. {}", "More words. ".repeat(60));
    let registered = register(&alice, &app, &[("description", &description)]).await;
    let client = TestClient {
        client_id: registered.client_id.clone(),
        secret: registered.secret.clone(),
        redirect_uri: "https://app.example/callback".into(),
    };
    app.create_user("bob").await;
    let consent = Browser::new().consent_page(&app, &authorize_url(&app, &client, SCOPE), "bob").await;
    assert!(!consent.html.contains("<b>Chat</b>"), "escaped");
    let shown = element_text(&consent.html, "app-description").expect("the description");
    assert!(shown.starts_with("<b>Chat</b> with your team."), "{shown}");
    assert!(shown.ends_with('…') && shown.chars().count() <= 301, "bounded: {shown}");
    // Without a description, nothing is shown.
    let plain = register(&alice, &app, &[("description", "")]).await;
    let client = TestClient { client_id: plain.client_id, ..client };
    let consent = Browser::new().consent_page(&app, &authorize_url(&app, &client, SCOPE), "bob").await;
    assert!(!consent.html.contains("app-description"));
}
