//! Organization invitations expire after 14 days: an expired one is no longer listed (to the
//! invitee or to the org's admins), accepting it answers a readable 410 page, inviting again
//! starts a new period, and the purge job deletes expired ones.

use doorway_core::types::OrgRole;
use doorway_store::ORG_INVITATION_TTL;

use crate::helpers::*;
use crate::{create_org, unix_now};

/// A signed-in browser and the CSRF token its forms carry.
async fn signed_in(app: &TestApp, username: &str) -> (Browser, String) {
    let browser = Browser::new();
    browser.login(app, username).await;
    let page = browser.get(&app.url("/orgs/new")).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").expect("a form with csrf_token");
    (browser, csrf)
}

async fn answer(browser: &Browser, app: &TestApp, csrf: &str, org: &str, decision: &str) -> reqwest::Response {
    let form = [("csrf_token", csrf), ("org", org), ("decision", decision)];
    browser.http.post(app.url("/settings/organization-invitations")).form(&form).send().await.unwrap()
}

#[tokio::test]
async fn an_expired_invitation_is_hidden_and_accepting_it_answers_410_gone() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    let acme = create_org(&app, "acme", &alice.id).await;
    // Sent 14 days ago less 3 seconds, then left to expire (the server's purge job, which
    // runs at start-up and then every minute, would delete one that had already expired).
    let sent = unix_now() - ORG_INVITATION_TTL + 3;
    app.store.invite_to_org(&acme.id, &bob.id, OrgRole::Write, &alice.id, sent).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let now = unix_now();
    assert!(app.store.org_invitation_expired(&acme.id, &bob.id, now).await.unwrap());

    let (browser, csrf) = signed_in(&app, "bob").await;
    let page = browser.get(&app.url("/settings/organizations")).await.text().await.unwrap();
    assert!(!page.contains("invites you as"), "an expired invitation is not offered: {page}");
    let (admin, _) = signed_in(&app, "alice").await;
    let manage = admin.get(&app.url("/settings/organizations/acme")).await.text().await.unwrap();
    assert!(!manage.contains("Pending invitations"), "nor listed to the org's admins: {manage}");

    let gone = answer(&browser, &app, &csrf, "acme", "accept").await;
    let page = error_page(gone, 410).await;
    assert!(page.contains("This invitation has expired"), "{page}");
    assert!(page.contains("valid for 14 days"), "{page}");
    assert_eq!(app.store.org_role(&acme.id, &bob.id).await.unwrap(), None, "not a member");

    // Inviting again starts a new period, shown with its expiry; now it can be accepted.
    app.store.invite_to_org(&acme.id, &bob.id, OrgRole::Write, &alice.id, now).await.unwrap();
    let page = browser.get(&app.url("/settings/organizations")).await.text().await.unwrap();
    assert!(page.contains("invites you as <code>write</code>"), "{page}");
    let expires = time::OffsetDateTime::from_unix_timestamp(now + ORG_INVITATION_TTL).unwrap();
    let date = format!("{}-{:02}-{:02}", expires.year(), u8::from(expires.month()), expires.day());
    assert!(page.contains(&format!("expires <time datetime=\"{date}T")), "{page}");
    let manage = admin.get(&app.url("/settings/organizations/acme")).await.text().await.unwrap();
    assert!(manage.contains("Pending invitations") && manage.contains(&date), "{manage}");
    let accepted = answer(&browser, &app, &csrf, "acme", "accept").await;
    assert_eq!(accepted.status(), 303);
    assert_eq!(app.store.org_role(&acme.id, &bob.id).await.unwrap(), Some(OrgRole::Write));
}

#[tokio::test]
async fn the_purge_deletes_expired_invitations_and_keeps_live_ones() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    let carol = app.create_user("carol").await;
    let acme = create_org(&app, "acme", &alice.id).await;
    // The store is asked as of ten days from now: bob's invitation (sent four days ago) has
    // expired by then, carol's has not, and the server's own purge job, which runs on the real
    // clock, leaves both alone meanwhile.
    let now = unix_now() + 10 * 86_400;
    app.store.invite_to_org(&acme.id, &bob.id, OrgRole::Read, &alice.id, now - ORG_INVITATION_TTL).await.unwrap();
    app.store.invite_to_org(&acme.id, &carol.id, OrgRole::Read, &alice.id, now - 60).await.unwrap();
    assert!(app.store.org_invitation_expired(&acme.id, &bob.id, now).await.unwrap());
    assert!(!app.store.org_invitation_expired(&acme.id, &carol.id, now).await.unwrap());
    let listed: Vec<_> =
        app.store.org_invitations(&acme.id, now).await.unwrap().into_iter().map(|i| i.username).collect();
    assert_eq!(listed, vec!["carol".to_owned()]);
    assert!(!app.store.accept_org_invitation(&acme.id, &bob.id, now).await.unwrap(), "expired: not accepted");

    let purged = app.store.purge_expired(now, 0).await.unwrap();
    assert!(purged.other >= 1, "{purged:?}");
    assert!(!app.store.org_invitation_expired(&acme.id, &bob.id, now).await.unwrap(), "bob's is gone");
    // Once purged, accepting finds nothing: a plain 400, not a 410.
    let (browser, csrf) = signed_in(&app, "bob").await;
    let missing = answer(&browser, &app, &csrf, "acme", "accept").await;
    assert_eq!(missing.status(), 400);
    let waiting = app.store.user_org_invitations(&carol.id, now).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].expires_at, now - 60 + ORG_INVITATION_TTL);
}
