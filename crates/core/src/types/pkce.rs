//! PKCE (RFC 7636) with the S256 method only: `plain` offers no protection against a
//! leaked authorization request and is rejected.

use aws_lc_rs::digest;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

/// An S256 code challenge: the unpadded base64url SHA-256 of a verifier, 43 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CodeChallenge(String);

impl CodeChallenge {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        // RFC 7636 §4.2: S256 yields 32 bytes, 43 base64url characters without padding.
        if raw.len() != 43 || Base64UrlUnpadded::decode_vec(raw).is_err() {
            return Err("code_challenge must be the 43-character base64url SHA-256 of the verifier");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6: BASE64URL(SHA256(verifier)) == challenge, compared in constant time.
    pub fn is_satisfied_by(&self, verifier: &CodeVerifier) -> bool {
        let computed =
            Base64UrlUnpadded::encode_string(digest::digest(&digest::SHA256, verifier.0.as_bytes()).as_ref());
        computed.as_bytes().ct_eq(self.0.as_bytes()).into()
    }

    /// The challenge for a verifier, as a client computes it.
    pub fn for_verifier(verifier: &CodeVerifier) -> Self {
        Self(Base64UrlUnpadded::encode_string(digest::digest(&digest::SHA256, verifier.0.as_bytes()).as_ref()))
    }
}

impl TryFrom<String> for CodeChallenge {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CodeChallenge> for String {
    fn from(value: CodeChallenge) -> Self {
        value.0
    }
}

/// A code verifier: 43–128 unreserved characters (RFC 7636 §4.1).
#[derive(Clone, PartialEq, Eq)]
pub struct CodeVerifier(String);

impl CodeVerifier {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if !(43..=128).contains(&raw.len()) || !raw.bytes().all(is_unreserved) {
            return Err("code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeVerifier([redacted])")
    }
}
