//! The developer console over the wire: registering, editing, deleting apps and rotating their
//! secrets as a signed-in person; every validation rule; access control between developers;
//! secrets shown once; first-party reserved to operators; the integration panel's snippets.

use doorway_core::secrets::{hash_secret, random_hex_id};
use doorway_core::types::{Email, Username};
use doorway_store::NewUser;
use serde_json::Value;

use crate::helpers::*;

pub const CONSOLE: &str = "/settings/applications";
/// What the console's default registration allows.
pub const SCOPE: &[(&str, &str)] = &[("scope", "openid profile")];

/// Undoes the HTML escaping of a page's text.
fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// The text of the element with `id` (up to its closing tag), unescaped.
pub fn element_text(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let start = html.find(&marker)?;
    let start = start + html[start..].find('>')? + 1;
    let end = start + html[start..].find("</")?;
    Some(unescape(&html[start..end]))
}

/// A signed-in browser for a new user `username`.
pub async fn developer(app: &TestApp, username: &str) -> Browser {
    app.create_user(username).await;
    let browser = Browser::new();
    browser.login(app, username).await;
    browser
}

pub async fn operator(app: &TestApp, username: &str) -> Browser {
    let hash = doorway_server::password::hash_blocking(PASSWORD).unwrap();
    app.store
        .create_user(
            NewUser {
                id: random_hex_id(),
                sub: random_hex_id(),
                username: Username::parse(username).unwrap(),
                email: Email::parse(&format!("{username}@example.com")).unwrap(),
                email_verified: true,
                name: None,
                password_hash: hash,
                is_admin: true,
                is_pro: false,
                can_pay: false,
            },
            0,
        )
        .await
        .unwrap();
    let browser = Browser::new();
    browser.login(app, username).await;
    browser
}

pub async fn csrf(browser: &Browser, app: &TestApp, path: &str) -> String {
    let page = browser.get(&app.url(path)).await;
    assert_eq!(page.status(), 200, "GET {path}");
    Form::new(page.text().await.unwrap()).csrf_token
}

