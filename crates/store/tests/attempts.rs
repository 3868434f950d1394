//! Attempt counting (brute-force protection) and the security log, on SQLite always and on
//! PostgreSQL when `DOORWAY_TEST_POSTGRES` names a server (as in behaviour.rs). The counting
//! must hold under concurrency: that is what the single conditional UPSERT is for.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::backends;

use doorway_store::{AttemptPolicy, AuditEntry, AuditQuery, Reservation};
use serde_json::json;

const POLICY: AttemptPolicy = AttemptPolicy { max_attempts: 3, window: 60, lockout: 300 };

#[tokio::test]
async fn a_bucket_allows_its_limit_then_refuses_until_the_lockout_ends() {
    for backend in backends().await {
        let store = &backend.store;
        for n in 1..=3 {
            assert_eq!(
                store.reserve_attempt("login_account", "alice", &POLICY, 1_000).await.unwrap(),
                Reservation::Allowed { attempt: n }
            );
        }
        // The fourth begins the lockout (once), the fifth finds it running.
        assert_eq!(
            store.reserve_attempt("login_account", "alice", &POLICY, 1_010).await.unwrap(),
            Reservation::Locked { retry_after: 300, started: true }
        );
        assert_eq!(
            store.reserve_attempt("login_account", "alice", &POLICY, 1_100).await.unwrap(),
            Reservation::Locked { retry_after: 210, started: false }
        );
        // Other buckets are untouched.
        assert!(store.reserve_attempt("login_account", "bob", &POLICY, 1_100).await.unwrap().is_allowed());
        assert!(store.reserve_attempt("login_ip", "alice", &POLICY, 1_100).await.unwrap().is_allowed());
        assert_eq!(store.attempt_lockout(&[("login_account", "alice")], 1_100).await.unwrap(), Some(210));
        // Hammering does not extend the lockout; when it ends, a fresh window starts.
        assert!(!store.reserve_attempt("login_account", "alice", &POLICY, 1_309).await.unwrap().is_allowed());
        assert_eq!(
            store.reserve_attempt("login_account", "alice", &POLICY, 1_310).await.unwrap(),
            Reservation::Allowed { attempt: 1 }
        );
        assert_eq!(store.attempt_lockout(&[("login_account", "alice")], 1_310).await.unwrap(), None);
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_window_that_ended_counts_from_zero() {
    for backend in backends().await {
        let store = &backend.store;
        for _ in 0..3 {
            assert!(store.reserve_attempt("login_account", "carol", &POLICY, 0).await.unwrap().is_allowed());
        }
        assert_eq!(
            store.reserve_attempt("login_account", "carol", &POLICY, 60).await.unwrap(),
            Reservation::Allowed { attempt: 1 }
        );
        backend.finish().await;
    }
}

#[tokio::test]
async fn fifty_concurrent_reservations_let_exactly_the_limit_through() {
    for backend in backends().await {
        let store = backend.store.clone();
        let policy = AttemptPolicy { max_attempts: 5, window: 600, lockout: 600 };
        let tries = (0..50).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.reserve_attempt("login_account", "dave", &policy, 5_000).await.unwrap() })
        });
        let results = futures::future::join_all(tries).await;
        let allowed = results.iter().filter(|r| r.as_ref().unwrap().is_allowed()).count();
        let started =
            results.iter().filter(|r| matches!(r.as_ref().unwrap(), Reservation::Locked { started: true, .. })).count();
        assert_eq!(allowed, 5, "{}", store.dialect());
        assert_eq!(started, 1, "one refusal starts the lockout ({})", store.dialect());
        backend.finish().await;
    }
}

#[tokio::test]
async fn a_refund_gives_back_an_attempt_but_never_lifts_a_lockout() {
    for backend in backends().await {
        let store = &backend.store;
        for _ in 0..3 {
            assert!(store.reserve_attempt("login_ip", "198.51.100.7", &POLICY, 0).await.unwrap().is_allowed());
            store.refund_attempt("login_ip", "198.51.100.7").await.unwrap();
        }
        assert_eq!(
            store.reserve_attempt("login_ip", "198.51.100.7", &POLICY, 1).await.unwrap(),
            Reservation::Allowed { attempt: 1 }
        );
        for _ in 0..3 {
            store.reserve_attempt("login_ip", "198.51.100.7", &POLICY, 2).await.unwrap();
        }
        store.refund_attempt("login_ip", "198.51.100.7").await.unwrap();
        assert!(!store.reserve_attempt("login_ip", "198.51.100.7", &POLICY, 3).await.unwrap().is_allowed());
        // And a refund of a bucket that has nothing is harmless.
        store.refund_attempt("login_ip", "203.0.113.9").await.unwrap();
        assert!(store.reserve_attempt("login_ip", "203.0.113.9", &POLICY, 3).await.unwrap().is_allowed());
        // Purging forgets what no longer counts, and keeps what does.
        store.purge_expired(10_000, 0).await.unwrap();
        assert_eq!(
            store.reserve_attempt("login_ip", "198.51.100.7", &POLICY, 10_000).await.unwrap(),
            Reservation::Allowed { attempt: 1 }
        );
        backend.finish().await;
    }
}

fn entry(id: &str, at: i64, kind: &str, user_id: Option<&str>) -> AuditEntry {
    AuditEntry {
        id: id.to_owned(),
        at,
        kind: kind.to_owned(),
        user_id: user_id.map(str::to_owned),
        actor_user_id: user_id.map(str::to_owned),
        actor_token_id: None,
        client_id: None,
        ip: Some("203.0.113.5".into()),
        user_agent: Some("Firefox".into()),
        detail: json!({ "reason": "wrong_password" }),
    }
}

#[tokio::test]
async fn the_security_log_lists_newest_first_filters_pages_and_purges() {
    for backend in backends().await {
        let store = &backend.store;
        store.record_audit(&entry("0a", 100, "sign_in.failed", Some("u1"))).await.unwrap();
        store.record_audit(&entry("0b", 200, "sign_in.succeeded", Some("u1"))).await.unwrap();
        store.record_audit(&entry("0c", 300, "sign_in.failed", Some("u2"))).await.unwrap();
        store.record_audit(&entry("0d", 400, "sign_in.failed", None)).await.unwrap();

        let all = store.list_audit(&AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
        assert_eq!(all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["0d", "0c", "0b", "0a"]);
        assert_eq!(all[3], entry("0a", 100, "sign_in.failed", Some("u1")), "every field round-trips");

        let mine = store.list_audit(&AuditQuery { user_id: Some("u1"), limit: 10, ..AuditQuery::default() }).await;
        assert_eq!(mine.unwrap().iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["0b", "0a"]);
        let failed =
            store.list_audit(&AuditQuery { kind: Some("sign_in.failed"), limit: 10, ..AuditQuery::default() }).await;
        assert_eq!(failed.unwrap().iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["0d", "0c", "0a"]);
        let page = store.list_audit(&AuditQuery { before: Some("0c"), limit: 1, ..AuditQuery::default() }).await;
        assert_eq!(page.unwrap().iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["0b"]);

        assert_eq!(store.purge_audit_log(250).await.unwrap(), 2);
        let left = store.list_audit(&AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
        assert_eq!(left.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["0d", "0c"]);
        backend.finish().await;
    }
}
