//! Accounts and operators in the store: sessions as their owner sees them, connected apps and
//! their revocation, admin API tokens, and paging through users. Run against SQLite always and
//! against PostgreSQL when `DOORWAY_TEST_POSTGRES` names a server (as `behaviour.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{backends, new_user};

use doorway_core::model::{ClientKind, Session};
use doorway_core::types::{RedirectPolicy, RedirectUri, ScopeSet};
use doorway_store::{NewAccessToken, NewAdminToken, NewClient, UserCursor, UserFlags};

fn new_client(id: &str, name: &str) -> NewClient {
    NewClient {
        client_id: id.into(),
        secret_hash: Some("00".repeat(32)),
        kind: ClientKind::Confidential,
        name: name.into(),
        homepage_url: Some("https://app.example".into()),
        logo_uri: Some("https://app.example/logo.png".into()),
        redirect_uris: vec![RedirectUri::parse("https://app.example/cb").unwrap()],
        redirect_policy: RedirectPolicy::Exact,
        scopes: ScopeSet::parse("openid profile email").unwrap(),
        require_pkce: false,
        id_token_alg: "RS256".into(),
        owner_id: None,
        grant_types: Default::default(),
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
    }
}

fn session(id_hash: &str, sid: &str, user_id: &str, created_at: i64) -> Session {
    Session {
        id_hash: id_hash.into(),
        sid: sid.into(),
        user_id: user_id.into(),
        auth_time: created_at,
        created_at,
        expires_at: created_at + 1_000,
    }
}

fn access(hash: &str, client_id: &str, user_id: &str) -> NewAccessToken {
    NewAccessToken {
        token_hash: hash.into(),
        client_id: client_id.into(),
        user_id: Some(user_id.into()),
        scope: ScopeSet::parse("openid").unwrap(),
        expires_at: 10_000,
    }
}

#[tokio::test]
async fn sessions_are_listed_to_their_owner_with_device_and_last_seen() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = store.create_user(new_user("alice"), 1).await.unwrap();
        let bob = store.create_user(new_user("bob"), 1).await.unwrap();
        store.create_session(&session("h1", "sid1", &alice.id, 100)).await.unwrap();
        store.create_session(&session("h2", "sid2", &alice.id, 110)).await.unwrap();
        store.create_session(&session("hb", "sidb", &bob.id, 100)).await.unwrap();

        // Never seen yet: listed by creation, newest first.
        let listed = store.list_user_sessions(&alice.id, 120).await.unwrap();
        assert_eq!(listed.iter().map(|s| s.sid.as_str()).collect::<Vec<_>>(), ["sid2", "sid1"], "{}", store.dialect());
        assert_eq!(listed[0].last_seen_at, None);

        store.touch_session("h1", Some("Firefox/128.0"), Some("192.0.2.7"), 130).await.unwrap();
        let (found, user, last_seen) = store.find_session_user_seen("h1", 130).await.unwrap().unwrap();
        assert_eq!((found.sid.as_str(), user.id.as_str(), last_seen), ("sid1", alice.id.as_str(), Some(130)));
        let listed = store.list_user_sessions(&alice.id, 131).await.unwrap();
        assert_eq!(listed[0].sid, "sid1", "the most recently seen comes first");
        assert_eq!(listed[0].user_agent.as_deref(), Some("Firefox/128.0"));
        assert_eq!(listed[0].ip.as_deref(), Some("192.0.2.7"));
        // An expired session is not listed.
        assert!(store.list_user_sessions(&alice.id, 1_200).await.unwrap().is_empty());
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_session_is_touched_at_most_once_a_minute() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = store.create_user(new_user("alice"), 1).await.unwrap();
        store.create_session(&session("h1", "sid1", &alice.id, 100)).await.unwrap();
        store.touch_session("h1", Some("first"), Some("192.0.2.1"), 100).await.unwrap();
        store.touch_session("h1", Some("second"), Some("192.0.2.2"), 159).await.unwrap();
        let listed = store.list_user_sessions(&alice.id, 160).await.unwrap();
        assert_eq!((listed[0].user_agent.as_deref(), listed[0].last_seen_at), (Some("first"), Some(100)));
        store.touch_session("h1", Some("third"), Some("192.0.2.3"), 160).await.unwrap();
        let listed = store.list_user_sessions(&alice.id, 161).await.unwrap();
        assert_eq!((listed[0].user_agent.as_deref(), listed[0].last_seen_at), (Some("third"), Some(160)));
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_person_ends_only_their_own_sessions() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = store.create_user(new_user("alice"), 1).await.unwrap();
        let bob = store.create_user(new_user("bob"), 1).await.unwrap();
        for (hash, sid) in [("h1", "sid1"), ("h2", "sid2"), ("h3", "sid3")] {
            store.create_session(&session(hash, sid, &alice.id, 100)).await.unwrap();
        }
        store.create_session(&session("hb", "sidb", &bob.id, 100)).await.unwrap();

        assert!(store.find_user_session(&alice.id, "sidb", 101).await.unwrap().is_none(), "bob's is not alice's");
        let found = store.find_user_session(&alice.id, "sid2", 101).await.unwrap().unwrap();
        assert_eq!(found.id_hash, "h2");

        let mut ended = store.delete_other_sessions(&alice.id, "h1").await.unwrap();
        ended.sort();
        assert_eq!(ended, ["sid2", "sid3"], "{}", store.dialect());
        let left: Vec<String> =
            store.list_user_sessions(&alice.id, 101).await.unwrap().into_iter().map(|s| s.sid).collect();
        assert_eq!(left, ["sid1"]);
        assert!(store.find_session("hb", 101).await.unwrap().is_some(), "bob keeps his session");
        backend.finish().await;
    }
}

