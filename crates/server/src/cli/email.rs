//! `doorway email`: the email outbox from the command line, so an operator can see whether
//! messages leave (and why not). Never prints a message body: it may hold a live link.

use clap::Subcommand;
use doorway_store::{OutboxEmail, Store};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum EmailCommand {
    /// Queued and sent messages, newest first: recipient, subject, status (pending, sent,
    /// failed), attempts, last error.
    Outbox {
        /// At most this many messages.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &Store, cmd: EmailCommand) -> anyhow::Result<()> {
    match cmd {
        EmailCommand::Outbox { limit, json } => {
            let emails = store.list_emails(limit.clamp(1, 10_000)).await?;
            if json {
                let list: Vec<_> = emails.iter().map(as_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            if emails.is_empty() {
                println!("no email queued or sent");
                return Ok(());
            }
            println!("CREATED\tTO\tSUBJECT\tSTATUS\tATTEMPTS\tSENT\tLAST ERROR");
            for e in &emails {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    timestamp(e.created_at),
                    e.to_address,
                    e.subject,
                    e.status,
                    e.attempts,
                    e.sent_at.map_or_else(|| "-".to_owned(), timestamp),
                    e.last_error.as_deref().unwrap_or("-"),
                );
            }
            Ok(())
        }
    }
}

fn as_json(e: &OutboxEmail) -> serde_json::Value {
    json!({
        "id": e.id,
        "to": e.to_address,
        "subject": e.subject,
        "status": e.status,
        "attempts": e.attempts,
        "next_attempt_at": (e.status == "pending").then_some(e.next_attempt_at),
        "last_error": e.last_error,
        "created_at": e.created_at,
        "sent_at": e.sent_at,
    })
}

/// Unix seconds as RFC 3339 (UTC).
fn timestamp(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| seconds.to_string())
}
