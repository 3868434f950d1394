//! Doorway as operators run it: the built binary (`doorway serve`) as separate processes, each
//! on its own port and data directory, sharing one fresh PostgreSQL database — nodes behind a
//! load balancer. Used by the multi-node and operations tests.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use doorway_core::model::ClientKind;
use doorway_core::secrets::{hash_secret, random_hex_id, random_token};
use doorway_core::types::{Email, RedirectPolicy, RedirectUri, ScopeSet, Username};
use doorway_store::{NewClient, NewUser, PoolOptions, Store};
use reqwest::header::LOCATION;
use serde_json::Value;

use crate::helpers::{PASSWORD, PgDatabase, TestClient, VERIFIER, input_value, query_of};

/// The master key every node shares (sealed signing keys, refresh rotation, cookies).
pub const SECRET_KEY: &str = "multi-node-test-secret-key-0123456789abcdef";
/// The issuer the nodes share, as behind a load balancer; tests address each node directly.
pub const ISSUER: &str = "http://doorway.test";

/// One `doorway serve` process.
pub struct Node {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub metrics: Option<String>,
    child: Child,
    output: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

/// Starts `doorway serve` on port 0 with the shared secret key and `args`; does not wait.
pub fn spawn_node(
    database: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Child, Arc<Mutex<String>>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_doorway"));
    command
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["--database", database, "serve", "--listen", "127.0.0.1:0", "--issuer", ISSUER])
        .args(args)
        .env_remove("DOORWAY_DATABASE_URL")
        .env_remove("DOORWAY_CONFIG")
        .env_remove("DOORWAY_DATA_DIR")
        .env("DOORWAY_SECRET_KEY", SECRET_KEY)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let output = Arc::new(Mutex::new(String::new()));
    collect(child.stdout.take().unwrap(), output.clone());
    collect(child.stderr.take().unwrap(), output.clone());
    (child, output, dir)
}

/// Appends a pipe's lines to `into` until it closes.
fn collect(pipe: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut all = into.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
}

impl Node {
    pub fn start_with_env(database: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let (child, output, dir) = spawn_node(database, args, env);
        Self::ready(child, output, dir)
    }

