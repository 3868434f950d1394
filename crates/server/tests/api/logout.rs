//! Logout: RP-initiated logout at the end_session_endpoint (OpenID Connect RP-Initiated Logout
//! 1.0) and back-channel logout tokens delivered from the outbox (Back-Channel Logout 1.0).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use doorway_core::jose::{SigningAlg, SigningKey};
use doorway_core::model::ClientKind;
use doorway_core::types::{RedirectPolicy, RedirectUri};
use doorway_store::LogoutDelivery;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::helpers::*;

const BYE: &str = "https://app.example/signed-out";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A confidential app with `BYE` registered as its post-logout redirect URI.
async fn app_with_logout(app: &TestApp, backchannel: Option<String>) -> TestClient {
    app.create_client_with("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact, |c| {
        c.post_logout_redirect_uris = vec![RedirectUri::parse(BYE).unwrap()];
        c.backchannel_logout_uri = backchannel;
    })
    .await
}

/// `username` signs in to the app through `browser`; returns the ID token.
async fn sign_in(app: &TestApp, browser: &Browser, client: &TestClient, username: &str) -> String {
    let back = browser.authorize(app, &authorize_url(app, client, &[]), username, "allow").await;
    let code = query_of(&back).get("code").cloned().unwrap_or_else(|| panic!("no code in {back}"));
    let response = exchange(app, client, &code).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    tokens["id_token"].as_str().unwrap().to_owned()
}

fn logout_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    app.url(&format!("/oauth/logout?{query}"))
}

/// Whether the browser still has a Doorway session.
async fn signed_in(app: &TestApp, browser: &Browser) -> bool {
    let response = browser.get(&app.url("/account")).await;
    match response.status().as_u16() {
        200 => true,
        303 => false,
        other => panic!("unexpected /account status {other}"),
    }
}

/// The hidden inputs of a page's form, in order.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|tail| {
            let name = tail.strip_prefix("name=\"")?.split('"').next()?.to_owned();
            let value = input_value(tail, &name)?;
            Some((name, value))
        })
        .collect()
}

#[tokio::test]
async fn registered_redirect_with_a_valid_hint_signs_out_and_returns_state() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app_with_logout(&app, None).await;
    let browser = Browser::new();
    let id_token = sign_in(&app, &browser, &client, "alice").await;
    assert!(signed_in(&app, &browser).await);

    let url = logout_url(&app, &[("id_token_hint", &id_token), ("post_logout_redirect_uri", BYE), ("state", "s t&1")]);
    let response = browser.get(&url).await;

    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("{BYE}?state=s+t%261"));
    assert!(!signed_in(&app, &browser).await, "the session must be gone");
    // No back-channel URI registered: nothing queued.
    assert!(app.store.list_logout_deliveries(None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_valid_hint_without_a_redirect_shows_the_signed_out_page() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app_with_logout(&app, None).await;
    let browser = Browser::new();
    let id_token = sign_in(&app, &browser, &client, "alice").await;

    let response = browser.get(&logout_url(&app, &[("id_token_hint", &id_token)])).await;

    assert_eq!(response.status(), 200);
    assert!(response.headers().get(LOCATION).is_none());
    assert!(response.text().await.unwrap().contains("You are signed out"));
    assert!(!signed_in(&app, &browser).await);
}

#[tokio::test]
async fn an_unregistered_or_modified_redirect_is_never_followed() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app_with_logout(&app, None).await;
    let browser = Browser::new();
    let id_token = sign_in(&app, &browser, &client, "alice").await;

    for uri in [
        "https://evil.example/signed-out",
        "https://app.example/signed-out/",
        "https://app.example/signed-out?next=https://evil.example",
        "https://APP.example/signed-out",
        "https://app.example/signed-out#x",
        "https://app.example/signed-out/../evil",
        "https://app.example/signed-ou",
        // The login redirect URI is not a post-logout redirect URI.
        "https://app.example/callback",
    ] {
        for with_hint in [true, false] {
            let mut params = vec![("post_logout_redirect_uri", uri), ("state", "xyz")];
            if with_hint {
                params.push(("id_token_hint", &id_token));
            } else {
                params.push(("client_id", &client.client_id));
            }
            let page = error_page(browser.get(&logout_url(&app, &params)).await, 400).await;
            assert!(!page.contains("evil.example"), "{uri}");
        }
    }
    assert!(signed_in(&app, &browser).await, "a rejected request signs nobody out");
}