#[tokio::test]
async fn connected_apps_show_consent_and_last_use_and_revoking_removes_everything() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = store.create_user(new_user("alice"), 1).await.unwrap();
        let bob = store.create_user(new_user("bob"), 1).await.unwrap();
        store.create_client(new_client("c1", "Chat"), 1).await.unwrap();
        store.create_client(new_client("c2", "Notes"), 1).await.unwrap();
        store.grant_consent(&alice.id, "c1", &ScopeSet::parse("openid profile").unwrap(), 10).await.unwrap();
        store.grant_consent(&alice.id, "c2", &ScopeSet::parse("openid").unwrap(), 20).await.unwrap();
        store.grant_consent(&bob.id, "c1", &ScopeSet::parse("openid").unwrap(), 20).await.unwrap();
        store.touch_consent(&alice.id, "c1", 30).await.unwrap();
        store.insert_access_token(&access("t1", "c1", &alice.id), 40).await.unwrap();
        store.insert_access_token(&access("tb", "c1", &bob.id), 40).await.unwrap();
        store.record_session_client("sid-a", "c1", &alice.id, 30).await.unwrap();

        let apps = store.list_connected_apps(&alice.id).await.unwrap();
        let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Chat", "Notes"], "{}: most recently used first", store.dialect());
        let chat = &apps[0];
        assert_eq!(chat.scope.to_string(), "openid profile");
        assert_eq!((chat.granted_at, chat.updated_at), (10, 10));
        assert_eq!(chat.last_used_at, Some(40), "the newest token counts as use");
        assert_eq!(chat.logo_uri.as_deref(), Some("https://app.example/logo.png"));
        assert_eq!(apps[1].last_used_at, None, "migrated consents aside, a consent not used has no last use");

        let revoked = store.revoke_connected_app(&alice.id, "c1", 50).await.unwrap();
        assert!(revoked.consent && revoked.found());
        assert_eq!(revoked.tokens, 1);
        assert_eq!(revoked.sids, ["sid-a"]);
        assert!(store.find_consent(&alice.id, "c1").await.unwrap().is_none());
        assert!(store.find_access_token("t1").await.unwrap().unwrap().revoked);
        assert!(!store.find_access_token("tb").await.unwrap().unwrap().revoked, "bob's grant is untouched");
        assert!(store.find_consent(&bob.id, "c1").await.unwrap().is_some());
        assert_eq!(store.find_connected_app(&alice.id, "c1").await.unwrap(), None);
        assert!(store.find_connected_app(&alice.id, "c2").await.unwrap().is_some());

        let again = store.revoke_connected_app(&alice.id, "c1", 51).await.unwrap();
        assert!(!again.found(), "nothing left to revoke");
        backend.finish().await;
    }
}

