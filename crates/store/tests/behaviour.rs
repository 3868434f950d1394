//! One storage behaviour suite, run against SQLite always and against PostgreSQL when
//! `DOORWAY_TEST_POSTGRES` names a server (scripts/test sets it). Each PostgreSQL test gets a
//! database of its own, dropped at the end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use doorway_core::model::{AuthorizationCode, ClientKind, Session};
use doorway_core::secrets::random_hex_id;
use doorway_core::types::{Email, RedirectPolicy, RedirectUri, ScopeSet, Username};
use doorway_store::{
    Issue, NewAccessToken, NewClient, NewUser, PoolOptions, RedeemOutcome, Store, StoreError, StoredKey,
};

/// A fresh store of each available dialect; the guard cleans up.
struct Backend {
    store: Store,
    _dir: Option<tempfile::TempDir>,
    drop_db: Option<(String, String)>,
}

async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut all = vec![Backend {
        store: Store::connect(&url, &PoolOptions::default()).await.unwrap(),
        _dir: Some(dir),
        drop_db: None,
    }];
    if let Ok(server) = std::env::var("DOORWAY_TEST_POSTGRES") {
        let server = server.trim_end_matches('/').to_owned();
        let name = format!("doorway_test_{}", random_hex_id());
        let admin = Store::connect(&format!("{server}/postgres"), &PoolOptions::default()).await;
        // The admin connection also runs migrations on `postgres`; use a raw create instead.
        drop(admin);
        create_database(&server, &name).await;
        let store = Store::connect(&format!("{server}/{name}"), &PoolOptions::default()).await.unwrap();
        all.push(Backend { store, _dir: None, drop_db: Some((server, name)) });
    }
    all
}

async fn create_database(server: &str, name: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres")).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
}

impl Backend {
    async fn finish(self) {
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

fn new_user(username: &str) -> NewUser {
    NewUser {
        id: uuid_like(),
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

fn uuid_like() -> String {
    random_hex_id()
}

fn new_client(id: &str) -> NewClient {
    NewClient {
        client_id: id.into(),
        secret_hash: Some("00".repeat(32)),
        kind: ClientKind::Confidential,
        name: "App".into(),
        homepage_url: None,
        logo_uri: None,
        redirect_uris: vec![
            RedirectUri::parse("https://app.example/cb").unwrap(),
            RedirectUri::parse("http://127.0.0.1/cb").unwrap(),
        ],
        redirect_policy: RedirectPolicy::Exact,
        scopes: ScopeSet::parse("openid profile").unwrap(),
        require_pkce: false,
        id_token_alg: "ES256".into(),
        owner_id: None,
        grant_types: Default::default(),
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
    }
}

fn code(hash: &str, client_id: &str, user_id: &str) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: hash.into(),
        client_id: client_id.into(),
        user_id: user_id.into(),
        redirect_uri: "https://app.example/cb".into(),
        redirect_uri_sent: true,
        scope: ScopeSet::parse("openid profile").unwrap(),
        nonce: Some("n".into()),
        code_challenge: None,
        auth_time: 100,
        created_at: 100,
        expires_at: 160,
        sid: None,
    }
}

fn token_for(c: &AuthorizationCode, hash: &str) -> Issue {
    Issue {
        refresh: None,
        access: NewAccessToken {
            token_hash: hash.into(),
            client_id: c.client_id.clone(),
            user_id: Some(c.user_id.clone()),
            scope: c.scope.clone(),
            expires_at: 10_000,
        },
    }
}

#[tokio::test]
async fn usernames_and_emails_are_unique_ignoring_case() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = store.create_user(new_user("Alice"), 1).await.unwrap();
        assert_eq!(store.find_user_by_username("alice").await.unwrap().unwrap().id, alice.id);
        let mut shouting = new_user("ALICE");
        shouting.email = Email::parse("other@example.com").unwrap();
        let taken = store.create_user(shouting, 1).await;
        assert!(matches!(taken, Err(StoreError::Conflict("username"))), "{} {taken:?}", store.dialect());
        let mut other = new_user("bob");
        other.email = Email::parse("ALICE@example.com").unwrap();
        assert!(matches!(store.create_user(other, 1).await, Err(StoreError::Conflict("email"))), "{}", store.dialect());
        backend.finish().await;
    }
}

