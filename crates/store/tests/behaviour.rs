//! One storage behaviour suite, run against SQLite always and against PostgreSQL when
//! `DOORWAY_TEST_POSTGRES` names a server (scripts/test sets it). Each PostgreSQL test gets a
//! database of its own, dropped at the end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{backends, new_user};

use doorway_core::model::{AuthorizationCode, ClientKind, Session};
use doorway_core::types::{Email, RedirectPolicy, RedirectUri, ScopeSet};
use doorway_store::{
    Issue, NewAccessToken, NewClient, NewRefreshToken, PoolOptions, RedeemOutcome, RefreshOutcome, Store, StoreError,
    StoredKey,
};

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
        assert!(matches!(first, RedeemOutcome::Issued(..)));
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
        let issued = outcomes.iter().filter(|o| matches!(o, RedeemOutcome::Issued(..))).count();
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
async fn consent_state_tells_what_a_repeat_sign_in_need_not_write() {
    for backend in backends().await {
        let store = &backend.store;
        let user = store.create_user(new_user("alice"), 1).await.unwrap();
        store.create_client(new_client("c1"), 1).await.unwrap();
        store.create_client(new_client("c2"), 1).await.unwrap();
        assert!(store.find_consent_state(&user.id, "c1", "sid1").await.unwrap().is_none());
        store.grant_consent(&user.id, "c1", &ScopeSet::parse("openid profile").unwrap(), 2).await.unwrap();
        let state = store.find_consent_state(&user.id, "c1", "sid1").await.unwrap().unwrap();
        assert_eq!(state.scopes.to_string(), "openid profile");
        assert!(!state.session_recorded);
        store.record_session_client("sid1", "c1", &user.id, 3).await.unwrap();
        store.touch_consent(&user.id, "c1", 4).await.unwrap();
        let state = store.find_consent_state(&user.id, "c1", "sid1").await.unwrap().unwrap();
        assert!(state.session_recorded);
        assert_eq!(state.last_used_at, Some(4));
        assert!(!store.find_consent_state(&user.id, "c1", "sid2").await.unwrap().unwrap().session_recorded);
        store.record_session_client("sid3", "c2", &user.id, 3).await.unwrap();
        assert!(
            !store.find_consent_state(&user.id, "c1", "sid3").await.unwrap().unwrap().session_recorded,
            "other app"
        );
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

/// A grant from a code with a refresh token `r0`, for the refresh tests.
async fn granted(store: &Store) -> String {
    let user = store.create_user(new_user("alice"), 1).await.unwrap();
    store.create_client(new_client("c1"), 1).await.unwrap();
    let c = code("h1", "c1", &user.id);
    store.insert_code(&c).await.unwrap();
    let mut issue = token_for(&c, "a0");
    issue.refresh = Some(successor_of(&c.user_id, "r0"));
    let outcome = store.redeem_code("h1", 120, |_| Ok(issue)).await.unwrap();
    assert!(matches!(outcome, RedeemOutcome::Issued(..)));
    user.id
}

fn successor_of(user_id: &str, hash: &str) -> NewRefreshToken {
    NewRefreshToken {
        token_hash: hash.into(),
        client_id: "c1".into(),
        user_id: user_id.into(),
        scope: ScopeSet::parse("openid").unwrap(),
        auth_time: 100,
        sid: None,
        idle_expires_at: 10_000,
        absolute_expires_at: 20_000,
    }
}

fn refresh_issue(user_id: &str, access: &str, successor: &str) -> Issue {
    Issue {
        access: NewAccessToken {
            token_hash: access.into(),
            client_id: "c1".into(),
            user_id: Some(user_id.into()),
            scope: ScopeSet::parse("openid").unwrap(),
            expires_at: 10_000,
        },
        refresh: Some(successor_of(user_id, successor)),
    }
}

#[tokio::test]
async fn parallel_refreshes_rotate_once_and_share_one_successor() {
    for backend in backends().await {
        let store = &backend.store;
        let user_id = granted(store).await;
        let attempts = (0..10).map(|i| {
            let store = store.clone();
            let user_id = user_id.clone();
            async move {
                store
                    .refresh("r0", 200, 10, |_| Ok(refresh_issue(&user_id, &format!("a{}", i + 1), "r1")))
                    .await
                    .unwrap()
            }
        });
        let outcomes = futures::future::join_all(attempts).await;
        let rotated = outcomes.iter().filter(|o| matches!(o, RefreshOutcome::Rotated(..))).count();
        let grace = outcomes.iter().filter(|o| matches!(o, RefreshOutcome::Grace(..))).count();
        assert_eq!((rotated, grace), (1, 9), "{} {outcomes:?}", store.dialect());
        let successor = store.find_refresh_token("r1").await.unwrap().unwrap();
        assert!(successor.rotated_at.is_none() && successor.revoked_at.is_none());
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_refresh_replayed_after_the_grace_window_revokes_the_family() {
    for backend in backends().await {
        let store = &backend.store;
        let user_id = granted(store).await;
        let first = store.refresh("r0", 200, 10, |_| Ok(refresh_issue(&user_id, "a1", "r1"))).await.unwrap();
        assert!(matches!(first, RefreshOutcome::Rotated(..)));
        let replay = store.refresh("r0", 211, 10, |_| Ok(refresh_issue(&user_id, "a2", "r1"))).await.unwrap();
        assert!(matches!(replay, RefreshOutcome::Reused { revoked_tokens: 4, .. }), "{replay:?}");
        for hash in ["a0", "a1"] {
            assert!(store.find_access_token(hash).await.unwrap().unwrap().revoked, "{hash}");
        }
        let after = store.refresh("r1", 212, 10, |_| Ok(refresh_issue(&user_id, "a3", "r2"))).await.unwrap();
        assert!(matches!(after, RefreshOutcome::Inactive), "the successor died with its family");
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_rotation_stores_the_successor_and_access_token_in_the_family_of_the_parent() {
    for backend in backends().await {
        let store = &backend.store;
        let user_id = granted(store).await;
        let rotated = store.refresh("r0", 200, 10, |_| Ok(refresh_issue(&user_id, "a1", "r1"))).await.unwrap();
        let RefreshOutcome::Rotated(parent, _) = rotated else { panic!("{} {rotated:?}", store.dialect()) };
        assert_eq!((parent.token_hash.as_str(), parent.family_id.as_str()), ("r0", "h1"));
        let stored_parent = store.find_refresh_token("r0").await.unwrap().unwrap();
        assert_eq!(stored_parent.rotated_at, Some(200), "{}", store.dialect());
        let successor = store.find_refresh_token("r1").await.unwrap().unwrap();
        assert_eq!((successor.family_id.as_str(), successor.created_at), ("h1", 200));
        assert!(successor.rotated_at.is_none() && successor.revoked_at.is_none());
        let access = store.find_access_token("a1").await.unwrap().unwrap();
        assert_eq!((access.family_id.as_deref(), access.code_hash.as_deref()), (Some("h1"), None));
        assert!(!access.revoked && access.created_at == 200);
        backend.finish().await;
    }
}

#[tokio::test]
async fn an_expired_refresh_token_is_inactive_and_stores_nothing() {
    for backend in backends().await {
        let store = &backend.store;
        let user_id = granted(store).await;
        // idle_expires_at is 10,000 (see `successor_of`).
        let late = store.refresh("r0", 10_000, 10, |_| Ok(refresh_issue(&user_id, "a1", "r1"))).await.unwrap();
        assert!(matches!(late, RefreshOutcome::Inactive), "{} {late:?}", store.dialect());
        assert!(store.find_refresh_token("r0").await.unwrap().unwrap().rotated_at.is_none());
        assert!(store.find_refresh_token("r1").await.unwrap().is_none());
        assert!(store.find_access_token("a1").await.unwrap().is_none());
        let unknown = store.refresh("nope", 200, 10, |_| Ok(refresh_issue(&user_id, "a2", "r2"))).await.unwrap();
        assert!(matches!(unknown, RefreshOutcome::Inactive));
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_failed_refresh_check_changes_nothing() {
    for backend in backends().await {
        let store = &backend.store;
        let user_id = granted(store).await;
        let rejected = store
            .refresh("r0", 200, 10, |_| Err(doorway_core::OAuthError::invalid_grant("wrong client")))
            .await
            .unwrap();
        assert!(matches!(rejected, RefreshOutcome::Rejected(_)));
        let ok = store.refresh("r0", 201, 10, |_| Ok(refresh_issue(&user_id, "a1", "r1"))).await.unwrap();
        assert!(matches!(ok, RefreshOutcome::Rotated(..)));
        backend.finish().await;
    }
}

fn stored_key(kid: &str, alg: &str, status: &str, created_at: i64) -> StoredKey {
    StoredKey {
        kid: kid.into(),
        alg: alg.into(),
        private_key: vec![1, 2, 3],
        status: status.into(),
        created_at,
        activated_at: (status == "active").then_some(created_at),
        retired_at: None,
    }
}

fn statuses(keys: &[StoredKey]) -> Vec<(String, String)> {
    let mut out: Vec<_> = keys.iter().map(|k| (k.kid.clone(), k.status.clone())).collect();
    out.sort();
    out
}

#[tokio::test]
async fn activating_a_next_key_retires_the_active_one_of_its_algorithm_only() {
    for backend in backends().await {
        let store = &backend.store;
        for key in [
            stored_key("rsa-old", "RS256", "active", 1),
            stored_key("ec-old", "ES256", "active", 1),
            stored_key("rsa-stale", "RS256", "next", 2),
            stored_key("rsa-new", "RS256", "next", 3),
            stored_key("ec-next", "ES256", "next", 3),
        ] {
            store.insert_signing_key(&key).await.unwrap();
        }
        assert!(!store.activate_signing_key("rsa-new", "ES256", 10).await.unwrap(), "wrong algorithm");
        assert!(store.activate_signing_key("rsa-new", "RS256", 10).await.unwrap());
        assert!(!store.activate_signing_key("rsa-new", "RS256", 11).await.unwrap(), "only a next key activates");
        let keys = store.list_signing_keys().await.unwrap();
        let expected = [("ec-next", "next"), ("ec-old", "active"), ("rsa-new", "active"), ("rsa-old", "retired")];
        assert_eq!(statuses(&keys), expected.map(|(k, s)| (k.to_owned(), s.to_owned())).to_vec());
        let new = keys.iter().find(|k| k.kid == "rsa-new").unwrap();
        assert_eq!(new.activated_at, Some(10));
        let old = keys.iter().find(|k| k.kid == "rsa-old").unwrap();
        assert_eq!(old.retired_at, Some(10));
        backend.finish().await;
    }
}

#[tokio::test]
async fn retired_keys_are_deleted_only_after_their_lifetime() {
    for backend in backends().await {
        let store = &backend.store;
        store.insert_signing_key(&stored_key("a", "EdDSA", "active", 1)).await.unwrap();
        store.insert_signing_key(&stored_key("b", "EdDSA", "next", 2)).await.unwrap();
        store.activate_signing_key("b", "EdDSA", 100).await.unwrap();
        assert_eq!(store.delete_retired_keys(100).await.unwrap(), 0, "retired at 100: not before 100");
        assert_eq!(store.delete_retired_keys(101).await.unwrap(), 1);
        let keys = store.list_signing_keys().await.unwrap();
        assert_eq!(statuses(&keys), vec![("b".to_owned(), "active".to_owned())]);
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_disabled_user_has_no_live_session() {
    for backend in backends().await {
        let store = &backend.store;
        let user = store.create_user(new_user("dora"), 1).await.unwrap();
        let session = Session {
            id_hash: "s-dora".into(),
            sid: "sid-dora".into(),
            user_id: user.id.clone(),
            auth_time: 1,
            created_at: 1,
            expires_at: 100,
        };
        store.create_session(&session).await.unwrap();
        assert!(store.set_user_disabled(&user.id, true, 2).await.unwrap());
        assert!(store.find_user(&user.id).await.unwrap().unwrap().disabled);
        assert!(store.find_session("s-dora", 3).await.unwrap().is_none());
        assert!(store.set_user_disabled(&user.id, false, 3).await.unwrap());
        assert!(!store.find_user(&user.id).await.unwrap().unwrap().disabled);
        assert!(store.find_session("s-dora", 4).await.unwrap().is_some(), "the CLI deletes sessions itself");
        assert!(!store.set_user_disabled("nobody", true, 4).await.unwrap());
        backend.finish().await;
    }
}

fn device_code(hash: &str, user_code: &str, created_at: i64) -> doorway_core::model::DeviceCode {
    doorway_core::model::DeviceCode {
        device_code_hash: hash.into(),
        user_code: user_code.into(),
        client_id: "c1".into(),
        scope: ScopeSet::parse("openid profile").unwrap(),
        status: doorway_core::model::DeviceStatus::Pending,
        user_id: None,
        auth_time: None,
        sid: None,
        interval_secs: 5,
        last_polled_at: None,
        created_at,
        expires_at: created_at + 600,
    }
}

#[tokio::test]
async fn a_device_code_is_answered_once_and_redeemed_once() {
    use doorway_core::model::DeviceStatus;
    for backend in backends().await {
        let store = &backend.store;
        let dialect = store.dialect();
        let user = store.create_user(new_user("erin"), 1).await.unwrap();
        store.create_client(new_client("c1"), 1).await.unwrap();
        store.insert_device_code(&device_code("d1", "BCDF-GHJK", 100)).await.unwrap();
        let taken = store.insert_device_code(&device_code("d2", "BCDF-GHJK", 101)).await;
        assert!(matches!(taken, Err(StoreError::Conflict("user_code"))), "{dialect}: {taken:?}");

        store.record_device_poll("d1", 110, 10).await.unwrap();
        let found = store.find_device_code_by_user_code("BCDF-GHJK").await.unwrap().unwrap();
        assert_eq!((found.last_polled_at, found.interval_secs), (Some(110), 10));
        let issue = |i: usize| Issue {
            refresh: None,
            access: NewAccessToken {
                token_hash: format!("dt{i}"),
                client_id: "c1".into(),
                user_id: Some(user.id.clone()),
                scope: ScopeSet::parse("openid").unwrap(),
                expires_at: 10_000,
            },
        };
        assert!(!store.redeem_device_code("d1", &issue(99), 120).await.unwrap(), "{dialect}: not approved yet");

        assert!(store.decide_device_code("BCDF-GHJK", true, &user.id, 90, "sid-1", 120).await.unwrap());
        assert!(!store.decide_device_code("BCDF-GHJK", false, &user.id, 90, "sid-1", 121).await.unwrap());
        let approved = store.find_device_code("d1").await.unwrap().unwrap();
        assert_eq!(approved.status, DeviceStatus::Approved);
        assert_eq!((approved.user_id.as_deref(), approved.auth_time), (Some(user.id.as_str()), Some(90)));

        let attempts = (0..8).map(|i| {
            let (store, issue) = (store.clone(), issue(i));
            async move { store.redeem_device_code("d1", &issue, 130).await.unwrap() }
        });
        let won = futures::future::join_all(attempts).await;
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "{dialect}: {won:?}");
        assert_eq!(store.find_device_code("d1").await.unwrap().unwrap().status, DeviceStatus::Consumed);
        let winner = won.iter().position(|w| *w).unwrap();
        let token = store.find_access_token(&format!("dt{winner}")).await.unwrap().unwrap();
        assert_eq!(token.family_id.as_deref(), Some("d1"), "{dialect}: the family is the device code");
        for loser in (0..8).filter(|i| *i != winner) {
            assert!(store.find_access_token(&format!("dt{loser}")).await.unwrap().is_none(), "{dialect}");
        }

        // Once expired, a user code is free again.
        store.insert_device_code(&device_code("d3", "BCDF-GHJK", 800)).await.unwrap();
        assert!(store.find_device_code("d1").await.unwrap().is_none());
        backend.finish().await;
    }
}

#[tokio::test]
async fn wrong_device_codes_are_counted_per_person_within_a_window() {
    for backend in backends().await {
        let store = &backend.store;
        let erin = store.create_user(new_user("erin"), 1).await.unwrap();
        let fred = store.create_user(new_user("fred"), 1).await.unwrap();
        for at in [100, 200, 300] {
            store.record_device_code_miss(&erin.id, at, 0).await.unwrap();
        }
        store.record_device_code_miss(&fred.id, 300, 0).await.unwrap();
        assert_eq!(store.count_device_code_misses(&erin.id, 150).await.unwrap(), 2);
        assert_eq!(store.count_device_code_misses(&fred.id, 0).await.unwrap(), 1);
        // Recording forgets that person's misses from before the window.
        store.record_device_code_miss(&erin.id, 5000, 4000).await.unwrap();
        assert_eq!(store.count_device_code_misses(&erin.id, 0).await.unwrap(), 1);
        assert_eq!(store.count_device_code_misses(&fred.id, 0).await.unwrap(), 1);
        backend.finish().await;
    }
}

#[tokio::test]
async fn purge_removes_only_what_has_expired_and_keeps_what_detection_needs() {
    for backend in backends().await {
        let store = &backend.store;
        let user_id = granted(store).await; // code h1 (expires 160), access a0 (10_000), refresh r0
        let session = Session {
            id_hash: "s1".into(),
            sid: "sid1".into(),
            user_id: user_id.clone(),
            auth_time: 1,
            created_at: 1,
            expires_at: 500,
        };
        store.create_session(&session).await.unwrap();

        // At 400, with an hour of grace for codes: nothing has expired yet.
        let none = store.purge_expired(400, 3600).await.unwrap();
        assert_eq!(none.total(), 0, "{} {none:?}", store.dialect());

        // Far in the future everything is gone.
        let all = store.purge_expired(30_000, 3600).await.unwrap();
        assert_eq!((all.codes, all.access_tokens, all.refresh_tokens, all.sessions), (1, 1, 1, 1), "{all:?}");
        assert!(store.find_access_token("a0").await.unwrap().is_none());
        assert!(store.find_refresh_token("r0").await.unwrap().is_none());
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_stale_token_cannot_walk_forward_through_grace_windows() {
    for backend in backends().await {
        let store = &backend.store;
        let user_id = granted(store).await;
        let r1 = store.refresh("r0", 200, 10, |_| Ok(refresh_issue(&user_id, "a1", "r1"))).await.unwrap();
        assert!(matches!(r1, RefreshOutcome::Rotated(..)));
        let r2 = store.refresh("r1", 201, 10, |_| Ok(refresh_issue(&user_id, "a2", "r2"))).await.unwrap();
        assert!(matches!(r2, RefreshOutcome::Rotated(..)));
        // r0 is still in its grace window, but its successor r1 has moved on.
        let stale = store.refresh("r0", 202, 10, |_| Ok(refresh_issue(&user_id, "a3", "r1"))).await.unwrap();
        assert!(matches!(stale, RefreshOutcome::Inactive), "{} {stale:?}", store.dialect());
        assert!(store.find_access_token("a3").await.unwrap().is_none());
        backend.finish().await;
    }
}

#[tokio::test]
async fn revoking_a_user_while_a_refresh_is_in_flight_leaves_nothing_live() {
    for backend in backends().await {
        let store = &backend.store;
        let user_id = granted(store).await;
        let (refreshed, revoked) = tokio::join!(
            store.refresh("r0", 300, 10, |_| Ok(refresh_issue(&user_id, "a1", "r1"))),
            store.revoke_user_tokens(&user_id, None, 300),
        );
        refreshed.unwrap();
        revoked.unwrap();
        // Whatever the interleaving, nothing of the user's may be live afterwards.
        for hash in ["a0", "a1"] {
            if let Some(token) = store.find_access_token(hash).await.unwrap() {
                assert!(token.revoked, "{} {hash} live after revocation", store.dialect());
            }
        }
        for hash in ["r0", "r1"] {
            if let Some(token) = store.find_refresh_token(hash).await.unwrap() {
                assert!(token.revoked_at.is_some(), "{} {hash} live after revocation", store.dialect());
            }
        }
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_write_by_another_process_is_seen_by_the_next_read() {
    // Two stores on one SQLite file stand for the server and the CLI.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let server = Store::connect(&url, &PoolOptions::default()).await.unwrap();
    let cli = Store::connect(&url, &PoolOptions::default()).await.unwrap();
    for i in 0..200 {
        let kid = format!("k{i}");
        // The server reads (and keeps its connections warm) before and after the CLI writes.
        let before = server.list_signing_keys().await.unwrap().len();
        let key = StoredKey {
            kid: kid.clone(),
            alg: "RS256".into(),
            private_key: vec![1],
            status: "next".into(),
            created_at: i,
            activated_at: None,
            retired_at: None,
        };
        cli.insert_signing_key(&key).await.unwrap();
        let after = server.list_signing_keys().await.unwrap();
        assert_eq!(after.len(), before + 1, "round {i}: the server read a stale snapshot");
    }
}
