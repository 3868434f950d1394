//! A person's settings pages over the wire: connected apps (listing, escaping, revoking and what
//! revoking ends), browser sessions (device, address, ending one or all others), and templates
//! overridden from a directory.

use doorway_core::model::ClientKind;
use doorway_core::types::RedirectPolicy;
use reqwest::redirect::Policy;
use serde_json::Value;

use crate::helpers::*;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const ANDROID_CHROME: &str =
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";

/// A browser that announces itself with `user_agent`.
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

async fn page(browser: &Browser, app: &TestApp, path: &str) -> String {
    let response = browser.get(&app.url(path)).await;
    assert_eq!(response.status(), 200, "GET {path}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.text().await.unwrap()
}

async fn post(browser: &Browser, app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    browser.http.post(app.url(path)).form(form).send().await.unwrap()
}

async fn userinfo_status(app: &TestApp, access_token: &str) -> u16 {
    let response =
        reqwest::Client::new().get(app.url("/oauth/userinfo")).bearer_auth(access_token).send().await.unwrap();
    response.status().as_u16()
}

async fn refresh(app: &TestApp, client: &TestClient, refresh_token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/oauth/token"))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
        .send()
        .await
        .unwrap()
}

/// The `sid` of the session marked "This browser" on the sessions page.
fn current_sid(html: &str) -> String {
    let at = html.find("This browser").expect("the current session is marked");
    input_value(&html[at..], "sid").unwrap()
}

/// Every session id on the sessions page.
fn sids(html: &str) -> Vec<String> {
    html.match_indices("name=\"sid\" value=\"").map(|(at, _)| input_value(&html[at..], "sid").unwrap()).collect()
}

// --- Connected apps --------------------------------------------------------------------------

#[tokio::test]
async fn settings_pages_require_sign_in() {
    let app = spawn_app().await;
    for path in ["/settings/connected-applications", "/settings/sessions"] {
        let response = Browser::new().get(&app.url(path)).await;
        assert_eq!(response.status(), 303, "{path}");
        let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
        assert_eq!(location(&response), format!("/login?next={next}"), "and back after signing in");
    }
}

#[tokio::test]
async fn a_granted_app_is_listed_and_revoking_it_ends_its_tokens_and_asks_consent_again() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app
        .create_client_with("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact, |c| {
            c.name = "Chat Space".into();
            c.logo_uri = Some("https://app.example/logo.png".into());
        })
        .await;
    let browser = Browser::new();
    let code = obtain_code(&app, &browser, &client, &[]).await;
    let tokens: Value = exchange(&app, &client, &code).await.json().await.unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    let html = page(&browser, &app, "/settings/connected-applications").await;
    assert!(html.contains("Chat Space"), "{html}");
    assert!(html.contains("src=\"https:&#x2f;&#x2f;app.example&#x2f;logo.png\""), "the logo: {html}");
    for sentence in ["Sign you in and know who you are", "Read your profile", "Read your email address"] {
        assert!(html.contains(sentence), "{sentence}");
    }
    assert!(!html.contains("payment method"), "only the granted scopes are listed");
    assert!(html.contains("Granted <time") && html.contains("Last used <time"), "{html}");
    assert!(html.contains(">Revoke</button>"));

    let form = Form::new(html);
    let revoked = post(
        &browser,
        &app,
        "/settings/connected-applications/revoke",
        &[("csrf_token", &form.csrf_token), ("client_id", &client.client_id)],
    )
    .await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(location(&revoked), "/settings/connected-applications?revoked=1");
    let html = page(&browser, &app, "/settings/connected-applications?revoked=1").await;
    assert!(html.contains("Access revoked."));
    assert!(!html.contains("Chat Space"), "no longer listed");

    assert_eq!(userinfo_status(&app, access_token).await, 401, "the access token is revoked");
    let refreshed = refresh(&app, &client, refresh_token).await;
    assert_eq!(refreshed.status(), 400);
    assert_eq!(refreshed.json::<Value>().await.unwrap()["error"], "invalid_grant");

    // The next sign-in through the app asks again.
    let response = browser.get(&authorize_url(&app, &client, &[])).await;
    assert_eq!(response.status(), 200, "the consent page, not a code");
    assert!(response.text().await.unwrap().contains("name=\"decision\""));
}

#[tokio::test]
async fn app_names_are_escaped_on_the_connected_apps_page() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app
        .create_client_with("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact, |c| {
            c.name = "<script>alert(1)</script> & co".into();
        })
        .await;
    let browser = Browser::new();
    obtain_code(&app, &browser, &client, &[]).await;
    let html = page(&browser, &app, "/settings/connected-applications").await;
    assert!(!html.contains("<script>alert(1)</script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; co"), "{html}");
}

