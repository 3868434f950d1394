//! Account identifiers typed by people: usernames, emails, passwords.

use std::fmt;

/// A username: 2–42 characters of `[A-Za-z0-9-_.]`, starting with a letter or digit, and not
/// one of [`Username::RESERVED`]. Uniqueness is case-insensitive, which the
/// store enforces through [`Username::canonical`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub const MIN: usize = 2;
    pub const MAX: usize = 42;
    /// Names that are, or may become, Doorway's own top-level paths.
    pub const RESERVED: &'static [&'static str] = &[
        "about",
        "account",
        "admin",
        "api",
        "apps",
        "assets",
        "avatars",
        "badges",
        "demo",
        "device",
        "docs",
        "favicon.ico",
        "healthz",
        "help",
        "login",
        "logout",
        "metrics",
        "new",
        "oauth",
        "orgs",
        "organizations",
        "readyz",
        "robots.txt",
        "settings",
        "signin",
        "signup",
        "static",
        "support",
        "users",
    ];

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let len = raw.chars().count();
        if !(Self::MIN..=Self::MAX).contains(&len) {
            return Err("a username is 2 to 42 characters long");
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            return Err("a username may only contain letters, digits, '-', '_' and '.'");
        }
        // Profiles live at `/<username>`: a leading `.`, `-` or `_` allows `..` and `.well-known`.
        if !raw.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err("a username must start with a letter or a digit");
        }
        if Self::RESERVED.iter().any(|r| r.eq_ignore_ascii_case(raw)) {
            return Err("this username is reserved");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form under which uniqueness is checked.
    pub fn canonical(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Username").field(&self.0).finish()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, checked for shape only (one `@`, a dotted-or-local domain, no spaces).
/// Whether it belongs to the user is the job of email verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let raw = raw.trim();
        let invalid = "enter an email address such as name@example.com";
        if raw.len() > 254 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid);
        }
        let Some((local, domain)) = raw.split_once('@') else {
            return Err(invalid);
        };
        if local.is_empty()
            || domain.is_empty()
            || domain.contains('@')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(invalid);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password as typed. Never printed: `Debug` is redacted.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN: usize = 8;
    /// Argon2 accepts long inputs, but an unbounded one is a denial-of-service lever.
    pub const MAX: usize = 1024;

    pub fn parse(raw: String) -> Result<Self, &'static str> {
        let len = raw.chars().count();
        if len < Self::MIN {
            return Err("a password is at least 8 characters long");
        }
        if raw.len() > Self::MAX {
            return Err("a password is at most 1024 bytes long");
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}
