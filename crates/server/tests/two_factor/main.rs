//! Two-factor sign-in with TOTP (RFC 6238) and recovery codes, over the wire: enrolment needs a
//! confirming code; after the password nothing is signed in until the second factor is given
//! (no endpoint can skip it); codes are single use; wrong codes end the attempt and are
//! throttled; turning it off needs re-authentication; operators can reset it from the CLI.
//!
//! Codes are computed with totp-rs from the key the settings page shows. Each test uses the
//! time step `S` current when it starts: `S` confirms enrolment and `S + 1` signs in — both are
//! accepted (±1 step of skew) whichever of `S` and `S + 1` the server is in, so no test depends
//! on where in a 30-second step it runs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod attacks;
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

use doorway_store::AuditQuery;
use helpers::*;

const SETTINGS: &str = "/settings/two-factor";

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The current 30-second time step.
fn current_step() -> u64 {
    unix_now() / 30
}

/// An enrolled person: the key (base32) and the recovery codes shown once.
struct Enrolled {
    secret: String,
    recovery_codes: Vec<String>,
    /// The step whose code confirmed the enrolment.
    step: u64,
}

impl Enrolled {
    /// The 6-digit code of time step `step`.
    fn code(&self, step: u64) -> String {
        let secret = totp_rs::Secret::try_from_base32(&self.secret).unwrap();
        let totp = totp_rs::Builder::new().with_secret(secret.as_bytes().to_vec()).build().unwrap();
        totp.generate(step * 30).to_string()
    }
}

/// The text between `start` and the next `end` in `html`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = html.find(start)? + start.len();
    let to = html[from..].find(end)? + from;
    Some(&html[from..to])
}

async fn csrf_of(browser: &Browser, url: &str) -> String {
    let page = browser.get(url).await.text().await.unwrap();
    input_value(&page, "csrf_token").unwrap_or_else(|| panic!("no csrf_token on {url}: {page}"))
}

async fn post(browser: &Browser, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
    browser.http.post(url).form(form).send().await.unwrap()
}

/// Starts enrolment from a signed-in browser and returns the settings page showing the key.
async fn start_enrolment(app: &TestApp, browser: &Browser) -> String {
    let csrf = csrf_of(browser, &app.url(SETTINGS)).await;
    let started = post(browser, &app.url("/settings/two-factor/setup"), &[("csrf_token", &csrf)]).await;
    assert_eq!(started.status(), 303);
    assert_eq!(location(&started), SETTINGS);
    let page = browser.get(&app.url(SETTINGS)).await;
    assert_eq!(page.status(), 200);
    page.text().await.unwrap()
}

/// Signs `browser` in as alice (password only: TOTP is not on yet), turns TOTP on with the
/// code of the current step, and returns what the person was shown.
async fn enrol(app: &TestApp, browser: &Browser) -> Enrolled {
    browser.login(app, "alice").await;
    let page = start_enrolment(app, browser).await;
    let secret = between(&page, "<code class=\"totp-secret\">", "</code>").expect("the key as text").to_owned();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let step = current_step();
    let mut enrolled = Enrolled { secret, recovery_codes: Vec::new(), step };
    let confirmed = post(
        browser,
        &app.url("/settings/two-factor/confirm"),
        &[("csrf_token", &csrf), ("code", &enrolled.code(step))],
    )
    .await;
    assert_eq!(confirmed.status(), 200);
    let page = confirmed.text().await.unwrap();
    let codes = between(&page, "<pre><code>", "</code></pre>").expect("the recovery codes, shown once");
    enrolled.recovery_codes = codes.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    assert_eq!(enrolled.recovery_codes.len(), 10);
    enrolled
}

/// Posts alice's password from a fresh login page (with `interaction` if any).
async fn password_step(app: &TestApp, browser: &Browser, interaction: &str) -> reqwest::Response {
    let csrf = csrf_of(browser, &app.url("/login")).await;
    post(
        browser,
        &app.url("/login"),
        &[("username", "alice"), ("password", PASSWORD), ("csrf_token", &csrf), ("interaction", interaction)],
    )
    .await
}

/// Submits `code` on the second-factor page.
async fn submit_code(app: &TestApp, browser: &Browser, code: &str) -> reqwest::Response {
    let csrf = csrf_of(browser, &app.url("/login")).await;
    post(browser, &app.url("/login/two-factor"), &[("csrf_token", &csrf), ("code", code)]).await
}

