//! The command line: `serve`, and scriptable administration (`users`, `apps`, `keys`,
//! `migrate`) that works against the same database while the server runs. `--json` prints
//! machine-readable output.

use std::io::Read;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use doorway_core::model::ClientKind;
use doorway_core::secrets::{hash_secret, random_hex_id, random_token};
use doorway_core::types::{Email, Password, RedirectPolicy, RedirectUri, ScopeSet, Username};
use doorway_store::{NewClient, NewUser, Store};
use serde_json::json;

use crate::config::{Config, GlobalArgs, ServeArgs};
use crate::state::{ScopeRegistry, now};

mod serve;

#[derive(Debug, Parser)]
#[command(name = "doorway", version, about = "Doorway: a self-hosted OpenID Connect provider")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage user accounts.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage OAuth apps.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Inspect signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Apply database migrations and exit.
    Migrate,
}

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
}

#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Register an app. Prints its client_id and, for confidential apps, its client_secret
    /// (shown once; only a hash is stored).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        #[arg(long, default_value = "openid profile email")]
        scopes: String,
        /// A public app (browser or native): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        #[arg(long)]
        homepage: Option<String>,
        #[arg(long)]
        logo_uri: Option<String>,
        /// exact (default) or origin (any URL under a registered origin).
        #[arg(long, default_value = "exact")]
        redirect_policy: String,
        /// Require PKCE from this confidential app too.
        #[arg(long)]
        require_pkce: bool,
        /// ID token signing algorithm: RS256 (default), ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        id_token_alg: String,
        #[arg(long)]
        json: bool,
    },
    /// List apps.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete an app and everything issued to it.
    Delete { client_id: String },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys (public information only).
    List {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::serve(&cli.global, &args).await,
        Command::Migrate => {
            let config = Config::resolve(&cli.global, &ServeArgs::default())?;
            let store = crate::startup::open_store(&config).await?;
            println!("migrations applied ({})", store.dialect());
            Ok(())
        }
        Command::Users(cmd) => {
            let (config, store) = open(&cli.global).await?;
            users(&config, &store, cmd).await
        }
        Command::Apps(cmd) => {
            let (config, store) = open(&cli.global).await?;
            apps(&config, &store, cmd).await
        }
        Command::Keys(KeysCommand::List { json }) => {
            let (config, store) = open(&cli.global).await?;
            let keys = store.list_signing_keys().await?;
            let _ = config;
            if json {
                let list: Vec<_> = keys
                    .iter()
                    .map(|k| json!({"kid": k.kid, "alg": k.alg, "status": k.status, "created_at": k.created_at}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for k in keys {
                    println!("{}\t{}\t{}\t{}", k.kid, k.alg, k.status, k.created_at);
                }
            }
            Ok(())
        }
    }
}

async fn open(global: &GlobalArgs) -> anyhow::Result<(Config, Store)> {
    let config = Config::resolve(global, &ServeArgs::default())?;
    let store = crate::startup::open_store(&config).await?;
    Ok((config, store))
}

async fn users(config: &Config, store: &Store, cmd: UsersCommand) -> anyhow::Result<()> {
    let _ = config;
    match cmd {
        UsersCommand::Create { username, email, name, password_stdin, admin, email_verified, pro, can_pay, json } => {
            let username = Username::parse(&username).map_err(anyhow::Error::msg).context("--username")?;
            let email = Email::parse(&email).map_err(anyhow::Error::msg).context("--email")?;
            let (password, generated) = if password_stdin {
                let mut raw = String::new();
                std::io::stdin().read_to_string(&mut raw).context("reading the password from stdin")?;
                (raw.trim_end_matches(['\n', '\r']).to_owned(), false)
            } else {
                (random_token("")[..20].to_owned(), true)
            };
            let password = Password::parse(password).map_err(anyhow::Error::msg).context("password")?;
            let password_hash = {
                let pw = password.expose().to_owned();
                tokio::task::spawn_blocking(move || crate::password::hash_blocking(&pw)).await??
            };
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
                    println!(
                        "{}\t{}\t{}\t{}",
                        u.sub,
                        u.username,
                        u.email,
                        if u.disabled { "disabled" } else { "active" }
                    );
                }
            }
            Ok(())
        }
    }
}

async fn apps(config: &Config, store: &Store, cmd: AppsCommand) -> anyhow::Result<()> {
    match cmd {
        AppsCommand::Create {
            name,
            redirect_uris,
            scopes,
            public,
            homepage,
            logo_uri,
            redirect_policy,
            require_pkce,
            id_token_alg,
            json,
        } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 100 {
                bail!("--name must be 1 to 100 characters");
            }
            let redirect_uris = redirect_uris
                .iter()
                .map(|u| RedirectUri::parse(u).with_context(|| format!("--redirect-uri {u}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let policy = RedirectPolicy::parse(&redirect_policy)
                .with_context(|| format!("--redirect-policy must be exact or origin, not '{redirect_policy}'"))?;
            let scopes = ScopeSet::parse(&scopes).map_err(anyhow::Error::msg).context("--scopes")?;
            let registry = ScopeRegistry::new(&config.extra_scopes);
            if let Some(unknown) = scopes.missing_from(registry.known()).next() {
                bail!("--scopes: unknown scope '{unknown}' (known: {})", registry.names().join(", "));
            }
            doorway_core::jose::SigningAlg::parse(&id_token_alg).context("--id-token-alg")?;
            for (flag, value) in [("--homepage", &homepage), ("--logo-uri", &logo_uri)] {
                if let Some(v) = value {
                    let ok = url::Url::parse(v).is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http");
                    if !ok {
                        bail!("{flag} must be an http(s) URL");
                    }
                }
            }
            let secret = (!public).then(|| random_token("dws_"));
            let client = store
                .create_client(
                    NewClient {
                        client_id: uuid::Uuid::new_v4().to_string(),
                        secret_hash: secret.as_deref().map(hash_secret),
                        kind: if public { ClientKind::Public } else { ClientKind::Confidential },
                        name,
                        homepage_url: homepage,
                        logo_uri,
                        redirect_uris,
                        redirect_policy: policy,
                        scopes,
                        require_pkce,
                        id_token_alg,
                        owner_id: None,
                        grant_types: Default::default(),
                        post_logout_redirect_uris: Vec::new(),
                        backchannel_logout_uri: None,
                    },
                    now(),
                )
                .await?;
            if json {
                let mut out = serde_json::to_value(&client)?;
                out["client_secret"] = json!(secret);
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("client_id: {}", client.client_id);
                if let Some(secret) = secret {
                    println!("client_secret: {secret}  (shown once: store it now)");
                }
            }
            Ok(())
        }
        AppsCommand::List { json } => {
            let clients = store.list_clients().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&clients)?);
            } else {
                for c in clients {
                    let uris: Vec<&str> = c.redirect_uris.iter().map(RedirectUri::as_str).collect();
                    println!("{}\t{}\t{:?}\t{}", c.client_id, c.name, c.kind, uris.join(" "));
                }
            }
            Ok(())
        }
        AppsCommand::Delete { client_id } => {
            if store.delete_client(&client_id).await? {
                println!("deleted app {client_id}");
                Ok(())
            } else {
                bail!("no app with client_id {client_id}")
            }
        }
    }
}
