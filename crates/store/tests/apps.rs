//! The self-service app registry (`apps.rs`), run against SQLite always and against PostgreSQL
//! when `DOORWAY_TEST_POSTGRES` names a server: apps by owner, owner-checked changes, profile
//! settings, secret rotation with and without grace.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::backends;

async fn user(store: &Store, username: &str) -> String {
    common::create_user(store, username).await.id
}

use doorway_core::model::ClientKind;
use doorway_core::secrets::hash_secret;
use doorway_core::types::{RedirectPolicy, RedirectUri, ScopeSet};
use doorway_store::{AppProfile, NewClient, Store};

fn new_app(id: &str, owner: &str) -> NewClient {
    NewClient {
        client_id: id.into(),
        secret_hash: Some(hash_secret("first")),
        kind: ClientKind::Confidential,
        name: format!("App {id}"),
        homepage_url: None,
        logo_uri: None,
        redirect_uris: vec![RedirectUri::parse("https://app.example/cb").unwrap()],
        redirect_policy: RedirectPolicy::Exact,
        scopes: ScopeSet::parse("openid profile").unwrap(),
        require_pkce: false,
        id_token_alg: "RS256".into(),
        owner_id: Some(owner.into()),
        grant_types: Default::default(),
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
    }
}

fn profile() -> AppProfile {
    AppProfile {
        description: Some("Talks".into()),
        policy_uri: Some("https://app.example/privacy".into()),
        tos_uri: Some("https://app.example/terms".into()),
        first_party: false,
        access_token_ttl: Some(28_800),
        authorized_org: Some("acme".into()),
        // Stored and read back like every other profile setting.
        access_token_format: doorway_core::oauth::access_token::AccessTokenFormat::Jwt,
    }
}

#[tokio::test]
async fn apps_are_listed_found_and_deleted_by_their_owner_only() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let created = store.create_app(new_app("a1", &alice), &profile(), 10).await.unwrap();
        assert_eq!(AppProfile::from(&created), profile());
        store.create_app(new_app("a2", &alice), &AppProfile::default(), 20).await.unwrap();
        store.create_app(new_app("b1", &bob), &AppProfile::default(), 15).await.unwrap();
        let ids = |apps: Vec<doorway_core::model::Client>| apps.into_iter().map(|c| c.client_id).collect::<Vec<_>>();
        assert_eq!(ids(store.list_apps_of(&alice).await.unwrap()), ["a1", "a2"]);
        assert_eq!(ids(store.list_apps_of(&bob).await.unwrap()), ["b1"]);
        assert!(store.find_app_of("a1", &alice).await.unwrap().is_some());
        assert!(store.find_app_of("a1", &bob).await.unwrap().is_none());
        assert!(!store.delete_app_of("a1", &bob).await.unwrap());
        assert!(store.find_client("a1").await.unwrap().is_some());
        assert!(store.delete_app_of("a1", &alice).await.unwrap());
        assert!(store.find_client("a1").await.unwrap().is_none(), "the cache forgot it");
        backend.finish().await;
    }
}

#[tokio::test]
async fn updates_write_settings_and_profile_for_the_owner_only() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let app = store.create_app(new_app("a1", &alice), &AppProfile::default(), 10).await.unwrap();
        assert_eq!(store.find_client("a1").await.unwrap().unwrap().name, "App a1", "cached now");
        let mut changed = NewClient::from(&app);
        changed.name = "Renamed".into();
        changed.redirect_policy = RedirectPolicy::Origin;
        let new_profile = AppProfile { first_party: true, ..profile() };
        assert!(!store.update_app(Some(&bob), &changed, &new_profile).await.unwrap());
        assert_eq!(store.find_client("a1").await.unwrap().unwrap().name, "App a1");
        assert!(store.update_app(Some(&alice), &changed, &new_profile).await.unwrap());
        let after = store.find_client("a1").await.unwrap().unwrap();
        assert_eq!(after.name, "Renamed");
        assert_eq!(after.redirect_policy, RedirectPolicy::Origin);
        assert_eq!(AppProfile::from(&after), new_profile);
        assert_eq!(after.secret_hash, app.secret_hash, "the secret is not a setting");
        // Operators (no owner given) may change any app.
        assert!(store.update_app(None, &changed, &AppProfile::default()).await.unwrap());
        assert!(!store.find_client("a1").await.unwrap().unwrap().first_party);
        backend.finish().await;
    }
}

#[tokio::test]
async fn rotation_keeps_the_old_secret_only_with_a_grace_period() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = user(store, "alice").await;
        store.create_app(new_app("a1", &alice), &AppProfile::default(), 10).await.unwrap();
        assert!(store.rotate_client_secret("a1", &hash_secret("second"), Some(5000)).await.unwrap());
        let c = store.find_client("a1").await.unwrap().unwrap();
        assert_eq!(c.secret_hash, Some(hash_secret("second")));
        assert_eq!(c.previous_secret_hash, Some(hash_secret("first")));
        assert_eq!(c.previous_secret_expires_at, Some(5000));
        assert!(store.rotate_client_secret("a1", &hash_secret("third"), None).await.unwrap());
        let c = store.find_client("a1").await.unwrap().unwrap();
        assert_eq!(c.secret_hash, Some(hash_secret("third")));
        assert_eq!((c.previous_secret_hash, c.previous_secret_expires_at), (None, None));
        // A public app has no secret to rotate.
        let mut public = new_app("p1", &alice);
        public.kind = ClientKind::Public;
        public.secret_hash = None;
        store.create_app(public, &AppProfile::default(), 10).await.unwrap();
        assert!(!store.rotate_client_secret("p1", &hash_secret("x"), None).await.unwrap());
        assert!(!store.rotate_client_secret("nope", &hash_secret("x"), None).await.unwrap());
        backend.finish().await;
    }
}
