//! The pages people see: security headers, session cookies, sign-in, sign-up, sign-out, every
//! template, and HTML escaping.

use doorway_core::model::ClientKind;
use doorway_core::types::RedirectPolicy;

use crate::helpers::*;

/// A client with no cookie store that does not follow redirects, for reading raw Set-Cookie.
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// `name=value` of a Set-Cookie line.
fn cookie_pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap()
}

fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect()
}

fn assert_security_headers(response: &reqwest::Response, what: &str) {
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
}

/// Posts the sign-up form in `browser` (after loading the page for its CSRF token).
async fn sign_up(app: &TestApp, browser: &Browser, username: &str, email: &str, password: &str) -> reqwest::Response {
    let form = Form::new(browser.get(&app.url("/signup")).await.text().await.unwrap());
    browser
        .http
        .post(app.url("/signup"))
        .form(&[("username", username), ("email", email), ("password", password), ("csrf_token", &form.csrf_token)])
        .send()
        .await
        .unwrap()
}

/// Posts the login form in `browser` with `password`.
async fn log_in(app: &TestApp, browser: &Browser, username: &str, password: &str) -> reqwest::Response {
    let form = Form::new(browser.get(&app.url("/login")).await.text().await.unwrap());
    browser
        .http
        .post(app.url("/login"))
        .form(&[("username", username), ("password", password), ("csrf_token", &form.csrf_token)])
        .send()
        .await
        .unwrap()
}

// --- Headers and cookies ---------------------------------------------------------------------

#[tokio::test]
async fn pages_carry_anti_framing_and_no_referrer_headers() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    for path in ["/", "/login", "/signup", "/logout", "/alice", "/no/such/page"] {
        let response = browser.get(&app.url(path)).await;
        assert_security_headers(&response, path);
    }
    // The consent page and the authorization endpoint's error page, which carry codes and states.
    let response = browser.get(&authorize_url(&app, &client, &[("client_id", "nope")])).await;
    assert_security_headers(&response, "authorize error page");
    let response = browser.get(&authorize_url(&app, &client, &[])).await;
    assert_security_headers(&response, "authorize redirect");
    browser.login(&app, "alice").await;
    let consent = browser.get(&authorize_url(&app, &client, &[])).await;
    assert_eq!(consent.status(), 200, "signed in: straight to the consent page");
    assert_security_headers(&consent, "consent page");
    assert_eq!(consent.headers()["cache-control"], "no-store");
    let form = Form::new(consent.text().await.unwrap());
    let response = browser.answer_consent(&app, &form, "allow").await;
    assert_security_headers(&response, "code redirect");
}

#[tokio::test]
async fn session_cookie_is_http_only_and_same_site_lax_without_secure_over_http() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let response = log_in(&app, &Browser::new(), "alice", PASSWORD).await;
    assert_eq!(response.status(), 303);
    let cookie = set_cookie(&response, "doorway_session").expect("a session cookie");
    let attrs = attributes(&cookie);
    assert!(attrs.contains(&"httponly".to_owned()), "{cookie}");
    assert!(attrs.contains(&"samesite=lax".to_owned()), "{cookie}");
    assert!(attrs.contains(&"path=/".to_owned()), "{cookie}");
    assert!(!attrs.contains(&"secure".to_owned()), "{cookie}");
    assert!(!attrs.iter().any(|a| a.starts_with("domain")), "{cookie}");
}