/// A valid registration, with `changes` replacing or adding fields (an empty value removes one).
pub fn registration(changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = [
        ("name", "Chat App"),
        ("description", "Talks to people"),
        ("homepage_url", "https://app.example"),
        ("redirect_uris", "https://app.example/callback\nhttps://app.example/other"),
        ("redirect_policy", "exact"),
        ("scope:openid", "on"),
        ("scope:profile", "on"),
        ("kind", "confidential"),
        ("refresh_tokens", "on"),
        ("id_token_alg", "RS256"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in changes {
        fields.retain(|(name, _)| name != k);
        if !v.is_empty() {
            fields.push(((*k).to_owned(), (*v).to_owned()));
        }
    }
    fields
}

pub async fn post(
    browser: &Browser,
    app: &TestApp,
    path: &str,
    csrf: &str,
    fields: &[(String, String)],
) -> reqwest::Response {
    let mut form = fields.to_vec();
    form.push(("csrf_token".into(), csrf.to_owned()));
    browser.http.post(app.url(path)).form(&form).send().await.unwrap()
}

/// A registered app: its id, secret, the page that showed them and that page's address.
pub struct Registered {
    pub client_id: String,
    pub secret: Option<String>,
    pub page: String,
    pub location: String,
}

/// Follows a console POST's 303 (Post/Redirect/Get) to the page it names, returning the
/// Location and that page, both never cached.
pub async fn follow(browser: &Browser, app: &TestApp, response: reqwest::Response) -> (String, String) {
    assert_eq!(response.status(), 303, "a console form answers with a redirect");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let location = location(&response);
    let page = browser.get(&app.url(&location)).await;
    assert_eq!(page.status(), 200, "GET {location}");
    assert_eq!(page.headers()["cache-control"], "no-store");
    (location, page.text().await.unwrap())
}

pub async fn register(browser: &Browser, app: &TestApp, changes: &[(&str, &str)]) -> Registered {
    let token = csrf(browser, app, &format!("{CONSOLE}/new")).await;
    let response = post(browser, app, CONSOLE, &token, &registration(changes)).await;
    let (location, page) = follow(browser, app, response).await;
    Registered {
        client_id: element_text(&page, "client-id").expect("the client id"),
        secret: element_text(&page, "client-secret"),
        page,
        location,
    }
}

/// Rotates an app's secret with `grace` seconds and returns the page that shows the new one.
async fn rotate(browser: &Browser, app: &TestApp, path: &str, token: &str, grace: &str) -> String {
    let fields = [("grace".to_owned(), grace.to_owned())];
    let response = post(browser, app, &format!("{path}/rotate-secret"), token, &fields).await;
    follow(browser, app, response).await.1
}

fn test_client(registered: &Registered, redirect_uri: &str) -> TestClient {
    TestClient {
        client_id: registered.client_id.clone(),
        secret: registered.secret.clone(),
        redirect_uri: redirect_uri.to_owned(),
    }
}

/// The client authenticates (or not) at the token endpoint: a bogus code is `invalid_grant`
/// for an authenticated client and `invalid_client` otherwise.
async fn token_auth_error(app: &TestApp, client_id: &str, secret: &str) -> String {
    let response = reqwest::Client::new()
        .post(app.url("/oauth/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "bogus"),
            ("redirect_uri", "https://app.example/callback"),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["error"].as_str().unwrap().to_owned()
}

// --- Registration and the secret ---------------------------------------------------------------

#[tokio::test]
async fn a_registered_apps_secret_is_shown_once_and_never_again() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let registered = register(&alice, &app, &[]).await;
    let secret = registered.secret.clone().expect("the secret, once");
    assert!(secret.starts_with("dws_"));
    let stored = app.store.find_client(&registered.client_id).await.unwrap().unwrap();
    assert_eq!(stored.secret_hash.as_deref(), Some(hash_secret(&secret).as_str()));
    assert!(stored.owner_id.is_some());
    assert_eq!(stored.description.as_deref(), Some("Talks to people"));
    assert_eq!(stored.redirect_uris.len(), 2);
    assert_eq!(stored.scopes.to_string(), "openid profile");
    assert_eq!(stored.grant_types.to_string(), "authorization_code refresh_token");
    // The environment block on the creation page carries the real secret, this once.
    assert!(element_text(&registered.page, "snippet-env").unwrap().contains(&format!("OAUTH_CLIENT_SECRET={secret}")));
    assert!(registered.page.contains("App registered."));
    // A refresh of that page is a GET of the same address: no second app, no secret.
    let again = alice.get(&app.url(&registered.location)).await.text().await.unwrap();
    assert!(!again.contains(&secret), "a refresh must not show the secret again");
    assert!(element_text(&again, "reveal-gone").is_some());
    assert_eq!(app.store.list_clients().await.unwrap().len(), 1, "a refresh registers nothing");
    for path in [
        CONSOLE.to_owned(),
        format!("{CONSOLE}/{}", registered.client_id),
        format!("{CONSOLE}/{}/edit", registered.client_id),
    ] {
        let page = alice.get(&app.url(&path)).await.text().await.unwrap();
        assert!(page.contains(&registered.client_id), "{path} names the app");
        assert!(!page.contains(&secret), "{path} must not show the secret again");
    }
    // The secret works: the whole code flow with it.
    let client = test_client(&registered, "https://app.example/callback");
    let code = obtain_code(&app, &Browser::new(), &client, SCOPE).await;
    assert_eq!(exchange(&app, &client, &code).await.status(), 200);
}

#[tokio::test]
async fn a_public_app_has_no_secret() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let registered = register(&alice, &app, &[("kind", "public")]).await;
    assert_eq!(registered.secret, None);
    assert!(!element_text(&registered.page, "snippet-env").unwrap().contains("OAUTH_CLIENT_SECRET"));
    let stored = app.store.find_client(&registered.client_id).await.unwrap().unwrap();
    assert!(stored.is_public() && stored.secret_hash.is_none());
}

#[tokio::test]
async fn loopback_http_and_every_signing_algorithm_are_accepted() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
        let uris = "http://127.0.0.1:8000/cb\nhttp://localhost/cb\nhttp://[::1]:3000/cb";
        let registered = register(&alice, &app, &[("redirect_uris", uris), ("id_token_alg", alg)]).await;
        let stored = app.store.find_client(&registered.client_id).await.unwrap().unwrap();
        assert_eq!(stored.id_token_alg, alg);
        assert_eq!(stored.redirect_uris.len(), 3);
    }
}

// --- Validation ----------------------------------------------------------------------------

