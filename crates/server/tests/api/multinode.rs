//! Several Doorway nodes behind a load balancer: two `doorway serve` processes on different
//! ports sharing one fresh PostgreSQL database. Whatever one node does, the other honours at
//! once — nothing that matters lives in one process. Skipped (with a notice) when
//! DOORWAY_TEST_POSTGRES is unset.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::query_of;
use crate::nodes::*;

/// Signs in on node A and returns the browser and the code of the first authorization.
async fn sign_in_on_a(cluster: &Cluster, client: &crate::helpers::TestClient) -> (reqwest::Client, String) {
    let http = browser();
    let callback = authorize(&http, &cluster.a, &authorize_url(&cluster.a, client, &[]), "alice").await;
    (http, code_of(&callback))
}

async fn tokens(cluster: &Cluster, client: &crate::helpers::TestClient) -> Value {
    let (_, code) = sign_in_on_a(cluster, client).await;
    let response = exchange(&cluster.a, client, &code).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn two_nodes_starting_together_on_a_fresh_database_migrate_once_and_share_keys() {
    let Some(cluster) = Cluster::start("multinode", &[]).await else { return };
    for node in [&cluster.a, &cluster.b] {
        assert_eq!(reqwest::get(node.url("/readyz")).await.unwrap().status(), 200);
    }
    let versions: Vec<(i64, i64)> =
        sqlx::query_as("SELECT version, COUNT(*) FROM _sqlx_migrations GROUP BY version ORDER BY version")
            .fetch_all(&sqlx::PgPool::connect(&cluster.db.url).await.unwrap())
            .await
            .unwrap();
    assert!(versions.len() >= 7 && versions.iter().all(|(_, n)| *n == 1), "{versions:?}");
    let keys = cluster.store.list_signing_keys().await.unwrap();
    for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
        let active = keys.iter().filter(|k| k.alg == alg && k.status == "active").count();
        assert_eq!(active, 1, "one active {alg} key however the first start raced");
    }
    let (mut a, mut b) = (published_kids(&cluster.a).await, published_kids(&cluster.b).await);
    a.sort();
    b.sort();
    assert_eq!(a, b, "both nodes publish the same keys");
    cluster.finish().await;
}

#[tokio::test]
async fn a_session_started_on_one_node_answers_prompt_none_on_the_other() {
    let Some(cluster) = Cluster::start("multinode", &[]).await else { return };
    cluster.create_user("alice").await;
    let client = cluster.create_client().await;
    let (http, code) = sign_in_on_a(&cluster, &client).await;
    assert_eq!(exchange(&cluster.b, &client, &code).await.status(), 200, "a code from A redeems on B");

    let silent = http.get(authorize_url(&cluster.b, &client, &[("prompt", "none")])).send().await.unwrap();
    assert_eq!(silent.status(), 303);
    let callback = silent.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&client.redirect_uri), "{callback}");
    let code = code_of(&callback);
    assert_eq!(query_of(&callback)["state"], "st");
    let tokens: Value = exchange(&cluster.a, &client, &code).await.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    assert!(published_kids(&cluster.b).await.contains(&kid_of(id_token)));
    cluster.finish().await;
}

