//! Organization pages: creating one, its public profile at `/<name>`, invitations the invitee
//! accepts, roles, the last-admin rule, and that only admins manage members.

use doorway_core::types::{OrgName, OrgRole};
use doorway_store::NewOrg;

use crate::helpers::*;

/// `name`, created in the store with `admin` as its admin.
pub async fn create_org(app: &TestApp, name: &str, admin_id: &str) -> doorway_core::model::Org {
    let new = NewOrg {
        id: uuid::Uuid::new_v4().to_string(),
        sub: doorway_core::secrets::random_hex_id(),
        name: OrgName::parse(name).unwrap(),
        display_name: Some(format!("{name} Labs")),
        avatar_url: None,
    };
    app.store.create_org(&new, admin_id, 1).await.unwrap()
}

/// A signed-in browser and the CSRF token its forms carry.
async fn signed_in(app: &TestApp, username: &str) -> (Browser, String) {
    let browser = Browser::new();
    browser.login(app, username).await;
    let page = browser.get(&app.url("/orgs/new")).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").expect("a form with csrf_token");
    (browser, csrf)
}

async fn post(browser: &Browser, app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    browser.http.post(app.url(path)).form(form).send().await.unwrap()
}

#[tokio::test]
async fn creating_an_organization_makes_the_creator_its_admin_and_gives_it_a_public_profile() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let (browser, _) = signed_in(&app, "alice").await;
    let page = browser.get(&app.url("/orgs/new")).await;
    assert_eq!(page.status(), 200);
    let csrf = input_value(&page.text().await.unwrap(), "csrf_token").unwrap();

    let form = [("csrf_token", csrf.as_str()), ("name", "Acme"), ("display_name", "Acme Labs"), ("avatar_url", "")];
    let created = post(&browser, &app, "/orgs/new", &form).await;
    assert_eq!(created.status(), 303);
    assert_eq!(location(&created), "/settings/organizations/Acme");
    let org = app.store.find_org_by_name("acme").await.unwrap().unwrap();
    assert_eq!(app.store.org_role(&org.id, &alice.id).await.unwrap(), Some(OrgRole::Admin));

    let list = browser.get(&app.url("/settings/organizations")).await.text().await.unwrap();
    assert!(list.contains("href=\"/settings/organizations/Acme\"") && list.contains("admin"), "{list}");

    // The profile is public, at the path usernames use, and lists the members.
    let profile = reqwest::get(app.url("/acme")).await.unwrap();
    assert_eq!(profile.status(), 200);
    let profile = profile.text().await.unwrap();
    assert!(profile.contains("Acme Labs") && profile.contains("@Acme") && profile.contains("href=\"/alice\""));
    assert_eq!(reqwest::get(app.url("/nobody-here")).await.unwrap().status(), 404);
}

#[tokio::test]
async fn an_organization_name_follows_the_username_rules_and_cannot_be_a_username() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    app.create_user("bob").await;
    let (browser, csrf) = signed_in(&app, "alice").await;
    for (name, avatar, message) in [
        ("BOB", "", "This name is taken."),
        ("settings", "", "This name is reserved."),
        ("a", "", "An organization name is 2 to 42 characters long."),
        ("acme", "http://img.example/a.png", "The avatar URL must be an https:"),
    ] {
        let form = [("csrf_token", csrf.as_str()), ("name", name), ("display_name", ""), ("avatar_url", avatar)];
        let refused = post(&browser, &app, "/orgs/new", &form).await;
        assert_eq!(refused.status(), 422, "{name}");
        let page = refused.text().await.unwrap();
        assert!(page.contains(message), "{name}: {page}");
    }
    assert!(app.store.list_orgs().await.unwrap().is_empty());

    // Nor may a new account take an organization's name.
    let alice = app.store.find_user_by_username("alice").await.unwrap().unwrap();
    create_org(&app, "acme", &alice.id).await;
    let signup = Browser::new();
    let page = signup.get(&app.url("/signup")).await.text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let form =
        [("csrf_token", csrf.as_str()), ("username", "ACME"), ("email", "a@example.com"), ("password", PASSWORD)];
    let refused = signup.http.post(app.url("/signup")).form(&form).send().await.unwrap();
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("This username is taken."));
}