#[tokio::test]
async fn a_redirect_without_a_client_is_never_followed() {
    let app = spawn_app().await;
    app_with_logout(&app, None).await;
    let response = Browser::new().get(&logout_url(&app, &[("post_logout_redirect_uri", BYE)])).await;
    error_page(response, 400).await;
}

#[tokio::test]
async fn a_hint_doorway_did_not_sign_does_not_redirect() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let client = app_with_logout(&app, None).await;
    let browser = Browser::new();
    let id_token = sign_in(&app, &browser, &client, "alice").await;
    let claims = verify_id_token(&app, &client, &id_token).await;

    // A foreign key claiming to be one of Doorway's (same kid, same alg).
    let kid = jsonwebtoken::decode_header(&id_token).unwrap().kid.unwrap();
    let foreign_der = SigningKey::generate_pkcs8(SigningAlg::Rs256).unwrap();
    let foreign = SigningKey::from_pkcs8(SigningAlg::Rs256, &foreign_der).unwrap();
    let forged = {
        let token = foreign.sign(&claims).unwrap();
        let mut header = jsonwebtoken::decode_header(&token).unwrap();
        header.kid = Some(kid);
        let encoding = jsonwebtoken::EncodingKey::from_rsa_pem(pem("PRIVATE KEY", &foreign_der).as_bytes()).unwrap();
        jsonwebtoken::encode(&header, &claims, &encoding).unwrap()
    };
    // Doorway's own key, another issuer.
    let mut other_iss = claims.clone();
    other_iss["iss"] = json!("https://evil.example");
    let wrong_issuer = app.state.keys.current().signer(SigningAlg::Rs256).unwrap().sign(&other_iss).unwrap();
    // A real ID token whose payload was changed.
    let tampered = {
        let parts: Vec<&str> = id_token.split('.').collect();
        let mut changed = claims.clone();
        changed["sub"] = json!("someone-else");
        let payload = base64_url(&serde_json::to_vec(&changed).unwrap());
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    // A logout token cannot stand in for an ID token.
    let logout_token = app
        .state
        .keys
        .current()
        .signer(SigningAlg::Rs256)
        .unwrap()
        .sign_with_typ(
            &json!({"iss": app.issuer, "aud": client.client_id, "sub": alice.sub, "iat": 1,
            "exp": 4_000_000_000u64, "jti": "j", "events": {EVENT: {}}}),
            "logout+jwt",
        )
        .unwrap();

    for hint in [forged, wrong_issuer, tampered, logout_token, "not.a.jwt".to_owned(), "garbage".to_owned()] {
        let url = logout_url(&app, &[("id_token_hint", &hint), ("post_logout_redirect_uri", BYE), ("state", "x")]);
        error_page(browser.get(&url).await, 400).await;
    }
    assert!(signed_in(&app, &browser).await);
}

#[tokio::test]
async fn an_expired_hint_is_still_a_valid_hint() {
    let app = spawn_app_with(|c| c.access_token_ttl = 1).await;
    app.create_user("alice").await;
    let client = app_with_logout(&app, None).await;
    let browser = Browser::new();
    let id_token = sign_in(&app, &browser, &client, "alice").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let url = logout_url(&app, &[("id_token_hint", &id_token), ("post_logout_redirect_uri", BYE)]);
    let response = browser.get(&url).await;

    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), BYE);
}

#[tokio::test]
async fn client_id_must_agree_with_the_hint() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app_with_logout(&app, None).await;
    let other = app_with_logout(&app, None).await;
    let browser = Browser::new();
    let id_token = sign_in(&app, &browser, &client, "alice").await;

    let url = logout_url(
        &app,
        &[("id_token_hint", &id_token), ("client_id", &other.client_id), ("post_logout_redirect_uri", BYE)],
    );
    error_page(browser.get(&url).await, 400).await;
    let unknown = logout_url(&app, &[("client_id", "no-such-app"), ("post_logout_redirect_uri", BYE)]);
    error_page(browser.get(&unknown).await, 400).await;
    assert!(signed_in(&app, &browser).await);
}