#[tokio::test]
async fn revoking_needs_the_csrf_token() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    obtain_code(&app, &browser, &client, &[]).await;
    let response =
        post(&browser, &app, "/settings/connected-applications/revoke", &[("client_id", &client.client_id)]).await;
    let body = error_page(response, 403).await;
    assert!(body.contains("This form has expired"));
    let user = app.store.find_user_by_username("alice").await.unwrap().unwrap();
    assert!(app.store.find_consent(&user.id, &client.client_id).await.unwrap().is_some(), "nothing revoked");
}

#[tokio::test]
async fn a_person_cannot_revoke_someone_elses_grant() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    app.create_user("bob").await;
    let client = app.confidential_client().await;
    obtain_code(&app, &Browser::new(), &client, &[]).await;

    let bob = Browser::new();
    bob.login(&app, "bob").await;
    let html = page(&bob, &app, "/settings/connected-applications").await;
    assert!(!html.contains("Test App"), "bob sees none of alice's apps");
    assert!(html.contains("You have not connected any app yet."));
    // Bob has no Revoke form: he forges one, with a valid CSRF token from another page.
    let form = Form::new(page(&bob, &app, "/settings/sessions").await);
    let response = post(
        &bob,
        &app,
        "/settings/connected-applications/revoke",
        &[("csrf_token", &form.csrf_token), ("client_id", &client.client_id)],
    )
    .await;
    assert_eq!(response.status(), 303, "harmless: there was nothing of bob's to revoke");
    assert!(app.store.find_consent(&alice.id, &client.client_id).await.unwrap().is_some(), "alice's grant stands");
}

#[tokio::test]
async fn revoking_an_app_tells_it_by_back_channel_logout() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app
        .create_client_with("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact, |c| {
            c.backchannel_logout_uri = Some("http://127.0.0.1:9/backchannel".into());
        })
        .await;
    let browser = Browser::new();
    obtain_code(&app, &browser, &client, &[]).await;
    let form = Form::new(page(&browser, &app, "/settings/connected-applications").await);
    let response = post(
        &browser,
        &app,
        "/settings/connected-applications/revoke",
        &[("csrf_token", &form.csrf_token), ("client_id", &client.client_id)],
    )
    .await;
    assert_eq!(response.status(), 303);
    let deliveries = app.store.list_logout_deliveries(Some(&client.client_id), 10).await.unwrap();
    assert_eq!(deliveries.len(), 1, "one logout token for the session that signed in to the app");
    assert_eq!(deliveries[0].uri, "http://127.0.0.1:9/backchannel");
}

// --- Sessions --------------------------------------------------------------------------------

#[tokio::test]
async fn sessions_list_each_browser_with_device_and_address_and_mark_this_one() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let laptop = browser_as(FIREFOX);
    laptop.login(&app, "alice").await;
    let phone = browser_as(ANDROID_CHROME);
    phone.login(&app, "alice").await;
    // A request with the session records its device (at most once a minute).
    page(&phone, &app, "/account").await;

    let html = page(&laptop, &app, "/settings/sessions").await;
    assert!(html.contains("Firefox on Linux"), "{html}");
    assert!(html.contains("Chrome on Android"), "{html}");
    assert!(html.contains("<span class=\"ip\">127.0.0.1</span>"), "{html}");
    assert_eq!(html.matches("This browser").count(), 1);
    assert_eq!(sids(&html).len(), 2);
    assert!(html.contains("Sign out everywhere else"));
    assert!(html.contains("Last seen <time"));
    // The phone's page marks the phone.
    let phone_html = page(&phone, &app, "/settings/sessions").await;
    assert_ne!(current_sid(&phone_html), current_sid(&html));
}

#[tokio::test]
async fn ending_another_session_signs_that_browser_out_only() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let laptop = browser_as(FIREFOX);
    laptop.login(&app, "alice").await;
    let phone = browser_as(ANDROID_CHROME);
    phone.login(&app, "alice").await;
    let phone_sid = current_sid(&page(&phone, &app, "/settings/sessions").await);

    let form = Form::new(page(&laptop, &app, "/settings/sessions").await);
    let ended =
        post(&laptop, &app, "/settings/sessions/end", &[("csrf_token", &form.csrf_token), ("sid", &phone_sid)]).await;
    assert_eq!(ended.status(), 303);
    assert_eq!(location(&ended), "/settings/sessions?ended=one");
    assert_eq!(phone.get(&app.url("/account")).await.status(), 303, "the phone is signed out");
    let html = page(&laptop, &app, "/settings/sessions?ended=one").await;
    assert!(html.contains("Session ended."));
    assert_eq!(sids(&html).len(), 1, "the laptop stays signed in");
}

