//! Organizations in the store, against SQLite always and PostgreSQL when
//! `DOORWAY_TEST_POSTGRES` names a server: one namespace with usernames, invitations that only
//! the invitee turns into memberships, the last-admin rule, and the per-consent org grants.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{backends, create_user as user};

use doorway_core::model::ClientKind;
use doorway_core::secrets::random_hex_id;
use doorway_core::types::{Email, OrgName, OrgRole, RedirectPolicy, RedirectUri, ScopeSet, Username};
use doorway_store::{InviteOutcome, MemberChange, NewClient, NewOrg, NewUser, Store, StoreError};

fn new_org(name: &str) -> NewOrg {
    NewOrg {
        id: random_hex_id(),
        sub: random_hex_id(),
        name: OrgName::parse(name).unwrap(),
        display_name: Some(format!("{name} Inc.")),
        avatar_url: None,
    }
}

async fn client(store: &Store) -> String {
    let new = NewClient {
        client_id: random_hex_id(),
        secret_hash: Some("00".repeat(32)),
        kind: ClientKind::Confidential,
        name: "App".into(),
        homepage_url: None,
        logo_uri: None,
        redirect_uris: vec![RedirectUri::parse("https://app.example/cb").unwrap()],
        redirect_policy: RedirectPolicy::Exact,
        scopes: ScopeSet::parse("openid profile").unwrap(),
        require_pkce: false,
        id_token_alg: "RS256".into(),
        owner_id: None,
        grant_types: Default::default(),
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
    };
    store.create_client(new, 1).await.unwrap().client_id
}

#[tokio::test]
async fn org_names_and_usernames_share_one_namespace_ignoring_case() {
    for backend in backends().await {
        let store = &backend.store;
        let alice = user(store, "alice").await;
        let org = store.create_org(&new_org("Acme"), &alice.id, 5).await.unwrap();
        assert_eq!((org.name.as_str(), org.title(), org.is_enterprise), ("Acme", "Acme Inc.", false));
        assert_eq!(store.find_org_by_name("ACME").await.unwrap().unwrap().id, org.id);
        assert_eq!(store.find_org_by_sub(&org.sub).await.unwrap().unwrap().id, org.id);

        // Another org, or a user, with the same name in any case is refused; so is an org named
        // like a user.
        assert!(matches!(store.create_org(&new_org("acme"), &alice.id, 6).await, Err(StoreError::Conflict("name"))));
        assert!(matches!(store.create_org(&new_org("ALICE"), &alice.id, 6).await, Err(StoreError::Conflict("name"))));
        let clash = NewUser {
            id: random_hex_id(),
            sub: random_hex_id(),
            username: Username::parse("aCmE").unwrap(),
            email: Email::parse("acme@example.com").unwrap(),
            email_verified: false,
            name: None,
            password_hash: "x".into(),
            is_admin: false,
            is_pro: false,
            can_pay: false,
        };
        assert!(matches!(store.create_user(clash, 7).await, Err(StoreError::Conflict("username"))));
        assert_eq!(store.list_orgs().await.unwrap().len(), 1);
        // The creator is the first admin.
        assert_eq!(store.org_role(&org.id, &alice.id).await.unwrap(), Some(OrgRole::Admin));
        backend.finish().await;
    }
}