#[tokio::test]
async fn session_cookie_is_host_prefixed_and_secure_under_an_https_issuer() {
    let app = spawn_app_with(|config| config.issuer = "https://id.example".into()).await;
    app.create_user("alice").await;
    // Secure cookies are not sent back over http by a cookie store: carry them by hand.
    let http = raw_client();
    let page = http.get(app.at("/login")).send().await.unwrap();
    let csrf_cookie = set_cookie(&page, "__Host-doorway_csrf").expect("a __Host- CSRF cookie");
    assert!(attributes(&csrf_cookie).contains(&"secure".to_owned()), "{csrf_cookie}");
    let form = Form::new(page.text().await.unwrap());
    let response = http
        .post(app.at("/login"))
        .header("cookie", cookie_pair(&csrf_cookie))
        .form(&[("username", "alice"), ("password", PASSWORD), ("csrf_token", &form.csrf_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(set_cookie(&response, "doorway_session").is_none());
    let cookie = set_cookie(&response, "__Host-doorway_session").expect("a __Host- session cookie");
    let attrs = attributes(&cookie);
    for expected in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(attrs.contains(&expected.to_owned()), "{expected} in {cookie}");
    }
    assert!(!attrs.iter().any(|a| a.starts_with("domain")), "{cookie}");

    // The cookie signs the browser in.
    let account = http.get(app.at("/account")).header("cookie", cookie_pair(&cookie)).send().await.unwrap();
    assert_eq!(account.status(), 200);
}

#[tokio::test]
async fn session_id_is_rotated_at_login_and_the_old_one_dies() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let browser = Browser::new();
    let first = log_in(&app, &browser, "alice", PASSWORD).await;
    let first = cookie_pair(&set_cookie(&first, "doorway_session").unwrap()).to_owned();
    let second = log_in(&app, &browser, "alice", PASSWORD).await;
    let second = cookie_pair(&set_cookie(&second, "doorway_session").unwrap()).to_owned();
    assert_ne!(first, second, "a new session id at every sign-in");

    let with_old = raw_client().get(app.url("/account")).header("cookie", &first).send().await.unwrap();
    assert_eq!(with_old.status(), 303, "the replaced session is no longer valid");
    assert_eq!(location(&with_old), "/login");
    let with_new = raw_client().get(app.url("/account")).header("cookie", &second).send().await.unwrap();
    assert_eq!(with_new.status(), 200);
}

#[tokio::test]
async fn a_planted_session_cookie_does_not_survive_login() {
    // Session fixation: whatever session id the browser arrives with is replaced.
    let app = spawn_app().await;
    app.create_user("alice").await;
    let http = raw_client();
    let page = http.get(app.url("/login")).send().await.unwrap();
    let csrf = cookie_pair(&set_cookie(&page, "doorway_csrf").unwrap()).to_owned();
    let form = Form::new(page.text().await.unwrap());
    let response = http
        .post(app.url("/login"))
        .header("cookie", format!("{csrf}; doorway_session=planted-by-the-attacker"))
        .form(&[("username", "alice"), ("password", PASSWORD), ("csrf_token", &form.csrf_token)])
        .send()
        .await
        .unwrap();
    let session = set_cookie(&response, "doorway_session").unwrap();
    assert_ne!(cookie_pair(&session), "doorway_session=planted-by-the-attacker");
}

// --- Sign-in ---------------------------------------------------------------------------------

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let browser = Browser::new();
    let wrong = log_in(&app, &browser, "alice", "not the password").await;
    let unknown = log_in(&app, &browser, "mallory", "not the password").await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(unknown.status(), wrong.status());
    assert!(set_cookie(&wrong, "doorway_session").is_none());
    assert!(set_cookie(&unknown, "doorway_session").is_none());
    let wrong = wrong.text().await.unwrap().replace("alice", "USER");
    let unknown = unknown.text().await.unwrap().replace("mallory", "USER");
    assert!(wrong.contains("Incorrect username or password."));
    assert_eq!(wrong, unknown, "the pages differ only by the username typed");
}

#[tokio::test]
async fn login_without_csrf_token_is_403() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let browser = Browser::new();
    browser.get(&app.url("/login")).await;
    let response = browser
        .http
        .post(app.url("/login"))
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let body = error_page(response, 403).await;
    assert!(body.contains("This form has expired"));
}

