//! `spawn_app()` and a browser-like client that drives login and consent through the HTML forms.

use std::collections::HashMap;

use doorway_core::model::ClientKind;
use doorway_core::secrets::{hash_secret, random_hex_id};
use doorway_core::types::{CodeChallenge, CodeVerifier, Email, RedirectPolicy, RedirectUri, ScopeSet, Username};
use doorway_server::config::{Config, GlobalArgs, ServeArgs};
use doorway_server::startup::Application;
use doorway_store::{NewClient, NewUser, Store};
use reqwest::header::LOCATION;
use reqwest::redirect::Policy;
use serde_json::Value;

pub const PASSWORD: &str = "correct horse battery staple";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub struct TestApp {
    pub issuer: String,
    /// Where the server listens (`http://127.0.0.1:PORT`): the same as the issuer unless a test
    /// configured another issuer.
    pub address: String,
    pub store: Store,
    /// The running server's state, to drive background work (key maintenance) at a chosen time.
    pub state: doorway_server::state::AppState,
    pub _dir: tempfile::TempDir,
}

/// A registered app as the tests use it.
#[derive(Clone, Debug)]
pub struct TestClient {
    pub client_id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    doorway_server::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let global = GlobalArgs { data_dir: Some(dir.path().to_owned()), database: None, config: None };
    let serve = ServeArgs { issuer: Some(format!("http://127.0.0.1:{port}")), ..ServeArgs::default() };
    let mut config = Config::resolve(&global, &serve).unwrap();
    config.listen = listener.local_addr().unwrap();
    adjust(&mut config);
    let issuer = config.issuer.clone();
    let app = Application::build_on(config, listener).await.unwrap();
    let store = app.state().store.clone();
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp { issuer, address: format!("http://127.0.0.1:{port}"), store, state, _dir: dir }
}

/// A Doorway a test can stop, serving a data directory the test keeps: stopping it and starting
/// another on the same directory is a restart (same database, same keys).
pub struct StoppableApp {
    /// Its `_dir` is an unused placeholder: the data directory belongs to the caller.
    pub app: TestApp,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<()>,
}

