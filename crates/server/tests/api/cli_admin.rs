//! `doorway admin-tokens`, run as operators run it: the built binary against the data directory
//! of a running server, whose admin API then accepts (or refuses) the token.

use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::helpers::*;

/// Runs `doorway --data-dir DIR ARGS…` against the app's database.
fn run(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doorway"))
        .arg("--data-dir")
        .arg(app._dir.path())
        .args(args)
        .env_remove("DOORWAY_DATABASE_URL")
        .env_remove("DOORWAY_CONFIG")
        .env_remove("DOORWAY_DATA_DIR")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn json(app: &TestApp, args: &[&str]) -> Value {
    let out = run(app, args);
    assert!(out.status.success(), "doorway {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

async fn users_status(app: &TestApp, token: &str) -> u16 {
    let response = reqwest::Client::new().get(app.url("/api/v1/users")).bearer_auth(token).send().await.unwrap();
    response.status().as_u16()
}

#[tokio::test]
async fn admin_tokens_create_list_and_revoke_round_trip() {
    let app = spawn_app().await;
    let created = json(&app, &["admin-tokens", "create", "--name", "deploy script", "--json"]);
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with("dwa_") && token.len() == 4 + 43, "{token}");
    assert_eq!(created["name"], "deploy script");
    assert_eq!(created["read_only"], false);
    assert_eq!(users_status(&app, &token).await, 200, "the running server accepts it at once");

    let listed = json(&app, &["admin-tokens", "list", "--json"]);
    let entry = &listed.as_array().unwrap()[0];
    assert_eq!(entry["id"], id.as_str());
    assert!(entry["last_used_at"].is_i64(), "the call above is recorded");
    let text = listed.to_string();
    assert!(!text.contains(&token) && !text.contains(&doorway_core::secrets::hash_secret(&token)), "{text}");
    let table = run(&app, &["admin-tokens", "list"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("deploy script") && table.contains("read-write") && !table.contains(&token), "{table}");

    let revoked = json(&app, &["admin-tokens", "revoke", &id, "--json"]);
    assert_eq!(revoked["revoked"], true);
    assert_eq!(users_status(&app, &token).await, 401, "revoked: refused at once");
    let listed = json(&app, &["admin-tokens", "list", "--json"]);
    assert!(listed[0]["revoked_at"].is_i64());

    let again = run(&app, &["admin-tokens", "revoke", &id]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no live admin API token"));
}

#[tokio::test]
async fn a_read_only_token_made_by_the_cli_cannot_write() {
    let app = spawn_app().await;
    let created = json(&app, &["admin-tokens", "create", "--name", "dashboard", "--read-only", "--json"]);
    let token = created["token"].as_str().unwrap();
    assert_eq!(created["read_only"], true);
    assert_eq!(users_status(&app, token).await, 200);
    let write = reqwest::Client::new()
        .post(app.url("/api/v1/keys/rotate"))
        .bearer_auth(token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 403);
}

#[tokio::test]
async fn a_token_needs_a_name_and_is_printed_once_in_text_mode() {
    let app = spawn_app().await;
    let nameless = run(&app, &["admin-tokens", "create"]);
    assert!(!nameless.status.success());
    let blank = run(&app, &["admin-tokens", "create", "--name", "  "]);
    assert!(!blank.status.success());
    assert!(String::from_utf8_lossy(&blank.stderr).contains("--name"));

    let out = run(&app, &["admin-tokens", "create", "--name", "ops"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let token = text.lines().find_map(|l| l.strip_prefix("token: ")).unwrap().split_whitespace().next().unwrap();
    assert!(text.contains("shown once"));
    assert_eq!(users_status(&app, token).await, 200);
}
