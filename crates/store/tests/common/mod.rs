//! The storage suites' harness: each test runs on SQLite always, and on PostgreSQL (a fresh
//! database, dropped afterwards) when `DOORWAY_TEST_POSTGRES` names a server.

use doorway_core::secrets::random_hex_id;
use doorway_store::{PoolOptions, Store};

pub struct Backend {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    drop_db: Option<(String, String)>,
}

pub async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut all = vec![Backend {
        store: Store::connect(&url, &PoolOptions::default()).await.unwrap(),
        _dir: Some(dir),
        drop_db: None,
    }];
    if let Ok(server) = std::env::var("DOORWAY_TEST_POSTGRES") {
        use sqlx::Connection;
        let server = server.trim_end_matches('/').to_owned();
        let name = format!("doorway_test_{}", random_hex_id());
        let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres")).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
        let store = Store::connect(&format!("{server}/{name}"), &PoolOptions::default()).await.unwrap();
        all.push(Backend { store, _dir: None, drop_db: Some((server, name)) });
    }
    all
}

impl Backend {
    pub async fn finish(self) {
        self.store.close().await;
        if let Some((server, name)) = self.drop_db {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres")).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}
