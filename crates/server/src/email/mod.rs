//! Sending email: messages go into the database outbox first (`Store::enqueue_email`) and a
//! worker on every node claims the due ones, sends them over SMTP (lettre, rustls) and retries
//! failures with backoff, so an outage of the mail server loses nothing and two nodes never
//! send the same message. Without `--smtp-url`, messages are written to the log (target
//! "email") and marked sent: fine for development, and the operator can read the links there.
//!
//! Never logs a message body when SMTP is configured: it holds a live link.

pub mod links;

use std::time::Duration;

use doorway_core::oidc::logout::RetryPolicy;
use doorway_store::OutboxEmail;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;
use crate::state::{AppState, now};

/// How long a claimed message is this node's: longer than one SMTP conversation may take.
const LEASE: i64 = 120;
/// Longest one message's SMTP conversation may take: half the lease.
const CONVERSATION_LIMIT: u64 = (LEASE / 2) as u64;
/// Messages claimed per pass.
const BATCH: i64 = 16;
/// One SMTP conversation (connect, TLS, send) gives up after this.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Failed sends are retried after 2 s, 4 s, 8 s … then hourly: 20 attempts span about
/// eleven hours, so a mail server that is down for a night still gets every message (and
/// one that is back within seconds gets them within seconds).
pub const RETRY: RetryPolicy = RetryPolicy { base: 2, cap: 3600, max_attempts: 20 };

/// The SMTP transport and the sender, or nothing (messages go to the log).
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl Mailer {
    /// Builds the transport from `--smtp-url` (`smtp://host:port`, `smtps://user:pass@host`,
    /// `smtp://host?tls=required`; lettre's syntax). A URL lettre refuses stops start-up.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let from = match &config.smtp_from {
            Some(raw) => {
                raw.parse::<Mailbox>().map_err(|err| anyhow::anyhow!("--smtp-from '{raw}' is not a mailbox: {err}"))?
            }
            None => default_sender(config),
        };
        let transport = match config.smtp_url.as_ref() {
            None => None,
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .map_err(|err| anyhow::anyhow!("--smtp-url is not a usable SMTP URL: {err}"))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            ),
        };
        Ok(Self { transport, from })
    }

    /// Sends one message now.
    async fn send(&self, email: &OutboxEmail) -> Result<(), Failure> {
        let Some(transport) = &self.transport else {
            // No SMTP server: the message (its link included) goes to the log, so a development
            // installation still works. Operators who configure SMTP never see bodies logged.
            tracing::info!(target: "email", to = %email.to_address, subject = %email.subject,
                body = ?email.body_text, "email not sent: no SMTP server configured (--smtp-url); logged instead");
            return Ok(());
        };
        let to: Mailbox = email
            .to_address
            .parse()
            .map_err(|err| Failure::Refused(format!("the address cannot be written in a message: {err}")))?;
        let builder = Message::builder().from(self.from.clone()).to(to).subject(email.subject.clone());
        let message = match &email.body_html {
            Some(html) => builder
                .multipart(lettre::message::MultiPart::alternative_plain_html(email.body_text.clone(), html.clone())),
            None => builder.header(ContentType::TEXT_PLAIN).body(email.body_text.clone()),
        }
        .map_err(|err| Failure::Refused(format!("the message cannot be built: {err}")))?;
        // The whole conversation ends well within the lease (the socket timeout bounds each
        // read, not their sum): past it, another node may claim the message and send it again.
        let sent = tokio::time::timeout(Duration::from_secs(CONVERSATION_LIMIT), transport.send(message)).await;
        let Ok(sent) = sent else {
            return Err(Failure::Retry(format!("the SMTP conversation took longer than {CONVERSATION_LIMIT} s")));
        };
        match sent {
            Ok(_) => Ok(()),
            // Given up only when the server refuses this recipient (RFC 5321 §4.2.3: 550-553,
            // no such mailbox or name not allowed): retrying will not change that.
            Err(err) if refuses_recipient(&err) => Err(Failure::Refused(format!("the SMTP server refused it: {err}"))),
            Err(err) => Err(Failure::Retry(format!("sending failed: {err}"))),
        }
    }
}

/// "<platform> <no-reply@issuer host>", or "no-reply@localhost" when the host is no mail domain.
fn default_sender(config: &Config) -> Mailbox {
    let host = url::Url::parse(&config.issuer).ok().and_then(|u| u.host_str().map(str::to_owned));
    let address = host
        .and_then(|host| lettre::Address::new("no-reply", host).ok())
        // "no-reply@localhost" is a valid address; checked by hand, not by the parser.
        .unwrap_or_else(|| lettre::Address::new_dangerous("no-reply", "localhost"));
    Mailbox::new(Some(config.platform_name.clone()), address)
}

/// Whether the server refused the recipient for good. Other 5xx answers (530/535: Doorway's
/// credentials refused, 554: relaying refused, 5.0.x: a command it does not take) come from
/// the server's configuration, which the operator fixes: every message in between would be
/// lost if they were given up, so they are retried like an outage (`RETRY` spans hours).
fn refuses_recipient(err: &lettre::transport::smtp::Error) -> bool {
    err.is_permanent() && err.status().is_some_and(|code| (550..=553).contains(&u16::from(code)))
}

/// Why a message was not sent: worth retrying (the server is away), or never.
enum Failure {
    Retry(String),
    Refused(String),
}

/// One pass of the outbox worker: claims the due messages and sends them.
pub async fn deliver_due(state: &AppState) {
    let claimed = match state.store.claim_emails(now(), LEASE, BATCH).await {
        Ok(claimed) => claimed,
        Err(err) => {
            tracing::error!(error = %err, "claiming queued email failed");
            return;
        }
    };
    let mut running = tokio::task::JoinSet::new();
    for email in claimed {
        running.spawn(deliver(state.clone(), email));
    }
    while running.join_next().await.is_some() {}
}

async fn deliver(state: AppState, email: OutboxEmail) {
    let outcome = state.mailer.send(&email).await;
    let now = now();
    let attempts = email.attempts + 1;
    let recorded = match outcome {
        Ok(()) => {
            tracing::info!(email_id = %email.id, attempts, "email sent");
            state.store.mark_email_sent(&email.id, now).await
        }
        Err(Failure::Refused(error)) => {
            tracing::error!(email_id = %email.id, error = %error, "email not sent; giving up");
            state.store.mark_email_failed(&email.id, &error, None).await
        }
        Err(Failure::Retry(error)) => {
            let next = RETRY.next_attempt_at(attempts, now);
            match next {
                Some(at) => tracing::warn!(email_id = %email.id, attempts, retry_in = at - now, error = %error,
                    "sending email failed; will retry"),
                None => tracing::error!(email_id = %email.id, attempts, error = %error,
                    "sending email failed; giving up"),
            }
            state.store.mark_email_failed(&email.id, &error, next).await
        }
    };
    if let Err(err) = recorded {
        // The lease runs out and the message is tried again: at least once, never lost.
        tracing::error!(error = %err, email_id = %email.id, "recording an email attempt failed");
    }
}
