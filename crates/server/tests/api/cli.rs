//! The `doorway` command line, run as operators run it: the built binary against the data
//! directory of a running server, whose HTTP answers show that the change took effect.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use doorway_core::jose::SigningAlg;
use doorway_core::secrets::hash_secret;
use serde_json::Value;

use crate::helpers::*;

/// Runs `doorway --data-dir DIR ARGS…` with `stdin`, against the app's database.
fn run(app: &TestApp, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_doorway"));
    command
        .arg("--data-dir")
        .arg(app._dir.path())
        .args(args)
        // The server under test ignores these; so must the CLI that shares its database.
        .env_remove("DOORWAY_DATABASE_URL")
        .env_remove("DOORWAY_CONFIG")
        .env_remove("DOORWAY_DATA_DIR")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

/// Runs a command that must succeed and parses its `--json` output.
fn json(app: &TestApp, args: &[&str]) -> Value {
    let out = run(app, args, None, &[]);
    assert!(out.status.success(), "doorway {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Runs a command that must fail and returns its error output.
fn refused(app: &TestApp, args: &[&str]) -> String {
    let out = run(app, args, None, &[]);
    assert!(!out.status.success(), "doorway {args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[tokio::test]
async fn apps_create_update_and_list_round_trip_every_setting() {
    let app = spawn_app().await;
    let created = json(
        &app,
        &[
            "apps",
            "create",
            "--name",
            "Chat",
            "--redirect-uri",
            "https://chat.example/callback",
            "--grant-types",
            "authorization_code refresh_token client_credentials device_code",
            "--post-logout-redirect-uri",
            "https://chat.example/bye",
            "--post-logout-redirect-uri",
            "https://chat.example/again",
            "--backchannel-logout-uri",
            "https://chat.example/backchannel",
            "--id-token-alg",
            "PS256",
            "--json",
        ],
    );
    let id = str_of(&created, "client_id").to_owned();
    assert!(str_of(&created, "client_secret").starts_with("dws_"));
    assert_eq!(created["kind"], "confidential");
    assert_eq!(created["id_token_alg"], "PS256");
    assert_eq!(
        created["grant_types"],
        "authorization_code refresh_token client_credentials urn:ietf:params:oauth:grant-type:device_code"
    );
    assert_eq!(
        created["post_logout_redirect_uris"],
        serde_json::json!(["https://chat.example/bye", "https://chat.example/again"])
    );
    assert_eq!(created["backchannel_logout_uri"], "https://chat.example/backchannel");

    let updated = json(
        &app,
        &[
            "apps",
            "update",
            &id,
            "--name",
            "Chat UI",
            "--redirect-uri",
            "https://chat.example/cb2",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--scopes",
            "openid profile",
            "--homepage",
            "https://chat.example",
            "--redirect-policy",
            "origin",
            "--require-pkce",
            "true",
            "--id-token-alg",
            "EdDSA",
            "--grant-types",
            "authorization_code",
            "--post-logout-redirect-uri",
            "https://chat.example/signed-out",
            "--backchannel-logout-uri",
            "",
            "--json",
        ],
    );
    assert_eq!(updated["client_id"], id.as_str());
    assert_eq!(updated["name"], "Chat UI");
    assert_eq!(updated["redirect_uris"], serde_json::json!(["https://chat.example/cb2", "http://127.0.0.1/cb"]));
    assert_eq!(updated["scopes"], "openid profile");
    assert_eq!(updated["homepage_url"], "https://chat.example");
    assert_eq!(updated["redirect_policy"], "origin");
    assert_eq!(updated["require_pkce"], true);
    assert_eq!(updated["id_token_alg"], "EdDSA");
    assert_eq!(updated["grant_types"], "authorization_code");
    assert_eq!(updated["post_logout_redirect_uris"], serde_json::json!(["https://chat.example/signed-out"]));
    assert_eq!(updated["backchannel_logout_uri"], Value::Null, "an empty value clears it");
    assert!(updated.get("client_secret").is_none() && updated.get("secret_hash").is_none());

    // Options not given stay as they were.
    let again = json(&app, &["apps", "update", &id, "--require-pkce", "false", "--json"]);
    assert_eq!(again["require_pkce"], false);
    assert_eq!(again["name"], "Chat UI");
    assert_eq!(again["id_token_alg"], "EdDSA");

    let list = json(&app, &["apps", "list", "--json"]);
    let listed = list.as_array().unwrap().iter().find(|c| c["client_id"] == id.as_str()).unwrap();
    assert_eq!(listed, &again);
    let stored = app.store.find_client(&id).await.unwrap().unwrap();
    assert_eq!(stored.name, "Chat UI");
    assert_eq!(stored.secret_hash, Some(hash_secret(str_of(&created, "client_secret"))), "update keeps the secret");
}

#[tokio::test]
async fn apps_use_the_consoles_url_and_name_rules() {
    let app = spawn_app().await;
    let base = ["apps", "create", "--name", "X", "--redirect-uri", "https://x.example/cb"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> { base.iter().chain(extra).copied().collect() };
    for (extra, expected) in [
        (&["--homepage", "http://x.example"][..], "--homepage http://x.example must use https"),
        (&["--logo-uri", "http://x.example/logo.png"][..], "--logo-uri http://x.example/logo.png must use https"),
        (&["--logo-uri", "http://127.0.0.1/logo.png"][..], "shown on the consent page"),
        (&["--homepage", "javascript:alert(1)"][..], "must not be a javascript: URL"),
        (&["--redirect-uri", "https://x.example/*"][..], "must not contain wildcards"),
        (&["--post-logout-redirect-uri", "https://x.example/bye/*"][..], "must not contain wildcards"),
    ] {
        let err = refused(&app, &with(extra));
        assert!(err.contains(expected), "{extra:?}: {err}");
    }
    for name in ["Bank\u{202E}ppa", "Zero\u{200B}Width", "\u{FEFF}Bom", "Iso\u{2066}late"] {
        let err = refused(&app, &["apps", "create", "--name", name, "--redirect-uri", "https://x.example/cb"]);
        assert!(err.contains("--name: The name must not contain invisible formatting characters"), "{err}");
    }
    assert!(app.store.list_clients().await.unwrap().is_empty(), "nothing was registered");
    // The operator's own network stays reachable: http on loopback for the back-channel URI.
    json(&app, &with(&["--backchannel-logout-uri", "http://127.0.0.1:8080/logout", "--json"]));
}

#[tokio::test]
async fn apps_create_and_update_refuse_invalid_settings() {
    let app = spawn_app().await;
    let base = ["apps", "create", "--name", "X", "--redirect-uri", "https://x.example/cb"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> { base.iter().chain(extra).copied().collect() };

    let err = refused(&app, &with(&["--public", "--grant-types", "authorization_code client_credentials"]));
    assert!(err.contains("client_credentials needs a confidential app"), "{err}");
    let err = refused(&app, &with(&["--grant-types", "implicit"]));
    assert!(err.contains("unknown grant type 'implicit'"), "{err}");
    let err = refused(&app, &with(&["--backchannel-logout-uri", "http://rp.example/logout"]));
    assert!(err.contains("--backchannel-logout-uri"), "{err}");
    refused(&app, &with(&["--backchannel-logout-uri", "https://rp.example/logout#frag"]));
    let err = refused(&app, &with(&["--post-logout-redirect-uri", "javascript:alert(1)"]));
    assert!(err.contains("--post-logout-redirect-uri"), "{err}");
    let err = refused(&app, &with(&["--id-token-alg", "HS256"]));
    assert!(err.contains("--id-token-alg"), "{err}");
    assert!(app.store.list_clients().await.unwrap().is_empty(), "nothing was registered");

    // Loopback may use http: native apps and local development.
    json(&app, &with(&["--backchannel-logout-uri", "http://127.0.0.1:8080/logout", "--json"]));

    let public = json(&app, &with(&["--public", "--json"]));
    let id = str_of(&public, "client_id");
    let err = refused(&app, &["apps", "update", id, "--grant-types", "client_credentials"]);
    assert!(err.contains("client_credentials needs a confidential app"), "{err}");
    let err = refused(&app, &["apps", "update", "no-such-app", "--name", "Y"]);
    assert!(err.contains("no app with client_id no-such-app"), "{err}");
    let err = refused(&app, &["apps", "rotate-secret", id]);
    assert!(err.contains("public"), "{err}");
}

async fn client_credentials(app: &TestApp, client_id: &str, secret: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/oauth/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_rotated_client_secret_replaces_the_old_one_within_the_client_cache_ttl() {
    let app = spawn_app().await;
    let created = json(
        &app,
        &[
            "apps",
            "create",
            "--name",
            "Worker",
            "--redirect-uri",
            "https://worker.example/cb",
            "--grant-types",
            "client_credentials",
            "--json",
        ],
    );
    let id = str_of(&created, "client_id");
    let old = str_of(&created, "client_secret");
    assert_eq!(client_credentials(&app, id, old).await.status(), 200);

    let rotated = json(&app, &["apps", "rotate-secret", id, "--json"]);
    let new = str_of(&rotated, "client_secret");
    assert_ne!(new, old);

    // The CLI is another process: the server sees the change once its cached copy of the app
    // expires (doorway_store::CLIENT_CACHE_TTL), and never later.
    tokio::time::sleep(doorway_store::CLIENT_CACHE_TTL + std::time::Duration::from_millis(100)).await;
    let response = client_credentials(&app, id, old).await;
    assert_eq!(response.status(), 401, "the old secret no longer works");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(client_credentials(&app, id, new).await.status(), 200);
}

#[tokio::test]
async fn keys_rotate_publishes_next_keys_and_now_makes_them_sign() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let active = |keys: &Value, alg: &str| -> Vec<String> {
        keys.as_array()
            .unwrap()
            .iter()
            .filter(|k| k["alg"] == alg && k["status"] == "active")
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let listed = json(&app, &["keys", "list", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), SigningAlg::ALL.len(), "one active key per algorithm");
    let old = active(&listed, "RS256")[0].clone();

    let published = json(&app, &["keys", "rotate", "--json"]);
    let published = published.as_array().unwrap();
    assert_eq!(published.len(), SigningAlg::ALL.len(), "one next key per algorithm by default");
    assert!(published.iter().all(|k| k["status"] == "next" && k["activated_at"].is_null()));

    let rotated = json(&app, &["keys", "rotate", "--alg", "RS256", "--now", "--json"]);
    let new = str_of(&rotated[0], "kid").to_owned();
    assert_eq!(rotated[0]["status"], "active");
    let listed = json(&app, &["keys", "list", "--json"]);
    assert_eq!(active(&listed, "RS256"), vec![new.clone()]);
    let retired = listed.as_array().unwrap().iter().find(|k| k["kid"] == old.as_str()).unwrap();
    assert_eq!(retired["status"], "retired");
    assert!(retired["retired_at"].as_i64().is_some());
    assert!(
        !listed.as_array().unwrap().iter().any(|k| k["alg"] == "RS256" && k["status"] == "next"),
        "the pending RS256 key was superseded"
    );

    // The running server picks the change up at its next reload.
    app.state.keys.reload(&app.store).await.unwrap();
    let tokens = tokens_for(&app, &client, "openid").await;
    let header = jsonwebtoken::decode_header(str_of(&tokens, "id_token")).unwrap();
    assert_eq!(header.kid.unwrap(), new);

    let out = run(&app, &["keys", "list"], None, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("kid\talg\tstatus\tcreated\tactivated\tretired\n"), "{text}");
    assert!(text.lines().any(|l| l.starts_with(&old) && l.contains("\tretired\t")), "{text}");

    let err = refused(&app, &["keys", "rotate", "--alg", "HS256"]);
    assert!(err.contains("--alg"), "{err}");
}

#[tokio::test]
async fn keys_rotate_refuses_a_master_key_that_cannot_open_the_keys() {
    let app = spawn_app().await;
    let before = app.store.list_signing_keys().await.unwrap().len();
    let wrong = [("DOORWAY_SECRET_KEY", "a different secret key, long enough to be accepted")];
    let out = run(&app, &["keys", "rotate", "--now"], None, &wrong);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DOORWAY_SECRET_KEY"));
    assert_eq!(app.store.list_signing_keys().await.unwrap().len(), before, "nothing sealed with the wrong key");
}

/// Signs alice in, gets tokens for `client`, and returns (browser, token response).
async fn signed_in_with_tokens(app: &TestApp, client: &TestClient) -> (Browser, Value) {
    let browser = Browser::new();
    let code = obtain_code(app, &browser, client, &[]).await;
    let response = exchange(app, client, &code).await;
    assert_eq!(response.status(), 200);
    (browser, response.json().await.unwrap())
}

async fn userinfo_status(app: &TestApp, access_token: &str) -> u16 {
    let response =
        reqwest::Client::new().get(app.url("/oauth/userinfo")).bearer_auth(access_token).send().await.unwrap();
    response.status().as_u16()
}

async fn refresh_error(app: &TestApp, client: &TestClient, refresh_token: &str) -> Value {
    let response = reqwest::Client::new()
        .post(app.url("/oauth/token"))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    response.json().await.unwrap()
}

async fn introspect(app: &TestApp, client: &TestClient, token: &str) -> Value {
    reqwest::Client::new()
        .post(app.url("/oauth/introspect"))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Whether the browser's session still opens the account page.
async fn session_alive(app: &TestApp, browser: &Browser) -> bool {
    browser.get(&app.url("/account")).await.status() == 200
}

/// Asserts that nothing issued before survives: tokens revoked everywhere, session ended.
async fn assert_access_ended(app: &TestApp, client: &TestClient, browser: &Browser, tokens: &Value) {
    let access = str_of(tokens, "access_token");
    let refresh = str_of(tokens, "refresh_token");
    assert_eq!(userinfo_status(app, access).await, 401);
    assert_eq!(refresh_error(app, client, refresh).await["error"], "invalid_grant");
    assert_eq!(introspect(app, client, access).await, serde_json::json!({ "active": false }));
    assert_eq!(introspect(app, client, refresh).await, serde_json::json!({ "active": false }));
    assert!(!session_alive(app, browser).await, "the session ended");
}

#[tokio::test]
async fn disabling_a_user_revokes_their_tokens_and_ends_their_sessions() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let client = app.confidential_client().await;
    let (browser, tokens) = signed_in_with_tokens(&app, &client).await;
    assert_eq!(userinfo_status(&app, str_of(&tokens, "access_token")).await, 200);
    assert!(session_alive(&app, &browser).await);

    let out = json(&app, &["users", "disable", "alice", "--json"]);
    assert_eq!(out["tokens_revoked"], 2, "the access token and the refresh token");
    assert_eq!(out["sessions_ended"], 1);
    assert!(app.store.find_user(&alice.id).await.unwrap().unwrap().disabled);
    assert_access_ended(&app, &client, &browser, &tokens).await;
    let stored = app.store.find_access_token(&hash_secret(str_of(&tokens, "access_token"))).await.unwrap().unwrap();
    assert!(stored.revoked, "revoked, not merely refused while disabled");

    // Enabling the account does not bring the old tokens back.
    let out = json(&app, &["users", "enable", "alice", "--json"]);
    assert_eq!(out["action"], "enabled");
    assert!(!app.store.find_user(&alice.id).await.unwrap().unwrap().disabled);
    assert_access_ended(&app, &client, &browser, &tokens).await;
    let (_, fresh) = signed_in_with_tokens(&app, &client).await;
    assert_eq!(userinfo_status(&app, str_of(&fresh, "access_token")).await, 200, "alice can sign in again");

    let err = refused(&app, &["users", "disable", "nobody"]);
    assert!(err.contains("no user named 'nobody'"), "{err}");
}

#[tokio::test]
async fn setting_a_password_revokes_tokens_and_only_the_new_password_signs_in() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let (browser, tokens) = signed_in_with_tokens(&app, &client).await;

    let new_password = "a brand new passphrase for alice";
    let out = run(&app, &["users", "set-password", "alice", "--password-stdin", "--json"], Some(new_password), &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.get("password").is_none(), "a password given on stdin is never echoed");
    assert_eq!(out["tokens_revoked"], 2);
    assert_access_ended(&app, &client, &browser, &tokens).await;

    let login = |password: &'static str| {
        let app = &app;
        async move {
            let browser = Browser::new();
            let page = browser.get(&app.url("/login")).await.text().await.unwrap();
            let csrf = input_value(&page, "csrf_token").unwrap();
            let form = [("username", "alice"), ("password", password), ("csrf_token", csrf.as_str())];
            browser.http.post(app.url("/login")).form(&form).send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(login(new_password).await, 303);
    assert_ne!(login(PASSWORD).await, 303, "the old password no longer signs in");
}
