//! The email outbox and the single-use email tokens, on SQLite always and on PostgreSQL when
//! `DOORWAY_TEST_POSTGRES` names a server (as in behaviour.rs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{backends, new_user};

use doorway_store::{EmailPurpose, NewEmail, StoreError};

fn message(id: &str) -> NewEmail {
    NewEmail {
        id: id.into(),
        to: "alice@example.com".into(),
        subject: "Hello".into(),
        text: "a link: https://id.example/x?token=secret".into(),
        html: None,
    }
}

#[tokio::test]
async fn a_queued_message_is_claimed_by_one_node_retried_after_a_failure_then_sent_once() {
    for backend in backends().await {
        let store = &backend.store;
        store.enqueue_email(&message("m1"), 100).await.unwrap();
        let claimed = store.claim_emails(100, 60, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        // Leased: another node claiming meanwhile gets nothing.
        assert!(store.claim_emails(101, 60, 10).await.unwrap().is_empty());
        store.mark_email_failed("m1", "connection refused", Some(110)).await.unwrap();
        assert!(store.claim_emails(105, 60, 10).await.unwrap().is_empty(), "not due before its next attempt");
        let again = store.claim_emails(110, 60, 10).await.unwrap();
        assert_eq!((again.len(), again[0].attempts), (1, 1));
        assert_eq!(again[0].last_error.as_deref(), Some("connection refused"));
        store.mark_email_sent("m1", 111).await.unwrap();
        let listed = store.list_emails(10).await.unwrap();
        assert_eq!((listed[0].status.as_str(), listed[0].attempts), ("sent", 2));
        assert_eq!(listed[0].body_text, "", "the sent body (a live link) is blanked");
        assert!(store.claim_emails(10_000, 60, 10).await.unwrap().is_empty());
        // A lease that ran out (the node died mid-send) is claimed again.
        store.enqueue_email(&message("m2"), 200).await.unwrap();
        assert_eq!(store.claim_emails(200, 60, 10).await.unwrap().len(), 1);
        assert_eq!(store.claim_emails(260, 60, 10).await.unwrap().len(), 1);
        // Given up: never claimed again; purged after a week with the sent one.
        store.mark_email_failed("m2", "550 no such mailbox", None).await.unwrap();
        assert!(store.claim_emails(100_000, 60, 10).await.unwrap().is_empty());
        store.purge_expired(200 + 7 * 86_400 + 1, 0).await.unwrap();
        assert!(store.list_emails(10).await.unwrap().is_empty());
        backend.finish().await;
    }
}

#[tokio::test]
async fn an_email_token_is_used_once_expires_and_only_the_newest_of_a_purpose_works() {
    for backend in backends().await {
        let store = &backend.store;
        let user = store.create_user(new_user("alice"), 0).await.unwrap();
        store.create_email_token("h1", EmailPurpose::Verify, &user.id, "new@example.org", 100, 3600).await.unwrap();
        assert!(store.find_email_token("h1", EmailPurpose::Reset, 100).await.unwrap().is_none(), "purpose-bound");
        assert_eq!(store.pending_email(&user.id, 100).await.unwrap().as_deref(), Some("new@example.org"));
        // A newer link retires the older one.
        store.create_email_token("h2", EmailPurpose::Verify, &user.id, "new2@example.org", 101, 3600).await.unwrap();
        assert!(store.consume_email_token("h1", EmailPurpose::Verify, 102).await.unwrap().is_none());
        let used = store.consume_email_token("h2", EmailPurpose::Verify, 102).await.unwrap().unwrap();
        assert_eq!((used.user_id.as_str(), used.email.as_str()), (user.id.as_str(), "new2@example.org"));
        assert!(store.consume_email_token("h2", EmailPurpose::Verify, 103).await.unwrap().is_none(), "single use");
        assert_eq!(store.pending_email(&user.id, 103).await.unwrap(), None);
        // Expiry.
        store.create_email_token("h3", EmailPurpose::Reset, &user.id, "alice@example.com", 100, 3600).await.unwrap();
        assert!(store.find_email_token("h3", EmailPurpose::Reset, 3699).await.unwrap().is_some());
        assert!(store.consume_email_token("h3", EmailPurpose::Reset, 3700).await.unwrap().is_none());
        store.purge_expired(3701, 0).await.unwrap();
        assert!(store.find_email_token("h3", EmailPurpose::Reset, 0).await.unwrap().is_none());
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_verified_address_replaces_the_old_one_unless_another_account_holds_it() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = store.create_user(new_user("alice"), 0).await.unwrap();
        store.create_user(new_user("bob"), 0).await.unwrap();
        assert!(store.set_verified_email(&alice.id, "Alice@New.example", 5).await.unwrap());
        let found = store.find_user_by_email("alice@new.EXAMPLE").await.unwrap().unwrap();
        assert_eq!(
            (found.id.as_str(), found.email.as_str(), found.email_verified),
            (alice.id.as_str(), "Alice@New.example", true)
        );
        assert!(matches!(
            store.set_verified_email(&alice.id, "BOB@example.com", 6).await,
            Err(StoreError::Conflict("email"))
        ));
        assert!(store.email_taken("bob@example.com", &alice.id).await.unwrap());
        assert!(!store.email_taken("alice@new.example", &alice.id).await.unwrap());
        let bob = store.find_user_by_username("bob").await.unwrap().unwrap();
        assert!(!bob.email_verified);
        assert!(store.mark_email_verified(&bob.id, 7).await.unwrap());
        assert!(store.find_user(&bob.id).await.unwrap().unwrap().email_verified);
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_new_password_cancels_a_pending_change_but_not_the_current_address_link() {
    for backend in backends().await {
        let store = &backend.store;
        let user = store.create_user(new_user("carol"), 0).await.unwrap();
        // A link for the account's own (unverified) address, and one for an intruder's address.
        store.create_email_token("own", EmailPurpose::Verify, &user.id, "Carol@Example.com", 100, 3600).await.unwrap();
        store.create_email_token("evil", EmailPurpose::Verify, &user.id, "x@evil.example", 101, 3600).await.unwrap();
        // (the newer link retired the older; bring the own-address one back to test both)
        store.create_email_token("own2", EmailPurpose::Verify, &user.id, "carol@example.com", 102, 3600).await.unwrap();
        assert_eq!(store.retire_email_changes(&user.id, "carol@example.com", 103).await.unwrap(), 0);
        store.create_email_token("evil2", EmailPurpose::Verify, &user.id, "x@evil.example", 104, 3600).await.unwrap();
        assert_eq!(store.retire_email_changes(&user.id, "carol@example.com", 105).await.unwrap(), 1);
        assert!(store.find_email_token("evil2", EmailPurpose::Verify, 106).await.unwrap().is_none());
        assert_eq!(store.pending_email(&user.id, 106).await.unwrap(), None);
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_message_given_up_loses_its_body_with_the_link() {
    for backend in backends().await {
        let store = &backend.store;
        store.enqueue_email(&message("m1"), 0).await.unwrap();
        store.mark_email_failed("m1", "452 busy", Some(10)).await.unwrap();
        assert_eq!(store.list_emails(10).await.unwrap()[0].body_text, message("m1").text);
        store.mark_email_failed("m1", "550 no such mailbox", None).await.unwrap();
        let failed = &store.list_emails(10).await.unwrap()[0];
        assert_eq!((failed.status.as_str(), failed.body_text.as_str()), ("failed", ""));
        backend.finish().await;
    }
}
