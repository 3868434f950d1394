//! `doorway apps`: registering and changing OAuth apps from the command line. Every setting is
//! parsed into its domain type here, at the edge, with the developer console's rules
//! (`console::form`: URLs, logo, names); an operator's back-channel URI may still be on
//! loopback or a private network. A secret is printed once and only its hash is stored.

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use doorway_core::jose::SigningAlg;
use doorway_core::model::{Client, ClientKind};
use doorway_core::oauth::access_token::AccessTokenFormat;
use doorway_core::oauth::grant::{GrantType, GrantTypes};
use doorway_core::secrets::{hash_secret, random_token};
use doorway_core::types::{RedirectPolicy, RedirectUri, ScopeSet};
use doorway_store::{AppProfile, NewClient, Store};
use serde_json::json;

use crate::config::Config;
use crate::http::console::form::{self, Errors};
use crate::state::{ScopeRegistry, now};

#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Register an app. Prints its client_id and, for confidential apps, its client_secret
    /// (shown once; only a hash is stored).
    Create(CreateArgs),
    /// Change an app's settings. Only the options given change; a repeatable option given
    /// replaces the whole list; an empty value ("") clears an optional setting.
    Update(UpdateArgs),
    /// Give a confidential app a new client_secret, printed once. The old one stops working
    /// at once.
    RotateSecret {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Provision a hosted app: a confidential app accepting any redirect URL under one origin.
    /// Prints the environment block (OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, OAUTH_SCOPES,
    /// OPENID_PROVIDER_URL); the secret is shown once.
    Provision(crate::cli::provision::ProvisionArgs),
    /// List apps.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete an app and everything issued to it.
    Delete { client_id: String },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(long)]
    name: String,
    /// Repeatable. Required unless the app has no authorization_code grant (a device-only or
    /// client_credentials-only app).
    #[arg(long = "redirect-uri", value_name = "URI")]
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
    /// ID token signing algorithm: RS256 (default), PS256, ES256 or EdDSA.
    #[arg(long, default_value = "RS256")]
    id_token_alg: String,
    /// Space- or comma-separated: authorization_code refresh_token client_credentials
    /// device_code. Default: "authorization_code refresh_token". client_credentials needs a
    /// confidential app.
    #[arg(long)]
    grant_types: Option<String>,
    /// Where RP-initiated logout may send the user back (exact match). Repeatable.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// Where logout tokens are POSTed (OIDC Back-Channel Logout): https, or http on loopback.
    #[arg(long, value_name = "URI")]
    backchannel_logout_uri: Option<String>,
    /// opaque (default) or jwt: RFC 9068 access tokens signed with the --id-token-alg key.
    #[arg(long, default_value = "opaque", value_name = "opaque|jwt")]
    access_token_format: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    client_id: String,
    #[arg(long)]
    name: Option<String>,
    /// Replaces the registered redirect URIs. Repeatable.
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    #[arg(long)]
    scopes: Option<String>,
    #[arg(long)]
    homepage: Option<String>,
    #[arg(long)]
    logo_uri: Option<String>,
    /// exact or origin.
    #[arg(long)]
    redirect_policy: Option<String>,
    #[arg(long, value_name = "true|false")]
    require_pkce: Option<bool>,
    /// RS256, PS256, ES256 or EdDSA.
    #[arg(long)]
    id_token_alg: Option<String>,
    #[arg(long)]
    grant_types: Option<String>,
    /// Replaces the post-logout redirect URIs. Repeatable; one empty value clears the list.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    #[arg(long, value_name = "URI")]
    backchannel_logout_uri: Option<String>,
    /// opaque or jwt.
    #[arg(long, value_name = "opaque|jwt")]
    access_token_format: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn run(config: &Config, store: &Store, cmd: AppsCommand) -> anyhow::Result<()> {
    match cmd {
        AppsCommand::Create(args) => create(config, store, args).await,
        AppsCommand::Update(args) => update(config, store, args).await,
        AppsCommand::Provision(args) => crate::cli::provision::provision(config, store, args).await,
        AppsCommand::RotateSecret { client_id, json } => {
            let client = find(store, &client_id).await?;
            if client.kind != ClientKind::Confidential {
                bail!("app {client_id} is public: it has no secret");
            }
            let secret = random_token("dws_");
            // No grace: the old secret (and any earlier one still in grace) stops at once.
            store.rotate_client_secret(&client.client_id, &hash_secret(&secret), None).await?;
            tracing::info!(client_id = %client.client_id, "client secret rotated");
            super::audit(store, "apps rotate-secret", client.owner_id.as_deref(), Some(&client.client_id), json!({}))
                .await;
            if json {
                let out = json!({ "client_id": client.client_id, "client_secret": secret });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("client_secret: {secret}  (shown once: store it now; the old secret no longer works)");
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
                    println!("{}\t{}\t{:?}\t{}\t{}", c.client_id, c.name, c.kind, c.grant_types, uris.join(" "));
                }
            }
            Ok(())
        }
        AppsCommand::Delete { client_id } => {
            // The owner (of an app registered in the console) sees the deletion in their log.
            let owner = store.find_client(&client_id).await?.and_then(|c| c.owner_id);
            if store.delete_client(&client_id).await? {
                super::audit(store, "apps delete", owner.as_deref(), Some(&client_id), json!({})).await;
                println!("deleted app {client_id}");
                Ok(())
            } else {
                bail!("no app with client_id {client_id}")
            }
        }
    }
}

