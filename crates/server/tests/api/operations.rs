//! What operators rely on: liveness and readiness, metrics on their own listener, request ids,
//! a database outage answered with 503 and recovered from without a restart.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use doorway_server::config::{Config, GlobalArgs, ServeArgs};
use doorway_server::startup::Application;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::helpers::*;

/// Like `spawn_app_with`, returning where `/metrics` is served too.
async fn spawn_with_metrics(adjust: impl FnOnce(&mut Config)) -> (TestApp, String) {
    doorway_server::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let global = GlobalArgs { data_dir: Some(dir.path().to_owned()), database: None, config: None };
    let serve = ServeArgs { issuer: Some(format!("http://127.0.0.1:{port}")), ..ServeArgs::default() };
    let mut config = Config::resolve(&global, &serve).unwrap();
    config.listen = listener.local_addr().unwrap();
    config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    adjust(&mut config);
    let issuer = config.issuer.clone();
    let app = Application::build_on(config, listener).await.unwrap();
    let metrics = format!("http://{}/metrics", app.metrics_addr().unwrap());
    let (store, state) = (app.state().store.clone(), app.state().clone());
    tokio::spawn(app.run_until_stopped());
    (TestApp { issuer, address: format!("http://127.0.0.1:{port}"), store, state, _dir: dir }, metrics)
}

#[tokio::test]
async fn healthz_and_readyz_answer_on_the_public_listener() {
    let app = spawn_app().await;
    let health = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.headers()["cache-control"], "no-store");
    assert_eq!(ready.json::<Value>().await.unwrap(), serde_json::json!({ "status": "ready" }));
}

#[tokio::test]
async fn readyz_refuses_a_database_missing_a_migration() {
    let app = spawn_app().await;
    let db = format!("sqlite://{}", app._dir.path().join("doorway.db").display());
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let latest: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations").fetch_one(&pool).await.unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1").bind(latest).execute(&pool).await.unwrap();
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        serde_json::json!({ "status": "migrations_pending", "pending": [latest] })
    );
    assert_eq!(reqwest::get(app.url("/healthz")).await.unwrap().status(), 200, "alive all the same");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_callers_id_is_kept() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let generated = http.get(app.url("/healthz")).send().await.unwrap();
    let id = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    // A per-process random prefix and a counter: 16 hex digits, '-', hex.
    let fresh = |id: &str| {
        id.split_once('-').is_some_and(|(prefix, n)| {
            prefix.len() == 16
                && prefix.bytes().all(|b| b.is_ascii_hexdigit())
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_hexdigit())
        })
    };
    assert!(fresh(&id), "a fresh id: {id}");
    let next = http.get(app.url("/healthz")).send().await.unwrap();
    assert_ne!(next.headers()["x-request-id"].to_str().unwrap(), id, "each request its own");

    let kept = http.get(app.url("/oauth/jwks")).header("x-request-id", "lb-7f3a:42").send().await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "lb-7f3a:42");

    let replaced = http.get(app.url("/healthz")).header("x-request-id", "a b<script>").send().await.unwrap();
    let replaced_id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert!(fresh(replaced_id), "an unsafe id is replaced, not echoed: {replaced_id}");
    let long = http.get(app.url("/healthz")).header("x-request-id", "y".repeat(200)).send().await.unwrap();
    assert_ne!(long.headers()["x-request-id"].to_str().unwrap(), "y".repeat(200));
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_by_route_never_by_url() {
    let (app, metrics) = spawn_with_metrics(|_| {}).await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    tokens_for(&app, &client, "openid profile").await;
    // An error by code, a failed sign-in, and paths that must not become labels.
    let bad = exchange(&app, &client, "not-a-code").await;
    assert_eq!(bad.status(), 400);
    let browser = Browser::new();
    let page = browser.get(&app.url("/login")).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let failed = browser
        .http
        .post(app.url("/login"))
        .form(&[("username", "alice"), ("password", "wrong password"), ("csrf_token", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 400);
    reqwest::get(app.url("/alice?secret-ish=leak-me-not")).await.unwrap();

    assert_eq!(reqwest::get(app.url("/metrics")).await.unwrap().status(), 404, "not on the public listener");
    let response = reqwest::get(&metrics).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = response.text().await.unwrap();
    for expected in [
        r#"doorway_http_requests_total{route="/oauth/token",method="POST",status="400"}"#,
        r#"doorway_http_requests_total{route="/{username}",method="GET",status="200"}"#,
        r#"doorway_http_request_duration_seconds_bucket{route="/oauth/token",method="POST",le="0.005"}"#,
        r#"doorway_tokens_issued_total{grant="authorization_code"}"#,
        r#"doorway_oauth_errors_total{error="invalid_grant"}"#,
        r#"doorway_sign_ins_total{result="failure"}"#,
        r#"doorway_sign_ins_total{result="success"}"#,
        r#"doorway_db_pool_connections{state="in_use"}"#,
        // SQLite: 8 readers and the writer.
        "doorway_db_pool_max_connections 9",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    assert!(!text.contains("leak-me-not") && !text.contains("route=\"/alice\""), "raw URLs never become labels");
}

/// A TCP proxy to PostgreSQL that a test can take down and bring back on the same port: a
/// database outage without touching the machine's PostgreSQL server.
struct Proxy {
    addr: std::net::SocketAddr,
    upstream: String,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Self { addr: listener.local_addr().unwrap(), upstream: upstream.to_owned(), tasks: Arc::default() };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, tasks) = (self.upstream.clone(), self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(pipe);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// The outage: the port refuses connections and every open connection drops.
    fn stop(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// The database is back, at the same address.
    async fn restart(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(err) => panic!("cannot rebind the proxy: {err}"),
            }
        };
        self.serve(listener);
    }
}

#[tokio::test]
async fn a_database_outage_answers_503_and_doorway_recovers_when_it_returns() {
    let Some(db) = PgDatabase::create("the outage test").await else { return };
    let server = url::Url::parse(&db.url).unwrap();
    let upstream = format!("{}:{}", server.host_str().unwrap(), server.port().unwrap_or(5432));
    let proxy = Proxy::start(&upstream).await;
    let mut through_proxy = server.clone();
    through_proxy.set_port(Some(proxy.addr.port())).unwrap();
    let database_url = through_proxy.to_string();
    let app = spawn_app_with(|config| {
        config.database_url = database_url;
        config.db_acquire_timeout = 1;
    })
    .await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let tokens = tokens_for(&app, &client, "openid profile").await;
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let refresh = || {
        reqwest::Client::new()
            .post(app.url("/oauth/token"))
            .basic_auth(&client.client_id, client.secret.as_deref())
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
            .send()
    };

    proxy.stop();
    let down = refresh().await.unwrap();
    assert_eq!(down.status(), 503);
    assert_eq!(down.json::<Value>().await.unwrap()["error"], "temporarily_unavailable");
    let userinfo = reqwest::Client::new()
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 503);
    let page = error_page(browser.get(&app.url("/account")).await, 503).await;
    assert!(page.contains("Temporarily unavailable"), "{page}");
    assert_eq!(reqwest::get(app.url("/readyz")).await.unwrap().status(), 503);
    assert_eq!(reqwest::get(app.url("/healthz")).await.unwrap().status(), 200);

    proxy.restart().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while reqwest::get(app.url("/readyz")).await.unwrap().status() != 200 {
        assert!(Instant::now() < deadline, "Doorway did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(refresh().await.unwrap().status(), 200, "the same process serves again");
    assert_eq!(browser.get(&app.url("/account")).await.status(), 200, "sessions survived the outage");
    app.store.close().await;
    db.finish().await;
}
