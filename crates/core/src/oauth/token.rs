//! The token endpoint (RFC 6749 §3.2, §4.1.3): client authentication and the rules a code
//! must pass before anything is issued.

use base64ct::{Base64, Encoding};
use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::error::OAuthError;
use crate::model::{AuthorizationCode, Client};
use crate::oauth::params::Params;
use crate::secrets::verify_secret;
use crate::types::{CodeChallenge, CodeVerifier};

/// Parameters Doorway reads at the token endpoint; a duplicate of any is an error.
const KNOWN: &[&str] =
    &["grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret", "refresh_token", "scope"];

/// The client authentication a request carries.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientCredentials {
    /// `client_secret_basic`: the HTTP Basic header.
    Basic { client_id: String, secret: String },
    /// `client_secret_post`: both in the body.
    Post { client_id: String, secret: String },
    /// `none`: a public client, optionally naming itself. Without a client id the code
    /// identifies the app (what @huggingface/hub sends).
    None { client_id: Option<String> },
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Basic { client_id, .. } => write!(f, "Basic({client_id}, [redacted])"),
            Self::Post { client_id, .. } => write!(f, "Post({client_id}, [redacted])"),
            Self::None { client_id } => write!(f, "None({client_id:?})"),
        }
    }
}

impl ClientCredentials {
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Self::Basic { client_id, .. } | Self::Post { client_id, .. } => Some(client_id),
            Self::None { client_id } => client_id.as_deref(),
        }
    }

    pub fn used_basic(&self) -> bool {
        matches!(self, Self::Basic { .. })
    }
}

/// RFC 6749 §2.3.1: the Basic credentials are each form-urlencoded before base64. A NUL is
/// refused: no client id or secret has one, and PostgreSQL cannot compare text holding one.
fn form_decode(part: &str) -> Result<String, OAuthError> {
    percent_decode_str(&part.replace('+', " "))
        .decode_utf8()
        .ok()
        .filter(|s| !s.contains('\0'))
        .map(|s| s.into_owned())
        .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))
}

/// Reads the client credentials from the `Authorization` header and the body. A request may
/// use one method only (RFC 6749 §2.3).
pub fn client_credentials(authorization: Option<&str>, params: &Params) -> Result<ClientCredentials, OAuthError> {
    if let Some(err) = params.first_duplicate(KNOWN) {
        return Err(err);
    }
    let body_id = params.get("client_id")?;
    let body_secret = params.get("client_secret")?;
    if let Some(header) = authorization {
        let header = header.trim();
        let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(OAuthError::invalid_client("only HTTP Basic client authentication is supported"));
        }
        let decoded = Base64::decode_vec(value.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
        let (id, secret) =
            decoded.split_once(':').ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
        let (client_id, secret) = (form_decode(id)?, form_decode(secret)?);
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request("use one client authentication method, not two"));
        }
        if body_id.is_some_and(|id| id != client_id) {
            return Err(OAuthError::invalid_request("client_id in the body differs from the Basic credentials"));
        }
        return Ok(ClientCredentials::Basic { client_id, secret });
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok(ClientCredentials::Post { client_id: id.to_owned(), secret: secret.to_owned() }),
        (None, Some(_)) => Err(OAuthError::invalid_request("client_secret without client_id")),
        (id, None) => Ok(ClientCredentials::None { client_id: id.map(str::to_owned) }),
    }
}

/// Authenticates a client by its credentials. Every failure is `invalid_client` with the same
/// description, so the answer does not tell which part was wrong.
pub fn authenticate(credentials: &ClientCredentials, client: &Client) -> Result<(), OAuthError> {
    let failed = || OAuthError::invalid_client("client authentication failed");
    match (credentials, &client.secret_hash) {
        (ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. }, Some(hash))
            if !client.is_public() && verify_secret(secret, hash) =>
        {
            Ok(())
        }
        (ClientCredentials::None { .. }, _) if client.is_public() => Ok(()),
        _ => Err(failed()),
    }
}

/// [`authenticate`], also accepting the secret replaced by the app's last rotation while its
/// grace period runs (`previous_secret_expires_at` is after `now`).
pub fn authenticate_at(credentials: &ClientCredentials, client: &Client, now: i64) -> Result<(), OAuthError> {
    let current = authenticate(credentials, client);
    if current.is_ok() {
        return current;
    }
    match (credentials, &client.previous_secret_hash, client.previous_secret_expires_at) {
        (ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. }, Some(hash), Some(until))
            if !client.is_public() && now < until && verify_secret(secret, hash) =>
        {
            Ok(())
        }
        _ => current,
    }
}

/// RFC 6749 §4.1.3 and RFC 7636 §4.6: the checks a consumed code must pass.
pub fn check_code(code: &AuthorizationCode, client: &Client, params: &Params, now: i64) -> Result<(), OAuthError> {
    if now >= code.expires_at {
        return Err(OAuthError::invalid_grant("the authorization code has expired"));
    }
    if code.client_id != client.client_id {
        return Err(OAuthError::invalid_grant("the authorization code was issued to another client"));
    }
    match (code.redirect_uri_sent, params.get("redirect_uri")?) {
        (true, None) => {
            return Err(OAuthError::invalid_grant("redirect_uri is required: it was sent at authorization"));
        }
        (_, Some(sent)) if sent != code.redirect_uri => {
            return Err(OAuthError::invalid_grant("redirect_uri differs from the one sent at authorization"));
        }
        _ => {}
    }
    let verifier = params.get("code_verifier")?;
    match (&code.code_challenge, verifier) {
        (None, None) => Ok(()),
        // A verifier with no challenge on record is a downgrade attempt (RFC 9700 §2.1.1).
        (None, Some(_)) => {
            Err(OAuthError::invalid_grant("code_verifier sent, but no code_challenge was sent at authorization"))
        }
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is required")),
        (Some(challenge), Some(verifier)) => {
            let verifier = CodeVerifier::parse(verifier).map_err(OAuthError::invalid_grant)?;
            let challenge = CodeChallenge::parse(challenge).map_err(|_| OAuthError::server_error())?;
            if challenge.is_satisfied_by(&verifier) {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"))
            }
        }
    }
}

/// The successful token response (RFC 6749 §5.1); `expires_in` always present (hf-compat).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

#[cfg(test)]
mod tests;
