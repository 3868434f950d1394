//! Passkeys in the store (migration 0015): credential ids unique across accounts, rename and
//! delete only by the owner, and ceremonies taken at most once and never after they expire.
//! Run against SQLite always and against PostgreSQL when `DOORWAY_TEST_POSTGRES` names a server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::backends;

async fn user(store: &Store, username: &str) -> String {
    common::create_user(store, username).await.id
}

use doorway_store::{CeremonyPurpose, Store, StoreError, StoredPasskey};

fn passkey(id: &str, user_id: &str, credential_id: &str, created_at: i64) -> StoredPasskey {
    StoredPasskey {
        id: id.into(),
        user_id: user_id.into(),
        credential_id: credential_id.into(),
        passkey: format!(r#"{{"cred":"{credential_id}"}}"#),
        name: format!("key {id}"),
        created_at,
        last_used_at: None,
    }
}

#[tokio::test]
async fn a_credential_id_is_registered_once_across_all_accounts() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        store.add_passkey(&passkey("p1", &alice, "cred-1", 10)).await.unwrap();
        let again = store.add_passkey(&passkey("p2", &bob, "cred-1", 11)).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        store.add_passkey(&passkey("p3", &alice, "cred-3", 12)).await.unwrap();
        let listed = store.list_passkeys(&alice).await.unwrap();
        assert_eq!(listed.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["p1", "p3"]);
        assert!(store.list_passkeys(&bob).await.unwrap().is_empty());
        let found = store.find_passkey_by_credential("cred-3").await.unwrap().unwrap();
        assert_eq!(found.user_id, alice);
        backend.finish().await;
    }
}

#[tokio::test]
async fn only_the_owner_renames_or_deletes_and_use_is_recorded() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = user(store, "alice").await;
        let mallory = user(store, "mallory").await;
        store.add_passkey(&passkey("p1", &alice, "cred-1", 10)).await.unwrap();
        assert!(!store.rename_passkey(&mallory, "p1", "mine").await.unwrap());
        assert_eq!(store.delete_passkey(&mallory, "p1").await.unwrap(), None);
        assert!(store.rename_passkey(&alice, "p1", "Phone").await.unwrap());
        // Only over the passkey the assertion was checked against (a lost update would let a
        // cloned authenticator's counter pass).
        assert!(!store.record_passkey_use("p1", r#"{"cred":"stale"}"#, r#"{"counter":2}"#, 98).await.unwrap());
        assert!(store.record_passkey_use("p1", r#"{"cred":"cred-1"}"#, r#"{"counter":2}"#, 99).await.unwrap());
        let found = store.find_passkey_by_credential("cred-1").await.unwrap().unwrap();
        assert_eq!(
            (found.name.as_str(), found.passkey.as_str(), found.last_used_at),
            ("Phone", r#"{"counter":2}"#, Some(99))
        );
        assert_eq!(store.delete_passkey(&alice, "p1").await.unwrap().as_deref(), Some("Phone"));
        assert!(store.find_passkey_by_credential("cred-1").await.unwrap().is_none());
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_sign_in_ceremony_is_marked_used_once() {
    for backend in backends().await {
        let store = &backend.store;
        assert!(store.mark_passkey_sign_in_used("s1", 100).await.unwrap());
        assert!(!store.mark_passkey_sign_in_used("s1", 100).await.unwrap());
        assert_eq!(store.count_passkey_ceremonies().await.unwrap(), 1);
        store.purge_expired(101, 0).await.unwrap();
        assert_eq!(store.count_passkey_ceremonies().await.unwrap(), 0);
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_ceremony_is_taken_once_for_its_purpose_and_never_after_it_expires() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = user(store, "alice").await;
        store.stash_passkey_ceremony("h1", CeremonyPurpose::Register, Some(&alice), "state-1", 100).await.unwrap();
        // Another purpose finds nothing (and does not consume it).
        assert!(store.take_passkey_ceremony("h1", CeremonyPurpose::Authenticate, 50).await.unwrap().is_none());
        let taken = store.take_passkey_ceremony("h1", CeremonyPurpose::Register, 50).await.unwrap().unwrap();
        assert_eq!((taken.user_id.as_deref(), taken.state.as_str()), (Some(alice.as_str()), "state-1"));
        assert!(store.take_passkey_ceremony("h1", CeremonyPurpose::Register, 50).await.unwrap().is_none(), "replay");
        // Expired: refused, and consumed all the same.
        store.stash_passkey_ceremony("h2", CeremonyPurpose::Authenticate, None, "state-2", 100).await.unwrap();
        assert!(store.take_passkey_ceremony("h2", CeremonyPurpose::Authenticate, 100).await.unwrap().is_none());
        store.stash_passkey_ceremony("h2", CeremonyPurpose::Authenticate, None, "again", 300).await.unwrap();
        // The purge sweeps expired ones only.
        store.stash_passkey_ceremony("h3", CeremonyPurpose::Authenticate, None, "old", 150).await.unwrap();
        let purged = store.purge_expired(200, 0).await.unwrap();
        assert!(purged.other >= 1);
        assert!(store.take_passkey_ceremony("h3", CeremonyPurpose::Authenticate, 0).await.unwrap().is_none());
        assert!(store.take_passkey_ceremony("h2", CeremonyPurpose::Authenticate, 200).await.unwrap().is_some());
        backend.finish().await;
    }
}
