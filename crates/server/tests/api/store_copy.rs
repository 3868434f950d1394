//! `doorway store copy`: an installation moved to PostgreSQL (and back) loses nothing — every
//! row of every table survives the round trip, and a server on the new database honours the
//! old sessions, tokens and keys. Without DOORWAY_TEST_POSTGRES the round trip goes through a
//! second SQLite file instead.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;
use sqlx::Row;

use crate::helpers::*;

fn doorway(args: &[&str], data_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_doorway"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("DOORWAY_DATABASE_URL")
        .env_remove("DOORWAY_CONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// Every table of a SQLite database: its rows as text (`quote()` of each column), sorted.
async fn dump(url: &str) -> BTreeMap<String, Vec<String>> {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut all = BTreeMap::new();
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
            .bind(&table)
            .fetch_all(&pool)
            .await
            .unwrap();
        let select = columns.iter().map(|c| format!("quote(\"{c}\")")).collect::<Vec<_>>().join(" || '|' || ");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {select} FROM \"{table}\"")))
            .fetch_all(&pool)
            .await
            .unwrap();
        let mut rows: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
        rows.sort();
        all.insert(table, rows);
    }
    pool.close().await;
    all
}

#[tokio::test]
async fn store_copy_moves_an_installation_and_back_without_losing_a_row() {
    let data = tempfile::tempdir().unwrap();
    let source = format!("sqlite://{}", data.path().join("doorway.db").display());
    let running = spawn_app_on(data.path(), |_| {}).await;
    let app = &running.app;
    let issuer = app.issuer.clone();
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let tokens = tokens_for(app, &client, "openid profile").await;
    let browser = Browser::new();
    browser.login(app, "alice").await;
    // A pending authorization request (an interaction row) and an admin token.
    Browser::new().get(&authorize_url(app, &client, &[])).await;
    let admin = doorway_store::NewAdminToken {
        id: uuid::Uuid::new_v4().to_string(),
        name: "ops".into(),
        token_hash: doorway_core::secrets::hash_secret("dwa_copy-test"),
        read_only: true,
    };
    app.store.create_admin_token(&admin, 0).await.unwrap();
    let jwks_before: Value = reqwest::get(app.url("/oauth/jwks")).await.unwrap().json().await.unwrap();
    running.stop().await;
    let before = dump(&source).await;
    for table in [
        "users",
        "clients",
        "consents",
        "sessions",
        "interactions",
        "authorization_codes",
        "access_tokens",
        "refresh_tokens",
        "signing_keys",
        "admin_tokens",
    ] {
        assert!(!before[table].is_empty(), "the fixture has no {table}");
    }

    let pg = PgDatabase::create("store copy through PostgreSQL (SQLite instead)").await;
    let target =
        pg.as_ref().map_or_else(|| format!("sqlite://{}", data.path().join("moved.db").display()), |db| db.url.clone());
    let copied = doorway(&["store", "copy", "--from", &source, "--to", &target, "--json"], data.path());
    assert!(copied.status.success(), "{}", String::from_utf8_lossy(&copied.stderr));
    let report: Value = serde_json::from_slice(&copied.stdout).unwrap();
    let total: usize = before.values().map(Vec::len).sum();
    assert_eq!(report["rows"], total as u64);
    assert_eq!(report["tables"]["access_tokens"], before["access_tokens"].len() as u64);

    // Into a database that holds data: refused, nothing written.
    let again = doorway(&["store", "copy", "--from", &source, "--to", &target], data.path());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"), "{}", String::from_utf8_lossy(&again.stderr));

    // And back: every row of every table is what it was.
    let back = format!("sqlite://{}", data.path().join("back.db").display());
    let returned = doorway(&["store", "copy", "--from", &target, "--to", &back], data.path());
    assert!(returned.status.success(), "{}", String::from_utf8_lossy(&returned.stderr));
    assert_eq!(dump(&back).await, before);

    // A server on the new database (same secret key) honours what the old one issued.
    let moved = spawn_app_on(data.path(), |config| {
        config.database_url = target.clone();
        config.issuer = issuer;
    })
    .await;
    let app = &moved.app;
    let jwks_after: Value = reqwest::get(app.at("/oauth/jwks")).await.unwrap().json().await.unwrap();
    assert_eq!(jwks_after, jwks_before, "the same signing keys");
    let userinfo = reqwest::Client::new()
        .get(app.at("/oauth/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200, "live access tokens still work");
    let refreshed = reqwest::Client::new()
        .post(app.at("/oauth/token"))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200, "refresh tokens too");
    assert_eq!(browser.get(&app.at("/account")).await.status(), 200, "the browser session too");
    moved.stop().await;
    if let Some(db) = pg {
        db.finish().await;
    }
}
