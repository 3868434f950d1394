//! `doorway serve` as a process: SIGTERM drains in-flight requests before exiting, and its logs
//! carry request ids and security events but never a secret.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use doorway_store::{PoolOptions, Store};
use serde_json::Value;

use crate::helpers::{PASSWORD, input_value};
use crate::nodes::*;

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("doorway.db").display())
}

#[tokio::test]
async fn sigterm_stops_accepting_finishes_the_request_in_flight_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start_with_env(&sqlite_url(&dir), &[], &[("RUST_LOG", "info")]);
    let addr = node.base.trim_start_matches("http://").to_owned();
    // A request whose body is still arriving: in flight when the signal comes.
    let body = "grant_type=client_credentials&client_id=nobody";
    let mut slow = TcpStream::connect(&addr).unwrap();
    write!(
        slow,
        "POST /oauth/token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        &body[..10]
    )
    .unwrap();
    slow.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    node.terminate();
    std::thread::sleep(Duration::from_millis(500));
    assert!(TcpStream::connect(&addr).is_err(), "a stopping node accepts no new connections");
    assert!(node.wait_exit(Duration::from_millis(10)).is_none(), "it waits for the request in flight");

    slow.write_all(&body.as_bytes()[10..]).unwrap();
    let mut response = String::new();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    slow.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "the request in flight got its answer: {response}");
    assert!(response.contains("\"error\":\"invalid_client\""), "{response}");

    let status = node.wait_exit(Duration::from_secs(10)).expect("exits once drained");
    assert!(status.success(), "a clean exit: {status}");
    assert!(node.output().contains("shutting down"), "{}", node.output());
}

#[tokio::test]
async fn logs_carry_request_ids_and_security_events_but_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite_url(&dir);
    let node =
        Node::start_with_env(&database, &["--log-json", "--metrics-listen", "127.0.0.1:0"], &[("RUST_LOG", "debug")]);
    let store = Store::connect(&database, &PoolOptions::default()).await.unwrap();
    create_user(&store, "alice").await;
    let client = create_client(&store).await;
    let secret = client.secret.clone().unwrap();

    // A failed sign-in, then a full sign-in, token, refresh, userinfo, introspection, reuse.
    let http = browser();
    let page = http.get(node.url("/login")).send().await.unwrap().text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let wrong = "Tr0ub4dor&3-wrong-password";
    let failed = http
        .post(node.url("/login"))
        .form(&[("username", "alice"), ("password", wrong), ("csrf_token", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 400);
    let callback = authorize(&http, &node, &authorize_url(&node, &client, &[]), "alice").await;
    let code = code_of(&callback);
    let response = reqwest::Client::new()
        .post(node.url("/oauth/token"))
        .header("x-request-id", "trace-me-42")
        .basic_auth(&client.client_id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("code_verifier", crate::helpers::VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    let tokens: Value = response.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let refreshed: Value = refresh(&node, &client, &refresh_token).await.json().await.unwrap();
    let new_refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();
    let userinfo = reqwest::Client::new().get(node.url("/oauth/userinfo")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(userinfo.status(), 200);
    reqwest::Client::new()
        .post(node.url("/oauth/introspect"))
        .basic_auth(&client.client_id, Some(&secret))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(exchange(&node, &client, &code).await.status(), 400, "code reuse");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let logs = node.output();
    for (what, secret_value) in [
        ("the password", PASSWORD),
        ("the wrong password", wrong),
        ("the client secret", secret.as_str()),
        ("the code", code.as_str()),
        ("the access token", access.as_str()),
        ("the refresh token", refresh_token.as_str()),
        ("the rotated refresh token", new_refresh.as_str()),
        ("the ID token", id_token.as_str()),
        ("the CSRF token", csrf.as_str()),
    ] {
        assert!(!logs.contains(secret_value), "{what} appears in the logs:\n{logs}");
    }
    let lines: Vec<Value> = logs.lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    assert!(lines.len() > 10, "JSON log lines:\n{logs}");
    let traced = lines.iter().any(|line| {
        line["target"] == "doorway::access"
            && line["span"]["request_id"] == "trace-me-42"
            && line["span"]["route"] == "/oauth/token"
    });
    assert!(traced, "the access log carries the caller's request id and the route:\n{logs}");
    for event in ["login_failed", "code_reuse"] {
        let found = lines.iter().any(|line| line["target"] == "security" && line["fields"]["event"] == event);
        assert!(found, "security event {event} is logged distinctly:\n{logs}");
    }
    let metrics = reqwest::get(format!("{}/metrics", node.metrics.as_ref().unwrap())).await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(metrics.contains(r#"doorway_tokens_issued_total{grant="refresh_token"} 1"#), "{metrics}");
    store.close().await;
}