/// The Content-Security-Policy the settings page is served with.
async fn started_csp(app: &TestApp, browser: &Browser) -> String {
    let page = browser.get(&app.url(SETTINGS)).await;
    page.headers()["content-security-policy"].to_str().unwrap().to_owned()
}

fn session_cookie_set(response: &reqwest::Response) -> bool {
    set_cookie(response, "doorway_session").is_some_and(|c| !c.starts_with("doorway_session=;"))
}

async fn kinds(app: &TestApp, user_id: &str) -> Vec<String> {
    let entries = app
        .store
        .list_audit(&AuditQuery { user_id: Some(user_id), limit: 200, ..AuditQuery::default() })
        .await
        .unwrap();
    entries.into_iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn enrolment_needs_a_valid_confirmation_code_and_a_pending_key_does_not_change_sign_in() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let page = start_enrolment(&app, &browser).await;
    // The QR code is inline SVG markup (allowed by the page's CSP: no image request, no inline
    // style) encoding an otpauth:// URL; the key is also given as text.
    assert!(page.contains("<svg role=\"img\""), "{page}");
    let svg = between(&page, "<svg", "</svg>").unwrap();
    assert!(!svg.contains("style="), "inline styles would be blocked by style-src 'self'");
    let secret = between(&page, "<code class=\"totp-secret\">", "</code>").unwrap();
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    // The otpauth:// URL authenticator apps read: the platform as issuer, the username as
    // account, the key; SHA-1, 6 digits and 30 s are the defaults, so they are left out.
    let otpauth =
        between(&page, "class=\"otpauth\" href=\"", "\"").unwrap().replace("&amp;", "&").replace("&#x2f;", "/");
    let url = url::Url::parse(&otpauth).unwrap();
    assert_eq!((url.scheme(), url.host_str(), url.path()), ("otpauth", Some("totp"), "/Doorway:alice"));
    let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(params["secret"], secret);
    assert_eq!(params["issuer"], "Doorway");
    assert!(!params.contains_key("algorithm") && !params.contains_key("digits") && !params.contains_key("period"));
    let csp = started_csp(&app, &browser).await;
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let csrf = input_value(&page, "csrf_token").unwrap();

    // A wrong code does not turn it on.
    let wrong =
        post(&browser, &app.url("/settings/two-factor/confirm"), &[("csrf_token", &csrf), ("code", "000000")]).await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().await.unwrap().contains("That code is not correct"));
    let user = app.store.find_user_by_username("alice").await.unwrap().unwrap();
    assert!(!app.store.totp_enabled(&user.id).await.unwrap());

    // While enrolment is pending, the password alone still signs in.
    let other = Browser::new();
    let signed_in = password_step(&app, &other, "").await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/account");
    assert!(session_cookie_set(&signed_in));

    // The right code turns it on, and the page then says so (the codes are not shown again).
    let enrolled = Enrolled { secret: secret.to_owned(), recovery_codes: Vec::new(), step: current_step() };
    let right = post(
        &browser,
        &app.url("/settings/two-factor/confirm"),
        &[("csrf_token", &csrf), ("code", &enrolled.code(enrolled.step))],
    )
    .await;
    assert_eq!(right.status(), 200);
    assert_eq!(right.headers()["cache-control"], "no-store");
    assert!(app.store.totp_enabled(&user.id).await.unwrap());
    let again = browser.get(&app.url(SETTINGS)).await.text().await.unwrap();
    assert!(again.contains("is <strong>on</strong>"));
    assert!(!again.contains("<pre><code>"), "recovery codes are shown once");
    assert!(!again.contains("totp-secret"), "the key is not shown once enabled");
    assert!(kinds(&app, &user.id).await.contains(&"two_factor.enabled".to_owned()));
}