#[tokio::test]
async fn every_validation_rule_has_its_own_message_under_its_field() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let long_name = "x".repeat(101);
    let cases: &[(&str, &str, &str)] = &[
        ("redirect_uris", "http://app.example/callback", "must use https"),
        ("redirect_uris", "https://app.example/callback#done", "fragment"),
        ("redirect_uris", "https://*.app.example/callback", "wildcards"),
        ("redirect_uris", "https://app.example/*", "wildcards"),
        ("redirect_uris", "javascript:alert(1)", "javascript:"),
        ("redirect_uris", "JavaScript:alert(1)", "javascript:"),
        ("redirect_uris", "data:text/html,hi", "data:"),
        ("redirect_uris", "vbscript:msgbox(1)", "vbscript:"),
        ("redirect_uris", "https://user:pw@app.example/cb", "user name or password"),
        ("redirect_uris", "/callback", "absolute"),
        ("redirect_uris", "", "at least one redirect URI"),
        ("logo_uri", "http://cdn.example/logo.png", "must use https"),
        ("logo_uri", "http://127.0.0.1/logo.png", "logo URL must use https"),
        ("logo_uri", "data:image/svg+xml,<svg/>", "data:"),
        ("homepage_url", "javascript:alert(1)", "javascript:"),
        ("homepage_url", "http://app.example", "must use https"),
        ("policy_uri", "https://app.example/privacy#top", "fragment"),
        ("tos_uri", "ftp://app.example/terms", "must use https"),
        ("post_logout_redirect_uris", "http://app.example/bye", "must use https"),
        ("backchannel_logout_uri", "https://app.example/logout#x", "fragment"),
        ("backchannel_logout_uri", "vbscript:x", "vbscript:"),
        ("name", "", "Give the app a name"),
        ("name", &long_name, "at most 100 characters"),
        ("scope:openid", "", "at least one scope"),
        ("scope:admin", "on", "Unknown scope"),
        ("kind", "secret-agent", "Choose confidential or public"),
        ("redirect_policy", "prefix", "Choose exact or origin"),
        ("id_token_alg", "HS256", "Choose RS256, PS256, ES256 or EdDSA"),
        ("token_minutes", "0", "from 1 to 43200"),
        ("token_minutes", "lots", "from 1 to 43200"),
        ("authorized_org", "bad org!", "organization name"),
    ];
    let token = csrf(&alice, &app, &format!("{CONSOLE}/new")).await;
    for (field, value, expected) in cases {
        let mut changes = vec![(*field, *value)];
        if *field == "scope:openid" {
            changes.push(("scope:profile", ""));
        }
        let response = post(&alice, &app, CONSOLE, &token, &registration(&changes)).await;
        assert_eq!(response.status(), 422, "{field}={value:?} should be refused");
        let page = response.text().await.unwrap();
        let error_field = if field.starts_with("scope:") { "scopes" } else { field };
        let message = element_text_block(&page, &format!("{error_field}-error"))
            .unwrap_or_else(|| panic!("{field}={value:?}: no message under the field in {page}"));
        assert!(message.contains(expected), "{field}={value:?}: {message:?} should say {expected:?}");
        // What was typed is kept, for correcting.
        assert!(page.contains("value=\"Chat App\"") || *field == "name", "{field}: the name was kept");
    }
    assert!(app.store.list_clients().await.unwrap().is_empty(), "nothing invalid was stored");
}

/// The text of a `<ul id=…>` block, tags removed.
fn element_text_block(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
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
    Some(unescape(&text))
}

/// Signs in through the login page with `next` as sent by the page that asked for a session.
async fn login_with_next(app: &TestApp, next: &str) -> String {
    app.create_user("carol").await;
    let browser = Browser::new();
    let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    let page = browser.get(&app.url(&format!("/login?next={encoded}"))).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    // Posted as given: the login handler checks it again, whatever the page rendered.
    let form = [("username", "carol"), ("password", PASSWORD), ("csrf_token", csrf.as_str()), ("next", next)];
    let response = browser.http.post(app.url("/login")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 303);
    location(&response)
}

#[tokio::test]
async fn signing_in_from_a_console_page_comes_back_to_it() {
    let app = spawn_app().await;
    assert_eq!(login_with_next(&app, &format!("{CONSOLE}/new")).await, format!("{CONSOLE}/new"));
}

