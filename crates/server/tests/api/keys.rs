//! Signing keys over their life, next → active → retired → gone, as relying parties see it
//! through the JWKS and the ID tokens. Key maintenance is driven here at chosen times instead of
//! waiting for the background pass.

use std::collections::HashSet;

use doorway_core::jose::{MasterKey, SigningAlg, SigningKey};
use doorway_core::model::ClientKind;
use doorway_core::types::RedirectPolicy;
use doorway_server::keys::{KeyPolicy, Keys, master_key};
use doorway_server::state::now;
use serde_json::Value;

use crate::helpers::*;

fn policy(app: &TestApp) -> KeyPolicy {
    KeyPolicy::from_config(&app.state.config)
}

fn master(app: &TestApp) -> MasterKey {
    master_key(&app.state.config.data_dir).unwrap()
}

/// The kids the JWKS endpoint publishes.
async fn published_kids(app: &TestApp) -> Vec<String> {
    let jwks: Value = reqwest::get(app.url("/oauth/jwks")).await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

/// The kid of the key with `status` for `alg` in the database (exactly one).
async fn kid_with_status(app: &TestApp, alg: SigningAlg, status: &str) -> String {
    let keys = app.store.list_signing_keys().await.unwrap();
    let found: Vec<_> = keys.iter().filter(|k| k.alg == alg.as_str() && k.status == status).collect();
    assert_eq!(found.len(), 1, "expected one {status} {} key, got {found:?}", alg.as_str());
    found[0].kid.clone()
}

fn header_kid(id_token: &str) -> String {
    jsonwebtoken::decode_header(id_token).unwrap().kid.unwrap()
}

async fn id_token(app: &TestApp, client: &TestClient) -> String {
    tokens_for(app, client, "openid profile").await["id_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_next_key_is_published_before_it_signs_anything() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let old = kid_with_status(&app, SigningAlg::Rs256, "active").await;
    let before = id_token(&app, &client).await;
    assert_eq!(header_kid(&before), old);

    let t0 = now();
    let kids = Keys::rotate(&app.store, &master(&app), &[SigningAlg::Rs256], false, t0).await.unwrap();
    let next = kids[0].clone();
    assert_ne!(next, old);
    app.state.keys.reload(&app.store).await.unwrap();

    let published = published_kids(&app).await;
    assert!(published.contains(&next), "the next key is in the JWKS at once");
    assert!(published.contains(&old));
    assert_eq!(header_kid(&id_token(&app, &client).await), old, "the next key does not sign yet");

    // Not yet published long enough: nothing changes.
    app.state.keys.maintain(&app.store, &policy(&app), t0 + policy(&app).publish_ahead - 1).await.unwrap();
    assert_eq!(kid_with_status(&app, SigningAlg::Rs256, "next").await, next);
    assert_eq!(header_kid(&id_token(&app, &client).await), old);

    // Published for key_publish_ahead: it becomes the signer, the old key retires.
    app.state.keys.maintain(&app.store, &policy(&app), t0 + policy(&app).publish_ahead).await.unwrap();
    assert_eq!(kid_with_status(&app, SigningAlg::Rs256, "active").await, next);
    assert_eq!(kid_with_status(&app, SigningAlg::Rs256, "retired").await, old);
    let after = id_token(&app, &client).await;
    assert_eq!(header_kid(&after), next, "new ID tokens carry the new kid");
    verify_id_token(&app, &client, &after).await;
}

#[tokio::test]
async fn a_token_signed_before_a_rotation_still_verifies_after_it() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let before = id_token(&app, &client).await;
    let old = header_kid(&before);

    // `doorway keys rotate --now`: the new key signs at once.
    let kids = Keys::rotate(&app.store, &master(&app), &[SigningAlg::Rs256], true, now()).await.unwrap();
    app.state.keys.reload(&app.store).await.unwrap();

    let after = id_token(&app, &client).await;
    assert_eq!(header_kid(&after), kids[0]);
    assert_ne!(kids[0], old);
    let claims = verify_id_token(&app, &client, &before).await;
    assert_eq!(claims["aud"], client.client_id, "the retired key still verifies what it signed");
    verify_id_token(&app, &client, &after).await;
}

#[tokio::test]
async fn retired_keys_leave_the_jwks_once_what_they_signed_has_expired() {
    let app = spawn_app().await;
    let policy = policy(&app);
    assert_eq!(policy.retired_lifetime, app.state.config.access_token_ttl + 300);
    let old = kid_with_status(&app, SigningAlg::Es256, "active").await;
    let t0 = now();
    Keys::rotate(&app.store, &master(&app), &[SigningAlg::Es256], true, t0).await.unwrap();

    app.state.keys.maintain(&app.store, &policy, t0 + policy.retired_lifetime).await.unwrap();
    assert!(published_kids(&app).await.contains(&old), "published while a token it signed may be valid");

    app.state.keys.maintain(&app.store, &policy, t0 + policy.retired_lifetime + 1).await.unwrap();
    assert!(!published_kids(&app).await.contains(&old));
    let remaining = app.store.list_signing_keys().await.unwrap();
    assert!(remaining.iter().all(|k| k.kid != old), "deleted from the database too");
    assert_eq!(remaining.len(), SigningAlg::ALL.len(), "one active key per algorithm is left");
}

#[tokio::test]
async fn scheduled_rotation_publishes_then_activates_a_new_key() {
    let app = spawn_app().await;
    let policy = policy(&app);
    let old = kid_with_status(&app, SigningAlg::EdDsa, "active").await;
    let keys = app.store.list_signing_keys().await.unwrap();
    let activated = keys.iter().find(|k| k.kid == old).and_then(|k| k.activated_at).unwrap();
    let due = activated + policy.rotate_every;

    app.state.keys.maintain(&app.store, &policy, due - 1).await.unwrap();
    let keys = app.store.list_signing_keys().await.unwrap();
    assert!(!keys.iter().any(|k| k.alg == "EdDSA" && k.status == "next"), "not due yet");

    app.state.keys.maintain(&app.store, &policy, due).await.unwrap();
    let next = kid_with_status(&app, SigningAlg::EdDsa, "next").await;
    assert_eq!(kid_with_status(&app, SigningAlg::EdDsa, "active").await, old, "still signing with the old key");
    assert!(published_kids(&app).await.contains(&next));

    app.state.keys.maintain(&app.store, &policy, due + policy.publish_ahead).await.unwrap();
    assert_eq!(kid_with_status(&app, SigningAlg::EdDsa, "active").await, next);
    assert_eq!(kid_with_status(&app, SigningAlg::EdDsa, "retired").await, old);
}

#[tokio::test]
async fn a_newer_rotation_supersedes_a_pending_next_key() {
    let app = spawn_app().await;
    let master = master(&app);
    let t0 = now();
    let first = Keys::rotate(&app.store, &master, &[SigningAlg::Rs256], false, t0).await.unwrap();
    let second = Keys::rotate(&app.store, &master, &[SigningAlg::Rs256], true, t0 + 1).await.unwrap();
    let keys = app.store.list_signing_keys().await.unwrap();
    assert!(keys.iter().all(|k| k.kid != first[0]), "the older next key never signs: dropped");
    assert_eq!(kid_with_status(&app, SigningAlg::Rs256, "active").await, second[0]);

    // A later maintenance pass does not bring an older key back in front of the newer one.
    app.state.keys.maintain(&app.store, &policy(&app), t0 + 10_000).await.unwrap();
    assert_eq!(kid_with_status(&app, SigningAlg::Rs256, "active").await, second[0]);
}

#[tokio::test]
async fn every_key_gets_a_new_kid() {
    let app = spawn_app().await;
    let master = master(&app);
    let t0 = now();
    Keys::rotate(&app.store, &master, &SigningAlg::ALL, true, t0).await.unwrap();
    Keys::rotate(&app.store, &master, &SigningAlg::ALL, false, t0 + 1).await.unwrap();
    app.state.keys.reload(&app.store).await.unwrap();

    let keys = app.store.list_signing_keys().await.unwrap();
    assert_eq!(keys.len(), 3 * SigningAlg::ALL.len(), "retired, active and next of every algorithm");
    let kids: HashSet<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids.len(), keys.len());
    let published = published_kids(&app).await;
    assert_eq!(published.iter().collect::<HashSet<_>>().len(), published.len());
    assert_eq!(published.len(), keys.len(), "next, active and retired keys are all published");
}

