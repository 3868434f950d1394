//! The storage suites' harness: each test runs on SQLite always, and on PostgreSQL (a fresh
//! database, dropped afterwards) when `DOORWAY_TEST_POSTGRES` names a server.

#![allow(dead_code)] // each suite uses the parts it needs

use doorway_core::model::User;
use doorway_core::secrets::random_hex_id;
use doorway_core::types::{Email, Username};
use doorway_store::{NewUser, PoolOptions, Store};

/// A person to create: id `id-<username>`, `<username>@example.com` (unverified), a
/// placeholder password hash (the store never checks passwords).
pub fn new_user(username: &str) -> NewUser {
    NewUser {
        id: format!("id-{username}"),
        sub: random_hex_id(),
        username: Username::parse(username).unwrap(),
        email: Email::parse(&format!("{username}@example.com")).unwrap(),
        email_verified: false,
        name: None,
        password_hash: "$argon2id$placeholder".into(),
        is_admin: false,
        is_pro: false,
        can_pay: false,
    }
}

/// Creates [`new_user`] and returns the stored row.
pub async fn create_user(store: &Store, username: &str) -> User {
    store.create_user(new_user(username), 1).await.unwrap()
}

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