#[tokio::test]
async fn next_after_sign_in_is_never_an_open_redirect() {
    for next in [
        "https://evil.example/",
        "//evil.example/settings/",
        "/settings//evil.example",
        "/settings/../admin",
        "/settings/x?y=https://evil.example",
        "/settings/%2e%2e/x",
        "/account\\@evil.example",
    ] {
        let app = spawn_app().await;
        assert_eq!(login_with_next(&app, next).await, "/account", "{next}");
    }
}

#[tokio::test]
async fn forms_need_a_session_and_a_csrf_token() {
    let app = spawn_app().await;
    let anonymous = Browser::new();
    for path in [CONSOLE.to_owned(), format!("{CONSOLE}/new"), format!("{CONSOLE}/hosted")] {
        let response = anonymous.get(&app.url(&path)).await;
        assert_eq!(response.status(), 303, "{path}");
        let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
        assert_eq!(location(&response), format!("/login?next={next}"));
    }
    let alice = developer(&app, "alice").await;
    let response = post(&alice, &app, CONSOLE, "forged-token-forged-token-forged-token", &registration(&[])).await;
    assert_eq!(response.status(), 403);
    assert!(app.store.list_clients().await.unwrap().is_empty());
}

// --- Access control --------------------------------------------------------------------------

#[tokio::test]
async fn another_developers_app_is_not_found_for_view_edit_rotate_and_delete() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let registered = register(&alice, &app, &[]).await;
    let id = &registered.client_id;
    let bob = developer(&app, "bob").await;
    for path in [format!("{CONSOLE}/{id}"), format!("{CONSOLE}/{id}/edit")] {
        let response = bob.get(&app.url(&path)).await;
        error_page(response, 404).await;
    }
    let token = csrf(&bob, &app, &format!("{CONSOLE}/new")).await;
    let update = registration(&[("name", "Hijacked")]);
    for (path, fields) in [
        (format!("{CONSOLE}/{id}"), update.clone()),
        (format!("{CONSOLE}/{id}/rotate-secret"), vec![("grace".to_owned(), "0".to_owned())]),
        (format!("{CONSOLE}/{id}/delete"), Vec::new()),
    ] {
        let response = post(&bob, &app, &path, &token, &fields).await;
        error_page(response, 404).await;
    }
    let bobs_list = bob.get(&app.url(CONSOLE)).await.text().await.unwrap();
    assert!(!bobs_list.contains(id.as_str()));
    // Alice's app is untouched: same name, same secret.
    let stored = app.store.find_client(id).await.unwrap().unwrap();
    assert_eq!(stored.name, "Chat App");
    assert_eq!(token_auth_error(&app, id, registered.secret.as_deref().unwrap()).await, "invalid_grant");
    // A made-up id is the same 404.
    error_page(bob.get(&app.url(&format!("{CONSOLE}/no-such-app"))).await, 404).await;
}

// --- Editing, rotating, deleting ---------------------------------------------------------------

#[tokio::test]
async fn editing_saves_every_setting() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let registered = register(&alice, &app, &[]).await;
    let path = format!("{CONSOLE}/{}", registered.client_id);
    let token = csrf(&alice, &app, &format!("{path}/edit")).await;
    let changes = registration(&[
        ("name", "Chat App 2"),
        ("description", "Now with threads"),
        ("logo_uri", "https://cdn.example/logo.png"),
        ("policy_uri", "https://app.example/privacy"),
        ("tos_uri", "https://app.example/terms"),
        ("redirect_uris", "https://app.example/v2/callback"),
        ("redirect_policy", "origin"),
        ("scope:email", "on"),
        ("refresh_tokens", ""),
        ("require_pkce", "on"),
        ("id_token_alg", "ES256"),
        ("post_logout_redirect_uris", "https://app.example/bye"),
        ("backchannel_logout_uri", "https://app.example/backchannel"),
        ("token_minutes", "60"),
        ("authorized_org", "acme"),
        ("kind", "public"),
    ]);
    let response = post(&alice, &app, &path, &token, &changes).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("{path}?saved=1"));
    let c = app.store.find_client(&registered.client_id).await.unwrap().unwrap();
    assert_eq!(c.name, "Chat App 2");
    assert_eq!(c.description.as_deref(), Some("Now with threads"));
    assert_eq!(c.logo_uri.as_deref(), Some("https://cdn.example/logo.png"));
    assert_eq!(c.policy_uri.as_deref(), Some("https://app.example/privacy"));
    assert_eq!(c.tos_uri.as_deref(), Some("https://app.example/terms"));
    assert_eq!(c.redirect_uris.iter().map(|u| u.as_str()).collect::<Vec<_>>(), ["https://app.example/v2/callback"]);
    assert_eq!(c.redirect_policy.as_str(), "origin");
    assert_eq!(c.scopes.to_string(), "email openid profile");
    assert_eq!(c.grant_types.to_string(), "authorization_code");
    assert!(c.require_pkce);
    assert_eq!(c.id_token_alg, "ES256");
    assert_eq!(c.post_logout_redirect_uris.len(), 1);
    assert_eq!(c.backchannel_logout_uri.as_deref(), Some("https://app.example/backchannel"));
    assert_eq!(c.access_token_ttl, Some(3600));
    assert_eq!(c.authorized_org.as_deref(), Some("acme"));
    assert!(!c.is_public(), "the app type cannot change");
    let page = alice.get(&app.url(&format!("{path}?saved=1"))).await.text().await.unwrap();
    assert!(page.contains("Changes saved."));
}