#[tokio::test]
async fn clients_round_trip_with_their_registration() {
    for backend in backends().await {
        let store = &backend.store;
        store.create_client(new_client("c1"), 5).await.unwrap();
        let client = store.find_client("c1").await.unwrap().unwrap();
        assert_eq!(client.redirect_uris.len(), 2);
        assert_eq!(client.redirect_uris[1].as_str(), "http://127.0.0.1/cb");
        assert_eq!(client.scopes.to_string(), "openid profile");
        assert_eq!(client.id_token_alg, "ES256");
        assert!(store.set_client_secret("c1", "ff").await.unwrap());
        assert_eq!(store.find_client("c1").await.unwrap().unwrap().secret_hash.as_deref(), Some("ff"));
        assert!(store.delete_client("c1").await.unwrap());
        assert!(store.find_client("c1").await.unwrap().is_none());
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_code_redeems_once_and_its_replay_revokes_the_token() {
    for backend in backends().await {
        let store = &backend.store;
        let user = store.create_user(new_user("alice"), 1).await.unwrap();
        store.create_client(new_client("c1"), 1).await.unwrap();
        let c = code("h1", "c1", &user.id);
        store.insert_code(&c).await.unwrap();
        let first = store.redeem_code("h1", 120, |rec| Ok(token_for(rec, "t1"))).await.unwrap();
        assert!(matches!(first, RedeemOutcome::Issued(_)));
        assert!(!store.find_access_token("t1").await.unwrap().unwrap().revoked);
        let second = store.redeem_code("h1", 121, |rec| Ok(token_for(rec, "t2"))).await.unwrap();
        assert!(matches!(second, RedeemOutcome::Replayed { revoked_tokens: 1, .. }), "{second:?}");
        assert!(store.find_access_token("t1").await.unwrap().unwrap().revoked);
        assert!(store.find_access_token("t2").await.unwrap().is_none());
        let unknown = store.redeem_code("nope", 121, |rec| Ok(token_for(rec, "t3"))).await.unwrap();
        assert!(matches!(unknown, RedeemOutcome::NotFound));
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_rejected_redemption_still_consumes_the_code() {
    for backend in backends().await {
        let store = &backend.store;
        let user = store.create_user(new_user("alice"), 1).await.unwrap();
        store.create_client(new_client("c1"), 1).await.unwrap();
        store.insert_code(&code("h1", "c1", &user.id)).await.unwrap();
        let rejected =
            store.redeem_code("h1", 120, |_| Err(doorway_core::OAuthError::invalid_grant("nope"))).await.unwrap();
        assert!(matches!(rejected, RedeemOutcome::Rejected(_)));
        let again = store.redeem_code("h1", 121, |rec| Ok(token_for(rec, "t1"))).await.unwrap();
        assert!(matches!(again, RedeemOutcome::Replayed { .. }));
        backend.finish().await;
    }
}

#[tokio::test]
async fn parallel_redemptions_issue_exactly_once() {
    for backend in backends().await {
        let store = &backend.store;
        let user = store.create_user(new_user("alice"), 1).await.unwrap();
        store.create_client(new_client("c1"), 1).await.unwrap();
        store.insert_code(&code("h1", "c1", &user.id)).await.unwrap();
        let attempts = (0..8).map(|i| {
            let store = store.clone();
            async move { store.redeem_code("h1", 120, |rec| Ok(token_for(rec, &format!("t{i}")))).await.unwrap() }
        });
        let outcomes = futures::future::join_all(attempts).await;
        let issued = outcomes.iter().filter(|o| matches!(o, RedeemOutcome::Issued(_))).count();
        assert_eq!(issued, 1, "{} {outcomes:?}", store.dialect());
        backend.finish().await;
    }
}

#[tokio::test]
async fn consent_accumulates_scopes_and_sessions_expire() {
    for backend in backends().await {
        let store = &backend.store;
        let user = store.create_user(new_user("alice"), 1).await.unwrap();
        store.create_client(new_client("c1"), 1).await.unwrap();
        assert!(store.find_consent(&user.id, "c1").await.unwrap().is_none());
        store.grant_consent(&user.id, "c1", &ScopeSet::parse("openid").unwrap(), 2).await.unwrap();
        store.grant_consent(&user.id, "c1", &ScopeSet::parse("profile").unwrap(), 3).await.unwrap();
        assert_eq!(store.find_consent(&user.id, "c1").await.unwrap().unwrap().to_string(), "openid profile");

        let session = Session {
            id_hash: "s1".into(),
            sid: "sid1".into(),
            user_id: user.id.clone(),
            auth_time: 10,
            created_at: 10,
            expires_at: 20,
        };
        store.create_session(&session).await.unwrap();
        assert!(store.find_session("s1", 19).await.unwrap().is_some());
        assert!(store.find_session("s1", 20).await.unwrap().is_none());
        backend.finish().await;
    }
}

#[tokio::test]
async fn interactions_keep_parameters_and_end_once() {
    for backend in backends().await {
        let store = &backend.store;
        let user = store.create_user(new_user("alice"), 1).await.unwrap();
        store.create_client(new_client("c1"), 1).await.unwrap();
        let params = vec![("state".to_owned(), "{\"a\":1}".to_owned()), ("scope".to_owned(), "openid".to_owned())];
        store.create_interaction("i1", "c1", &params, 10, 100).await.unwrap();
        store.mark_interaction_login("i1", &user.id, 11).await.unwrap();
        let found = store.find_interaction("i1", 50).await.unwrap().unwrap();
        assert_eq!(found.params().unwrap(), params);
        assert_eq!(found.login_at, Some(11));
        assert!(store.find_interaction("i1", 100).await.unwrap().is_none(), "expired");
        assert!(store.delete_interaction("i1").await.unwrap());
        assert!(!store.delete_interaction("i1").await.unwrap());
        backend.finish().await;
    }
}

#[tokio::test]
async fn signing_keys_keep_their_sealed_bytes() {
    for backend in backends().await {
        let store = &backend.store;
        let key = StoredKey {
            kid: "k1".into(),
            alg: "RS256".into(),
            private_key: vec![0, 1, 2, 255],
            status: "active".into(),
            created_at: 7,
            activated_at: Some(7),
            retired_at: None,
        };
        store.insert_signing_key(&key).await.unwrap();
        let keys = store.list_signing_keys().await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].private_key, vec![0, 1, 2, 255]);
        backend.finish().await;
    }
}