#[tokio::test]
async fn login_with_a_csrf_token_but_no_csrf_cookie_is_403() {
    // A cross-site form post carries no cookie of ours.
    let app = spawn_app().await;
    app.create_user("alice").await;
    let token = "B".repeat(43);
    let response = raw_client()
        .post(app.url("/login"))
        .form(&[("username", "alice"), ("password", PASSWORD), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    error_page(response, 403).await;
}

#[tokio::test]
async fn login_succeeds_and_lands_on_the_account_page() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let browser = Browser::new();
    let response = log_in(&app, &browser, "alice", PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/account");
    let account = browser.get(&app.url("/account")).await;
    assert_eq!(account.status(), 200);
    assert!(account.text().await.unwrap().contains("@alice"));
}

// --- Sign-up ---------------------------------------------------------------------------------

#[tokio::test]
async fn sign_up_creates_an_account_and_signs_in() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let response = sign_up(&app, &browser, "newcomer", "new@example.com", "long enough pw").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/account");
    assert!(set_cookie(&response, "doorway_session").is_some());
    let account = browser.get(&app.url("/account")).await.text().await.unwrap();
    assert!(account.contains("@newcomer"), "{account}");
    assert!(account.contains("new@example.com (not verified)"), "{account}");

    // And the new password signs in from another browser.
    let other = Browser::new();
    assert_eq!(log_in(&app, &other, "newcomer", "long enough pw").await.status(), 303);
    let user = app.store.find_user_by_username("newcomer").await.unwrap().unwrap();
    assert_eq!(user.sub.len(), 24);
    assert!(!user.email_verified);
}

#[tokio::test]
async fn sign_up_refuses_a_username_taken_in_another_case() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let response = sign_up(&app, &Browser::new(), "ALICE", "other@example.com", "long enough pw").await;
    assert_eq!(response.status(), 422);
    assert!(set_cookie(&response, "doorway_session").is_none());
    let body = response.text().await.unwrap();
    assert!(body.contains("This username is taken."), "{body}");
    // What was typed is kept, except the password.
    assert!(body.contains("value=\"ALICE\""));
    assert!(body.contains("value=\"other@example.com\""));
    assert!(!body.contains("long enough pw"));
}

#[tokio::test]
async fn sign_up_refuses_an_email_already_in_use() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let response = sign_up(&app, &Browser::new(), "alice2", "alice@example.com", "long enough pw").await;
    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    assert!(body.contains("An account with this email address already exists."), "{body}");
}

#[tokio::test]
async fn sign_up_refuses_invalid_username_email_and_short_password() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let cases = [
        ("a", "ok@example.com", "long enough pw", "A username is 2 to 42 characters long."),
        (&"x".repeat(43), "ok@example.com", "long enough pw", "A username is 2 to 42 characters long."),
        ("bad name", "ok@example.com", "long enough pw", "A username may only contain letters, digits"),
        ("émile", "ok@example.com", "long enough pw", "A username may only contain letters, digits"),
        (".well-known", "ok@example.com", "long enough pw", "A username must start with a letter or a digit."),
        ("..", "ok@example.com", "long enough pw", "A username must start with a letter or a digit."),
        ("valid-name", "not-an-email", "long enough pw", "Enter an email address such as name@example.com."),
        ("valid-name", "a@@example.com", "long enough pw", "Enter an email address such as name@example.com."),
        ("valid-name", "ok@example.com", "short", "A password is at least 8 characters long."),
    ];
    for (username, email, password, message) in cases {
        let response = sign_up(&app, &browser, username, email, password).await;
        assert_eq!(response.status(), 422, "{username} {email} {password}");
        assert!(set_cookie(&response, "doorway_session").is_none());
        let body = response.text().await.unwrap();
        assert!(body.contains(message), "{message} in {body}");
    }
    assert!(app.store.find_user_by_username("valid-name").await.unwrap().is_none());
}

#[tokio::test]
async fn sign_up_reports_every_problem_at_once() {
    let app = spawn_app().await;
    let response = sign_up(&app, &Browser::new(), "a", "nope", "short").await;
    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    assert!(body.contains("A username is 2 to 42 characters long."));
    assert!(body.contains("Enter an email address"));
    assert!(body.contains("A password is at least 8 characters long."));
}

#[tokio::test]
async fn sign_up_refuses_reserved_usernames() {
    // A user called "login" would have a profile URL that is the login page.
    let app = spawn_app().await;
    let browser = Browser::new();
    for username in ["login", "oauth", "Admin", "avatars", "static", "demo"] {
        let response = sign_up(&app, &browser, username, &format!("{username}@example.com"), "long enough pw").await;
        assert_eq!(response.status(), 422, "{username} must be refused");
        let body = response.text().await.unwrap();
        assert!(body.contains("reserved"), "{body}");
    }
}

#[tokio::test]
async fn sign_up_without_csrf_token_is_403() {
    let app = spawn_app().await;
    let browser = Browser::new();
    browser.get(&app.url("/signup")).await;
    let response = browser
        .http
        .post(app.url("/signup"))
        .form(&[("username", "newcomer"), ("email", "new@example.com"), ("password", "long enough pw")])
        .send()
        .await
        .unwrap();
    error_page(response, 403).await;
    assert!(app.store.find_user_by_username("newcomer").await.unwrap().is_none());
}

