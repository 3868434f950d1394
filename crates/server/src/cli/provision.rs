//! `doorway apps provision`: a hosted app in one command, the way Hugging Face provisions a
//! Space's OAuth app — a confidential app under one origin — printed as the environment block
//! the app reads. The secret is printed once; only its hash is stored.

use anyhow::bail;
use clap::Args;
use doorway_store::Store;
use serde_json::json;

use crate::cli::apps::{parse_name, parse_scopes};
use crate::config::{Config, parse_issuer};
use crate::http::console::form::{Errors, MAX_TOKEN_MINUTES, org_name};
use crate::http::console::hosted::{self, Hosted};
use crate::state::now;

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    #[arg(long)]
    name: String,
    /// Where the app is served: https://host[:port] (http on loopback). Any redirect URL under
    /// it is accepted.
    #[arg(long)]
    origin: String,
    #[arg(long, default_value = "openid profile")]
    scopes: String,
    /// Lifetime of the access tokens issued to the app, in minutes (at most 43200: 30 days).
    #[arg(long, default_value_t = hosted::DEFAULT_TOKEN_MINUTES)]
    expiration_minutes: i64,
    /// Only members of this organization may sign in; others are refused (`access_denied`).
    #[arg(long, value_name = "ORG")]
    authorized_org: Option<String>,
    /// The issuer printed as OPENID_PROVIDER_URL (default: the configured issuer).
    #[arg(long, env = "DOORWAY_ISSUER", value_name = "URL")]
    issuer: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn provision(config: &Config, store: &Store, args: ProvisionArgs) -> anyhow::Result<()> {
    let origin = match hosted::parse_origin(&args.origin) {
        Ok(origin) => origin,
        Err(why) => bail!("--origin {} {why}", args.origin),
    };
    if !(1..=MAX_TOKEN_MINUTES).contains(&args.expiration_minutes) {
        bail!("--expiration-minutes must be from 1 to {MAX_TOKEN_MINUTES}");
    }
    let mut errors = Errors::new();
    let authorized_org = args.authorized_org.as_deref().and_then(|org| org_name(org, &mut errors));
    if let Some(message) = errors.values().flatten().next() {
        bail!("--authorized-org: {message}");
    }
    let issuer = match &args.issuer {
        Some(raw) => parse_issuer(raw)?,
        None => config.issuer.clone(),
    };
    let app = Hosted {
        name: parse_name(&args.name)?,
        origin,
        scopes: parse_scopes(config, &args.scopes)?,
        token_minutes: args.expiration_minutes,
        authorized_org,
        owner_id: None,
    };
    let (new, profile, secret) = hosted::build(app);
    let client = store.create_app(new, &profile, now()).await?;
    tracing::info!(client_id = %client.client_id, "hosted app provisioned");
    super::audit(store, "apps provision", None, Some(&client.client_id), json!({})).await;
    let vars = hosted::env_vars(&client.client_id, Some(&secret), &client.scopes, &issuer);
    if args.json {
        let mut out: serde_json::Map<String, serde_json::Value> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
        out.insert("client_id".into(), json!(client.client_id));
        out.insert("redirect_policy".into(), json!(client.redirect_policy));
        out.insert("redirect_uris".into(), json!(client.redirect_uris));
        out.insert("expiration_minutes".into(), json!(args.expiration_minutes));
        out.insert("authorized_org".into(), json!(client.authorized_org));
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", hosted::env_block(&vars));
        eprintln!("(OAUTH_CLIENT_SECRET is shown once: store it now)");
    }
    Ok(())
}