async fn create(config: &Config, store: &Store, args: CreateArgs) -> anyhow::Result<()> {
    let kind = if args.public { ClientKind::Public } else { ClientKind::Confidential };
    let grant_types = match &args.grant_types {
        Some(raw) => parse_grant_types(raw, kind)?,
        None => GrantTypes::default(),
    };
    let backchannel_logout_uri = match &args.backchannel_logout_uri {
        Some(raw) => Some(parse_backchannel_uri(raw)?),
        None => None,
    };
    if args.redirect_uris.is_empty() && grant_types.allows(GrantType::AuthorizationCode) {
        bail!("--redirect-uri is required for an app with the authorization_code grant");
    }
    let profile =
        AppProfile { access_token_format: parse_token_format(&args.access_token_format)?, ..AppProfile::default() };
    let secret = (kind == ClientKind::Confidential).then(|| random_token("dws_"));
    let new = NewClient {
        client_id: uuid::Uuid::new_v4().to_string(),
        secret_hash: secret.as_deref().map(hash_secret),
        kind,
        name: parse_name(&args.name)?,
        homepage_url: args.homepage.as_deref().map(|v| parse_web_url("--homepage", v)).transpose()?,
        logo_uri: args.logo_uri.as_deref().map(parse_logo).transpose()?,
        redirect_uris: parse_uris("--redirect-uri", &args.redirect_uris)?,
        redirect_policy: parse_policy(&args.redirect_policy)?,
        scopes: parse_scopes(config, &args.scopes)?,
        require_pkce: args.require_pkce,
        id_token_alg: parse_alg(&args.id_token_alg)?,
        owner_id: None,
        grant_types,
        post_logout_redirect_uris: parse_uris("--post-logout-redirect-uri", &args.post_logout_redirect_uris)?,
        backchannel_logout_uri,
    };
    let client = store.create_app(new, &profile, now()).await?;
    super::audit(store, "apps create", None, Some(&client.client_id), json!({})).await;
    if args.json {
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

async fn update(config: &Config, store: &Store, args: UpdateArgs) -> anyhow::Result<()> {
    let client = find(store, &args.client_id).await?;
    let format = args.access_token_format.as_deref().map(parse_token_format).transpose()?;
    let mut new = NewClient::from(&client);
    if let Some(name) = &args.name {
        new.name = parse_name(name)?;
    }
    if !args.redirect_uris.is_empty() {
        new.redirect_uris = parse_uris("--redirect-uri", &args.redirect_uris)?;
    }
    if let Some(scopes) = &args.scopes {
        new.scopes = parse_scopes(config, scopes)?;
    }
    if let Some(homepage) = &args.homepage {
        new.homepage_url = optional(homepage).map(|v| parse_web_url("--homepage", v)).transpose()?;
    }
    if let Some(logo) = &args.logo_uri {
        new.logo_uri = optional(logo).map(parse_logo).transpose()?;
    }
    if let Some(policy) = &args.redirect_policy {
        new.redirect_policy = parse_policy(policy)?;
    }
    if let Some(require) = args.require_pkce {
        new.require_pkce = require;
    }
    if let Some(alg) = &args.id_token_alg {
        new.id_token_alg = parse_alg(alg)?;
    }
    if let Some(grants) = &args.grant_types {
        new.grant_types = parse_grant_types(grants, client.kind)?;
    }
    if !args.post_logout_redirect_uris.is_empty() {
        let given: Vec<String> = args.post_logout_redirect_uris.iter().filter(|u| !u.is_empty()).cloned().collect();
        new.post_logout_redirect_uris = parse_uris("--post-logout-redirect-uri", &given)?;
    }
    if let Some(uri) = &args.backchannel_logout_uri {
        new.backchannel_logout_uri = optional(uri).map(parse_backchannel_uri).transpose()?;
    }
    let written = match format {
        // The format lives with the app's profile: every other profile setting is kept.
        Some(access_token_format) => {
            store.update_app(None, &new, &AppProfile { access_token_format, ..AppProfile::from(&client) }).await?
        }
        None => store.update_client(&new).await?,
    };
    if !written {
        bail!("no app with client_id {}", client.client_id);
    }
    super::audit(store, "apps update", client.owner_id.as_deref(), Some(&client.client_id), json!({})).await;
    let updated = find(store, &client.client_id).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&updated)?);
    } else {
        println!("updated app {} ({})", updated.client_id, updated.name);
    }
    Ok(())
}

