//! `doorway orgs`: organizations from the command line. Operators add members directly (no
//! invitation, as the admin API does); the last admin of an org can be neither removed nor
//! demoted.

use anyhow::{Context, bail};
use clap::Subcommand;
use doorway_core::model::{Org, User};
use doorway_core::secrets::random_hex_id;
use doorway_core::types::{OrgName, OrgRole};
use doorway_store::{MemberChange, NewOrg, Store, StoreError};
use serde_json::json;

use crate::state::now;

#[derive(Debug, Subcommand)]
pub enum OrgsCommand {
    /// Create an organization with a first admin.
    Create {
        /// The organization's name (the same rules as usernames; no user may have it).
        name: String,
        /// The username of its first admin.
        #[arg(long)]
        admin: String,
        #[arg(long)]
        display_name: Option<String>,
        /// An https URL.
        #[arg(long)]
        avatar_url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List organizations.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a member directly (no invitation), or change a member's role.
    AddMember {
        org: String,
        username: String,
        /// admin, write, contributor or read.
        #[arg(long, default_value = "read")]
        role: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a member (not the last admin).
    RemoveMember {
        org: String,
        username: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &Store, cmd: OrgsCommand) -> anyhow::Result<()> {
    match cmd {
        OrgsCommand::Create { name, admin, display_name, avatar_url, json } => {
            let name = OrgName::parse(name.trim()).map_err(anyhow::Error::msg).context("name")?;
            let mut errors = Vec::new();
            let display_name =
                crate::http::orgs::pages::display_name(display_name.as_deref().unwrap_or(""), &mut errors);
            let avatar_url = crate::http::orgs::pages::avatar_url(avatar_url.as_deref().unwrap_or(""), &mut errors);
            if let Some(error) = errors.first() {
                bail!("{error}");
            }
            let admin = find_user(store, &admin).await?;
            let new =
                NewOrg { id: uuid::Uuid::new_v4().to_string(), sub: random_hex_id(), name, display_name, avatar_url };
            let org = match store.create_org(&new, &admin.id, now()).await {
                Ok(org) => org,
                Err(StoreError::Conflict(_)) => bail!("a user or an organization already has the name '{}'", new.name),
                Err(err) => return Err(err.into()),
            };
            super::audit(store, "orgs create", Some(&admin.id), None, json!({ "org": org.name })).await;
            if json {
                println!("{}", serde_json::to_string_pretty(&org)?);
            } else {
                println!("created organization {} (sub {}), admin {}", org.name, org.sub, admin.username);
            }
            Ok(())
        }
        OrgsCommand::List { json } => {
            let orgs = store.list_orgs().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&orgs)?);
            } else {
                for o in orgs {
                    println!("{}\t{}\t{}", o.sub, o.name, o.title());
                }
            }
            Ok(())
        }
        OrgsCommand::AddMember { org, username, role, json } => {
            let org = find_org(store, &org).await?;
            let user = find_user(store, &username).await?;
            let role = OrgRole::parse(&role).map_err(anyhow::Error::msg).context("--role")?;
            if !store.add_org_member(&org.id, &user.id, role, now()).await?
                && store.set_org_member_role(&org.id, &user.id, role).await? == MemberChange::LastAdmin
            {
                bail!("{} is the last admin of {}: make another admin first", user.username, org.name);
            }
            let detail = json!({ "org": org.name, "role": role.as_str() });
            super::audit(store, "orgs add-member", Some(&user.id), None, detail).await;
            report(json, &org, &user, &format!("member ({role})"))
        }
        OrgsCommand::RemoveMember { org, username, json } => {
            let org = find_org(store, &org).await?;
            let user = find_user(store, &username).await?;
            match store.remove_org_member(&org.id, &user.id).await? {
                MemberChange::Done => {
                    super::audit(store, "orgs remove-member", Some(&user.id), None, json!({ "org": org.name })).await;
                    report(json, &org, &user, "removed")
                }
                MemberChange::NotMember => bail!("{} is not a member of {}", user.username, org.name),
                MemberChange::LastAdmin => {
                    bail!("{} is the last admin of {}: make another admin first", user.username, org.name)
                }
            }
        }
    }
}

async fn find_user(store: &Store, username: &str) -> anyhow::Result<User> {
    match store.find_user_by_username(username).await? {
        Some(user) => Ok(user),
        None => bail!("no user named '{username}'"),
    }
}

async fn find_org(store: &Store, name: &str) -> anyhow::Result<Org> {
    match store.find_org_by_name(name).await? {
        Some(org) => Ok(org),
        None => bail!("no organization named '{name}'"),
    }
}

fn report(json: bool, org: &Org, user: &User, action: &str) -> anyhow::Result<()> {
    if json {
        let out = json!({ "org": org.name, "username": user.username, "action": action });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{} in {}: {action}", user.username, org.name);
    }
    Ok(())
}