#[tokio::test]
async fn password_alone_signs_nobody_in_no_endpoint_skips_the_second_factor() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let client = app.confidential_client().await;
    let enrolled = enrol(&app, &Browser::new()).await;

    // An authorization request parks and sends the browser to the login page.
    let browser = Browser::new();
    let start = browser.get(&authorize_url(&app, &client, &[])).await;
    assert_eq!(start.status(), 303);
    let interaction = query_of(&app.url(&location(&start)))["interaction"].clone();
    let after_password = password_step(&app, &browser, &interaction).await;
    assert_eq!(after_password.status(), 303);
    assert_eq!(location(&after_password), "/login/two-factor");
    assert!(!session_cookie_set(&after_password), "no session before the second factor");
    let challenge = set_cookie(&after_password, "doorway_2fa").unwrap();
    assert!(challenge.contains("HttpOnly"), "{challenge}");

    // Half signed in is signed out, everywhere.
    let account = browser.get(&app.url("/account")).await;
    assert_eq!(account.status(), 303);
    assert_eq!(location(&account), "/login");
    let settings = browser.get(&app.url(SETTINGS)).await;
    assert_eq!(settings.status(), 303);
    assert!(location(&settings).starts_with("/login"));
    let sessions = browser.get(&app.url("/settings/sessions")).await;
    assert_eq!(sessions.status(), 303);
    let device = browser.get(&app.url("/device")).await;
    assert_eq!(device.status(), 303);
    assert!(location(&device).starts_with("/login"), "{}", location(&device));
    let silent = browser.get(&authorize_url(&app, &client, &[("prompt", "none")])).await;
    assert_eq!(redirected_error(&silent, &client)["error"], "login_required");
    let resumed = browser.get(&app.url(&format!("/oauth/authorize/resume?interaction={interaction}"))).await;
    assert_eq!(resumed.status(), 303);
    assert!(location(&resumed).starts_with("/login"), "{}", location(&resumed));
    let csrf = csrf_of(&browser, &app.url("/login")).await;
    let consent = post(
        &browser,
        &app.url("/oauth/consent"),
        &[("decision", "allow"), ("csrf_token", &csrf), ("interaction", &interaction)],
    )
    .await;
    assert_eq!(consent.status(), 303);
    assert!(location(&consent).starts_with("/login"), "consent without the second factor: {}", location(&consent));
    let page = browser.get(&app.url("/login/two-factor")).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Test App"), "the page names the app");

    // The code finishes the sign-in and resumes the parked request; only now is a code issued.
    let done = submit_code(&app, &browser, &enrolled.code(enrolled.step + 1)).await;
    assert_eq!(done.status(), 303);
    assert!(session_cookie_set(&done));
    let next = location(&done);
    assert_eq!(next, format!("/oauth/authorize/resume?interaction={interaction}"));
    let back = browser.drive(&app, browser.get(&app.url(&next)).await, "alice", "allow").await;
    let code = query_of(&back)["code"].clone();
    let tokens: serde_json::Value = exchange(&app, &client, &code).await.json().await.unwrap();
    let claims = verify_id_token(&app, &client, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], alice.sub);
    assert_eq!(browser.get(&app.url("/account")).await.status(), 200);
    let log = kinds(&app, &alice.id).await;
    assert!(log.contains(&"sign_in.succeeded".to_owned()));
}

#[tokio::test]
async fn a_replayed_code_is_refused_even_in_the_same_time_step() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let enrolled = enrol(&app, &Browser::new()).await;
    let code = enrolled.code(enrolled.step + 1);

    let first = Browser::new();
    password_step(&app, &first, "").await;
    let ok = submit_code(&app, &first, &code).await;
    assert_eq!(ok.status(), 303);
    assert_eq!(location(&ok), "/account");

    // RFC 6238 §5.2: a second sign-in with the same code (an observer, a phishing proxy) fails,
    // and so does the older code that confirmed the enrolment.
    let second = Browser::new();
    assert_eq!(location(&password_step(&app, &second, "").await), "/login/two-factor");
    let replay = submit_code(&app, &second, &code).await;
    assert_eq!(replay.status(), 400);
    assert!(!session_cookie_set(&replay));
    assert!(replay.text().await.unwrap().contains("already used"));
    let older = submit_code(&app, &second, &enrolled.code(enrolled.step)).await;
    assert_eq!(older.status(), 400);
    assert_eq!(second.get(&app.url("/account")).await.status(), 303);
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let enrolled = enrol(&app, &Browser::new()).await;
    let recovery = enrolled.recovery_codes[3].to_uppercase();

    let browser = Browser::new();
    password_step(&app, &browser, "").await;
    let ok = submit_code(&app, &browser, &recovery).await;
    assert_eq!(ok.status(), 303);
    assert_eq!(location(&ok), "/account");
    assert_eq!(browser.get(&app.url("/account")).await.status(), 200);
    let settings = browser.get(&app.url(SETTINGS)).await.text().await.unwrap();
    assert!(settings.contains("<span class=\"recovery-left\">9</span>"), "{settings}");

    let again = Browser::new();
    password_step(&app, &again, "").await;
    let reused = submit_code(&app, &again, &recovery).await;
    assert_eq!(reused.status(), 400);
    assert!(!session_cookie_set(&reused));
    let log = kinds(&app, &alice.id).await;
    assert!(log.contains(&"two_factor.recovery_code_used".to_owned()));
    assert!(log.contains(&"two_factor.failed".to_owned()));
}