#[tokio::test]
async fn a_hint_for_another_user_asks_for_confirmation() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    app.create_user("bob").await;
    let client = app_with_logout(&app, None).await;
    let alice_browser = Browser::new();
    sign_in(&app, &alice_browser, &client, "alice").await;
    let bobs_token = sign_in(&app, &Browser::new(), &client, "bob").await;

    let url = logout_url(&app, &[("id_token_hint", &bobs_token), ("post_logout_redirect_uri", BYE), ("state", "st")]);
    let response = alice_browser.get(&url).await;

    assert_eq!(response.status(), 200);
    assert!(response.headers().get(LOCATION).is_none());
    let page = response.text().await.unwrap();
    assert!(page.contains("Sign out of"), "{page}");
    assert!(signed_in(&app, &alice_browser).await, "nothing happens before the person confirms");

    let response = alice_browser.http.post(app.url("/oauth/logout")).form(&hidden_fields(&page)).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("{BYE}?state=st"));
    assert!(!signed_in(&app, &alice_browser).await);
}

#[tokio::test]
async fn the_confirmation_form_needs_its_csrf_token() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app_with_logout(&app, None).await;
    let browser = Browser::new();
    sign_in(&app, &browser, &client, "alice").await;

    // No hint: the request cannot be trusted, so the person is asked.
    let url = logout_url(&app, &[("client_id", &client.client_id), ("post_logout_redirect_uri", BYE), ("state", "st")]);
    let response = browser.get(&url).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    let fields = hidden_fields(&page);
    assert!(fields.iter().any(|(name, _)| name == "csrf_token"));

    // A forged confirmation (wrong token) is refused.
    let mut forged = fields.clone();
    forged.retain(|(name, _)| name != "csrf_token");
    forged.push(("csrf_token".into(), "x".repeat(43)));
    let response = browser.http.post(app.url("/oauth/logout")).form(&forged).send().await.unwrap();
    error_page(response, 403).await;
    // Without a token it is an app's request again: the person is asked again.
    forged.retain(|(name, _)| name != "csrf_token");
    let response = browser.http.post(app.url("/oauth/logout")).form(&forged).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Sign out of"));
    assert!(signed_in(&app, &browser).await);

    let response = browser.http.post(app.url("/oauth/logout")).form(&fields).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("{BYE}?state=st"));
    assert!(!signed_in(&app, &browser).await);
}

#[tokio::test]
async fn without_a_session_a_verified_redirect_is_honoured() {
    let app = spawn_app().await;
    let client = app_with_logout(&app, None).await;
    let browser = Browser::new();

    let url = logout_url(&app, &[("client_id", &client.client_id), ("post_logout_redirect_uri", BYE), ("state", "st")]);
    let response = browser.get(&url).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("{BYE}?state=st"));

    let response = browser.get(&logout_url(&app, &[("client_id", &client.client_id)])).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("You are signed out"));

    let bad =
        logout_url(&app, &[("client_id", &client.client_id), ("post_logout_redirect_uri", "https://evil.example")]);
    error_page(browser.get(&bad).await, 400).await;
}

#[tokio::test]
async fn an_apps_post_is_handled_like_a_get() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app_with_logout(&app, None).await;
    let browser = Browser::new();
    let id_token = sign_in(&app, &browser, &client, "alice").await;
    let params = [("id_token_hint", id_token.as_str()), ("post_logout_redirect_uri", BYE), ("state", "st")];

    // A cross-site form POST carries no SameSite=Lax cookie: it is replayed as a GET, which does.
    let response = Browser::new().http.post(app.url("/oauth/logout")).form(&params).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), logout_url(&app, &params).trim_start_matches(&app.issuer));

    let response = browser.http.post(app.url("/oauth/logout")).form(&params).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("{BYE}?state=st"));
    assert!(!signed_in(&app, &browser).await);
}

#[tokio::test]
async fn a_repeated_parameter_is_refused() {
    let app = spawn_app().await;
    let client = app_with_logout(&app, None).await;
    let url = logout_url(
        &app,
        &[("client_id", &client.client_id), ("post_logout_redirect_uri", BYE), ("post_logout_redirect_uri", BYE)],
    );
    error_page(Browser::new().get(&url).await, 400).await;
}

/// A relying party's back-channel logout endpoint, on 127.0.0.1:0 inside the test.
#[derive(Clone)]
struct Receiver {
    url: String,
    inner: Arc<ReceiverState>,
}

#[derive(Default)]
struct ReceiverState {
    /// Every request: its Content-Type and `logout_token`.
    received: Mutex<Vec<(String, String)>>,
    /// Statuses to answer with, in order; then `otherwise`.
    script: Mutex<VecDeque<u16>>,
    otherwise: Mutex<u16>,
}

impl Receiver {
    async fn start() -> Self {
        let inner = Arc::new(ReceiverState { otherwise: Mutex::new(200), ..Default::default() });
        let router = axum::Router::new().route("/backchannel", axum::routing::post(receive)).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self { url, inner }
    }