#[tokio::test]
async fn an_invited_person_becomes_a_member_only_by_accepting() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    let org = create_org(&app, "acme", &alice.id).await;
    let (admin, csrf) = signed_in(&app, "alice").await;

    let invited = post(
        &admin,
        &app,
        "/settings/organizations/acme/invite",
        &[("csrf_token", csrf.as_str()), ("username", "bob"), ("role", "write")],
    )
    .await;
    assert_eq!(invited.status(), 303);
    assert_eq!(location(&invited), "/settings/organizations/acme?notice=invited");
    assert_eq!(app.store.org_role(&org.id, &bob.id).await.unwrap(), None, "not a member before accepting");
    let manage = admin.get(&app.url("/settings/organizations/acme")).await.text().await.unwrap();
    assert!(manage.contains("Pending invitations") && manage.contains("<strong>bob</strong> <code>write</code>"));

    let unknown = post(
        &admin,
        &app,
        "/settings/organizations/acme/invite",
        &[("csrf_token", csrf.as_str()), ("username", "nobody"), ("role", "read")],
    )
    .await;
    assert_eq!(unknown.status(), 422);
    assert!(unknown.text().await.unwrap().contains("There is no account with this username."));

    let (invitee, bob_csrf) = signed_in(&app, "bob").await;
    let list = invitee.get(&app.url("/settings/organizations")).await.text().await.unwrap();
    assert!(list.contains("invites you as <code>write</code>"), "{list}");
    let accepted = post(
        &invitee,
        &app,
        "/settings/organization-invitations",
        &[("csrf_token", bob_csrf.as_str()), ("org", "acme"), ("decision", "accept")],
    )
    .await;
    assert_eq!(accepted.status(), 303);
    assert_eq!(location(&accepted), "/settings/organizations?notice=accepted");
    assert_eq!(app.store.org_role(&org.id, &bob.id).await.unwrap(), Some(OrgRole::Write));
    let again = post(
        &invitee,
        &app,
        "/settings/organization-invitations",
        &[("csrf_token", bob_csrf.as_str()), ("org", "acme"), ("decision", "accept")],
    )
    .await;
    assert_eq!(again.status(), 400, "an invitation is answered once");

    // A declined invitation makes no member.
    let carol = app.create_user("carol").await;
    post(
        &admin,
        &app,
        "/settings/organizations/acme/invite",
        &[("csrf_token", csrf.as_str()), ("username", "carol"), ("role", "read")],
    )
    .await;
    let (declining, carol_csrf) = signed_in(&app, "carol").await;
    let declined = post(
        &declining,
        &app,
        "/settings/organization-invitations",
        &[("csrf_token", carol_csrf.as_str()), ("org", "acme"), ("decision", "decline")],
    )
    .await;
    assert_eq!(location(&declined), "/settings/organizations?notice=declined");
    assert_eq!(app.store.org_role(&org.id, &carol.id).await.unwrap(), None);
}

#[tokio::test]
async fn the_last_admin_can_neither_leave_nor_be_demoted_but_a_second_admin_frees_them() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    let org = create_org(&app, "acme", &alice.id).await;
    app.store.add_org_member(&org.id, &bob.id, OrgRole::Read, 2).await.unwrap();
    let (admin, csrf) = signed_in(&app, "alice").await;

    let leave = post(&admin, &app, "/settings/organizations/acme/leave", &[("csrf_token", csrf.as_str())]).await;
    assert_eq!(leave.status(), 409);
    assert!(leave.text().await.unwrap().contains("last admin"));
    let demote = post(
        &admin,
        &app,
        "/settings/organizations/acme/members",
        &[("csrf_token", csrf.as_str()), ("username", "alice"), ("role", "read"), ("action", "role")],
    )
    .await;
    assert_eq!(demote.status(), 409);
    assert_eq!(app.store.org_role(&org.id, &alice.id).await.unwrap(), Some(OrgRole::Admin));

    let promote = post(
        &admin,
        &app,
        "/settings/organizations/acme/members",
        &[("csrf_token", csrf.as_str()), ("username", "bob"), ("role", "admin"), ("action", "role")],
    )
    .await;
    assert_eq!(location(&promote), "/settings/organizations/acme?notice=role");
    let leave = post(&admin, &app, "/settings/organizations/acme/leave", &[("csrf_token", csrf.as_str())]).await;
    assert_eq!(location(&leave), "/settings/organizations?notice=left");
    assert_eq!(app.store.org_role(&org.id, &alice.id).await.unwrap(), None);
    assert_eq!(app.store.org_role(&org.id, &bob.id).await.unwrap(), Some(OrgRole::Admin));
}

