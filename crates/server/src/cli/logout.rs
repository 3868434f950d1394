//! `doorway logout`: the back-channel logout outbox from the command line, so an operator can
//! see whether each app heard of its users' logouts. Never prints a logout token.

use clap::Subcommand;
use doorway_store::{LogoutDelivery, Store};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum LogoutCommand {
    /// Back-channel logout deliveries, newest first: status (pending, delivered, failed),
    /// attempts, last error.
    Deliveries {
        /// Only this app's deliveries.
        #[arg(long)]
        client_id: Option<String>,
        /// At most this many deliveries.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &Store, cmd: LogoutCommand) -> anyhow::Result<()> {
    match cmd {
        LogoutCommand::Deliveries { client_id, limit, json } => {
            let deliveries = store.list_logout_deliveries(client_id.as_deref(), limit.clamp(1, 10_000)).await?;
            if json {
                let list: Vec<_> = deliveries.iter().map(as_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            if deliveries.is_empty() {
                println!("no back-channel logout deliveries");
                return Ok(());
            }
            for line in summary(&deliveries) {
                println!("{line}");
            }
            println!();
            println!("CREATED\tAPP\tSTATUS\tATTEMPTS\tDELIVERED\tNEXT ATTEMPT\tLAST ERROR");
            for d in &deliveries {
                let next = if d.status == "pending" { timestamp(d.next_attempt_at) } else { "-".to_owned() };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    timestamp(d.created_at),
                    d.client_id,
                    d.status,
                    d.attempts,
                    d.delivered_at.map_or_else(|| "-".to_owned(), timestamp),
                    next,
                    d.last_error.as_deref().unwrap_or("-"),
                );
            }
            Ok(())
        }
    }
}

fn as_json(d: &LogoutDelivery) -> serde_json::Value {
    json!({
        "id": d.id,
        "client_id": d.client_id,
        "uri": d.uri,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": (d.status == "pending").then_some(d.next_attempt_at),
        "last_error": d.last_error,
        "created_at": d.created_at,
        "delivered_at": d.delivered_at,
    })
}

/// One line per app: how many deliveries are delivered, pending and failed.
fn summary(deliveries: &[LogoutDelivery]) -> Vec<String> {
    let mut apps: Vec<(&str, [usize; 3])> = Vec::new();
    for d in deliveries {
        let index = match d.status.as_str() {
            "delivered" => 0,
            "pending" => 1,
            _ => 2,
        };
        match apps.iter_mut().find(|(id, _)| *id == d.client_id) {
            Some((_, counts)) => counts[index] += 1,
            None => {
                let mut counts = [0; 3];
                counts[index] = 1;
                apps.push((&d.client_id, counts));
            }
        }
    }
    apps.iter()
        .map(|(id, [delivered, pending, failed])| {
            format!("{id}: {delivered} delivered, {pending} pending, {failed} failed")
        })
        .collect()
}

/// Unix seconds as RFC 3339 (UTC).
fn timestamp(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| seconds.to_string())
}
