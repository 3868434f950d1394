//! `doorway admin-tokens`: the bearer tokens of the admin API (`/api/v1`). A token is printed
//! once, at creation; only its SHA-256 is stored. `list` never shows a token or its hash.

use anyhow::bail;
use clap::Subcommand;
use doorway_core::secrets::{hash_secret, random_hex_id, random_token};
use doorway_store::{AdminToken, NewAdminToken, Store};
use serde_json::json;

use crate::http::admin::auth::TOKEN_PREFIX;
use crate::state::now;

#[derive(Debug, Subcommand)]
pub enum AdminTokensCommand {
    /// Create a token; it is printed once (store it now).
    Create {
        /// What the token is for (shown by `list`), e.g. the script or person using it.
        #[arg(long)]
        name: String,
        /// The token may only read: every write is refused with 403.
        #[arg(long)]
        read_only: bool,
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never their values): id, name, access, created, last used, revoked.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id: it stops working at once.
    Revoke {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &Store, cmd: AdminTokensCommand) -> anyhow::Result<()> {
    match cmd {
        AdminTokensCommand::Create { name, read_only, json } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
                bail!("--name must be 1 to 100 characters on one line");
            }
            let token = random_token(TOKEN_PREFIX);
            let new = NewAdminToken { id: random_hex_id(), name, token_hash: hash_secret(&token), read_only };
            let created = store.create_admin_token(&new, now()).await?;
            tracing::info!(token_id = %created.id, read_only, "admin API token created");
            let detail = json!({ "token_id": created.id, "read_only": read_only });
            super::audit(store, "admin-tokens create", None, None, detail).await;
            if json {
                let mut out = as_json(&created);
                out["token"] = json!(token);
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("id: {}", created.id);
                println!("token: {token}  (shown once: store it now)");
            }
            Ok(())
        }
        AdminTokensCommand::List { json } => {
            let tokens = store.list_admin_tokens().await?;
            if json {
                let list: Vec<_> = tokens.iter().map(as_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            if tokens.is_empty() {
                println!("no admin API tokens");
                return Ok(());
            }
            println!("ID\tNAME\tACCESS\tCREATED\tLAST USED\tREVOKED");
            for t in &tokens {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.name,
                    if t.read_only { "read-only" } else { "read-write" },
                    timestamp(Some(t.created_at)),
                    timestamp(t.last_used_at),
                    timestamp(t.revoked_at),
                );
            }
            Ok(())
        }
        AdminTokensCommand::Revoke { id, json } => {
            if !store.revoke_admin_token(&id, now()).await? {
                bail!("no live admin API token with id {id}");
            }
            tracing::info!(token_id = %id, "admin API token revoked");
            super::audit(store, "admin-tokens revoke", None, None, json!({ "token_id": id })).await;
            if json {
                println!("{}", serde_json::to_string_pretty(&json!({ "id": id, "revoked": true }))?);
            } else {
                println!("revoked admin API token {id}");
            }
            Ok(())
        }
    }
}

fn as_json(t: &AdminToken) -> serde_json::Value {
    json!({
        "id": t.id,
        "name": t.name,
        "read_only": t.read_only,
        "created_at": t.created_at,
        "last_used_at": t.last_used_at,
        "revoked_at": t.revoked_at,
    })
}

/// Unix seconds as RFC 3339 (UTC), or `-`.
fn timestamp(seconds: Option<i64>) -> String {
    seconds
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "-".to_owned())
}
