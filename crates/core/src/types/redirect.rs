//! Redirect URIs: what may be registered, and when a presented URI matches a registration.
//!
//! Only [`RedirectPolicy::verify`] creates a [`VerifiedRedirect`], and only a verified redirect
//! can carry a code or an error back to a client (RFC 9700 §4.1, OAuth 2.1 §7.5.1): the compiler
//! keeps the promise that Doorway never redirects to an unverified URL.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

/// Why a URI cannot be registered or used as a redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("the redirect URI is not an absolute URL")]
    NotAbsolute,
    #[error("the redirect URI is too long (2000 characters at most)")]
    TooLong,
    #[error("the redirect URI contains spaces, control characters or backslashes")]
    BadCharacters,
    #[error("the redirect URI must use https (http is allowed only for 127.0.0.1, [::1] and localhost)")]
    Scheme,
    #[error("the redirect URI must not contain a fragment (#)")]
    Fragment,
    #[error("the redirect URI must not contain a user name or password")]
    UserInfo,
    #[error("the redirect URI must not contain wildcards")]
    Wildcard,
    #[error("the redirect URI must not contain '.' or '..' path segments")]
    DotSegment,
}

/// A redirect URI that passed the registration rules. Its string is kept exactly as given:
/// the exact policy compares bytes, never a normalised form.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri {
    raw: String,
    url: Url,
}

const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

impl RedirectUri {
    pub const MAX_LEN: usize = 2000;

    pub fn parse(raw: &str) -> Result<Self, RedirectUriError> {
        if raw.len() > Self::MAX_LEN {
            return Err(RedirectUriError::TooLong);
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\') {
            return Err(RedirectUriError::BadCharacters);
        }
        if raw.contains('#') {
            return Err(RedirectUriError::Fragment);
        }
        // The scheme is compared as written, so it must be written in lower case.
        let rest = if let Some(rest) = raw.strip_prefix("https://") {
            rest
        } else if let Some(rest) = raw.strip_prefix("http://") {
            rest
        } else if raw.contains("://") || raw.contains(':') {
            return Err(RedirectUriError::Scheme);
        } else {
            return Err(RedirectUriError::NotAbsolute);
        };
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        // `https:///host` parses as `https://host`: the checks below read the authority as
        // written, so it must be where the parser finds it.
        if authority.is_empty() {
            return Err(RedirectUriError::NotAbsolute);
        }
        if authority.contains('@') {
            return Err(RedirectUriError::UserInfo);
        }
        if authority.contains('*') {
            return Err(RedirectUriError::Wildcard);
        }
        let url = Url::parse(raw).map_err(|_| RedirectUriError::NotAbsolute)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectUriError::UserInfo);
        }
        let Some(host) = url.host() else {
            return Err(RedirectUriError::NotAbsolute);
        };
        if url.scheme() == "http" && !is_loopback(&host) {
            return Err(RedirectUriError::Scheme);
        }
        let path = rest[authority.len()..].split('?').next().unwrap_or_default();
        let lowered = path.to_ascii_lowercase().replace("%2e", ".");
        if lowered.split('/').any(|segment| segment == "." || segment == "..") {
            return Err(RedirectUriError::DotSegment);
        }
        Ok(Self { raw: raw.to_owned(), url })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    fn is_http_loopback(&self) -> bool {
        self.url.scheme() == "http" && self.url.host().as_ref().is_some_and(is_loopback)
    }

    /// The URI without its `:port`, for the RFC 8252 §7.3 comparison: `(prefix, rest)` where
    /// prefix is `http://host` and rest is everything after the port.
    fn split_loopback(raw: &str) -> Option<(&str, &str)> {
        let after_scheme = raw.strip_prefix("http://")?;
        let host = LOOPBACK_HOSTS.iter().find(|h| after_scheme.starts_with(**h))?;
        let prefix_len = "http://".len() + host.len();
        let (prefix, mut rest) = raw.split_at(prefix_len);
        if let Some(after_colon) = rest.strip_prefix(':') {
            let digits = after_colon.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 5 {
                return None;
            }
            rest = &after_colon[digits..];
        }
        if !(rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')) {
            return None;
        }
        Some((prefix, rest))
    }

    /// Exact matching (RFC 9700 §2.1): byte-for-byte, except that a loopback registration
    /// accepts any port (RFC 8252 §7.3).
    fn matches_exactly(&self, presented: &str) -> bool {
        if self.raw == presented {
            return true;
        }
        if !self.is_http_loopback() {
            return false;
        }
        match (Self::split_loopback(&self.raw), Self::split_loopback(presented)) {
            (Some(registered), Some(candidate)) => registered == candidate,
            _ => false,
        }
    }

    /// The hosted-app policy: same scheme, host and port as the registration (the port may
    /// differ on loopback, as under the exact policy). The presented URI must itself be a valid
    /// redirect URI.
    fn matches_origin(&self, presented: &RedirectUri) -> bool {
        if self.url.scheme() != presented.url.scheme() || self.url.host() != presented.url.host() {
            return false;
        }
        self.is_http_loopback() || self.url.port_or_known_default() == presented.url.port_or_known_default()
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(domain) => *domain == "localhost",
        Host::Ipv4(ip) => ip.octets() == [127, 0, 0, 1],
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

impl fmt::Debug for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedirectUri").field(&self.raw).finish()
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = RedirectUriError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<RedirectUri> for String {
    fn from(value: RedirectUri) -> Self {
        value.raw
    }
}

/// How an app's registered redirect URIs are matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedirectPolicy {
    /// Byte-for-byte, with the loopback port exception. The default for registered apps.
    #[default]
    Exact,
    /// Any URL under a registered origin, query string included (hosted apps).
    Origin,
}

