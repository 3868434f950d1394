//! Migrations on PostgreSQL when several nodes start at once on a fresh database: sqlx's
//! migrator holds an advisory lock, so each migration is applied exactly once and every node
//! starts. Skipped (with a notice) when DOORWAY_TEST_POSTGRES is unset.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use doorway_core::secrets::random_hex_id;
use doorway_store::{PoolOptions, Store};
use sqlx::Connection;

async fn admin(server: &str, sql: String) {
    let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres")).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
}

#[tokio::test]
async fn nodes_migrating_a_fresh_database_at_once_apply_each_migration_once() {
    let Ok(server) = std::env::var("DOORWAY_TEST_POSTGRES") else {
        eprintln!("skipping: DOORWAY_TEST_POSTGRES is not set");
        return;
    };
    let server = server.trim_end_matches('/').to_owned();
    let name = format!("doorway_test_{}", random_hex_id());
    admin(&server, format!("CREATE DATABASE {name}")).await;
    let url = format!("{server}/{name}");

    let options = PoolOptions::default();
    let starts = (0..4).map(|_| Store::connect(&url, &options));
    let stores: Vec<Store> = futures::future::join_all(starts).await.into_iter().map(Result::unwrap).collect();
    for store in &stores {
        assert_eq!(store.pending_migrations().await.unwrap(), Vec::<i64>::new());
    }
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let applied: Vec<(i64, i64)> =
        sqlx::query_as("SELECT version, COUNT(*) FROM _sqlx_migrations WHERE success GROUP BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert!(applied.len() >= 7 && applied.iter().all(|(_, n)| *n == 1), "{applied:?}");
    conn.close().await.unwrap();
    for store in stores {
        store.close().await;
    }
    admin(&server, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
}

/// Rows written before migration 0016 (which rebuilt `access_tokens` on SQLite and replaced the
/// refresh tokens' expiry indexes) are all there after it, and still work: the code
/// is redeemable once, the refresh token rotates, and the purge finds expired tokens by either
/// expiry.
#[tokio::test]
async fn upgrading_past_0016_keeps_codes_and_tokens_working() {
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![(format!("sqlite://{}", dir.path().join("old.db").display()), None)];
    if let Ok(server) = std::env::var("DOORWAY_TEST_POSTGRES") {
        let server = server.trim_end_matches('/').to_owned();
        let name = format!("doorway_test_{}", random_hex_id());
        admin(&server, format!("CREATE DATABASE {name}")).await;
        urls.push((format!("{server}/{name}"), Some((server, name))));
    }
    for (url, pg) in urls {
        // The schema as of 0015, with rows in it.
        let mut before = match &pg {
            None => sqlx::migrate!("./migrations/sqlite"),
            Some(_) => sqlx::migrate!("./migrations/postgres"),
        };
        before.migrations = before.migrations.iter().filter(|m| m.version <= 15).cloned().collect::<Vec<_>>().into();
        let rows = [
            "INSERT INTO users (id, sub, username, username_canonical, email, email_canonical, password_hash, \
             created_at, updated_at) VALUES ('u1', 'sub1', 'ada', 'ada', 'ada@example.com', 'ada@example.com', 'x', 1, 1)",
            "INSERT INTO clients (client_id, kind, name, redirect_uris, redirect_policy, scopes, created_at) \
             VALUES ('c1', 'confidential', 'App', '[]', 'exact', 'openid', 1)",
            "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, redirect_uri_sent, scope, \
             auth_time, created_at, expires_at, sid) VALUES ('h1', 'c1', 'u1', 'https://app/cb', TRUE, 'openid', 1, 1, 900, 's1')",
            // Issued from an earlier redemption of the code (family = the code's hash).
            "INSERT INTO access_tokens (token_hash, client_id, user_id, scope, code_hash, family_id, created_at, \
             expires_at) VALUES ('a0', 'c1', 'u1', 'openid', 'h1', 'h1', 1, 4000)",
            // Live; expired by idle time; expired by absolute lifetime (at 1000).
            "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, auth_time, created_at, \
             idle_expires_at, absolute_expires_at) VALUES ('r1', 'f1', 'c1', 'u1', 'openid', 1, 1, 5000, 9000), \
             ('r2', 'f2', 'c1', 'u1', 'openid', 1, 1, 500, 9000), ('r3', 'f3', 'c1', 'u1', 'openid', 1, 1, 5000, 500)",
        ];
        match &pg {
            None => {
                use sqlx::ConnectOptions;
                let mut conn = url
                    .parse::<sqlx::sqlite::SqliteConnectOptions>()
                    .unwrap()
                    .create_if_missing(true)
                    .connect()
                    .await
                    .unwrap();
                before.run(&mut conn).await.unwrap();
                for sql in rows {
                    sqlx::query(sql).execute(&mut conn).await.unwrap();
                }
                conn.close().await.unwrap();
            }
            Some(_) => {
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                before.run(&mut conn).await.unwrap();
                for sql in rows {
                    sqlx::query(sql).execute(&mut conn).await.unwrap();
                }
                conn.close().await.unwrap();
            }
        }

        let store = Store::connect(&url, &PoolOptions::default()).await.unwrap();
        assert_eq!(store.pending_migrations().await.unwrap(), Vec::<i64>::new());
        for hash in ["r1", "r2", "r3"] {
            assert!(store.find_refresh_token(hash).await.unwrap().is_some(), "{hash} kept ({url})");
        }
        let issue = |access: &str, refresh: &str| doorway_store::Issue {
            access: doorway_store::NewAccessToken {
                token_hash: access.into(),
                client_id: "c1".into(),
                user_id: Some("u1".into()),
                scope: doorway_core::types::ScopeSet::parse("openid").unwrap(),
                expires_at: 4000,
            },
            refresh: Some(doorway_store::NewRefreshToken {
                token_hash: refresh.into(),
                client_id: "c1".into(),
                user_id: "u1".into(),
                scope: doorway_core::types::ScopeSet::parse("openid").unwrap(),
                auth_time: 1,
                sid: None,
                idle_expires_at: 5000,
                absolute_expires_at: 9000,
            }),
        };
        let redeemed = store.redeem_code("h1", 100, |_| Ok(issue("a1", "r4"))).await.unwrap();
        let doorway_store::RedeemOutcome::Issued(_, Some(user)) = redeemed else { panic!("{redeemed:?}") };
        assert_eq!(user.id, "u1");
        let again = store.redeem_code("h1", 101, |_| Ok(issue("a2", "r5"))).await.unwrap();
        assert!(matches!(again, doorway_store::RedeemOutcome::Replayed { .. }), "{again:?}");
        // The replay revoked what the code yielded, the token from before the upgrade included.
        for hash in ["a0", "a1"] {
            assert!(store.find_access_token(hash).await.unwrap().unwrap().revoked, "{hash} ({url})");
        }
        let rotated = store.refresh("r1", 100, 10, |_| Ok(issue("a3", "r6"))).await.unwrap();
        // The grant's user comes with the rotation, read in the same transaction.
        let doorway_store::RefreshOutcome::Rotated(_, Some(user)) = rotated else { panic!("{rotated:?}") };
        assert_eq!(user.id, "u1");

        // At 1000: r2 is past its idle expiry, r3 past its absolute one; r1 was rotated (kept for
        // reuse detection until it expires), r4 and r6 are live.
        let purged = store.purge_expired(1000, 0).await.unwrap();
        assert_eq!(purged.refresh_tokens, 2, "{purged:?} ({url})");
        for (hash, kept) in [("r1", true), ("r2", false), ("r3", false), ("r4", true), ("r6", true)] {
            assert_eq!(store.find_refresh_token(hash).await.unwrap().is_some(), kept, "{hash} ({url})");
        }
        store.close().await;
        if let Some((server, name)) = pg {
            admin(&server, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
}
