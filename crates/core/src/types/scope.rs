//! Scopes (RFC 6749 §3.3): space-delimited, case-sensitive tokens.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One scope token: `1*( %x21 / %x23-5B / %x5D-7E )`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(String);

impl Scope {
    pub const OPENID: &'static str = "openid";
    pub const PROFILE: &'static str = "profile";
    pub const EMAIL: &'static str = "email";
    pub const READ_BILLING: &'static str = "read-billing";

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() || raw.len() > 128 {
            return Err("a scope is 1 to 128 characters long");
        }
        if !raw.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)) {
            return Err("a scope may not contain spaces, quotes or backslashes");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Scope {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Scope> for String {
    fn from(value: Scope) -> Self {
        value.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A set of scopes, kept sorted so that its string form is canonical (consent is remembered by
/// set, not by the order a client happened to send).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// Parses a space-delimited list; repeated spaces and repeated scopes are tolerated.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        raw.split(' ').filter(|s| !s.is_empty()).map(Scope::parse).collect::<Result<_, _>>().map(Self)
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.as_str() == scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// The scopes of `self` that `other` lacks.
    pub fn missing_from<'a>(&'a self, other: &'a ScopeSet) -> impl Iterator<Item = &'a Scope> + 'a {
        self.0.difference(&other.0)
    }

    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0.union(&other.0).cloned().collect())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
            first = false;
        }
        Ok(())
    }
}

impl TryFrom<String> for ScopeSet {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ScopeSet> for String {
    fn from(value: ScopeSet) -> Self {
        value.to_string()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<T: IntoIterator<Item = Scope>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}