#[tokio::test]
async fn only_admins_manage_members_and_non_members_see_nothing() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    app.create_user("carol").await;
    let org = create_org(&app, "acme", &alice.id).await;
    app.store.add_org_member(&org.id, &bob.id, OrgRole::Write, 2).await.unwrap();

    let (member, csrf) = signed_in(&app, "bob").await;
    let page = member.get(&app.url("/settings/organizations/acme")).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(!page.contains("Invite a member") && !page.contains("name=\"action\""), "no admin controls for bob");
    for (path, form) in [
        ("/settings/organizations/acme/invite", vec![("username", "carol"), ("role", "admin")]),
        ("/settings/organizations/acme/members", vec![("username", "alice"), ("role", "read"), ("action", "remove")]),
        ("/settings/organizations/acme/members", vec![("username", "bob"), ("role", "admin"), ("action", "role")]),
        ("/settings/organizations/acme/invitations/withdraw", vec![("username", "carol")]),
        ("/settings/organizations/acme/profile", vec![("display_name", "Taken over"), ("avatar_url", "")]),
    ] {
        let mut form = form;
        form.push(("csrf_token", csrf.as_str()));
        let refused = post(&member, &app, path, &form).await;
        assert_eq!(refused.status(), 403, "{path}");
    }
    assert_eq!(app.store.org_role(&org.id, &alice.id).await.unwrap(), Some(OrgRole::Admin));
    assert_eq!(app.store.org_role(&org.id, &bob.id).await.unwrap(), Some(OrgRole::Write));
    assert!(app.store.org_invitations(&org.id, 0).await.unwrap().is_empty());
    assert_eq!(app.store.find_org(&org.id).await.unwrap().unwrap().title(), "acme Labs");

    // A non-member cannot even see the management page; anyone signed out is sent to sign in.
    let (outsider, outsider_csrf) = signed_in(&app, "carol").await;
    assert_eq!(outsider.get(&app.url("/settings/organizations/acme")).await.status(), 404);
    let refused = post(
        &outsider,
        &app,
        "/settings/organizations/acme/invite",
        &[("csrf_token", outsider_csrf.as_str()), ("username", "carol"), ("role", "admin")],
    )
    .await;
    assert_eq!(refused.status(), 404);
    let anonymous = Browser::new().get(&app.url("/settings/organizations")).await;
    assert_eq!(anonymous.status(), 303);
    assert!(location(&anonymous).starts_with("/login"));

    // A member who is not an admin may leave.
    let left = post(&member, &app, "/settings/organizations/acme/leave", &[("csrf_token", csrf.as_str())]).await;
    assert_eq!(location(&left), "/settings/organizations?notice=left");
}