async fn find(store: &Store, client_id: &str) -> anyhow::Result<Client> {
    match store.find_client(client_id).await? {
        Some(client) => Ok(client),
        None => bail!("no app with client_id {client_id}"),
    }
}

/// An empty value clears an optional setting.
fn optional(raw: &str) -> Option<&str> {
    Some(raw.trim()).filter(|v| !v.is_empty())
}

/// The first message of a console check, as a CLI error.
fn first_error(flag: &str, errors: &Errors) -> anyhow::Result<()> {
    match errors.values().flatten().next() {
        Some(message) => bail!("{flag}: {message}"),
        None => Ok(()),
    }
}

pub(super) fn parse_name(raw: &str) -> anyhow::Result<String> {
    let mut errors = Errors::new();
    let name = form::app_name(raw, &mut errors);
    first_error("--name", &errors)?;
    Ok(name)
}

/// One URL by the console's rule (https except on loopback; no fragment, user info,
/// wildcard or script scheme).
fn parse_url(flag: &str, raw: &str) -> anyhow::Result<RedirectUri> {
    form::parse_url(raw).map_err(|why| anyhow!("{flag} {raw} {why}"))
}

fn parse_uris(flag: &str, raw: &[String]) -> anyhow::Result<Vec<RedirectUri>> {
    raw.iter().map(|u| parse_url(flag, u)).collect()
}

fn parse_policy(raw: &str) -> anyhow::Result<RedirectPolicy> {
    RedirectPolicy::parse(raw).with_context(|| format!("--redirect-policy must be exact or origin, not '{raw}'"))
}

pub(super) fn parse_scopes(config: &Config, raw: &str) -> anyhow::Result<ScopeSet> {
    let scopes = ScopeSet::parse(raw).map_err(anyhow::Error::msg).context("--scopes")?;
    let registry = ScopeRegistry::new(&config.extra_scopes);
    if let Some(unknown) = scopes.missing_from(registry.known()).next() {
        bail!("--scopes: unknown scope '{unknown}' (known: {})", registry.names().join(", "));
    }
    Ok(scopes)
}

fn parse_alg(raw: &str) -> anyhow::Result<String> {
    Ok(SigningAlg::parse(raw).context("--id-token-alg must be RS256, PS256, ES256 or EdDSA")?.as_str().to_owned())
}

fn parse_token_format(raw: &str) -> anyhow::Result<AccessTokenFormat> {
    AccessTokenFormat::parse(raw).with_context(|| format!("--access-token-format must be opaque or jwt, not '{raw}'"))
}

fn parse_web_url(flag: &str, raw: &str) -> anyhow::Result<String> {
    Ok(parse_url(flag, raw)?.as_str().to_owned())
}

fn parse_logo(raw: &str) -> anyhow::Result<String> {
    let uri = parse_web_url("--logo-uri", raw)?;
    form::logo_rule(&uri).map_err(|why| anyhow!("--logo-uri {raw} {why}"))?;
    Ok(uri)
}

/// OIDC Back-Channel Logout §2.2: an absolute URL without a fragment; Doorway also requires
/// https except on loopback (logout tokens must not cross the network in the clear), the same
/// rule as for redirect URIs. An operator's app may name a private host (see `egress`).
fn parse_backchannel_uri(raw: &str) -> anyhow::Result<String> {
    parse_web_url("--backchannel-logout-uri", raw)
}

/// RFC 6749 §4.4: client_credentials is for apps that can keep a secret.
fn parse_grant_types(raw: &str, kind: ClientKind) -> anyhow::Result<GrantTypes> {
    let grants = GrantTypes::parse(raw).map_err(anyhow::Error::msg).context("--grant-types")?;
    if grants.iter().next().is_none() {
        bail!("--grant-types: give at least one grant type");
    }
    if kind == ClientKind::Public && grants.allows(GrantType::ClientCredentials) {
        bail!("--grant-types: client_credentials needs a confidential app (a public app has no secret)");
    }
    Ok(grants)
}
