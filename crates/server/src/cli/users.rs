//! `doorway users`: accounts from the command line. Disabling an account or setting its
//! password ends everything it had: every refresh and access token is revoked and every session
//! deleted, so a stolen password or a departed person keeps no access.

use std::io::Read;

use anyhow::{Context, bail};
use clap::Subcommand;
use doorway_core::model::User;
use doorway_core::secrets::{random_hex_id, random_token};
use doorway_core::types::{Email, Password, Username};
use doorway_store::{NewUser, Store};
use serde_json::json;

use crate::state::now;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user. Without --password-stdin a random password is generated and printed.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        email_verified: bool,
        #[arg(long)]
        pro: bool,
        #[arg(long)]
        can_pay: bool,
        #[arg(long)]
        json: bool,
    },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: it can no longer sign in, its tokens are revoked and its sessions end.
    Disable {
        username: String,
        #[arg(long)]
        json: bool,
    },
    /// Enable a disabled account (its old tokens stay revoked).
    Enable {
        username: String,
        #[arg(long)]
        json: bool,
    },
    /// Mark a user's current email address verified (`email_verified` true in tokens), e.g.
    /// on an installation without SMTP.
    VerifyEmail {
        username: String,
        #[arg(long)]
        json: bool,
    },
    /// Turn off a user's two-factor authentication (TOTP and recovery codes), for a person who
    /// lost their device and their recovery codes. They sign in with their password alone
    /// afterwards and can set it up again.
    ResetTwoFactor {
        username: String,
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password; their tokens are revoked and their sessions end. Without
    /// --password-stdin a random password is generated and printed.
    SetPassword {
        username: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &Store, cmd: UsersCommand) -> anyhow::Result<()> {
    match cmd {
        UsersCommand::Create { username, email, name, password_stdin, admin, email_verified, pro, can_pay, json } => {
            let username = Username::parse(&username).map_err(anyhow::Error::msg).context("--username")?;
            let email = Email::parse(&email).map_err(anyhow::Error::msg).context("--email")?;
            let (password, generated) = read_or_generate_password(password_stdin)?;
            let password_hash = hash(&password).await?;
            let user = store
                .create_user(
                    NewUser {
                        id: uuid::Uuid::new_v4().to_string(),
                        sub: random_hex_id(),
                        username,
                        email,
                        email_verified,
                        name,
                        password_hash,
                        is_admin: admin,
                        is_pro: pro,
                        can_pay,
                    },
                    now(),
                )
                .await?;
            super::audit(store, "users create", Some(&user.id), None, json!({ "admin": admin })).await;
            let mut out = serde_json::to_value(&user)?;
            if generated {
                out["password"] = json!(password.expose());
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("created user {} (sub {})", user.username, user.sub);
                if generated {
                    println!("password: {} (shown once)", password.expose());
                }
            }
            Ok(())
        }
        UsersCommand::List { json } => {
            let users = store.list_users().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                for u in users {
                    let status = if u.disabled { "disabled" } else { "active" };
                    println!("{}\t{}\t{}\t{status}", u.sub, u.username, u.email);
                }
            }
            Ok(())
        }
        UsersCommand::Disable { username, json } => {
            let user = find(store, &username).await?;
            let now = now();
            // Disabled first: from here no grant of theirs is honoured, so no new token can be
            // minted between the revocation below and the flag.
            store.set_user_disabled(&user.id, true, now).await?;
            let ended = end_access(store, &user, now).await?;
            super::audit(store, "users disable", Some(&user.id), None, json!({})).await;
            report(json, &user, "disabled", Some(ended))
        }
        UsersCommand::Enable { username, json } => {
            let user = find(store, &username).await?;
            store.set_user_disabled(&user.id, false, now()).await?;
            super::audit(store, "users enable", Some(&user.id), None, json!({})).await;
            report(json, &user, "enabled", None)
        }
        UsersCommand::VerifyEmail { username, json } => {
            let user = find(store, &username).await?;
            store.mark_email_verified(&user.id, now()).await?;
            super::audit(store, "users verify-email", Some(&user.id), None, json!({})).await;
            report(json, &user, "email verified", None)
        }
        UsersCommand::ResetTwoFactor { username, json } => {
            let user = find(store, &username).await?;
            let removed = store.disable_totp(&user.id).await?;
            if removed {
                // The person sees in their security log that an operator did this.
                let kind = crate::audit::kind::TWO_FACTOR_RESET;
                super::audit_as(store, kind, "users reset-two-factor", Some(&user.id), None, json!({})).await;
            }
            report(json, &user, if removed { "two-factor reset" } else { "two-factor was not enabled" }, None)
        }
        UsersCommand::SetPassword { username, password_stdin, json } => {
            let user = find(store, &username).await?;
            let (password, generated) = read_or_generate_password(password_stdin)?;
            let password_hash = hash(&password).await?;
            let now = now();
            store.set_password(&user.id, &password_hash, now).await?;
            let ended = end_access(store, &user, now).await?;
            super::audit(store, "users set-password", Some(&user.id), None, json!({})).await;
            if generated && json {
                let mut out = report_json(&user, "password set", Some(ended));
                out["password"] = json!(password.expose());
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            report(json, &user, "password set", Some(ended))?;
            if generated {
                println!("password: {} (shown once)", password.expose());
            }
            Ok(())
        }
    }
}

async fn find(store: &Store, username: &str) -> anyhow::Result<User> {
    match store.find_user_by_username(username).await? {
        Some(user) => Ok(user),
        None => bail!("no user named '{username}'"),
    }
}

/// What ending a user's access removed: (tokens revoked, sessions ended).
type Ended = (u64, u64);

/// Revokes every refresh and access token of the user, for every app, and ends their sessions.
async fn end_access(store: &Store, user: &User, now: i64) -> anyhow::Result<Ended> {
    let tokens = store.revoke_user_tokens(&user.id, None, now).await?;
    // The sessions' apps are not sent back-channel logout from here: that needs the running
    // server's issuer and keys (see docs/operators.md).
    let sessions = store.delete_user_sessions(&user.id).await?.len() as u64;
    tracing::info!(user = %user.username, tokens, sessions, "ended every token and session of the user");
    Ok((tokens, sessions))
}

fn report_json(user: &User, action: &str, ended: Option<Ended>) -> serde_json::Value {
    let mut out = json!({ "username": user.username, "sub": user.sub, "action": action });
    if let Some((tokens, sessions)) = ended {
        out["tokens_revoked"] = json!(tokens);
        out["sessions_ended"] = json!(sessions);
    }
    out
}

fn report(json: bool, user: &User, action: &str, ended: Option<Ended>) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&report_json(user, action, ended))?);
    } else {
        match ended {
            Some((tokens, sessions)) => {
                println!("{}: {action}; {tokens} tokens revoked, {sessions} sessions ended", user.username)
            }
            None => println!("{}: {action}", user.username),
        }
    }
    Ok(())
}

/// The password from standard input (`--password-stdin`), or a random one to print once.
fn read_or_generate_password(from_stdin: bool) -> anyhow::Result<(Password, bool)> {
    let (raw, generated) = if from_stdin {
        let mut raw = String::new();
        std::io::stdin().read_to_string(&mut raw).context("reading the password from stdin")?;
        (raw.trim_end_matches(['\n', '\r']).to_owned(), false)
    } else {
        (random_token("")[..20].to_owned(), true)
    };
    let password = Password::parse(raw).map_err(anyhow::Error::msg).context("password")?;
    Ok((password, generated))
}

async fn hash(password: &Password) -> anyhow::Result<String> {
    let pw = password.expose().to_owned();
    tokio::task::spawn_blocking(move || crate::password::hash_blocking(&pw)).await?
}