#[tokio::test]
async fn ten_redemptions_of_one_code_across_two_nodes_succeed_exactly_once() {
    let Some(cluster) = Cluster::start("multinode", &[]).await else { return };
    cluster.create_user("alice").await;
    let client = cluster.create_client().await;
    let (_, code) = sign_in_on_a(&cluster, &client).await;
    let attempts = (0..10).map(|i| {
        let node = if i % 2 == 0 { &cluster.a } else { &cluster.b };
        exchange(node, &client, &code)
    });
    let responses = futures::future::join_all(attempts).await;
    let mut statuses = Vec::new();
    for response in responses {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        if status != 200 {
            assert_eq!(body["error"], "invalid_grant", "{body}");
        }
        statuses.push(status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 9, "{statuses:?}");
    cluster.finish().await;
}

#[tokio::test]
async fn parallel_refreshes_on_two_nodes_leave_one_live_lineage() {
    let Some(cluster) = Cluster::start("multinode", &[]).await else { return };
    cluster.create_user("alice").await;
    let client = cluster.create_client().await;
    let first = tokens(&cluster, &client).await;
    let refresh_token = first["refresh_token"].as_str().unwrap().to_owned();

    let attempts = (0..6).map(|i| {
        let node = if i % 2 == 0 { &cluster.a } else { &cluster.b };
        refresh(node, &client, &refresh_token)
    });
    let mut successors = Vec::new();
    for response in futures::future::join_all(attempts).await {
        assert_eq!(response.status(), 200, "concurrent refreshes within the grace window all succeed");
        let body: Value = response.json().await.unwrap();
        successors.push(body["refresh_token"].as_str().unwrap().to_owned());
    }
    successors.dedup();
    assert_eq!(successors.len(), 1, "every node hands out the same successor: one lineage");
    let live: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens WHERE revoked_at IS NULL AND rotated_at IS NULL")
            .fetch_one(&sqlx::PgPool::connect(&cluster.db.url).await.unwrap())
            .await
            .unwrap();
    assert_eq!(live, 1, "one live refresh token");
    // The lineage continues on either node.
    let next = refresh(&cluster.b, &client, &successors[0]).await;
    assert_eq!(next.status(), 200);
    let next: Value = next.json().await.unwrap();
    assert_eq!(refresh(&cluster.a, &client, next["refresh_token"].as_str().unwrap()).await.status(), 200);
    cluster.finish().await;
}

#[tokio::test]
async fn a_token_revoked_on_one_node_is_rejected_by_the_other() {
    let Some(cluster) = Cluster::start("multinode", &[]).await else { return };
    cluster.create_user("alice").await;
    let client = cluster.create_client().await;
    let tokens = tokens(&cluster, &client).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let userinfo = |node: &Node| reqwest::Client::new().get(node.url("/oauth/userinfo")).bearer_auth(access).send();
    assert_eq!(userinfo(&cluster.b).await.unwrap().status(), 200);

    let revoked = reqwest::Client::new()
        .post(cluster.a.url("/oauth/revoke"))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(&[("token", refresh_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    // No waiting: nodes read grants from the database on every request.
    assert_eq!(
        userinfo(&cluster.b).await.unwrap().status(),
        401,
        "revoking the refresh token revokes its access tokens"
    );
    let introspected: Value = reqwest::Client::new()
        .post(cluster.b.url("/oauth/introspect"))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(&[("token", access)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected, serde_json::json!({ "active": false }));
    let refreshed = refresh(&cluster.b, &client, refresh_token).await;
    assert_eq!(refreshed.status(), 400);
    assert_eq!(refreshed.json::<Value>().await.unwrap()["error"], "invalid_grant");
    cluster.finish().await;
}

#[tokio::test]
async fn logout_and_disabling_a_user_take_effect_on_every_node() {
    let Some(cluster) = Cluster::start("multinode", &[]).await else { return };
    let alice = cluster.create_user("alice").await;
    let client = cluster.create_client().await;
    let (http, code) = sign_in_on_a(&cluster, &client).await;
    let tokens: Value = exchange(&cluster.a, &client, &code).await.json().await.unwrap();

    // Logging out on A ends the session B sees.
    let page = http.get(cluster.a.url("/logout")).send().await.unwrap().text().await.unwrap();
    let csrf = crate::helpers::input_value(&page, "csrf_token").unwrap();
    let out = http.post(cluster.a.url("/logout")).form(&[("csrf_token", csrf.as_str())]).send().await.unwrap();
    assert_eq!(out.status(), 303);
    let silent = http.get(authorize_url(&cluster.b, &client, &[("prompt", "none")])).send().await.unwrap();
    assert_eq!(query_of(silent.headers()["location"].to_str().unwrap())["error"], "login_required");

    // Disabling the user (the CLI, as an operator would) stops their tokens on both nodes.
    let access = tokens["access_token"].as_str().unwrap();
    let disabled = std::process::Command::new(env!("CARGO_BIN_EXE_doorway"))
        .args(["--database", &cluster.db.url, "users", "disable", alice.username.as_str()])
        .env("DOORWAY_SECRET_KEY", SECRET_KEY)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(disabled.status.success(), "{}", String::from_utf8_lossy(&disabled.stderr));
    for node in [&cluster.a, &cluster.b] {
        let response =
            reqwest::Client::new().get(node.url("/oauth/userinfo")).bearer_auth(access).send().await.unwrap();
        assert_eq!(response.status(), 401);
        let refreshed = refresh(node, &client, tokens["refresh_token"].as_str().unwrap()).await;
        assert_eq!(refreshed.status(), 400);
    }
    cluster.finish().await;
}

#[tokio::test]
async fn a_key_rotated_on_one_node_is_published_by_both_before_it_signs() {
    let publish_ahead = 3;
    let ahead = format!("{publish_ahead}s");
    let Some(cluster) = Cluster::start("multinode", &["--key-publish-ahead", &ahead]).await else { return };
    cluster.create_user("alice").await;
    let client = cluster.create_client().await;
    let admin_token = doorway_core::secrets::random_token("dwa_");
    cluster
        .store
        .create_admin_token(
            &doorway_store::NewAdminToken {
                id: uuid::Uuid::new_v4().to_string(),
                name: "ops".into(),
                token_hash: doorway_core::secrets::hash_secret(&admin_token),
                read_only: false,
            },
            0,
        )
        .await
        .unwrap();
    let mut refresh_token = tokens(&cluster, &client).await["refresh_token"].as_str().unwrap().to_owned();

    let rotated: Value = reqwest::Client::new()
        .post(cluster.a.url("/api/v1/keys/rotate"))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({ "algs": ["RS256"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = rotated["data"][0]["kid"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let (mut on_a, mut on_b, mut signed) = (None, None, None);
    // Each round: both JWKS, then an ID token from each node. The new kid must be on both
    // nodes' JWKS in a round before the first round any node signs with it.
    for round in 0.. {
        assert!(started.elapsed() < Duration::from_secs(publish_ahead + 10), "the new key never signed");
        if on_a.is_none() && published_kids(&cluster.a).await.contains(&kid) {
            on_a = Some(round);
        }
        if on_b.is_none() && published_kids(&cluster.b).await.contains(&kid) {
            on_b = Some(round);
        }
        for node in [&cluster.a, &cluster.b] {
            let response = refresh(node, &client, &refresh_token).await;
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
            if kid_of(body["id_token"].as_str().unwrap()) == kid && signed.is_none() {
                signed = Some(round);
            }
        }
        if signed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let signed = signed.unwrap();
    assert!(on_a.is_some_and(|r| r < signed), "A published it (round {on_a:?}) before it signed (round {signed})");
    assert!(on_b.is_some_and(|r| r < signed), "B published it (round {on_b:?}) before it signed (round {signed})");
    // Key times are whole seconds: "published for 3 s" may start up to a second early.
    assert!(started.elapsed() >= Duration::from_secs(publish_ahead - 1), "not before key_publish_ahead");
    cluster.finish().await;
}
