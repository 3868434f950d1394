//! `doorway apps provision`, run as operators run it: the built binary against a running
//! server's data directory; the printed environment block is what a hosted app needs to sign
//! people in through that server.

use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::helpers::*;

fn run(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doorway"))
        .arg("--data-dir")
        .arg(app._dir.path())
        .args(args)
        .env_remove("DOORWAY_DATABASE_URL")
        .env_remove("DOORWAY_CONFIG")
        .env_remove("DOORWAY_DATA_DIR")
        .env_remove("DOORWAY_ISSUER")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn succeeded(out: &Output) -> String {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The `KEY=value` lines of an environment block.
fn env_of(block: &str) -> std::collections::HashMap<String, String> {
    block
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
        .collect()
}

#[tokio::test]
async fn provision_prints_an_environment_block_that_signs_people_in() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let out = run(
        &app,
        &[
            "apps",
            "provision",
            "--name",
            "My Space",
            "--origin",
            "https://space.example",
            "--expiration-minutes",
            "60",
            "--authorized-org",
            "acme",
            "--issuer",
            &app.issuer,
        ],
    );
    let block = succeeded(&out);
    let lines: Vec<&str> = block.lines().map(|l| l.split('=').next().unwrap()).collect();
    assert_eq!(lines, ["OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "OAUTH_SCOPES", "OPENID_PROVIDER_URL"]);
    let env = env_of(&block);
    assert_eq!(env["OAUTH_SCOPES"], "openid profile");
    assert!(block.contains("OAUTH_SCOPES=\"openid profile\"\n"));
    assert_eq!(env["OPENID_PROVIDER_URL"], app.issuer);
    let stored = app.store.find_client(&env["OAUTH_CLIENT_ID"]).await.unwrap().expect("the app");
    assert_eq!(stored.name, "My Space");
    assert_eq!(stored.redirect_policy.as_str(), "origin");
    assert!(!stored.is_public());
    assert_eq!(stored.access_token_ttl, Some(3600));
    assert_eq!(stored.authorized_org.as_deref(), Some("acme"));
    assert_eq!(stored.owner_id, None);
    // A hosted app's callback, under the origin, with its own query.
    let client = TestClient {
        client_id: env["OAUTH_CLIENT_ID"].clone(),
        secret: Some(env["OAUTH_CLIENT_SECRET"].clone()),
        redirect_uri: "https://space.example/login/callback?_target_url=%2F".into(),
    };
    // The app admits only the members of acme: alice is one.
    let member = app.store.find_user_by_username("alice").await.unwrap().unwrap();
    crate::orgs::create_org(&app, "acme", &member.id).await;
    let code = obtain_code(&app, &Browser::new(), &client, &[("scope", "openid profile")]).await;
    let response = exchange(&app, &client, &code).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["expires_in"], 3600);
}

#[tokio::test]
async fn provision_json_has_the_same_variables_and_defaults_to_eight_hours() {
    let app = spawn_app().await;
    let out = run(
        &app,
        &[
            "apps",
            "provision",
            "--name",
            "JSON Space",
            "--origin",
            "http://127.0.0.1:7860",
            "--scopes",
            "openid profile email",
            "--json",
        ],
    );
    let json: Value = serde_json::from_str(&succeeded(&out)).unwrap();
    for key in ["OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "OAUTH_SCOPES", "OPENID_PROVIDER_URL"] {
        assert!(json[key].is_string(), "{key} in {json}");
    }
    assert_eq!(json["OAUTH_SCOPES"], "email openid profile");
    assert_eq!(json["OPENID_PROVIDER_URL"], "http://localhost:8080", "the configured issuer by default");
    assert_eq!(json["client_id"], json["OAUTH_CLIENT_ID"]);
    assert_eq!(json["redirect_policy"], "origin");
    assert_eq!(json["expiration_minutes"], 480);
    let stored = app.store.find_client(json["client_id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.access_token_ttl, Some(480 * 60));
    assert_eq!(stored.authorized_org, None);
}

#[tokio::test]
async fn provision_refuses_what_is_not_a_hosted_app() {
    let app = spawn_app().await;
    for (args, expected) in [
        (vec!["--origin", "http://space.example"], "https"),
        (vec!["--origin", "https://space.example/app"], "origin only"),
        (vec!["--origin", "https://space.example#x"], "fragment"),
        (vec!["--origin", "javascript:alert(1)"], "javascript:"),
        (vec!["--origin", "https://space.example", "--expiration-minutes", "0"], "--expiration-minutes"),
        (vec!["--origin", "https://space.example", "--scopes", "openid admin"], "unknown scope"),
        (vec!["--origin", "https://space.example", "--authorized-org", "no spaces"], "--authorized-org"),
    ] {
        let mut all = vec!["apps", "provision", "--name", "Space"];
        all.extend(args.iter().copied());
        let out = run(&app, &all);
        assert!(!out.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    assert!(app.store.list_clients().await.unwrap().is_empty());
}

#[tokio::test]
async fn apps_create_needs_no_redirect_uri_without_the_code_grant() {
    let app = spawn_app().await;
    let out = run(
        &app,
        &["apps", "create", "--name", "CLI", "--public", "--grant-types", "device_code refresh_token", "--json"],
    );
    let json: Value = serde_json::from_str(&succeeded(&out)).unwrap();
    assert_eq!(json["redirect_uris"], serde_json::json!([]));
    let out = run(&app, &["apps", "create", "--name", "Robot", "--grant-types", "client_credentials", "--json"]);
    succeeded(&out);
    let out = run(&app, &["apps", "create", "--name", "Web"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--redirect-uri is required"));
}
