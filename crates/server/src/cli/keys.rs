//! `doorway keys`: the signing keys' lifecycle on demand. Prints public information only; the
//! private halves stay sealed in the database and never reach the terminal.

use anyhow::Context;
use clap::Subcommand;
use doorway_core::jose::SigningAlg;
use doorway_store::{Store, StoredKey};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::Config;
use crate::keys::{KeyPolicy, Keys, master_key};
use crate::state::now;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys: kid, algorithm, status (next, active, retired) and when each moved.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Publish a new signing key per algorithm. It starts signing once it has been in the JWKS
    /// for key_publish_ahead (so relying parties' caches know it first), or at once with --now.
    /// The key it replaces stays published until everything it signed has expired.
    Rotate {
        /// Only these algorithms (repeatable): RS256, PS256, ES256, EdDSA. Default: all.
        #[arg(long = "alg", value_name = "ALG")]
        algs: Vec<String>,
        /// Activate the new keys at once (running servers pick them up within 30 s).
        #[arg(long = "now")]
        immediately: bool,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: &Config, store: &Store, cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::List { json } => {
            let keys = store.list_signing_keys().await?;
            if json {
                let list: Vec<_> = keys.iter().map(key_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!("kid\talg\tstatus\tcreated\tactivated\tretired");
                for k in &keys {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        k.kid,
                        k.alg,
                        k.status,
                        when(Some(k.created_at)),
                        when(k.activated_at),
                        when(k.retired_at)
                    );
                }
            }
            Ok(())
        }
        KeysCommand::Rotate { algs, immediately, json } => {
            let mut chosen: Vec<SigningAlg> = Vec::new();
            for raw in &algs {
                let alg = SigningAlg::parse(raw).context("--alg must be RS256, PS256, ES256 or EdDSA")?;
                if !chosen.contains(&alg) {
                    chosen.push(alg);
                }
            }
            if chosen.is_empty() {
                chosen = SigningAlg::ALL.to_vec();
            }
            let master = master_key(&config.data_dir)?;
            let now = now();
            let kids = Keys::rotate(store, &master, &chosen, immediately, now).await?;
            super::audit(store, "keys rotate", None, None, json!({ "kids": kids, "immediately": immediately })).await;
            let keys = store.list_signing_keys().await?;
            let rotated: Vec<&StoredKey> = keys.iter().filter(|k| kids.contains(&k.kid)).collect();
            if json {
                let list: Vec<_> = rotated.iter().map(|k| key_json(k)).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            let policy = KeyPolicy::from_config(config);
            for k in rotated {
                if immediately {
                    println!("{} {}: active now (running servers sign with it within 30 s)", k.alg, k.kid);
                } else {
                    println!(
                        "{} {}: published; signs from about {} (key_publish_ahead {} s)",
                        k.alg,
                        k.kid,
                        when(Some(now + policy.publish_ahead)),
                        policy.publish_ahead
                    );
                }
            }
            if immediately {
                println!(
                    "the keys they replace stay in the JWKS until {} (everything they signed has expired)",
                    when(Some(now + policy.retired_lifetime))
                );
            }
            Ok(())
        }
    }
}

fn key_json(k: &StoredKey) -> serde_json::Value {
    json!({
        "kid": k.kid,
        "alg": k.alg,
        "status": k.status,
        "created_at": k.created_at,
        "activated_at": k.activated_at,
        "retired_at": k.retired_at,
    })
}

/// A Unix time as RFC 3339, or `-` when the key never reached that step.
fn when(t: Option<i64>) -> String {
    t.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".to_owned())
}