#[tokio::test]
async fn an_invitation_makes_a_member_only_when_the_invitee_accepts() {
    for backend in backends().await {
        let store = &backend.store;
        let (alice, bob) = (user(store, "alice").await, user(store, "bob").await);
        let org = store.create_org(&new_org("acme"), &alice.id, 5).await.unwrap();

        assert_eq!(
            store.invite_to_org(&org.id, &bob.id, OrgRole::Read, &alice.id, 6).await.unwrap(),
            InviteOutcome::Invited
        );
        assert_eq!(
            store.invite_to_org(&org.id, &bob.id, OrgRole::Write, &alice.id, 7).await.unwrap(),
            InviteOutcome::AlreadyInvited
        );
        assert_eq!(store.org_role(&org.id, &bob.id).await.unwrap(), None, "invited is not a member");
        assert!(store.user_orgs(&bob.id).await.unwrap().is_empty());
        let waiting = store.user_org_invitations(&bob.id, 7).await.unwrap();
        assert_eq!((waiting.len(), waiting[0].role, waiting[0].org.id.as_str()), (1, OrgRole::Write, org.id.as_str()));
        assert_eq!(store.org_invitations(&org.id, 7).await.unwrap()[0].username, "bob");

        assert!(store.accept_org_invitation(&org.id, &bob.id, 8).await.unwrap());
        assert!(!store.accept_org_invitation(&org.id, &bob.id, 8).await.unwrap(), "an invitation is used once");
        assert_eq!(store.org_role(&org.id, &bob.id).await.unwrap(), Some(OrgRole::Write));
        assert!(store.user_org_invitations(&bob.id, 7).await.unwrap().is_empty());
        assert_eq!(
            store.invite_to_org(&org.id, &bob.id, OrgRole::Read, &alice.id, 9).await.unwrap(),
            InviteOutcome::AlreadyMember
        );
        let members: Vec<_> =
            store.org_members(&org.id).await.unwrap().into_iter().map(|m| (m.username, m.role)).collect();
        assert_eq!(members, vec![("alice".to_owned(), OrgRole::Admin), ("bob".to_owned(), OrgRole::Write)]);

        // A declined invitation leaves nothing behind.
        let carol = user(store, "carol").await;
        store.invite_to_org(&org.id, &carol.id, OrgRole::Read, &alice.id, 10).await.unwrap();
        assert!(store.delete_org_invitation(&org.id, &carol.id).await.unwrap());
        assert!(!store.accept_org_invitation(&org.id, &carol.id, 11).await.unwrap());
        assert_eq!(store.org_role(&org.id, &carol.id).await.unwrap(), None);
        backend.finish().await;
    }
}

#[tokio::test]
async fn the_last_admin_can_neither_leave_nor_be_demoted() {
    for backend in backends().await {
        let store = &backend.store;
        let (alice, bob) = (user(store, "alice").await, user(store, "bob").await);
        let org = store.create_org(&new_org("acme"), &alice.id, 5).await.unwrap();
        assert!(store.add_org_member(&org.id, &bob.id, OrgRole::Read, 6).await.unwrap());
        assert!(!store.add_org_member(&org.id, &bob.id, OrgRole::Admin, 6).await.unwrap(), "already a member");

        assert_eq!(
            store.set_org_member_role(&org.id, &alice.id, OrgRole::Write).await.unwrap(),
            MemberChange::LastAdmin
        );
        assert_eq!(store.remove_org_member(&org.id, &alice.id).await.unwrap(), MemberChange::LastAdmin);
        assert_eq!(store.org_role(&org.id, &alice.id).await.unwrap(), Some(OrgRole::Admin));

        // With a second admin, the first may step down, and then the second is the last.
        assert_eq!(store.set_org_member_role(&org.id, &bob.id, OrgRole::Admin).await.unwrap(), MemberChange::Done);
        assert_eq!(store.set_org_member_role(&org.id, &alice.id, OrgRole::Read).await.unwrap(), MemberChange::Done);
        assert_eq!(store.remove_org_member(&org.id, &bob.id).await.unwrap(), MemberChange::LastAdmin);
        assert_eq!(store.remove_org_member(&org.id, &alice.id).await.unwrap(), MemberChange::Done);
        assert_eq!(store.remove_org_member(&org.id, &alice.id).await.unwrap(), MemberChange::NotMember);
        assert_eq!(
            store.set_org_member_role(&org.id, &alice.id, OrgRole::Read).await.unwrap(),
            MemberChange::NotMember
        );
        backend.finish().await;
    }
}

