//! Follow-ups to organizations (issue #7): an org-restricted app stops honouring the grants of a
//! person who left the org (refresh, device polls, userinfo); org invitations expire; and the
//! command line's admin actions land in the security log like the admin API's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

mod cli_audit;
mod invitations;
mod restricted_apps;

use doorway_core::model::Org;
use doorway_core::types::OrgName;
use doorway_store::NewOrg;
use helpers::TestApp;

pub fn unix_now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

pub async fn create_org(app: &TestApp, name: &str, admin_id: &str) -> Org {
    let new = NewOrg {
        id: uuid::Uuid::new_v4().to_string(),
        sub: doorway_core::secrets::random_hex_id(),
        name: OrgName::parse(name).unwrap(),
        display_name: Some(format!("{name} Labs")),
        avatar_url: None,
    };
    app.store.create_org(&new, admin_id, 1).await.unwrap()
}