#[tokio::test]
async fn a_rotated_secret_is_refused_at_the_token_endpoint_and_the_new_one_works() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let registered = register(&alice, &app, &[]).await;
    let old = registered.secret.clone().unwrap();
    let path = format!("{CONSOLE}/{}", registered.client_id);
    let token = csrf(&alice, &app, &path).await;
    let page = rotate(&alice, &app, &path, &token, "0").await;
    let new = element_text(&page, "client-secret").expect("the new secret, once");
    assert_ne!(new, old);
    assert!(page.contains("The old secret no longer works."));
    assert!(!page.contains(&old));
    assert!(!alice.get(&app.url(&path)).await.text().await.unwrap().contains(&new), "shown once only");
    assert_eq!(token_auth_error(&app, &registered.client_id, &old).await, "invalid_client");
    let client = TestClient { secret: Some(new), ..test_client(&registered, "https://app.example/callback") };
    let code = obtain_code(&app, &Browser::new(), &client, SCOPE).await;
    assert_eq!(exchange(&app, &client, &code).await.status(), 200);
    let stale = TestClient { secret: Some(old), ..client.clone() };
    let code = obtain_code(&app, &Browser::new(), &client, SCOPE).await;
    let response = exchange(&app, &stale, &code).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_grace_period_keeps_the_old_secret_working_until_the_next_rotation() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let registered = register(&alice, &app, &[]).await;
    let first = registered.secret.clone().unwrap();
    let path = format!("{CONSOLE}/{}", registered.client_id);
    let token = csrf(&alice, &app, &path).await;
    let page = rotate(&alice, &app, &path, &token, "3600").await;
    assert!(page.contains("The old secret keeps working until"));
    let second = element_text(&page, "client-secret").unwrap();
    assert_eq!(token_auth_error(&app, &registered.client_id, &first).await, "invalid_grant", "in grace");
    assert_eq!(token_auth_error(&app, &registered.client_id, &second).await, "invalid_grant");
    let third = element_text(&rotate(&alice, &app, &path, &token, "0").await, "client-secret").unwrap();
    for stale in [&first, &second] {
        assert_eq!(token_auth_error(&app, &registered.client_id, stale).await, "invalid_client");
    }
    assert_eq!(token_auth_error(&app, &registered.client_id, &third).await, "invalid_grant");
    // Only the offered grace periods.
    let fields = [("grace".to_owned(), "999999".to_owned())];
    let response = post(&alice, &app, &format!("{path}/rotate-secret"), &token, &fields).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn deleting_an_app_ends_it() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let registered = register(&alice, &app, &[]).await;
    let path = format!("{CONSOLE}/{}", registered.client_id);
    let token = csrf(&alice, &app, &path).await;
    let response = post(&alice, &app, &format!("{path}/delete"), &token, &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("{CONSOLE}?deleted=1"));
    assert!(app.store.find_client(&registered.client_id).await.unwrap().is_none());
    error_page(alice.get(&app.url(&path)).await, 404).await;
    let list = alice.get(&app.url(&format!("{CONSOLE}?deleted=1"))).await.text().await.unwrap();
    assert!(list.contains("App deleted."));
}