#[tokio::test]
async fn five_wrong_codes_end_the_attempt_and_the_password_is_asked_again() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let enrolled = enrol(&app, &Browser::new()).await;
    let browser = Browser::new();
    password_step(&app, &browser, "").await;
    for attempt in 1..=4 {
        let wrong = submit_code(&app, &browser, "123456").await;
        assert_eq!(wrong.status(), 400, "attempt {attempt}");
        assert!(wrong.text().await.unwrap().contains("name=\"code\""), "still the code page");
    }
    let ended = submit_code(&app, &browser, "654321").await;
    assert_eq!(ended.status(), 400);
    let page = ended.text().await.unwrap();
    assert!(page.contains("Too many wrong codes"), "{page}");
    assert!(page.contains("name=\"password\""), "back to the password");

    // The right code no longer helps: the attempt is over.
    let late = submit_code(&app, &browser, &enrolled.code(enrolled.step + 1)).await;
    assert_eq!(late.status(), 303);
    assert_eq!(location(&late), "/login");
    assert!(!session_cookie_set(&late));
    assert_eq!(browser.get(&app.url("/login/two-factor")).await.status(), 303);
    let log = kinds(&app, &alice.id).await;
    assert_eq!(log.iter().filter(|k| *k == "two_factor.failed").count(), 5);
    assert!(log.contains(&"two_factor.attempt_ended".to_owned()));

    // Entering the password again starts a fresh attempt.
    password_step(&app, &browser, "").await;
    let ok = submit_code(&app, &browser, &enrolled.code(enrolled.step + 1)).await;
    assert_eq!(location(&ok), "/account");
}

#[tokio::test]
async fn too_many_codes_are_throttled_with_429_and_retry_after_even_the_right_one() {
    let app = spawn_app_with(|config| config.login_max_attempts = 3).await;
    app.create_user("alice").await;
    let enrolled = enrol(&app, &Browser::new()).await;
    let browser = Browser::new();
    password_step(&app, &browser, "").await;
    for _ in 0..3 {
        assert_eq!(submit_code(&app, &browser, "111111").await.status(), 400);
    }
    let locked = submit_code(&app, &browser, &enrolled.code(enrolled.step + 1)).await;
    assert_eq!(locked.status(), 429);
    let retry_after: i64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after > 0);
    assert!(!session_cookie_set(&locked));
    assert!(locked.text().await.unwrap().contains("Too many codes"));

    // The lockout is the account's, not the challenge's: a new password entry does not lift it.
    let other = Browser::new();
    assert_eq!(location(&password_step(&app, &other, "").await), "/login/two-factor");
    assert_eq!(submit_code(&app, &other, &enrolled.code(enrolled.step + 1)).await.status(), 429);
}

#[tokio::test]
async fn concurrent_submissions_of_one_valid_code_let_exactly_one_through() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let enrolled = enrol(&app, &Browser::new()).await;
    let code = enrolled.code(enrolled.step + 1);
    // Five browsers past the password (say, a phishing proxy replaying one code everywhere).
    let mut browsers = Vec::new();
    for _ in 0..5 {
        let browser = Browser::new();
        assert_eq!(location(&password_step(&app, &browser, "").await), "/login/two-factor");
        let csrf = csrf_of(&browser, &app.url("/login")).await;
        browsers.push((browser, csrf));
    }
    let url = app.url("/login/two-factor");
    let results = futures::future::join_all(browsers.iter().map(|(browser, csrf)| {
        browser.http.post(&url).form(&[("csrf_token", csrf.as_str()), ("code", code.as_str())]).send()
    }))
    .await;
    let signed_in =
        results.iter().map(|r| r.as_ref().unwrap()).filter(|r| r.status() == 303 && session_cookie_set(r)).count();
    assert_eq!(signed_in, 1, "{:?}", results.iter().map(|r| r.as_ref().unwrap().status()).collect::<Vec<_>>());
}

