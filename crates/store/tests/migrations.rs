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