// --- First-party ---------------------------------------------------------------------------

#[tokio::test]
async fn only_an_operator_can_mark_an_app_first_party() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let page = alice.get(&app.url(&format!("{CONSOLE}/new"))).await.text().await.unwrap();
    assert!(!page.contains("name=\"first_party\""), "the option is not offered to developers");
    // A forged checkbox is ignored, on registration and on editing alike.
    let registered = register(&alice, &app, &[("first_party", "on")]).await;
    assert!(!app.store.find_client(&registered.client_id).await.unwrap().unwrap().first_party);
    let path = format!("{CONSOLE}/{}", registered.client_id);
    let token = csrf(&alice, &app, &format!("{path}/edit")).await;
    let response = post(&alice, &app, &path, &token, &registration(&[("first_party", "on")])).await;
    assert_eq!(response.status(), 303);
    assert!(!app.store.find_client(&registered.client_id).await.unwrap().unwrap().first_party);

    // An operator can; then people sign in without a consent screen.
    let root = operator(&app, "root").await;
    let page = root.get(&app.url(&format!("{CONSOLE}/new"))).await.text().await.unwrap();
    assert!(page.contains("name=\"first_party\""));
    let first_party = register(&root, &app, &[("first_party", "on")]).await;
    let stored = app.store.find_client(&first_party.client_id).await.unwrap().unwrap();
    assert!(stored.first_party);
    let client = test_client(&first_party, "https://app.example/callback");
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let response = browser.get(&authorize_url(&app, &client, SCOPE)).await;
    assert_eq!(response.status(), 303, "no consent page for a first-party app");
    assert!(query_of(&location(&response)).contains_key("code"));
    // prompt=consent still asks.
    let response =
        browser.get(&authorize_url(&app, &client, &[("prompt", "consent"), ("scope", "openid profile")])).await;
    assert_eq!(response.status(), 200);
}

// --- Integration panel -----------------------------------------------------------------------

#[tokio::test]
async fn the_integration_panel_snippets_carry_the_client_id_and_first_redirect_uri() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let registered = register(&alice, &app, &[]).await;
    let id = &registered.client_id;
    let page = alice.get(&app.url(&format!("{CONSOLE}/{id}"))).await.text().await.unwrap();
    assert_eq!(element_text(&page, "issuer").unwrap(), app.issuer);
    assert_eq!(element_text(&page, "discovery-url").unwrap(), app.url("/.well-known/openid-configuration"));
    assert_eq!(element_text(&page, "client-id").unwrap(), *id);
    let link = format!(
        "{}/oauth/authorize?client_id={id}&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback\
         &scope=openid%20profile&response_type=code&state={{STATE}}",
        app.issuer
    );
    let html = element_text(&page, "snippet-html").unwrap();
    let badge = format!("{}/badges/sign-in-with-doorway-lg-dark.svg", app.issuer);
    assert_eq!(
        html,
        format!(
            "<a href=\"{}\"><img src=\"{badge}\" alt=\"Sign in with Doorway\" height=\"44\"></a>",
            link.replace('&', "&amp;")
        )
    );
    let markdown = element_text(&page, "snippet-markdown").unwrap();
    assert_eq!(markdown, format!("[![Sign in with Doorway]({badge})]({link})"));
    let env = element_text(&page, "snippet-env").unwrap();
    assert_eq!(
        env,
        format!(
            "OAUTH_CLIENT_ID={id}\nOAUTH_CLIENT_SECRET=YOUR_CLIENT_SECRET\nOAUTH_SCOPES=\"openid profile\"\n\
             OPENID_PROVIDER_URL={}\n",
            app.issuer
        )
    );
    // The link works once the app puts in its state: it starts a sign-in.
    let response = Browser::new().get(&link.replace("{STATE}", "s1")).await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/login?interaction="));
    // The copy button's script is served, same-origin.
    let script = reqwest::get(app.url("/static/console.js")).await.unwrap();
    assert_eq!(script.headers()["content-type"], "text/javascript; charset=utf-8");
    assert!(
        page.contains("<script src=\"&#x2f;static&#x2f;console.js\"")
            || page.contains("<script src=\"/static/console.js\"")
    );
}