pub async fn spawn_app_on(data_dir: &std::path::Path, adjust: impl FnOnce(&mut Config)) -> StoppableApp {
    doorway_server::install_crypto();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let global = GlobalArgs { data_dir: Some(data_dir.to_owned()), database: None, config: None };
    let serve = ServeArgs { issuer: Some(format!("http://127.0.0.1:{port}")), ..ServeArgs::default() };
    let mut config = Config::resolve(&global, &serve).unwrap();
    config.listen = listener.local_addr().unwrap();
    adjust(&mut config);
    let issuer = config.issuer.clone();
    let app = Application::build_on(config, listener).await.unwrap();
    let store = app.state().store.clone();
    let state = app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        app.run_until(async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    let app = TestApp {
        issuer,
        address: format!("http://127.0.0.1:{port}"),
        store,
        state,
        _dir: tempfile::tempdir().unwrap(),
    };
    StoppableApp { app, stop, served }
}

impl StoppableApp {
    /// Stops serving (in-flight requests finish, background work ends) and waits until it has.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.served.await.unwrap();
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// A URL on the listening address, for tests whose issuer is not where the server listens.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn create_user(&self, username: &str) -> doorway_core::model::User {
        let hash = doorway_server::password::hash_blocking(PASSWORD).unwrap();
        self.store
            .create_user(
                NewUser {
                    id: uuid::Uuid::new_v4().to_string(),
                    sub: random_hex_id(),
                    username: Username::parse(username).unwrap(),
                    email: Email::parse(&format!("{username}@example.com")).unwrap(),
                    email_verified: true,
                    name: Some(format!("{username} Example")),
                    password_hash: hash,
                    is_admin: false,
                    is_pro: true,
                    can_pay: false,
                },
                0,
            )
            .await
            .unwrap()
    }

    pub async fn create_client(&self, redirect_uri: &str, kind: ClientKind, policy: RedirectPolicy) -> TestClient {
        self.create_client_with(redirect_uri, kind, policy, |_| {}).await
    }

    pub async fn create_client_with(
        &self,
        redirect_uri: &str,
        kind: ClientKind,
        policy: RedirectPolicy,
        adjust: impl FnOnce(&mut NewClient),
    ) -> TestClient {
        let secret = (kind == ClientKind::Confidential).then(|| doorway_core::secrets::random_token("dws_"));
        let mut new = NewClient {
            client_id: uuid::Uuid::new_v4().to_string(),
            secret_hash: secret.as_deref().map(hash_secret),
            kind,
            name: "Test App".into(),
            homepage_url: Some("https://app.example".into()),
            logo_uri: None,
            redirect_uris: vec![RedirectUri::parse(redirect_uri).unwrap()],
            redirect_policy: policy,
            scopes: ScopeSet::parse("openid profile email read-billing").unwrap(),
            require_pkce: false,
            id_token_alg: "RS256".into(),
            owner_id: None,
            grant_types: Default::default(),
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
        };
        adjust(&mut new);
        let client = self.store.create_client(new, 0).await.unwrap();
        TestClient { client_id: client.client_id, secret, redirect_uri: redirect_uri.to_owned() }
    }

    /// A confidential app redirecting to `https://app.example/callback`.
    pub async fn confidential_client(&self) -> TestClient {
        self.create_client("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact).await
    }

    pub async fn discovery(&self) -> Value {
        reqwest::get(self.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap()
    }
}

/// A cookie-keeping client that never follows redirects.
pub struct Browser {
    pub http: reqwest::Client,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

/// The query parameters of a URL.
pub fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

/// The `value` of the hidden or text input `name` in an HTML page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&#x2f;", "/").replace("&amp;", "&"))
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers().get(LOCATION).expect("a Location header").to_str().unwrap().to_owned()
}

impl Browser {
    pub fn new() -> Self {
        Self { http: reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap() }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    /// Resolves a Location that may be relative to the app.
    fn absolute(app: &TestApp, location: &str) -> String {
        if location.starts_with('/') { app.url(location) } else { location.to_owned() }
    }

    /// Signs in through the login page (no pending request).
    pub async fn login(&self, app: &TestApp, username: &str) {
        let page = self.get(&app.url("/login")).await.text().await.unwrap();
        let csrf = input_value(&page, "csrf_token").unwrap();
        let response = self
            .http
            .post(app.url("/login"))
            .form(&[("username", username), ("password", PASSWORD), ("csrf_token", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "login should succeed");
    }

    /// Follows an authorization request through login (as `username`) and consent (`allow` or
    /// `deny`) until Doorway redirects to the client; returns that final Location.
    pub async fn authorize(&self, app: &TestApp, authorize_url: &str, username: &str, decision: &str) -> String {
        let response = self.get(authorize_url).await;
        self.drive(app, response, username, decision).await
    }

    /// Continues from any response of the authorization endpoint (GET or POST) through login
    /// and consent until Doorway redirects to the client; returns that final Location.
    pub async fn drive(
        &self,
        app: &TestApp,
        mut response: reqwest::Response,
        username: &str,
        decision: &str,
    ) -> String {
        for _ in 0..6 {
            let status = response.status().as_u16();
            if status == 303 || status == 302 {
                let next = Self::absolute(app, &location(&response));
                if !next.starts_with(&app.issuer) {
                    return next;
                }
                response = self.get(&next).await;
                continue;
            }
            assert_eq!(status, 200, "unexpected status {status}");
            let url = response.url().to_string();
            let page = response.text().await.unwrap();
            let csrf = input_value(&page, "csrf_token").expect("a form with csrf_token");
            let interaction = input_value(&page, "interaction").unwrap_or_default();
            response = if url.contains("/login") {
                self.http
                    .post(app.url("/login"))
                    .form(&[
                        ("username", username),
                        ("password", PASSWORD),
                        ("csrf_token", &csrf),
                        ("interaction", &interaction),
                    ])
                    .send()
                    .await
                    .unwrap()
            } else {
                assert!(page.contains("name=\"decision\""), "expected the consent page, got {page}");
                self.http
                    .post(app.url("/oauth/consent"))
                    .form(&[("decision", decision), ("csrf_token", &csrf), ("interaction", &interaction)])
                    .send()
                    .await
                    .unwrap()
            };
        }
        panic!("the authorization flow did not reach the client");
    }

    /// Follows an authorization request through login (if needed) up to the consent page and
    /// returns it without answering.
    pub async fn consent_page(&self, app: &TestApp, authorize_url: &str, username: &str) -> Form {
        let mut response = self.get(authorize_url).await;
        for _ in 0..4 {
            let status = response.status().as_u16();
            if status == 303 {
                let next = Self::absolute(app, &location(&response));
                assert!(next.starts_with(&app.issuer), "left Doorway before the consent page: {next}");
                response = self.get(&next).await;
                continue;
            }
            assert_eq!(status, 200, "unexpected status {status}");
            let url = response.url().to_string();
            let page = Form::new(response.text().await.unwrap());
            if !url.contains("/login") {
                assert!(page.html.contains("name=\"decision\""), "expected the consent page, got {}", page.html);
                return page;
            }
            response = self
                .http
                .post(app.url("/login"))
                .form(&[
                    ("username", username),
                    ("password", PASSWORD),
                    ("csrf_token", &page.csrf_token),
                    ("interaction", &page.interaction),
                ])
                .send()
                .await
                .unwrap();
        }
        panic!("the consent page was not reached");
    }

    /// Posts the consent form (its CSRF token and interaction) with `decision`.
    pub async fn answer_consent(&self, app: &TestApp, form: &Form, decision: &str) -> reqwest::Response {
        self.http
            .post(app.url("/oauth/consent"))
            .form(&[("decision", decision), ("csrf_token", &form.csrf_token), ("interaction", &form.interaction)])
            .send()
            .await
            .unwrap()
    }
}

/// A page with a form: its HTML, CSRF token and pending interaction (empty if none).
#[derive(Debug, Clone)]
pub struct Form {
    pub html: String,
    pub csrf_token: String,
    pub interaction: String,
}

impl Form {
    pub fn new(html: String) -> Self {
        Self {
            csrf_token: input_value(&html, "csrf_token").expect("a form with csrf_token"),
            interaction: input_value(&html, "interaction").unwrap_or_default(),
            html,
        }
    }
}

/// An authorization URL with the usual parameters; `extra` overrides or adds.
pub fn authorize_url(app: &TestApp, client: &TestClient, extra: &[(&str, &str)]) -> String {
    let challenge = CodeChallenge::for_verifier(&CodeVerifier::parse(VERIFIER).unwrap());
    let mut params: Vec<(String, String)> = vec![
        ("response_type".into(), "code".into()),
        ("client_id".into(), client.client_id.clone()),
        ("redirect_uri".into(), client.redirect_uri.clone()),
        ("scope".into(), "openid profile email".into()),
        ("state".into(), "xyz-state".into()),
        ("nonce".into(), "n-0S6_WzA2Mj".into()),
        ("code_challenge".into(), challenge.as_str().to_owned()),
        ("code_challenge_method".into(), "S256".into()),
    ];
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        if !v.is_empty() {
            params.push(((*k).to_owned(), (*v).to_owned()));
        }
    }
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    app.url(&format!("/oauth/authorize?{query}"))
}

/// Runs the browser part and returns the code (asserting state and iss came back).
pub async fn obtain_code(app: &TestApp, browser: &Browser, client: &TestClient, extra: &[(&str, &str)]) -> String {
    let url = authorize_url(app, client, extra);
    let back = browser.authorize(app, &url, "alice", "allow").await;
    assert!(back.starts_with(&client.redirect_uri), "redirected to {back}");
    let query = query_of(&back);
    assert_eq!(query.get("iss"), Some(&app.issuer));
    query.get("code").cloned().unwrap_or_else(|| panic!("no code in {back}"))
}

/// Exchanges a code with client_secret_basic and the standard verifier.
pub async fn exchange(app: &TestApp, client: &TestClient, code: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(app.url("/oauth/token"));
    if let Some(secret) = &client.secret {
        request = request.basic_auth(&client.client_id, Some(secret));
    }
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("code_verifier", VERIFIER),
    ];
    if client.secret.is_none() {
        form.push(("client_id", client.client_id.as_str()));
    }
    request.form(&form).send().await.unwrap()
}

/// Verifies an ID token against the JWKS, as a relying party would, returning its claims.
pub async fn verify_id_token(app: &TestApp, client: &TestClient, id_token: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(app.url("/oauth/jwks")).await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[&client.client_id]);
    validation.set_issuer(&[&app.issuer]);
    jsonwebtoken::decode::<Value>(id_token, &key, &validation).unwrap().claims
}

/// An authorization-endpoint error sent back to the client: asserts a 303 (never 307/308) to
/// the client's redirect URI and returns the Location's query.
pub fn redirected_error(response: &reqwest::Response, client: &TestClient) -> HashMap<String, String> {
    assert_eq!(response.status(), 303, "errors go back with 303 See Other");
    let back = location(response);
    assert!(back.starts_with(&client.redirect_uri), "redirected to {back}, not to {}", client.redirect_uri);
    query_of(&back)
}

/// Asserts an HTML error page with `status` and no redirect, returning its body.
pub async fn error_page(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status(), status);
    assert!(response.headers().get(LOCATION).is_none(), "an error page must not redirect");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    response.text().await.unwrap()
}

/// The value of cookie `name` in a response's `Set-Cookie` headers, with its attributes.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// Runs the code flow for `scope` as alice (who must exist) and returns the token response.
pub async fn tokens_for(app: &TestApp, client: &TestClient, scope: &str) -> Value {
    let code = obtain_code(app, &Browser::new(), client, &[("scope", scope)]).await;
    let response = exchange(app, client, &code).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A database of its own on the PostgreSQL server in `DOORWAY_TEST_POSTGRES` (scripts/test sets
/// it), dropped by [`PgDatabase::finish`].
pub struct PgDatabase {
    pub url: String,
    server: String,
    name: String,
}

impl PgDatabase {
    /// `None` (with a notice) when no PostgreSQL server is configured for tests.
    pub async fn create(test: &str) -> Option<Self> {
        let Ok(server) = std::env::var("DOORWAY_TEST_POSTGRES") else {
            eprintln!("skipping {test}: DOORWAY_TEST_POSTGRES is not set (scripts/test sets it)");
            return None;
        };
        let server = server.trim_end_matches('/').to_owned();
        let name = format!("doorway_test_{}", random_hex_id());
        admin_sql(&server, &format!("CREATE DATABASE {name}")).await;
        Some(Self { url: format!("{server}/{name}"), server, name })
    }

    pub async fn finish(self) {
        admin_sql(&self.server, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await;
    }
}

async fn admin_sql(server: &str, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres")).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}