#[tokio::test]
async fn sign_up_during_an_authorization_request_continues_it() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    let response = browser.get(&authorize_url(&app, &client, &[])).await;
    let login = location(&response);
    let interaction = query_of(&app.url(&login))["interaction"].clone();
    let page = browser.get(&app.url(&format!("/signup?interaction={interaction}"))).await.text().await.unwrap();
    assert!(page.contains("to continue to <strong>Test App</strong>"), "{page}");
    let form = Form::new(page);
    let response = browser
        .http
        .post(app.url("/signup"))
        .form(&[
            ("username", "newcomer"),
            ("email", "new@example.com"),
            ("password", "long enough pw"),
            ("csrf_token", &form.csrf_token),
            ("interaction", &form.interaction),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/oauth/authorize/resume?interaction="));
    let back = browser.drive(&app, response, "newcomer", "allow").await;
    assert!(query_of(&back).contains_key("code"), "{back}");
}

// --- Every page ------------------------------------------------------------------------------

#[tokio::test]
async fn every_page_renders() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let browser = Browser::new();

    let check = |path: &'static str, status: u16, needle: &'static str| {
        let browser = &browser;
        let app = &app;
        async move {
            let response = browser.get(&app.url(path)).await;
            assert_eq!(response.status(), status, "{path}");
            let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
            assert!(content_type.starts_with("text/html"), "{path}: {content_type}");
            let body = response.text().await.unwrap();
            assert!(body.contains(needle), "{path} should contain {needle}: {body}");
        }
    };

    // Signed out.
    check("/", 200, "Create an account").await;
    check("/login", 200, "name=\"password\"").await;
    check("/signup", 200, "name=\"email\"").await;
    check("/logout", 200, "Sign out of Doorway?").await;
    check("/alice", 200, "alice Example").await;
    check("/nobody-here", 404, "Page not found").await;
    check("/no/such/page", 404, "Page not found").await;
    let account = browser.get(&app.url("/account")).await;
    assert_eq!(account.status(), 303, "the account page needs a session");
    assert_eq!(location(&account), "/login");

    // Signed in.
    browser.login(&app, "alice").await;
    check("/", 200, "You are signed in as <strong>alice</strong>").await;
    check("/account", 200, "alice@example.com (verified)").await;
    check("/alice", 200, "@alice").await;

    // The generated avatar.
    let avatar = browser.get(&app.url(&format!("/avatars/{}.svg", alice.sub))).await;
    assert_eq!(avatar.status(), 200);
    assert_eq!(avatar.headers()["content-type"], "image/svg+xml");
    assert!(avatar.text().await.unwrap().starts_with("<svg"));
    let bad = browser.get(&app.url("/avatars/not-a-sub.svg")).await;
    assert_eq!(bad.status(), 404);

    let css = browser.get(&app.url("/static/doorway.css")).await;
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
}