#[tokio::test]
async fn app_names_are_escaped_everywhere() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let evil = "<script>alert(1)</script>";
    let registered = register(&alice, &app, &[("name", evil), ("description", evil)]).await;
    assert!(!registered.page.contains(evil));
    let id = &registered.client_id;
    for path in [CONSOLE.to_owned(), format!("{CONSOLE}/{id}"), format!("{CONSOLE}/{id}/edit")] {
        let page = alice.get(&app.url(&path)).await.text().await.unwrap();
        assert!(page.contains("&lt;script&gt;"), "{path} shows the name");
        assert!(!page.contains(evil), "{path} must escape the name");
    }
    let client = test_client(&registered, "https://app.example/callback");
    let consent = Browser::new().consent_page(&app, &authorize_url(&app, &client, SCOPE), "alice").await;
    assert!(!consent.html.contains(evil));
}

// --- Hosted apps ---------------------------------------------------------------------------

#[tokio::test]
async fn a_hosted_app_from_the_console_gets_the_environment_block_and_its_token_lifetime() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let path = format!("{CONSOLE}/hosted");
    let token = csrf(&alice, &app, &path).await;
    let bad = [("name", ""), ("origin", "https://space.example/app"), ("token_minutes", "50000")];
    let fields: Vec<(String, String)> = bad.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    let response = post(&alice, &app, &path, &token, &fields).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    for id in ["name-error", "origin-error", "token_minutes-error", "scopes-error"] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id}");
    }
    let good = [
        ("name", "My Space"),
        ("origin", "https://space.example"),
        ("scope:openid", "on"),
        ("scope:profile", "on"),
        ("token_minutes", "480"),
        ("authorized_org", "acme"),
    ];
    let fields: Vec<(String, String)> = good.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    let response = post(&alice, &app, &path, &token, &fields).await;
    let (_, page) = follow(&alice, &app, response).await;
    let id = element_text(&page, "client-id").unwrap();
    let secret = element_text(&page, "client-secret").unwrap();
    assert_eq!(
        element_text(&page, "snippet-env").unwrap(),
        format!(
            "OAUTH_CLIENT_ID={id}\nOAUTH_CLIENT_SECRET={secret}\nOAUTH_SCOPES=\"openid profile\"\nOPENID_PROVIDER_URL={}\n",
            app.issuer
        )
    );
    let stored = app.store.find_client(&id).await.unwrap().unwrap();
    assert_eq!(stored.redirect_policy.as_str(), "origin");
    assert_eq!(stored.access_token_ttl, Some(480 * 60));
    assert_eq!(stored.authorized_org.as_deref(), Some("acme"));
    // Any redirect under the origin, query included; the tokens live 8 hours.
    let client = TestClient {
        client_id: id,
        secret: Some(secret),
        redirect_uri: "https://space.example/login/callback?_target_url=%2F".into(),
    };
    // The app admits only the members of acme: alice is one.
    let member = app.store.find_user_by_username("alice").await.unwrap().unwrap();
    crate::orgs::create_org(&app, "acme", &member.id).await;
    let code = obtain_code(&app, &Browser::new(), &client, &[("scope", "openid profile")]).await;
    let tokens: Value = exchange(&app, &client, &code).await.json().await.unwrap();
    assert_eq!(tokens["expires_in"], 28_800);
    let claims = verify_id_token(&app, &client, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 28_800);
}

#[tokio::test]
async fn the_consent_page_links_the_apps_privacy_policy_and_terms() {
    let app = spawn_app().await;
    let alice = developer(&app, "alice").await;
    let registered = register(
        &alice,
        &app,
        &[("policy_uri", "https://app.example/privacy"), ("tos_uri", "https://app.example/terms")],
    )
    .await;
    app.create_user("bob").await;
    let url = format!(
        "{}?response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback&scope=openid&state=s",
        app.url("/oauth/authorize"),
        registered.client_id
    );
    let consent = Browser::new().consent_page(&app, &url, "bob").await;
    // Attribute values are HTML-escaped ('/' as &#x2f;).
    let link = |url: &str, text: &str| {
        format!(r#"<a href="{}" rel="noopener noreferrer">{text}</a>"#, url.replace('/', "&#x2f;"))
    };
    assert!(consent.html.contains(&link("https://app.example/privacy", "privacy policy")), "{}", consent.html);
    assert!(consent.html.contains(&link("https://app.example/terms", "terms of service")));
}
