//! What must hold after a SIGKILL and a restart on the same database. Every check fails the
//! test with what was lost or duplicated.

use std::time::Duration;

use doorway_core::secrets::hash_secret;
use futures::StreamExt;
use serde_json::Value;

use crate::db::Db;
use crate::helpers::TestClient;
use crate::load::{Chain, IssuedCode, Records, Setup, SignedUp};
use crate::nodes::ISSUER;
use crate::wire::{self, Fail, TokenAnswer};

/// A token issued during setup, long before any kill.
pub struct Witness {
    pub access_token: String,
    pub id_token: String,
}

fn answered<T>(step: wire::Step<T>, what: &str) -> T {
    match step {
        Ok(value) => value,
        Err(Fail::Down) => panic!("{what}: the restarted server went away"),
        Err(Fail::Bug(bug)) => panic!("{what}: {bug}"),
    }
}

fn assert_invalid_grant(answer: &TokenAnswer, what: &str) {
    assert_eq!(answer.status, 400, "{what}: {}", answer.body);
    assert_eq!(answer.body["error"], "invalid_grant", "{what}: {}", answer.body);
}

/// The kids a node's JWKS publishes.
pub async fn published_kids(base: &str) -> Vec<String> {
    let jwks: Value = reqwest::get(format!("{base}/oauth/jwks")).await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

/// Signing keys are durable: the JWKS still has every kid it had, an ID token signed before the
/// kill verifies against it, and an access token issued before still introspects active.
pub async fn keys(base: &str, setup: &Setup, kids_before: &[String], witness: &Witness) {
    let kids_after = published_kids(base).await;
    for kid in kids_before {
        assert!(kids_after.contains(kid), "signing key {kid} was lost: {kids_after:?}");
    }
    let jwks: jsonwebtoken::jwk::JwkSet =
        reqwest::get(format!("{base}/oauth/jwks")).await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(&witness.id_token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("the ID token's key is published");
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[setup.first_party.client_id.as_str()]);
    validation.set_issuer(&[ISSUER]);
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    jsonwebtoken::decode::<Value>(&witness.id_token, &key, &validation).expect("an ID token from before verifies");

    let introspected: Value = wire::client()
        .post(format!("{base}/oauth/introspect"))
        .basic_auth(&setup.first_party.client_id, setup.first_party.secret.as_deref())
        .form(&[("token", witness.access_token.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true, "an access token from before the kill: {introspected}");
}

/// No family anywhere has two live refresh tokens.
pub async fn one_live_token_per_family(db: &Db) {
    assert_eq!(db.families_with_two_live_tokens().await, 0, "a family has two live refresh tokens");
}

/// The rule for a chain whose last acknowledged token is T and whose answer for T's rotation
/// may have been lost in the kill (committed, then killed before the response was written):
///
/// - every token the server handed out is still stored, and the family has exactly one live
///   token: T itself, or T's successor S — and then T is rotated and S is the only token of the
///   family the client never saw;
/// - on the wire, T still works: if T is live it rotates to a new token; if the rotation had
///   committed, the refresh grace window hands out that same S (nothing is lost, nothing forks).
pub async fn chains(base: &str, db: &Db, chains: &mut [Chain]) {
    let http = wire::client();
    for (i, chain) in chains.iter_mut().enumerate() {
        let last_hash = hash_secret(&chain.last);
        let rows = db.family_of(&last_hash).await;
        for known in &chain.known {
            assert!(rows.iter().any(|r| &r.token_hash == known), "chain {i}: an acknowledged refresh token was lost");
        }
        let live: Vec<_> = rows.iter().filter(|r| r.live()).collect();
        assert_eq!(live.len(), 1, "chain {i}: exactly one live refresh token: {rows:?}");
        assert!(rows.iter().all(|r| r.revoked_at.is_none()), "chain {i}: nothing revoked the family: {rows:?}");
        let unseen: Vec<_> = rows.iter().filter(|r| !chain.known.contains(&r.token_hash)).collect();
        let committed_unanswered = live[0].token_hash != last_hash;
        if committed_unanswered {
            assert_eq!(unseen.len(), 1, "chain {i}: one successor the client never saw: {rows:?}");
            assert_eq!(unseen[0].token_hash, live[0].token_hash, "chain {i}: that successor is the live one");
        } else {
            assert!(unseen.is_empty(), "chain {i}: no token the client never saw: {rows:?}");
        }

        let answer = answered(wire::refresh(&http, base, &chain.client, &chain.last).await, "refreshing after restart");
        assert_eq!(answer.status, 200, "chain {i}: the last acknowledged token still works: {}", answer.body);
        let next = answered(answer.str("refresh_token"), "refresh answer");
        if committed_unanswered {
            assert_eq!(hash_secret(&next), live[0].token_hash, "chain {i}: the grace window returns the lost answer");
            chain.lost_answers += 1;
        } else {
            assert!(!chain.known.contains(&hash_secret(&next)), "chain {i}: a new successor");
        }
        chain.acknowledge(next);
    }
}

/// Codes: a redeemed code never redeems again; a code nobody redeemed redeems exactly once
/// (it is younger than the code lifetime); a redemption the kill cut off succeeded at most once.
pub async fn codes(base: &str, records: &Records) {
    let http = wire::client();
    let exchange = async |code: &IssuedCode| wire::exchange(&http, base, &code.client, &code.code).await;
    for code in &records.redeemed {
        let answer = answered(exchange(code).await, "replaying a redeemed code");
        assert_invalid_grant(&answer, "a code redeemed before the kill");
    }
    for code in &records.unredeemed {
        let first = answered(exchange(code).await, "redeeming an unused code");
        if code.minted.elapsed() < Duration::from_secs(50) {
            assert_eq!(first.status, 200, "a code nobody redeemed redeems once: {}", first.body);
        } else if first.status != 200 {
            assert_invalid_grant(&first, "an expired code");
        }
        let second = answered(exchange(code).await, "redeeming an unused code again");
        assert_invalid_grant(&second, "a code never redeems twice");
    }
    for code in &records.in_flight {
        let mut successes = 0;
        for _ in 0..2 {
            let answer = answered(exchange(code).await, "redeeming a code whose redemption was cut off");
            if answer.status == 200 {
                successes += 1;
            } else {
                assert_invalid_grant(&answer, "a code whose redemption was cut off");
            }
        }
        assert!(successes <= 1, "a code redeemed twice after a crash");
    }
}

/// Every user whose sign-up was acknowledged signs in; one who consented is not asked again.
pub async fn users(base: &str, setup: &Setup, users: &[SignedUp]) {
    futures::stream::iter(users)
        .for_each_concurrent(4, |user| async move {
            let http = wire::browser();
            let flow = answered(
                wire::authorize(&http, base, &setup.consent_app, &user.username, !user.consented).await,
                &format!("signing in as {} after the crash", user.username),
            );
            let answer = answered(wire::exchange(&wire::client(), base, &setup.consent_app, &flow.code).await, "code");
            assert_eq!(answer.status, 200, "{}: {}", user.username, answer.body);
        })
        .await;
}

/// A sign-up the kill cut off is all or nothing: the name is free (signing up again succeeds),
/// or the account exists whole and signs in.
pub async fn signups_cut_off(base: &str, setup: &Setup, usernames: &[String]) {
    for username in usernames {
        let http = wire::browser();
        let (status, page) = answered(wire::signup_answer(&http, base, username).await, "signing up again");
        match status {
            303 => {}
            422 => {
                assert!(page.contains("taken") || page.contains("already exists"), "{username}: {page}");
                let flow = answered(
                    wire::authorize(&wire::browser(), base, &setup.consent_app, username, true).await,
                    &format!("signing in as {username}, whose sign-up was cut off"),
                );
                let answer = answered(wire::exchange(&http, base, &setup.consent_app, &flow.code).await, "code");
                assert_eq!(answer.status, 200, "{username}: {}", answer.body);
            }
            _ => panic!("signing up {username} again answered {status}: {page}"),
        }
    }
}

/// Every app the admin API created (`201`) exists with its secret.
pub async fn apps(base: &str, apps: &[TestClient]) {
    let http = wire::client();
    for app in apps {
        let answer = answered(wire::client_credentials(&http, base, app).await, "client_credentials");
        assert_eq!(answer.status, 200, "app {} created before the kill: {}", app.client_id, answer.body);
    }
}
