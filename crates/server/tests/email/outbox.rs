//! The outbox: a mail server that is down loses nothing, and without one the messages go to
//! the log.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::*;

#[tokio::test]
async fn mail_queued_while_the_smtp_server_is_down_is_delivered_once_it_is_back() {
    let port = free_port();
    let url = doorway_server::config::SmtpUrl::new(&format!("smtp://127.0.0.1:{port}"));
    let app = spawn_app_with(move |config| config.smtp_url = Some(url)).await;
    app.create_user("alice").await;
    let response = post_form(&app, &Browser::new(), "/login/forgot-password", &[("identifier", "alice")]).await;
    assert_eq!(response.status(), 200, "the request succeeds although no mail server answers");

    // The first attempt fails and is scheduled again, with the reason kept.
    let deadline = Instant::now() + Duration::from_secs(20);
    let failed = loop {
        let emails = app.store.list_emails(10).await.unwrap();
        assert!(emails.len() <= 1);
        if emails.first().is_some_and(|e| e.attempts >= 1) {
            break emails[0].clone();
        }
        assert!(Instant::now() < deadline, "no attempt was made");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(failed.status, "pending");
    assert!(failed.last_error.is_some());
    assert!(failed.next_attempt_at > failed.created_at);

    // The mail server comes back: the message arrives on a later attempt, and only once.
    let sink = SmtpSink::start_on(port).await;
    let mail = sink.message_to("alice@example.com").await;
    assert!(mail.link(&app.url("/login/reset-password?token=")).len() > 40);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let email = app.store.list_emails(10).await.unwrap().remove(0);
        if email.status == "sent" {
            assert!(email.attempts >= 2, "{email:?}");
            assert!(email.body_text.is_empty(), "a sent message's link is not kept");
            break;
        }
        assert!(Instant::now() < deadline, "the message was not marked sent: {email:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.messages().len(), 1);

    // The operator's view: status and attempts, never the body (it held the link).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_doorway"))
        .arg("--data-dir")
        .arg(app._dir.path())
        .args(["email", "outbox", "--json"])
        .env_remove("DOORWAY_DATABASE_URL")
        .env_remove("DOORWAY_CONFIG")
        .env_remove("DOORWAY_DATA_DIR")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let list: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(list[0]["to"], "alice@example.com");
    assert_eq!(list[0]["status"], "sent");
    assert!(list[0]["attempts"].as_i64().unwrap() >= 2);
    assert!(!stdout.contains("token="), "{stdout}");
}

/// Log lines of target "email", captured for the whole test binary.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("email=info"))
            .with_ansi(false)
            .with_writer(move || Capture(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buffer
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn without_smtp_messages_go_to_the_log_and_count_as_sent() {
    let log = captured();
    let app = spawn_app().await;
    app.create_user("alice").await;
    let response = post_form(&app, &Browser::new(), "/login/forgot-password", &[("identifier", "alice")]).await;
    assert_eq!(response.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let emails = app.store.list_emails(10).await.unwrap();
        if emails.first().is_some_and(|e| e.status == "sent") {
            break;
        }
        assert!(Instant::now() < deadline, "not marked sent: {emails:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = String::from_utf8(log.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("alice@example.com") && l.contains(&app.url("/login/reset-password?token=")))
        .unwrap_or_else(|| panic!("no logged message for alice in: {text}"));
    assert!(line.contains("no SMTP server configured"), "{line}");
}

/// A mail server that answers MAIL FROM with `mail_reply`, RCPT TO with `rcpt_reply` and
/// everything else with success (a plain-text SMTP conversation on a thread).
fn scripted_smtp(mail_reply: &'static str, rcpt_reply: &'static str) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || {
                let mut write = stream.try_clone().unwrap();
                let _ = write.write_all(b"220 scripted ESMTP\r\n");
                let mut in_data = false;
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    let upper = line.to_ascii_uppercase();
                    let reply = if in_data {
                        if line != "." {
                            continue;
                        }
                        in_data = false;
                        "250 queued"
                    } else if upper.starts_with("MAIL") {
                        mail_reply
                    } else if upper.starts_with("RCPT") {
                        rcpt_reply
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        "354 go on"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n");
                        return;
                    } else {
                        "250 scripted"
                    };
                    if write.write_all(format!("{reply}\r\n").as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// Asks for alice's reset through a server scripted as above, and returns the message once
/// its first attempt is recorded.
async fn first_attempt_through(mail_reply: &'static str, rcpt_reply: &'static str) -> doorway_store::OutboxEmail {
    let port = scripted_smtp(mail_reply, rcpt_reply);
    let url = doorway_server::config::SmtpUrl::new(&format!("smtp://127.0.0.1:{port}"));
    let app = spawn_app_with(move |config| config.smtp_url = Some(url)).await;
    app.create_user("alice").await;
    let response = post_form(&app, &Browser::new(), "/login/forgot-password", &[("identifier", "alice")]).await;
    assert_eq!(response.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let emails = app.store.list_emails(10).await.unwrap();
        if let Some(email) = emails.into_iter().find(|e| e.attempts >= 1) {
            return email;
        }
        assert!(Instant::now() < deadline, "no attempt was made");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_server_refusing_doorways_credentials_keeps_the_mail_for_a_retry() {
    // A rotated SMTP password answers 530/535 to every message until the operator fixes it:
    // giving up would lose every link sent meanwhile.
    let email = first_attempt_through("530 5.7.0 Authentication required", "250 ok").await;
    assert_eq!(email.status, "pending", "{email:?}");
    assert!(email.last_error.as_deref().is_some_and(|e| e.contains("530")), "{email:?}");
    assert!(email.next_attempt_at > email.created_at);
}

#[tokio::test]
async fn a_recipient_the_server_refuses_is_given_up_and_its_link_dropped() {
    let email = first_attempt_through("250 ok", "550 5.1.1 No such mailbox").await;
    assert_eq!(email.status, "failed", "{email:?}");
    assert!(email.last_error.as_deref().is_some_and(|e| e.contains("550")), "{email:?}");
    assert!(email.body_text.is_empty(), "a message given up keeps no live link");
}