#[tokio::test]
async fn a_session_of_another_account_cannot_be_ended() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    app.create_user("bob").await;
    let alice = Browser::new();
    alice.login(&app, "alice").await;
    let alice_sid = current_sid(&page(&alice, &app, "/settings/sessions").await);
    let bob = Browser::new();
    bob.login(&app, "bob").await;
    let form = Form::new(page(&bob, &app, "/settings/sessions").await);
    let response =
        post(&bob, &app, "/settings/sessions/end", &[("csrf_token", &form.csrf_token), ("sid", &alice_sid)]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(alice.get(&app.url("/account")).await.status(), 200, "alice is still signed in");
}

#[tokio::test]
async fn signing_out_everywhere_else_keeps_only_this_browser() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let browsers: Vec<Browser> = (0..3).map(|_| Browser::new()).collect();
    for browser in &browsers {
        browser.login(&app, "alice").await;
    }
    let form = Form::new(page(&browsers[0], &app, "/settings/sessions").await);
    assert_eq!(sids(&form.html).len(), 3);
    let response = post(&browsers[0], &app, "/settings/sessions/end-others", &[("csrf_token", &form.csrf_token)]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/settings/sessions?ended=others");
    let html = page(&browsers[0], &app, "/settings/sessions?ended=others").await;
    assert!(html.contains("Signed out everywhere else."));
    assert_eq!(sids(&html).len(), 1);
    assert!(!html.contains("Sign out everywhere else<"), "nothing else to sign out");
    for other in &browsers[1..] {
        assert_eq!(other.get(&app.url("/account")).await.status(), 303);
    }
}

#[tokio::test]
async fn ending_this_session_signs_this_browser_out() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let form = Form::new(page(&browser, &app, "/settings/sessions").await);
    let sid = current_sid(&form.html);
    let response =
        post(&browser, &app, "/settings/sessions/end", &[("csrf_token", &form.csrf_token), ("sid", &sid)]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login");
    assert_eq!(browser.get(&app.url("/account")).await.status(), 303);
}

#[tokio::test]
async fn ending_a_session_needs_the_csrf_token() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let sid = current_sid(&page(&browser, &app, "/settings/sessions").await);
    let response = post(&browser, &app, "/settings/sessions/end", &[("sid", &sid)]).await;
    error_page(response, 403).await;
    let response = post(&browser, &app, "/settings/sessions/end-others", &[]).await;
    error_page(response, 403).await;
    assert_eq!(browser.get(&app.url("/account")).await.status(), 200);
}

#[tokio::test]
async fn the_account_page_links_every_settings_page() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let html = page(&browser, &app, "/account").await;
    for link in ["/settings/sessions", "/settings/connected-applications", "/settings/applications"] {
        assert!(html.contains(&format!("href=\"{link}\"")), "{link}");
    }
    assert!(html.contains("href=\"/account\" aria-current=\"page\""));
}

// --- Template overrides ----------------------------------------------------------------------

#[tokio::test]
async fn a_templates_directory_overrides_built_in_pages_by_name() {
    let templates = tempfile::tempdir().unwrap();
    std::fs::write(
        templates.path().join("login.html"),
        "{% extends \"base.html\" %}{% block title %}Welcome back{% endblock %}\
         {% block content %}{% include \"brand.html\" %}<form><input type=\"hidden\" name=\"csrf_token\" \
         value=\"{{ csrf_token }}\"></form>{% endblock %}",
    )
    .unwrap();
    std::fs::write(templates.path().join("brand.html"), "<p class=\"brand-note\">Acme identity</p>").unwrap();
    std::fs::write(templates.path().join("notes.txt"), "{% not a template").unwrap();
    let dir = templates.path().to_owned();
    let app = spawn_app_with(move |config| config.templates_dir = Some(dir)).await;

    let html = Browser::new().get(&app.url("/login")).await.text().await.unwrap();
    assert!(html.contains("<p class=\"brand-note\">Acme identity</p>"), "{html}");
    assert!(html.contains("<title>Welcome back"), "the built-in base still wraps it");
    let signup = Browser::new().get(&app.url("/signup")).await.text().await.unwrap();
    assert!(!signup.contains("Acme identity"), "other pages stay built in");
}

#[tokio::test]
async fn a_broken_override_stops_start_up_with_its_file_name() {
    use doorway_server::config::{Config, GlobalArgs, ServeArgs};
    let templates = tempfile::tempdir().unwrap();
    std::fs::write(templates.path().join("consent.html"), "{% if %}").unwrap();
    let data = tempfile::tempdir().unwrap();
    let global = GlobalArgs { data_dir: Some(data.path().to_owned()), database: None, config: None };
    let serve = ServeArgs { templates_dir: Some(templates.path().to_owned()), ..ServeArgs::default() };
    let config = Config::resolve(&global, &serve).unwrap();
    assert_eq!(config.templates_dir.as_deref(), Some(templates.path()));
    doorway_server::install_crypto();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = match doorway_server::startup::Application::build_on(config, listener).await {
        Ok(_) => panic!("a template that does not parse must stop start-up"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("consent.html"), "{error}");
}