#[tokio::test]
async fn org_grants_belong_to_the_consent_and_to_membership() {
    for backend in backends().await {
        let store = &backend.store;
        let (alice, bob) = (user(store, "alice").await, user(store, "bob").await);
        let acme = store.create_org(&new_org("acme"), &alice.id, 5).await.unwrap();
        let beta = store.create_org(&new_org("beta"), &alice.id, 5).await.unwrap();
        let other = store.create_org(&new_org("other"), &bob.id, 5).await.unwrap();
        assert!(store.add_org_member(&acme.id, &bob.id, OrgRole::Contributor, 6).await.unwrap());
        let client_id = client(store).await;
        store.grant_consent(&alice.id, &client_id, &ScopeSet::parse("openid profile").unwrap(), 7).await.unwrap();

        // Only orgs the person belongs to can be granted.
        store.set_org_grants(&alice.id, &client_id, &[acme.id.clone(), other.id.clone()], 8).await.unwrap();
        assert_eq!(store.org_grants(&alice.id, &client_id).await.unwrap(), vec![acme.id.clone()]);
        let claim: Vec<_> = store
            .orgs_for_claim(&alice.id, &client_id)
            .await
            .unwrap()
            .into_iter()
            .map(|(m, granted)| (m.org.name, m.role, granted))
            .collect();
        assert_eq!(claim, vec![("acme".to_owned(), OrgRole::Admin, true), ("beta".to_owned(), OrgRole::Admin, false)]);
        assert!(store.is_member_of_org_named(&alice.id, "ACME").await.unwrap());
        assert!(!store.is_member_of_org_named(&alice.id, "other").await.unwrap());

        // Replacing is replacing; revoking the app takes the grants with the consent.
        store.set_org_grants(&alice.id, &client_id, std::slice::from_ref(&beta.id), 9).await.unwrap();
        assert_eq!(store.org_grants(&alice.id, &client_id).await.unwrap(), vec![beta.id.clone()]);
        store.revoke_connected_app(&alice.id, &client_id, 10).await.unwrap();
        store.grant_consent(&alice.id, &client_id, &ScopeSet::parse("openid profile").unwrap(), 11).await.unwrap();
        assert!(store.org_grants(&alice.id, &client_id).await.unwrap().is_empty());

        // Leaving an org takes its grants; deleting an org takes everything of it.
        store.grant_consent(&bob.id, &client_id, &ScopeSet::parse("openid profile").unwrap(), 12).await.unwrap();
        store.set_org_grants(&bob.id, &client_id, &[acme.id.clone(), other.id.clone()], 12).await.unwrap();
        assert_eq!(store.remove_org_member(&acme.id, &bob.id).await.unwrap(), MemberChange::Done);
        store.add_org_member(&acme.id, &bob.id, OrgRole::Read, 13).await.unwrap();
        assert_eq!(store.org_grants(&bob.id, &client_id).await.unwrap(), vec![other.id.clone()]);
        assert!(store.delete_org(&other.id).await.unwrap());
        assert!(store.org_grants(&bob.id, &client_id).await.unwrap().is_empty());
        assert!(store.user_orgs(&bob.id).await.unwrap().iter().all(|m| m.org.id != other.id));
        backend.finish().await;
    }
}

#[tokio::test]
async fn invitations_expire_after_fourteen_days_and_are_purged() {
    use doorway_store::ORG_INVITATION_TTL;
    for backend in backends().await {
        let store = &backend.store;
        let (alice, bob, carol) = (user(store, "alice").await, user(store, "bob").await, user(store, "carol").await);
        let org = store.create_org(&new_org("acme"), &alice.id, 5).await.unwrap();
        store.invite_to_org(&org.id, &bob.id, OrgRole::Read, &alice.id, 100).await.unwrap();
        store.invite_to_org(&org.id, &carol.id, OrgRole::Read, &alice.id, 200).await.unwrap();
        let expiry = 100 + ORG_INVITATION_TTL;
        let waiting = store.user_org_invitations(&bob.id, expiry - 1).await.unwrap();
        assert_eq!((waiting.len(), waiting[0].expires_at), (1, expiry));

        // At its expiry: hidden, not acceptable, and known as expired.
        assert!(store.user_org_invitations(&bob.id, expiry).await.unwrap().is_empty());
        let listed: Vec<_> =
            store.org_invitations(&org.id, expiry).await.unwrap().into_iter().map(|i| i.username).collect();
        assert_eq!(listed, vec!["carol".to_owned()]);
        assert!(!store.accept_org_invitation(&org.id, &bob.id, expiry).await.unwrap());
        assert!(store.org_invitation_expired(&org.id, &bob.id, expiry).await.unwrap());
        assert!(!store.org_invitation_expired(&org.id, &carol.id, expiry).await.unwrap());

        // Inviting again renews it.
        store.invite_to_org(&org.id, &bob.id, OrgRole::Write, &alice.id, expiry).await.unwrap();
        assert_eq!(
            store.user_org_invitations(&bob.id, expiry).await.unwrap()[0].expires_at,
            expiry + ORG_INVITATION_TTL
        );

        // The purge deletes expired ones only.
        store.purge_expired(200 + ORG_INVITATION_TTL, 0).await.unwrap();
        assert!(!store.org_invitation_expired(&org.id, &carol.id, i64::MAX / 2).await.unwrap(), "carol's is gone");
        assert!(store.accept_org_invitation(&org.id, &bob.id, expiry + 1).await.unwrap(), "bob's renewed one stays");
        assert_eq!(store.org_role(&org.id, &bob.id).await.unwrap(), Some(OrgRole::Write));
        backend.finish().await;
    }
}
