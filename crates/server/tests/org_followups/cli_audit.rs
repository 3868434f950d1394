//! Admin actions made with the `doorway` command line are recorded in the security log like the
//! admin API's writes (`admin.write`), marked as coming from the command line (`via: cli`, the
//! command, the OS user from `$USER`); the person concerned sees them in their own log.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use doorway_store::{AuditEntry, AuditQuery};
use serde_json::Value;

use crate::helpers::*;

/// Runs `doorway --data-dir DIR ARGS…` as the OS user `ops`, against the app's database.
fn run(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_doorway"))
        .arg("--data-dir")
        .arg(app._dir.path())
        .args(args)
        .env_remove("DOORWAY_DATABASE_URL")
        .env_remove("DOORWAY_CONFIG")
        .env_remove("DOORWAY_DATA_DIR")
        .env("RUST_LOG", "warn")
        .env("USER", "ops")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).unwrap();
    }
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "doorway {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn json(app: &TestApp, args: &[&str]) -> Value {
    serde_json::from_slice(&run(app, args, None).stdout).unwrap()
}

async fn entries(app: &TestApp, user_id: Option<&str>) -> Vec<AuditEntry> {
    let query = AuditQuery { user_id, kind: Some("admin.write"), before: None, limit: 100 };
    app.store.list_audit(&query).await.unwrap()
}

fn commands(entries: &[AuditEntry]) -> Vec<String> {
    let mut commands: Vec<String> =
        entries.iter().map(|e| e.detail["command"].as_str().unwrap_or_default().to_owned()).collect();
    commands.sort();
    commands
}

#[tokio::test]
async fn cli_user_actions_appear_in_that_users_security_log() {
    let app = spawn_app().await;
    let bob = app.create_user("bob").await;
    run(&app, &["users", "disable", "bob"], None);
    run(&app, &["users", "enable", "bob"], None);
    run(&app, &["users", "set-password", "bob", "--password-stdin"], Some(PASSWORD));

    let logged = entries(&app, Some(&bob.id)).await;
    assert_eq!(commands(&logged), vec!["users disable", "users enable", "users set-password"]);
    for entry in &logged {
        assert_eq!(entry.detail["via"], "cli");
        assert_eq!(entry.detail["os_user"], "ops");
        assert_eq!((entry.actor_user_id.as_deref(), entry.actor_token_id.as_deref()), (None, None));
        assert!(entry.detail.get("password").is_none(), "never a secret");
    }

    // bob reads it in his own security log, marked as an administrator's doing.
    let browser = Browser::new();
    browser.login(&app, "bob").await;
    let page = browser.get(&app.url("/settings/security-log")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert_eq!(html.matches("data-kind=\"admin.write\"").count(), 3, "{html}");
    assert!(html.contains("Changed by an administrator") && html.contains("Administrator</span>"), "{html}");
}

#[tokio::test]
async fn cli_app_key_org_and_admin_token_actions_are_recorded() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    let created =
        json(&app, &["apps", "create", "--name", "Ops App", "--redirect-uri", "https://x.example/cb", "--json"]);
    let client_id = created["client_id"].as_str().unwrap();
    run(&app, &["apps", "rotate-secret", client_id], None);
    run(&app, &["apps", "update", client_id, "--name", "Renamed"], None);
    run(&app, &["keys", "rotate", "--alg", "ES256"], None);
    run(&app, &["orgs", "create", "acme", "--admin", "alice"], None);
    run(&app, &["orgs", "add-member", "acme", "bob", "--role", "write"], None);
    run(&app, &["orgs", "remove-member", "acme", "bob"], None);
    let token = json(&app, &["admin-tokens", "create", "--name", "deploy", "--json"]);
    let token_id = token["id"].as_str().unwrap();
    run(&app, &["admin-tokens", "revoke", token_id], None);
    run(&app, &["apps", "delete", client_id], None);

    let all = entries(&app, None).await;
    assert_eq!(
        commands(&all),
        vec![
            "admin-tokens create",
            "admin-tokens revoke",
            "apps create",
            "apps delete",
            "apps rotate-secret",
            "apps update",
            "keys rotate",
            "orgs add-member",
            "orgs create",
            "orgs remove-member",
        ]
    );
    assert!(all.iter().all(|e| e.detail["via"] == "cli" && e.detail["os_user"] == "ops"));
    let of = |command: &str| all.iter().find(|e| e.detail["command"] == command).unwrap();
    assert_eq!(of("apps rotate-secret").client_id.as_deref(), Some(client_id));
    assert_eq!(of("admin-tokens revoke").detail["token_id"], token_id);
    assert!(of("admin-tokens create").detail.get("token").is_none(), "never the token itself");
    assert_eq!(of("keys rotate").detail["kids"].as_array().unwrap().len(), 1);
    assert_eq!(of("orgs create").user_id.as_deref(), Some(alice.id.as_str()));
    let bobs = entries(&app, Some(&bob.id)).await;
    assert_eq!(commands(&bobs), vec!["orgs add-member", "orgs remove-member"]);
    assert_eq!(of("orgs add-member").detail["org"], "acme");
    assert_eq!(of("orgs add-member").detail["role"], "write");
}