#[tokio::test]
async fn turning_it_off_and_new_recovery_codes_need_re_authentication() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let browser = Browser::new();
    let enrolled = enrol(&app, &browser).await;
    let csrf = csrf_of(&browser, &app.url(SETTINGS)).await;
    let disable = app.url("/settings/two-factor/disable");

    // A session alone is not enough.
    let bare = post(&browser, &disable, &[("csrf_token", &csrf)]).await;
    assert_eq!(bare.status(), 422);
    let wrong = post(&browser, &disable, &[("csrf_token", &csrf), ("password", "not the password")]).await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().await.unwrap().contains("The password is not correct"));
    // The code that confirmed the enrolment was used already.
    let replayed = post(&browser, &disable, &[("csrf_token", &csrf), ("code", &enrolled.code(enrolled.step))]).await;
    assert_eq!(replayed.status(), 422);
    assert!(app.store.totp_enabled(&alice.id).await.unwrap());

    // New recovery codes with a current code: the old ones stop working.
    let regenerated = post(
        &browser,
        &app.url("/settings/two-factor/recovery-codes"),
        &[("csrf_token", &csrf), ("code", &enrolled.code(enrolled.step + 1))],
    )
    .await;
    assert_eq!(regenerated.status(), 200);
    let page = regenerated.text().await.unwrap();
    let fresh: Vec<String> =
        between(&page, "<pre><code>", "</code></pre>").unwrap().lines().map(|l| l.trim().to_owned()).collect();
    assert!(!fresh.contains(&enrolled.recovery_codes[0]));
    let old = Browser::new();
    password_step(&app, &old, "").await;
    assert_eq!(submit_code(&app, &old, &enrolled.recovery_codes[0]).await.status(), 400);

    // With the password it goes off, and the password alone signs in again.
    let off = post(&browser, &disable, &[("csrf_token", &csrf), ("password", PASSWORD)]).await;
    assert_eq!(off.status(), 303);
    assert_eq!(location(&off), "/settings/two-factor?disabled=1");
    let page = browser.get(&app.url("/settings/two-factor?disabled=1")).await.text().await.unwrap();
    assert!(page.contains("Two-factor authentication is off."), "{page}");
    assert!(page.contains("/settings/two-factor/setup"), "it can be set up again");
    assert!(!app.store.totp_enabled(&alice.id).await.unwrap());
    let plain = password_step(&app, &Browser::new(), "").await;
    assert_eq!(location(&plain), "/account");
    let log = kinds(&app, &alice.id).await;
    for kind in ["two_factor.enabled", "two_factor.recovery_codes_regenerated", "two_factor.disabled"] {
        assert!(log.contains(&kind.to_owned()), "{kind} in {log:?}");
    }
    // The person sees it in their security log.
    let security_log = browser.get(&app.url("/settings/security-log")).await.text().await.unwrap();
    assert!(security_log.contains("Two-factor authentication turned off"));
}

#[tokio::test]
async fn operators_reset_two_factor_from_the_cli() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    enrol(&app, &Browser::new()).await;
    assert_eq!(location(&password_step(&app, &Browser::new(), "").await), "/login/two-factor");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_doorway"))
        .arg("--data-dir")
        .arg(app._dir.path())
        .args(["users", "reset-two-factor", "alice", "--json"])
        .env_remove("DOORWAY_DATABASE_URL")
        .env_remove("DOORWAY_CONFIG")
        .env_remove("DOORWAY_DATA_DIR")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["action"], "two-factor reset");

    let signed_in = password_step(&app, &Browser::new(), "").await;
    assert_eq!(location(&signed_in), "/account");
    assert!(session_cookie_set(&signed_in));
    assert!(kinds(&app, &alice.id).await.contains(&"two_factor.reset".to_owned()));
}
