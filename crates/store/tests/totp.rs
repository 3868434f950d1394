//! Two-factor storage (migration 0014) on SQLite always and on PostgreSQL when
//! `DOORWAY_TEST_POSTGRES` names a server: a pending enrolment is not "enabled", an enabled
//! key is not replaced by a new enrolment, a time step and a recovery code are each accepted
//! once even under concurrency, and challenges count failures and expire.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::backends;

async fn user(store: &Store, username: &str) -> String {
    common::create_user(store, username).await.id
}

use doorway_store::{SecondFactorChallenge, Store};

fn codes(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("hash-{i}")).collect()
}

#[tokio::test]
async fn a_pending_enrolment_is_not_enabled_and_an_enabled_key_is_not_replaced() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = user(store, "alice").await;
        assert!(store.begin_totp_enrolment(&alice, b"sealed-1", 100).await.unwrap());
        assert!(!store.totp_enabled(&alice).await.unwrap());
        // Restarting enrolment replaces the pending key.
        assert!(store.begin_totp_enrolment(&alice, b"sealed-2", 110).await.unwrap());
        assert_eq!(store.find_totp(&alice).await.unwrap().unwrap().secret_sealed, b"sealed-2");
        // Confirmation with step 7: enabled, the step counts as used, the codes stored.
        assert!(store.enable_totp(&alice, 7, &codes(10), 120).await.unwrap());
        assert!(store.totp_enabled(&alice).await.unwrap());
        assert!(!store.enable_totp(&alice, 8, &codes(10), 121).await.unwrap(), "confirmed once");
        assert_eq!(store.count_recovery_codes(&alice).await.unwrap(), 10);
        // A new enrolment cannot overwrite an enabled key.
        assert!(!store.begin_totp_enrolment(&alice, b"attacker", 130).await.unwrap());
        let credential = store.find_totp(&alice).await.unwrap().unwrap();
        assert_eq!(credential.secret_sealed, b"sealed-2");
        assert_eq!(credential.enabled_at, Some(120));
        assert_eq!(credential.last_step, 7);
        // Disabling removes everything; a second time finds nothing.
        assert!(store.disable_totp(&alice).await.unwrap());
        assert!(!store.disable_totp(&alice).await.unwrap());
        assert!(!store.totp_enabled(&alice).await.unwrap());
        assert_eq!(store.count_recovery_codes(&alice).await.unwrap(), 0);
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_time_step_is_accepted_once_even_by_concurrent_requests() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = user(store, "alice").await;
        store.begin_totp_enrolment(&alice, b"sealed", 100).await.unwrap();
        // Not enabled yet: no step is accepted for sign-in.
        assert!(!store.accept_totp_step(&alice, 5).await.unwrap());
        store.enable_totp(&alice, 5, &codes(1), 100).await.unwrap();
        assert!(!store.accept_totp_step(&alice, 5).await.unwrap(), "the confirming step is used");
        assert!(!store.accept_totp_step(&alice, 4).await.unwrap(), "older steps too");
        let tries = futures::future::join_all((0..10).map(|_| store.accept_totp_step(&alice, 6))).await;
        assert_eq!(tries.into_iter().filter(|r| *r.as_ref().unwrap()).count(), 1);
        assert!(store.accept_totp_step(&alice, 7).await.unwrap());
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_recovery_code_is_used_once_and_regeneration_replaces_them_all() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        store.begin_totp_enrolment(&alice, b"sealed", 100).await.unwrap();
        store.enable_totp(&alice, 1, &codes(10), 100).await.unwrap();
        // Another account cannot use alice's code.
        assert!(!store.use_recovery_code(&bob, "hash-3").await.unwrap());
        let tries = futures::future::join_all((0..8).map(|_| store.use_recovery_code(&alice, "hash-3"))).await;
        assert_eq!(tries.into_iter().filter(|r| *r.as_ref().unwrap()).count(), 1);
        assert_eq!(store.count_recovery_codes(&alice).await.unwrap(), 9);
        store.replace_recovery_codes(&alice, &["new-1".to_owned(), "new-2".to_owned()], 200).await.unwrap();
        assert!(!store.use_recovery_code(&alice, "hash-4").await.unwrap(), "old codes stop working");
        assert!(store.use_recovery_code(&alice, "new-2").await.unwrap());
        backend.finish().await;
    }
}

#[tokio::test]
async fn challenges_count_failures_end_once_and_expire() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = user(store, "alice").await;
        let challenge = SecondFactorChallenge {
            id_hash: "h1".into(),
            user_id: alice.clone(),
            interaction: Some("int-1".into()),
            next: None,
            failures: 0,
            created_at: 1_000,
            expires_at: 1_300,
        };
        store.create_second_factor_challenge(&challenge).await.unwrap();
        assert_eq!(store.find_second_factor_challenge("h1", 1_100).await.unwrap(), Some(challenge.clone()));
        assert_eq!(store.find_second_factor_challenge("h1", 1_300).await.unwrap(), None, "expired");
        assert_eq!(store.fail_second_factor_challenge("h1").await.unwrap(), 1);
        assert_eq!(store.fail_second_factor_challenge("h1").await.unwrap(), 2);
        let ends = futures::future::join_all((0..5).map(|_| store.delete_second_factor_challenge("h1"))).await;
        assert_eq!(ends.into_iter().filter(|r| *r.as_ref().unwrap()).count(), 1);
        assert_eq!(store.fail_second_factor_challenge("h1").await.unwrap(), 0, "gone");
        // The purge removes expired challenges; disabling removes the person's others.
        store
            .create_second_factor_challenge(&SecondFactorChallenge { id_hash: "h2".into(), ..challenge.clone() })
            .await
            .unwrap();
        store
            .create_second_factor_challenge(&SecondFactorChallenge {
                id_hash: "h3".into(),
                expires_at: 9_000,
                ..challenge.clone()
            })
            .await
            .unwrap();
        store.purge_expired(2_000, 0).await.unwrap();
        assert_eq!(store.find_second_factor_challenge("h2", 0).await.unwrap(), None);
        assert!(store.find_second_factor_challenge("h3", 2_000).await.unwrap().is_some());
        store.disable_totp(&alice).await.unwrap();
        assert_eq!(store.find_second_factor_challenge("h3", 2_000).await.unwrap(), None);
        backend.finish().await;
    }
}
