//! Email, end to end: Doorway sends over real SMTP to a real server on loopback (Python's
//! aiosmtpd, `tests/clients/smtp_sink.py`), and the tests read the received messages, take the
//! link out and follow it like a person would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

mod attacks;
mod outbox;
mod reset;
mod verify;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use doorway_server::config::SmtpUrl;
use helpers::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};

/// A received message, decoded by the sink (quoted-printable and base64 undone).
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
}

impl Mail {
    /// The link in the message that starts with `prefix` (the issuer and a path).
    pub fn link(&self, prefix: &str) -> String {
        self.text
            .split_whitespace()
            .find(|word| word.starts_with(prefix))
            .unwrap_or_else(|| panic!("no link starting with {prefix} in: {}", self.text))
            .to_owned()
    }

    /// Any http(s) link in the message.
    pub fn links(&self) -> Vec<String> {
        self.text.split_whitespace().filter(|w| w.starts_with("http")).map(str::to_owned).collect()
    }
}

/// The SMTP server: a child process, killed when dropped.
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

fn python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join("tests/clients/.venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash scripts/install-test-deps` (it installs aiosmtpd for the email tests)",
        python.display()
    );
    python
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl SmtpSink {
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// Starts the sink on `port` and waits until it listens.
    pub async fn start_on(port: u16) -> Self {
        let mut sink = Self { port, dir: tempfile::tempdir().unwrap(), child: None };
        sink.run().await;
        sink
    }

    async fn run(&mut self) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients/smtp_sink.py");
        let mut child = std::process::Command::new(python())
            .arg(&script)
            .arg(self.port.to_string())
            .arg(self.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        // The first line, read on a blocking thread (the sink prints "ready" once listening).
        let first = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                BufReader::new(stdout).read_line(&mut line).map(|_| line.trim().to_owned())
            }),
        )
        .await;
        let ready = matches!(&first, Ok(Ok(Ok(line))) if line == "ready");
        if !ready {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "the SMTP sink did not start ({first:?}): {}\nIf aiosmtpd is missing, run `bash scripts/install-test-deps`.",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        self.child = Some(child);
    }

    /// Stops listening (the mail server goes away).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `smtp://127.0.0.1:PORT`, for `Config::smtp_url`.
    pub fn url(&self) -> SmtpUrl {
        SmtpUrl::new(&format!("smtp://127.0.0.1:{}", self.port))
    }

    /// The messages received so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| {
                let record: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
                Mail {
                    to: record["to"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect(),
                    subject: record["subject"].as_str().unwrap().to_owned(),
                    text: record["text"].as_str().unwrap().to_owned(),
                }
            })
            .collect()
    }

    /// Waits (at most `seconds`) until `count` messages have arrived, and returns them all.
    pub async fn wait_for(&self, count: usize, seconds: u64) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(Instant::now() < deadline, "expected {count} messages, got {}: {messages:?}", messages.len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The one message sent to `to` (waiting for it).
    pub async fn message_to(&self, to: &str) -> Mail {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(mail) = self.messages().into_iter().rev().find(|m| m.to.iter().any(|t| t == to)) {
                return mail;
            }
            assert!(Instant::now() < deadline, "no message to {to}: {:?}", self.messages());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Doorway sending to `sink`.
pub async fn spawn_with_sink(sink: &SmtpSink) -> TestApp {
    let url = sink.url();
    spawn_app_with(move |config| config.smtp_url = Some(url)).await
}

/// The CSRF token of the page at `path` (which sets the CSRF cookie in `browser`).
pub async fn csrf(app: &TestApp, browser: &Browser, path: &str) -> String {
    let response = browser.get(&app.url(path)).await;
    assert_eq!(response.status(), 200, "GET {path}");
    input_value(&response.text().await.unwrap(), "csrf_token").expect("a csrf_token")
}

/// Posts `form` to `path` with the CSRF token of that page.
pub async fn post_form(app: &TestApp, browser: &Browser, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    post_form_from(app, browser, path, path, form).await
}

/// Posts `form` to `path` with the CSRF token of the page at `page` (where the form is).
pub async fn post_form_from(
    app: &TestApp,
    browser: &Browser,
    page: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let token = csrf(app, browser, page).await;
    let mut fields: Vec<(&str, &str)> = form.to_vec();
    fields.push(("csrf_token", &token));
    browser.http.post(app.url(path)).form(&fields).send().await.unwrap()
}

/// Signs in with `password`; returns the response (303 on success).
pub async fn login_with(app: &TestApp, browser: &Browser, username: &str, password: &str) -> reqwest::Response {
    post_form(app, browser, "/login", &[("username", username), ("password", password)]).await
}

/// Opens a mailed link (GET shows a form with the token) and submits that form.
pub async fn follow_link(app: &TestApp, browser: &Browser, link: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let page = browser.get(link).await;
    assert_eq!(page.status(), 200, "GET {link}");
    let html = page.text().await.unwrap();
    let csrf = input_value(&html, "csrf_token").unwrap();
    let token = input_value(&html, "token").unwrap();
    let action = link.split('?').next().unwrap();
    assert!(action.starts_with(&app.issuer));
    let mut fields = vec![("csrf_token", csrf.as_str()), ("token", token.as_str())];
    fields.extend_from_slice(extra);
    browser.http.post(action).form(&fields).send().await.unwrap()
}

/// Kinds of the security-log entries of `user_id`.
pub async fn audit_kinds(app: &TestApp, user_id: &str) -> Vec<String> {
    let query = doorway_store::AuditQuery { user_id: Some(user_id), kind: None, before: None, limit: 100 };
    app.store.list_audit(&query).await.unwrap().into_iter().map(|e| e.kind).collect()
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}
