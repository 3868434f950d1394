//! What every handler can reach. Built once at start-up; cheap to clone.

use std::sync::Arc;

use doorway_core::types::{Scope, ScopeSet};
use doorway_store::Store;

use crate::config::{Config, ScopeDef};
use crate::keys::Keys;
use crate::password::Passwords;
use crate::ui::Ui;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub keys: Keys,
    /// Derives refresh-token successors; the same on every node sharing the master key.
    pub rotation: doorway_core::oauth::refresh::RotationKey,
    /// Keys the stored handles of JWT access tokens of users' grants; the same on every node.
    pub access_token_handles: doorway_core::oauth::access_token::HandleKey,
    /// Outbound HTTP (back-channel logout deliveries, the demo's calls).
    pub http: OutboundHttp,
    pub passwords: Passwords,
    /// Sends the email outbox (SMTP, or the log without `--smtp-url`).
    pub mailer: crate::email::Mailer,
    pub ui: Ui,
    pub scopes: ScopeRegistry,
    /// Discovery metadata, serialised once.
    pub discovery: String,
    /// The demo relying party, when `--demo` is on.
    pub demo: Option<crate::http::demo::DemoClient>,
    /// How the server reaches itself (the bound address), for the demo's back-channel calls.
    pub internal_base: String,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

/// The scopes this installation knows, each with the sentence shown on the consent screen.
#[derive(Debug, Clone)]
pub struct ScopeRegistry {
    entries: Vec<ScopeDef>,
    set: ScopeSet,
}

impl ScopeRegistry {
    pub fn new(extra: &[ScopeDef]) -> Self {
        // The claims are what Doorway releases for each built-in scope (see oidc::claims); an
        // operator may reword a built-in scope's description, not change what it releases.
        let builtin = [
            ScopeDef::new(
                Scope::OPENID,
                "Sign you in and know who you are (your account's unique identifier)",
                &["sub"],
            ),
            ScopeDef::new(
                Scope::PROFILE,
                "Read your profile: username, display name, picture, website and organizations",
                &["name", "preferred_username", "profile", "picture", "website", "isPro", "orgs"],
            ),
            ScopeDef::new(Scope::EMAIL, "Read your email address", &["email", "email_verified"]),
            ScopeDef::new(Scope::READ_BILLING, "Know whether you have a payment method on file", &["canPay"]),
        ];
        let mut entries: Vec<ScopeDef> = builtin.to_vec();
        for def in extra {
            if let Some(existing) = entries.iter_mut().find(|e| e.name == def.name) {
                existing.description.clone_from(&def.description);
            } else {
                entries.push(def.clone());
            }
        }
        let set = entries.iter().filter_map(|e| Scope::parse(&e.name).ok()).collect();
        Self { entries, set }
    }

    pub fn known(&self) -> &ScopeSet {
        &self.set
    }

    /// Every scope, in registry order, with its description and the claims it releases.
    pub fn entries(&self) -> &[ScopeDef] {
        &self.entries
    }

    pub fn names(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.name.clone()).collect()
    }

    /// The scopes of a request as people read them: registry order (openid, profile, email, …),
    /// each with its sentence. Used by the consent and device pages alike.
    pub fn for_display(&self, scopes: &ScopeSet) -> Vec<ScopeDef> {
        self.entries.iter().filter(|e| scopes.contains(&e.name)).cloned().collect()
    }
}

/// Outbound HTTP to operators' own apps (back-channel logout), built on first use: building a
/// client loads the system's root certificates (~150 files, tens of milliseconds), which a node
/// that never calls out should not pay at start-up.
#[derive(Default)]
pub struct OutboundHttp(std::sync::OnceLock<reqwest::Client>);

impl OutboundHttp {
    pub fn client(&self) -> reqwest::Result<reqwest::Client> {
        if let Some(client) = self.0.get() {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(self.0.get_or_init(|| client).clone())
    }
}

/// The current time in Unix seconds: the only clock handlers read.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