impl RedirectPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Origin => "origin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "exact" => Some(Self::Exact),
            "origin" => Some(Self::Origin),
            _ => None,
        }
    }

    /// Checks a presented `redirect_uri` (or its absence) against the registrations.
    ///
    /// Without a presented URI, the only registration is used when there is exactly one and
    /// the policy is exact (RFC 6749 §3.1.2.3); OpenID requests must always send one, which
    /// the authorization pipeline checks before calling this.
    pub fn verify(self, registered: &[RedirectUri], presented: Option<&str>) -> Result<VerifiedRedirect, &'static str> {
        let Some(presented) = presented else {
            return match (self, registered) {
                (RedirectPolicy::Exact, [only]) => Ok(VerifiedRedirect { uri: only.raw.clone(), sent: false }),
                _ => Err("redirect_uri is required"),
            };
        };
        let verified = |uri: String| VerifiedRedirect { uri, sent: true };
        match self {
            RedirectPolicy::Exact => registered
                .iter()
                .any(|r| r.matches_exactly(presented))
                .then(|| verified(presented.to_owned()))
                .ok_or("redirect_uri does not match any redirect URI registered for this app"),
            RedirectPolicy::Origin => {
                let candidate =
                    RedirectUri::parse(presented).map_err(|_| "redirect_uri is not a valid redirect URI")?;
                registered
                    .iter()
                    .any(|r| r.matches_origin(&candidate))
                    .then(|| verified(candidate.raw.clone()))
                    .ok_or("redirect_uri is not under an origin registered for this app")
            }
        }
    }
}

/// A redirect URI that was checked against the app's registration. The only way to send a
/// response, success or error, back to a client from the authorization endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRedirect {
    uri: String,
    sent: bool,
}

impl VerifiedRedirect {
    pub fn as_str(&self) -> &str {
        &self.uri
    }

    /// Whether the client sent `redirect_uri`: then the token request must repeat it
    /// (RFC 6749 §4.1.3).
    pub fn was_sent(&self) -> bool {
        self.sent
    }

    /// The URI with `params` appended to its query, keeping any query it already has byte for
    /// byte (the hosted-app policy passes the client's own query through).
    pub fn with_params(&self, params: &[(&str, &str)]) -> String {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in params {
            serializer.append_pair(name, value);
        }
        let query = serializer.finish();
        let separator = match self.uri.find('?') {
            None => "?",
            Some(i) if i + 1 == self.uri.len() || self.uri.ends_with('&') => "",
            Some(_) => "&",
        };
        format!("{}{}{}", self.uri, separator, query)
    }
}