#[tokio::test]
async fn private_keys_are_sealed_at_rest() {
    let app = spawn_app().await;
    let master = master(&app);
    let stranger = MasterKey::from_bytes(&[7u8; 32]).unwrap();
    for row in app.store.list_signing_keys().await.unwrap() {
        let alg = SigningAlg::parse(&row.alg).unwrap();
        assert!(SigningKey::from_pkcs8(alg, &row.private_key).is_err(), "{} is stored in the clear", row.kid);
        let der = master.open(&row.kid, &row.private_key).unwrap();
        let key = SigningKey::from_pkcs8(alg, &der).expect("the sealed bytes hold a PKCS#8 key");
        assert_eq!(key.kid(), row.kid);
        assert!(!row.private_key.windows(der.len()).any(|w| w == der.as_slice()), "the DER appears in the row");
        // The key material inside the DER (its last 32 bytes) appears nowhere in the row either.
        let tail = &der[der.len() - 32..];
        assert!(!row.private_key.windows(tail.len()).any(|w| w == tail));
        assert!(stranger.open(&row.kid, &row.private_key).is_err(), "another master key cannot open it");
        assert!(master.open("another-kid", &row.private_key).is_err(), "the seal is bound to the kid");
    }
}

#[tokio::test]
async fn rotating_with_the_wrong_master_key_is_refused() {
    let app = spawn_app().await;
    let before = app.store.list_signing_keys().await.unwrap().len();
    let wrong = MasterKey::from_passphrase("not the key this installation was sealed with").unwrap();
    let refused = Keys::rotate(&app.store, &wrong, &[SigningAlg::Rs256], true, now()).await;
    assert!(refused.is_err(), "a key nobody can open would stop every node from loading the key set");
    assert_eq!(app.store.list_signing_keys().await.unwrap().len(), before);
}

#[test]
fn the_key_file_is_private_and_stable() {
    let dir = tempfile::tempdir().unwrap();
    let first = master_key(dir.path()).unwrap();
    let sealed = first.seal("kid", b"secret").unwrap();
    let again = master_key(dir.path()).unwrap();
    assert_eq!(again.open("kid", &sealed).unwrap(), b"secret", "the same file gives the same key");
    let other = master_key(tempfile::tempdir().unwrap().path()).unwrap();
    assert!(other.open("kid", &sealed).is_err(), "another installation's key file cannot open it");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("secret.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn apps_get_id_tokens_signed_with_the_algorithm_they_chose() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    for alg in [SigningAlg::Ps256, SigningAlg::Es256, SigningAlg::EdDsa, SigningAlg::Rs256] {
        let client = app
            .create_client_with("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact, |c| {
                c.id_token_alg = alg.as_str().to_owned()
            })
            .await;
        let token = id_token(&app, &client).await;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(format!("{:?}", header.alg), alg.as_str(), "header alg");
        assert_eq!(header.kid.unwrap(), kid_with_status(&app, alg, "active").await);
        let claims = verify_id_token(&app, &client, &token).await;
        assert_eq!(claims["aud"], client.client_id);
    }
}