    fn answer_first(&self, statuses: &[u16]) {
        self.inner.script.lock().unwrap().extend(statuses);
    }

    fn answer_always(&self, status: u16) {
        *self.inner.otherwise.lock().unwrap() = status;
    }

    fn received(&self) -> Vec<(String, String)> {
        self.inner.received.lock().unwrap().clone()
    }
}

async fn receive(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: String) -> StatusCode {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    state.received.lock().unwrap().push((content_type, token));
    let status = state.script.lock().unwrap().pop_front().unwrap_or(*state.otherwise.lock().unwrap());
    StatusCode::from_u16(status).unwrap()
}

/// Polls the outbox until `done` holds for the app's deliveries (the worker runs every second).
async fn wait_for(app: &TestApp, client: &TestClient, within: Duration, done: impl Fn(&[LogoutDelivery]) -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let rows = app.store.list_logout_deliveries(Some(&client.client_id), 10).await.unwrap();
        if done(&rows) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "outbox never reached the expected state: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn delivered(rows: &[LogoutDelivery]) -> bool {
    rows.len() == 1 && rows[0].status == "delivered"
}

/// Verifies a logout token as Back-Channel Logout 1.0 §2.6 tells a relying party to.
async fn verify_logout_token(app: &TestApp, client: &TestClient, token: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    // `at`: after a restart the issuer is the first node's, the address the new one's.
    let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(app.at("/oauth/jwks")).await.unwrap().json().await.unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[&client.client_id]);
    validation.set_issuer(&[&app.issuer]);
    validation.set_required_spec_claims(&["iss", "aud", "exp", "iat", "jti", "events"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap().claims
}

#[tokio::test]
async fn backchannel_logout_token_verifies_and_names_user_and_session() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let receiver = Receiver::start().await;
    let client = app_with_logout(&app, Some(receiver.url.clone())).await;
    let browser = Browser::new();
    let id_token = sign_in(&app, &browser, &client, "alice").await;
    let sid = verify_id_token(&app, &client, &id_token).await["sid"].as_str().unwrap().to_owned();

    let url = logout_url(&app, &[("id_token_hint", &id_token), ("post_logout_redirect_uri", BYE)]);
    assert_eq!(browser.get(&url).await.status(), 303);
    wait_for(&app, &client, Duration::from_secs(10), delivered).await;

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let (content_type, token) = &received[0];
    assert_eq!(content_type, "application/x-www-form-urlencoded");
    let claims = verify_logout_token(&app, &client, token).await;
    assert_eq!(claims["iss"], app.issuer);
    assert_eq!(claims["aud"], client.client_id);
    assert_eq!(claims["sub"], alice.sub);
    assert_eq!(claims["sid"], sid);
    assert_eq!(claims["events"], json!({ EVENT: {} }));
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 20));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 120);
    assert!(claims.get("nonce").is_none(), "a logout token never carries a nonce");
    let row = &app.store.list_logout_deliveries(Some(&client.client_id), 10).await.unwrap()[0];
    assert_eq!((row.attempts, row.last_error.as_deref()), (1, None));
    assert!(row.delivered_at.is_some());
}