#[tokio::test]
async fn admin_tokens_authenticate_by_hash_until_revoked() {
    for backend in backends().await {
        let store = &backend.store;
        let new =
            NewAdminToken { id: "tok1".into(), name: "deploy".into(), token_hash: "ab".repeat(32), read_only: true };
        let created = store.create_admin_token(&new, 100).await.unwrap();
        assert_eq!((created.read_only, created.last_used_at), (true, None));
        let found = store.find_admin_token(&"ab".repeat(32)).await.unwrap().unwrap();
        assert_eq!(found, created);
        assert!(store.find_admin_token(&"cd".repeat(32)).await.unwrap().is_none());

        store.touch_admin_token(&found, 110).await.unwrap();
        let touched = store.find_admin_token(&"ab".repeat(32)).await.unwrap().unwrap();
        assert_eq!(touched.last_used_at, Some(110));
        store.touch_admin_token(&touched, 150).await.unwrap();
        let within_a_minute = store.find_admin_token(&"ab".repeat(32)).await.unwrap().unwrap();
        assert_eq!(within_a_minute.last_used_at, Some(110), "not rewritten within a minute");

        assert!(store.revoke_admin_token("tok1", 200).await.unwrap());
        assert!(!store.revoke_admin_token("tok1", 201).await.unwrap(), "already revoked");
        assert!(store.find_admin_token(&"ab".repeat(32)).await.unwrap().is_none());
        let listed = store.list_admin_tokens().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].revoked_at, Some(200), "a revoked token stays listed");
        backend.finish().await;
    }
}

#[tokio::test]
async fn users_page_in_creation_order_and_flags_change_one_by_one() {
    for backend in backends().await {
        let store = &backend.store;
        for (i, name) in ["ann", "bea", "cid", "dan", "eve"].iter().enumerate() {
            // Two users share a creation time: the id breaks the tie.
            store.create_user(new_user(name), 10 + (i as i64) / 2).await.unwrap();
        }
        let first = store.list_users_page(None, 2).await.unwrap();
        let names = |users: &[doorway_core::model::User]| users.iter().map(|u| u.username.clone()).collect::<Vec<_>>();
        assert_eq!(names(&first), ["ann", "bea"]);
        let cursor = UserCursor { created_at: first[1].created_at, id: first[1].id.clone() };
        let second = store.list_users_page(Some(&cursor), 2).await.unwrap();
        assert_eq!(names(&second), ["cid", "dan"], "{}", store.dialect());
        let cursor = UserCursor { created_at: second[1].created_at, id: second[1].id.clone() };
        assert_eq!(names(&store.list_users_page(Some(&cursor), 2).await.unwrap()), ["eve"]);

        let flags = UserFlags { is_admin: Some(true), ..UserFlags::default() };
        assert!(store.set_user_flags("id-bea", &flags, 50).await.unwrap());
        let bea = store.find_user("id-bea").await.unwrap().unwrap();
        assert!(bea.is_admin && !bea.is_pro && !bea.email_verified);
        let flags = UserFlags { is_pro: Some(true), email_verified: Some(true), ..UserFlags::default() };
        assert!(store.set_user_flags("id-bea", &flags, 51).await.unwrap());
        let bea = store.find_user("id-bea").await.unwrap().unwrap();
        assert!(bea.is_admin && bea.is_pro && bea.email_verified, "flags not given stay");
        assert!(!store.set_user_flags("id-nobody", &flags, 52).await.unwrap());
        backend.finish().await;
    }
}
