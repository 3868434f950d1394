//! `doorway store copy`: moves an installation to another database (SQLite → PostgreSQL when
//! one machine is no longer enough, or back) without losing users, apps, consents, grants,
//! sessions, keys or live tokens. Stop the servers first: rows written during the copy would
//! be left behind. Never prints a row.

use clap::Subcommand;
use doorway_store::{PoolOptions, Store};

use crate::startup::redact_url;

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy every row from one database into another, empty one (both are migrated first).
    /// Signing keys stay sealed: run the new servers with the same DOORWAY_SECRET_KEY or
    /// DATA_DIR/secret.key as the old ones.
    Copy {
        /// The database to read: sqlite://PATH or postgres://…
        #[arg(long, value_name = "URL")]
        from: String,
        /// The database to fill: must hold no data yet.
        #[arg(long, value_name = "URL")]
        to: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cmd: StoreCommand) -> anyhow::Result<()> {
    match cmd {
        StoreCommand::Copy { from, to, json } => {
            if from == to {
                anyhow::bail!("--from and --to name the same database");
            }
            let options = PoolOptions::default();
            let source = Store::connect(&from, &options)
                .await
                .map_err(|e| anyhow::anyhow!("opening {}: {e}", redact_url(&from)))?;
            let target =
                Store::connect(&to, &options).await.map_err(|e| anyhow::anyhow!("opening {}: {e}", redact_url(&to)))?;
            let report = source.copy_into(&target).await?;
            source.close().await;
            target.close().await;
            if json {
                let tables: serde_json::Map<String, serde_json::Value> =
                    report.tables.iter().map(|(name, rows)| (name.clone(), (*rows).into())).collect();
                println!("{}", serde_json::json!({ "rows": report.total(), "tables": tables }));
                return Ok(());
            }
            for (table, rows) in &report.tables {
                println!("{table:<24} {rows:>10}");
            }
            println!(
                "copied {} rows from {} ({}) to {} ({})",
                report.total(),
                redact_url(&from),
                source.dialect(),
                redact_url(&to),
                target.dialect()
            );
            println!(
                "Start the servers on the new database with the same secret key (DOORWAY_SECRET_KEY or secret.key)."
            );
            Ok(())
        }
    }
}