#[tokio::test]
async fn account_page_saves_the_profile_and_refuses_bad_urls() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let form = Form::new(browser.get(&app.url("/account")).await.text().await.unwrap());

    let bad = browser
        .http
        .post(app.url("/account"))
        .form(&[
            ("name", "Alice"),
            ("website", "javascript:alert(1)"),
            ("avatar_url", ""),
            ("csrf_token", &form.csrf_token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("The website must be an https:&#x2f;&#x2f; URL."));

    let saved = browser
        .http
        .post(app.url("/account"))
        .form(&[
            ("name", "Alice Liddell"),
            ("website", "https://alice.example"),
            ("avatar_url", ""),
            ("csrf_token", &form.csrf_token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 303);
    assert_eq!(location(&saved), "/account?saved=1");
    let page = browser.get(&app.url("/account?saved=1")).await.text().await.unwrap();
    assert!(page.contains("Profile saved."));
    assert!(page.contains("Alice Liddell"));
    let profile = browser.get(&app.url("/alice")).await.text().await.unwrap();
    assert!(profile.contains("Alice Liddell"));
}

#[tokio::test]
async fn demo_pages_render_and_complete_a_sign_in() {
    let app = spawn_app_with(|config| config.demo = true).await;
    app.create_user("alice").await;
    let browser = Browser::new();
    let page = browser.get(&app.url("/demo")).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Sign in with Doorway"));

    // A callback this browser did not start is refused.
    let stray = browser.get(&app.url("/demo/callback?code=x&state=y")).await;
    assert_eq!(stray.status(), 400);
    assert!(stray.text().await.unwrap().contains("Sign-in did not complete"));

    let start = browser.get(&app.url("/demo/start")).await;
    assert_eq!(start.status(), 303);
    let form = browser.consent_page(&app, &location(&start), "alice").await;
    assert!(form.html.contains("Doorway demo app"));
    let back = browser.answer_consent(&app, &form, "allow").await;
    let callback = location(&back);
    assert!(callback.starts_with(&app.url("/demo/callback?code=")), "{callback}");
    let result = browser.get(&callback).await;
    assert_eq!(result.status(), 200);
    let html = result.text().await.unwrap();
    assert!(html.contains("Signed in as alice"), "{html}");
    assert!(html.contains("id=\"userinfo\""));
}

#[tokio::test]
async fn demo_is_not_served_unless_enabled() {
    let app = spawn_app().await;
    let response = Browser::new().get(&app.url("/demo")).await;
    assert_eq!(response.status(), 404);
}

// --- Escaping and sign-out -------------------------------------------------------------------

#[tokio::test]
async fn app_name_is_html_escaped_on_the_consent_and_login_pages() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app
        .create_client_with("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact, |c| {
            c.name = "<script>alert(1)</script>".into();
            c.homepage_url = Some("https://app.example/\"><script>alert(2)</script>".into());
        })
        .await;
    let browser = Browser::new();
    let url = authorize_url(&app, &client, &[]);
    let login = browser.get(&url).await;
    let login = browser.get(&app.url(&location(&login))).await.text().await.unwrap();
    assert!(!login.contains("<script>"), "{login}");
    assert!(login.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{login}");

    let form = browser.consent_page(&app, &url, "alice").await;
    assert!(!form.html.contains("<script>"), "{}", form.html);
    assert!(form.html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
    assert!(!form.html.contains("\"><script>alert(2)"));
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let browser = Browser::new();
    let login = log_in(&app, &browser, "alice", PASSWORD).await;
    let session = cookie_pair(&set_cookie(&login, "doorway_session").unwrap()).to_owned();

    let form = Form::new(browser.get(&app.url("/logout")).await.text().await.unwrap());
    let response =
        browser.http.post(app.url("/logout")).form(&[("csrf_token", &form.csrf_token)]).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login");
    let removal = set_cookie(&response, "doorway_session").expect("the cookie is cleared");
    assert!(removal.to_ascii_lowercase().contains("max-age=0"), "{removal}");

    let account = browser.get(&app.url("/account")).await;
    assert_eq!(account.status(), 303);
    // The session is gone on the server too, not just in this browser.
    let replayed = raw_client().get(app.url("/account")).header("cookie", &session).send().await.unwrap();
    assert_eq!(replayed.status(), 303);
    assert_eq!(location(&replayed), "/login");
}

#[tokio::test]
async fn logout_without_csrf_token_is_403_and_keeps_the_session() {
    // A cross-site page cannot sign people out.
    let app = spawn_app().await;
    app.create_user("alice").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let response = browser.http.post(app.url("/logout")).send().await.unwrap();
    error_page(response, 403).await;
    assert_eq!(browser.get(&app.url("/account")).await.status(), 200);
}

#[tokio::test]
async fn every_generated_avatar_renders() {
    // Any 24-hex sub has an avatar, whatever its hash (the colour maths must not overflow).
    let app = spawn_app().await;
    let browser = Browser::new();
    for i in 0..64u32 {
        let sub = format!("{i:024x}");
        let response = browser.get(&app.url(&format!("/avatars/{sub}.svg"))).await;
        assert_eq!(response.status(), 200, "avatar of {sub}");
        assert_eq!(response.headers()["content-type"], "image/svg+xml");
    }
}

#[tokio::test]
async fn https_issuers_send_strict_transport_security_and_http_ones_do_not() {
    let plain = spawn_app().await;
    let response = reqwest::get(plain.url("/login")).await.unwrap();
    assert!(response.headers().get("strict-transport-security").is_none());
    let secure = spawn_app_with(|c| c.issuer = "https://id.example".into()).await;
    let response = reqwest::get(secure.at("/login")).await.unwrap();
    assert_eq!(response.headers()["strict-transport-security"], "max-age=31536000; includeSubDomains");
}