/// An admin API call with a fresh admin token.
async fn api_call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let token = doorway_core::secrets::random_token("dwa_");
    let new = doorway_store::NewAdminToken {
        id: doorway_core::secrets::random_hex_id(),
        name: "orgs tests".into(),
        token_hash: doorway_core::secrets::hash_secret(&token),
        read_only: false,
    };
    app.store.create_admin_token(&new, 0).await.unwrap();
    let mut request = reqwest::Client::new().request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn operators_manage_organizations_through_the_admin_api() {
    use reqwest::Method;
    use serde_json::{Value, json};
    let app = spawn_app().await;
    app.create_user("alice").await;
    app.create_user("bob").await;

    let created = api_call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(json!({ "name": "acme", "admin": "alice", "display_name": "Acme Labs" })),
    )
    .await;
    assert_eq!(created.status(), 201);
    let org: Value = created.json().await.unwrap();
    assert_eq!(
        (org["name"].as_str(), org["display_name"].as_str(), org["is_enterprise"].as_bool()),
        (Some("acme"), Some("Acme Labs"), Some(false))
    );
    assert_eq!(org["sub"].as_str().unwrap().len(), 24);
    let taken = api_call(&app, Method::POST, "/api/v1/orgs", Some(json!({ "name": "Bob", "admin": "alice" }))).await;
    assert_eq!(taken.status(), 409);

    let added = api_call(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/members",
        Some(json!({ "username": "bob", "role": "contributor" })),
    )
    .await;
    assert_eq!(added.status(), 200);
    let members: Value = added.json().await.unwrap();
    let roles: Vec<(&str, &str)> = members["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["username"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, vec![("alice", "admin"), ("bob", "contributor")]);
    let got: Value = api_call(&app, Method::GET, "/api/v1/orgs/ACME", None).await.json().await.unwrap();
    assert_eq!(got["members"].as_array().unwrap().len(), 2);

    assert_eq!(api_call(&app, Method::DELETE, "/api/v1/orgs/acme/members/alice", None).await.status(), 409);
    assert_eq!(api_call(&app, Method::DELETE, "/api/v1/orgs/acme/members/bob", None).await.status(), 200);
    let list: Value = api_call(&app, Method::GET, "/api/v1/orgs", None).await.json().await.unwrap();
    assert_eq!(list["data"][0]["name"], "acme");
    assert_eq!(api_call(&app, Method::DELETE, "/api/v1/orgs/acme", None).await.status(), 200);
    assert_eq!(api_call(&app, Method::GET, "/api/v1/orgs/acme", None).await.status(), 404);
}

#[tokio::test]
async fn the_cli_creates_organizations_and_keeps_their_last_admin() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_doorway"))
            .arg("--data-dir")
            .arg(app._dir.path())
            .args(args)
            .env_remove("DOORWAY_DATABASE_URL")
            .env_remove("DOORWAY_CONFIG")
            .env_remove("DOORWAY_DATA_DIR")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let created = run(&["orgs", "create", "acme", "--admin", "alice", "--display-name", "Acme Labs", "--json"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let org: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(org["name"], "acme");
    let taken = run(&["orgs", "create", "bob", "--admin", "alice"]);
    assert!(!taken.status.success());
    assert!(String::from_utf8_lossy(&taken.stderr).contains("already has the name"));

    assert!(run(&["orgs", "add-member", "acme", "bob", "--role", "write"]).status.success());
    let org = app.store.find_org_by_name("acme").await.unwrap().unwrap();
    assert_eq!(app.store.org_role(&org.id, &bob.id).await.unwrap(), Some(OrgRole::Write));
    let last = run(&["orgs", "remove-member", "acme", "alice"]);
    assert!(!last.status.success());
    assert!(String::from_utf8_lossy(&last.stderr).contains("last admin"));
    assert!(run(&["orgs", "remove-member", "acme", "bob"]).status.success());
    let listed = run(&["orgs", "list", "--json"]);
    let orgs: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(orgs[0]["display_name"], "Acme Labs");
}

#[tokio::test]
async fn an_admin_changes_the_display_name_and_avatar_that_apps_see() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let org = create_org(&app, "acme", &alice.id).await;
    let (admin, csrf) = signed_in(&app, "alice").await;
    let path = "/settings/organizations/acme/profile";

    let refused =
        post(&admin, &app, path, &[("csrf_token", csrf.as_str()), ("display_name", ""), ("avatar_url", "ftp://x")])
            .await;
    assert_eq!(refused.status(), 422);
    let avatar = "https://img.example/acme.png";
    let form = [("csrf_token", csrf.as_str()), ("display_name", "Acme Research"), ("avatar_url", avatar)];
    let saved = post(&admin, &app, path, &form).await;
    assert_eq!(location(&saved), "/settings/organizations/acme?notice=profile");
    let stored = app.store.find_org(&org.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.title(), stored.avatar_url.as_deref(), stored.name.as_str()),
        ("Acme Research", Some(avatar), "acme")
    );
    let profile = reqwest::get(app.url("/acme")).await.unwrap().text().await.unwrap();
    assert!(profile.contains("Acme Research"));
}