#[tokio::test]
async fn the_sign_out_page_also_notifies_apps() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let receiver = Receiver::start().await;
    let notified = app_with_logout(&app, Some(receiver.url.clone())).await;
    let silent = app_with_logout(&app, None).await;
    let unused = app_with_logout(&app, Some(receiver.url.clone())).await;
    let browser = Browser::new();
    sign_in(&app, &browser, &notified, "alice").await;
    sign_in(&app, &browser, &silent, "alice").await;

    let page = browser.get(&app.url("/logout")).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let response = browser.http.post(app.url("/logout")).form(&[("csrf_token", csrf)]).send().await.unwrap();
    assert_eq!(response.status(), 303);

    wait_for(&app, &notified, Duration::from_secs(10), delivered).await;
    let token = &receiver.received()[0].1;
    assert_eq!(verify_logout_token(&app, &notified, token).await["aud"], notified.client_id);
    // Only the apps this session signed in to, and only those with a back-channel URI.
    assert_eq!(app.store.list_logout_deliveries(None, 10).await.unwrap().len(), 1);
    assert!(app.store.list_logout_deliveries(Some(&unused.client_id), 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_delivery_is_retried_until_delivered() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let receiver = Receiver::start().await;
    receiver.answer_first(&[500]);
    let client = app_with_logout(&app, Some(receiver.url.clone())).await;
    let browser = Browser::new();
    let id_token = sign_in(&app, &browser, &client, "alice").await;

    browser.get(&logout_url(&app, &[("id_token_hint", &id_token)])).await;
    wait_for(&app, &client, Duration::from_secs(15), delivered).await;

    let row = &app.store.list_logout_deliveries(Some(&client.client_id), 10).await.unwrap()[0];
    assert_eq!(row.attempts, 2);
    assert_eq!(row.last_error, None);
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].1, received[1].1, "a fresh token is resent as it was");

    // The operator's view: `doorway logout deliveries`, never showing the token.
    let out = doorway(&app, &["logout", "deliveries", "--client-id", &client.client_id, "--json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["status"], "delivered");
    assert_eq!(list[0]["attempts"], 2);
    assert_eq!(list[0]["client_id"], client.client_id);
    assert!(!out.contains(&received[0].1));
    let text = doorway(&app, &["logout", "deliveries"]);
    assert!(text.contains(&format!("{}: 1 delivered, 0 pending, 0 failed", client.client_id)), "{text}");
}

/// Runs the `doorway` binary against the app's data directory; returns its standard output.
fn doorway(app: &TestApp, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_doorway"))
        .arg("--data-dir")
        .arg(app._dir.path())
        .args(args)
        .env_remove("DOORWAY_DATABASE_URL")
        .env_remove("DOORWAY_CONFIG")
        .env_remove("DOORWAY_DATA_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "doorway {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn a_late_delivery_is_re_signed_so_the_app_does_not_refuse_it_as_expired() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let receiver = Receiver::start().await;
    let client = app_with_logout(&app, Some(receiver.url.clone())).await;
    // A logout queued ten minutes ago whose app was down since: its token has expired.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"iss": app.issuer, "aud": client.client_id, "sub": alice.sub, "sid": "sid-1",
        "iat": now - 600, "exp": now - 480, "jti": "late-jti", "events": {EVENT: {}}});
    let stale =
        app.state.keys.current().signer(SigningAlg::Rs256).unwrap().sign_with_typ(&claims, "logout+jwt").unwrap();
    app.store.enqueue_logout("late", &client.client_id, &receiver.url, &stale, now - 600).await.unwrap();

    wait_for(&app, &client, Duration::from_secs(10), delivered).await;

    let (_, token) = receiver.received().pop().unwrap();
    let fresh = verify_logout_token(&app, &client, &token).await;
    assert!(fresh["exp"].as_i64().unwrap() > now);
    assert_eq!((&fresh["jti"], &fresh["sid"], &fresh["sub"]), (&json!("late-jti"), &json!("sid-1"), &json!(alice.sub)));
}

#[tokio::test]
async fn delivery_survives_a_restart_of_doorway_mid_retry() {
    let data = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    receiver.answer_always(500);
    let first = spawn_app_on(data.path(), |_| {}).await;
    let issuer = first.app.issuer.clone();
    first.app.create_user("alice").await;
    let client = app_with_logout(&first.app, Some(receiver.url.clone())).await;
    let browser = Browser::new();
    let id_token = sign_in(&first.app, &browser, &client, "alice").await;
    let sid = verify_id_token(&first.app, &client, &id_token).await["sid"].clone();
    browser.get(&logout_url(&first.app, &[("id_token_hint", &id_token)])).await;
    wait_for(&first.app, &client, Duration::from_secs(10), |rows| {
        rows.len() == 1 && rows[0].status == "pending" && rows[0].attempts >= 1
    })
    .await;
    first.stop().await;

    // The app recovers while Doorway is down; a new Doorway on the same data delivers.
    receiver.answer_always(200);
    let second = spawn_app_on(data.path(), |c| c.issuer = issuer).await;
    // A delivery cut off by the stop is retried once its 30 s lease runs out.
    wait_for(&second.app, &client, Duration::from_secs(45), delivered).await;

    let (_, token) = receiver.received().pop().unwrap();
    let claims = verify_logout_token(&second.app, &client, &token).await;
    assert_eq!(claims["sid"], sid);
    assert_eq!(claims["iss"], second.app.issuer);
    second.stop().await;
}

fn base64_url(bytes: &[u8]) -> String {
    use base64ct::Encoding;
    base64ct::Base64UrlUnpadded::encode_string(bytes)
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64ct::Encoding;
    let body = base64ct::Base64::encode_string(der);
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

#[tokio::test]
async fn a_password_change_tells_the_apps_of_every_ended_session() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let receiver = Receiver::start().await;
    let client = app_with_logout(&app, Some(receiver.url.clone())).await;
    let elsewhere = Browser::new();
    let id_token = sign_in(&app, &elsewhere, &client, "alice").await;
    let sid = verify_id_token(&app, &client, &id_token).await["sid"].as_str().unwrap().to_owned();

    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let page = browser.get(&app.url("/account")).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let changed = browser
        .http
        .post(app.url("/account/password"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("current_password", PASSWORD),
            ("new_password", "another long password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 303);
    wait_for(&app, &client, Duration::from_secs(10), delivered).await;
    let received = receiver.received();
    let claims = verify_logout_token(&app, &client, &received[0].1).await;
    assert_eq!(claims["sub"], alice.sub);
    assert_eq!(claims["sid"], sid);
}

// --- SSRF: where a developer's app can make Doorway send requests ----------------------------

/// A developer's app (owned by a person who is not an operator) whose stored back-channel URI
/// points at loopback — a row from before the rule, or one an attacker slipped past it.
async fn developer_app_with_logout(app: &TestApp, uri: &str) -> TestClient {
    let owner = app.create_user("dev").await;
    app.create_client_with("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact, |c| {
        c.owner_id = Some(owner.id.clone());
        c.post_logout_redirect_uris = vec![RedirectUri::parse(BYE).unwrap()];
        c.backchannel_logout_uri = Some(uri.to_owned());
    })
    .await
}

#[tokio::test]
async fn a_developers_app_never_gets_doorway_to_post_to_a_loopback_address() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let receiver = Receiver::start().await;
    let client = developer_app_with_logout(&app, &receiver.url).await;
    let browser = Browser::new();
    let id_token = sign_in(&app, &browser, &client, "alice").await;
    let url = logout_url(&app, &[("id_token_hint", &id_token), ("post_logout_redirect_uri", BYE)]);
    assert_eq!(browser.get(&url).await.status(), 303);
    wait_for(&app, &client, Duration::from_secs(10), |rows| rows.len() == 1 && rows[0].status == "failed").await;
    let row = &app.store.list_logout_deliveries(Some(&client.client_id), 10).await.unwrap()[0];
    let error = row.last_error.as_deref().unwrap();
    assert!(error.starts_with("refused: the back-channel logout URI must use https"), "{error}");
    assert!(error.contains("registered by a developer"), "{error}");
    assert_eq!(row.attempts, 1, "a refused target is not retried");
    assert!(receiver.received().is_empty(), "the loopback receiver saw nothing");
}

#[tokio::test]
async fn a_developers_app_with_an_https_ip_literal_gets_nothing_either() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = developer_app_with_logout(&app, "https://127.0.0.1:1/backchannel").await;
    let browser = Browser::new();
    let id_token = sign_in(&app, &browser, &client, "alice").await;
    let url = logout_url(&app, &[("id_token_hint", &id_token), ("post_logout_redirect_uri", BYE)]);
    assert_eq!(browser.get(&url).await.status(), 303);
    wait_for(&app, &client, Duration::from_secs(10), |rows| rows.len() == 1 && rows[0].status == "failed").await;
    let row = &app.store.list_logout_deliveries(Some(&client.client_id), 10).await.unwrap()[0];
    assert!(row.last_error.as_deref().unwrap().contains("not an IP address"), "{row:?}");
}

#[tokio::test]
async fn an_operators_app_still_gets_logout_tokens_on_loopback() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let receiver = Receiver::start().await;
    // Owned by an operator (registered in the console by an admin): private targets allowed.
    let root = app.create_user("root").await;
    app.store
        .set_user_flags(&root.id, &doorway_store::UserFlags { is_admin: Some(true), ..Default::default() }, 0)
        .await
        .unwrap();
    let client = app
        .create_client_with("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact, |c| {
            c.owner_id = Some(root.id.clone());
            c.post_logout_redirect_uris = vec![RedirectUri::parse(BYE).unwrap()];
            c.backchannel_logout_uri = Some(receiver.url.clone());
        })
        .await;
    let browser = Browser::new();
    let id_token = sign_in(&app, &browser, &client, "alice").await;
    let url = logout_url(&app, &[("id_token_hint", &id_token), ("post_logout_redirect_uri", BYE)]);
    assert_eq!(browser.get(&url).await.status(), 303);
    wait_for(&app, &client, Duration::from_secs(10), delivered).await;
    assert_eq!(receiver.received().len(), 1);
}