    /// Waits until the process printed where it listens (it is serving from then on).
    pub fn ready(mut child: Child, output: Arc<Mutex<String>>, dir: tempfile::TempDir) -> Self {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = output.lock().unwrap().clone();
            if let Some(addr) = line_value(&text, "  listening: ") {
                let metrics = line_value(&text, "  metrics:   ").map(|m| m.trim_end_matches("/metrics").to_owned());
                return Self { base: format!("http://{addr}"), metrics, child, output, _dir: dir };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("doorway exited ({status}) before serving:\n{text}");
            }
            assert!(Instant::now() < deadline, "doorway did not start in time:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Everything the process printed and logged so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (as systemd and orchestrators stop a service).
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, returning its status (`None` after `timeout`).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn line_value(text: &str, prefix: &str) -> Option<String> {
    text.lines().find_map(|line| line.strip_prefix(prefix)).map(|v| v.trim().to_owned())
}

/// Two nodes started together on one fresh database, plus the store for fixtures.
pub struct Cluster {
    pub a: Node,
    pub b: Node,
    pub store: Store,
    pub db: PgDatabase,
}

impl Cluster {
    /// `None` when PostgreSQL is not configured. Both nodes start at the same moment on the
    /// empty database: migrations and first keys race, as two nodes of a new installation do.
    pub async fn start(test: &str, args: &[&str]) -> Option<Self> {
        let db = PgDatabase::create(test).await?;
        let (child_a, out_a, dir_a) = spawn_node(&db.url, args, &[]);
        let (child_b, out_b, dir_b) = spawn_node(&db.url, args, &[]);
        let (a, b) = tokio::task::spawn_blocking(move || {
            (Node::ready(child_a, out_a, dir_a), Node::ready(child_b, out_b, dir_b))
        })
        .await
        .unwrap();
        let store = Store::connect(&db.url, &PoolOptions::default()).await.unwrap();
        Some(Self { a, b, store, db })
    }

    pub async fn finish(self) {
        self.store.close().await;
        drop(self.a);
        drop(self.b);
        self.db.finish().await;
    }

    pub async fn create_user(&self, username: &str) -> doorway_core::model::User {
        create_user(&self.store, username).await
    }

    pub async fn create_client(&self) -> TestClient {
        create_client(&self.store).await
    }
}

pub async fn create_user(store: &Store, username: &str) -> doorway_core::model::User {
    let hash = doorway_server::password::hash_blocking(PASSWORD).unwrap();
    let user = NewUser {
        id: uuid::Uuid::new_v4().to_string(),
        sub: random_hex_id(),
        username: Username::parse(username).unwrap(),
        email: Email::parse(&format!("{username}@example.com")).unwrap(),
        email_verified: true,
        name: None,
        password_hash: hash,
        is_admin: false,
        is_pro: false,
        can_pay: false,
    };
    store.create_user(user, 0).await.unwrap()
}

/// A confidential app redirecting to `https://app.example/callback`.
pub async fn create_client(store: &Store) -> TestClient {
    let secret = random_token("dws_");
    let new = NewClient {
        client_id: uuid::Uuid::new_v4().to_string(),
        secret_hash: Some(hash_secret(&secret)),
        kind: ClientKind::Confidential,
        name: "Cluster App".into(),
        homepage_url: None,
        logo_uri: None,
        redirect_uris: vec![RedirectUri::parse("https://app.example/callback").unwrap()],
        redirect_policy: RedirectPolicy::Exact,
        scopes: ScopeSet::parse("openid profile email").unwrap(),
        require_pkce: false,
        id_token_alg: "RS256".into(),
        owner_id: None,
        grant_types: Default::default(),
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
    };
    let client = store.create_client(new, 0).await.unwrap();
    TestClient {
        client_id: client.client_id,
        secret: Some(secret),
        redirect_uri: "https://app.example/callback".into(),
    }
}

/// A cookie-keeping client that does not follow redirects. Cookies are per host, not per port:
/// a session made on one node is presented to the other, as behind a load balancer.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Where a Location on `node` points: the shared issuer and relative paths map to that node.
fn on_node(node: &Node, location: &str) -> String {
    if let Some(rest) = location.strip_prefix(ISSUER) {
        node.url(rest)
    } else if location.starts_with('/') {
        node.url(location)
    } else {
        location.to_owned()
    }
}

fn location(response: &reqwest::Response) -> String {
    response.headers().get(LOCATION).unwrap().to_str().unwrap().to_owned()
}

/// An authorization request for `client` with PKCE; `extra` adds parameters.
pub fn authorize_url(node: &Node, client: &TestClient, extra: &[(&str, &str)]) -> String {
    let challenge =
        doorway_core::types::CodeChallenge::for_verifier(&doorway_core::types::CodeVerifier::parse(VERIFIER).unwrap());
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client.client_id.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("scope", "openid profile"),
        ("state", "st"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    node.url(&format!("/oauth/authorize?{query}"))
}

/// Follows an authorization request on `node` through login (as `username`) and consent until
/// Doorway redirects to the client; returns the client's callback URL.
pub async fn authorize(http: &reqwest::Client, node: &Node, url: &str, username: &str) -> String {
    let mut response = http.get(url).send().await.unwrap();
    for _ in 0..8 {
        let status = response.status().as_u16();
        if status == 303 || status == 302 {
            let next = on_node(node, &location(&response));
            if !next.starts_with(&node.base) {
                return next;
            }
            response = http.get(&next).send().await.unwrap();
            continue;
        }
        assert_eq!(status, 200, "unexpected status {status}");
        let page_url = response.url().to_string();
        let page = response.text().await.unwrap();
        let csrf = input_value(&page, "csrf_token").expect("a form");
        let interaction = input_value(&page, "interaction").unwrap_or_default();
        response = if page_url.contains("/login") {
            let form =
                [("username", username), ("password", PASSWORD), ("csrf_token", &csrf), ("interaction", &interaction)];
            http.post(node.url("/login")).form(&form).send().await.unwrap()
        } else {
            let form = [("decision", "allow"), ("csrf_token", &csrf), ("interaction", &interaction)];
            http.post(node.url("/oauth/consent")).form(&form).send().await.unwrap()
        };
    }
    panic!("the authorization flow did not reach the client");
}

/// The code of a callback URL (asserting `iss` is the shared issuer).
pub fn code_of(callback: &str) -> String {
    let query = query_of(callback);
    assert_eq!(query.get("iss").map(String::as_str), Some(ISSUER), "{callback}");
    query.get("code").cloned().unwrap_or_else(|| panic!("no code in {callback}"))
}

/// Redeems a code on `node`.
pub async fn exchange(node: &Node, client: &TestClient, code: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(node.url("/oauth/token"))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
}

/// Refreshes on `node`.
pub async fn refresh(node: &Node, client: &TestClient, refresh_token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(node.url("/oauth/token"))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
        .send()
        .await
        .unwrap()
}

/// The kids a node's JWKS publishes.
pub async fn published_kids(node: &Node) -> Vec<String> {
    let jwks: Value = reqwest::get(node.url("/oauth/jwks")).await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

/// The `kid` in a JWT's header.
pub fn kid_of(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}
