//! The device authorization grant (RFC 8628): user codes people can type, the scope a device
//! asks for, and the polling rules. No HTTP and no clock here: callers pass `now`.

use serde::Serialize;

use crate::error::OAuthError;
use crate::model::{Client, DeviceCode, DeviceStatus};
use crate::secrets::random_bytes;
use crate::types::{Scope, ScopeSet};

/// RFC 8628 §3.2: the polling interval a device starts with, in seconds.
pub const INTERVAL: i64 = 5;
/// RFC 8628 §3.5: how much `slow_down` adds to the interval, in seconds.
pub const SLOW_DOWN_STEP: i64 = 5;

/// What a device gets when no `scope` is sent: the app's registered scopes among these. Signing
/// the person in is what a device asks for by default; anything more is asked for by name.
pub const DEFAULT_SCOPES: [&str; 2] = [Scope::OPENID, Scope::PROFILE];

/// RFC 8628 §6.1: consonants only — no vowels (no words), no look-alike digits.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A new user code, `XXXX-XXXX` (about 34.6 bits of entropy, enough with polling and attempt
/// limits for a 10-minute lifetime).
pub fn generate_user_code() -> String {
    let bytes = random_bytes::<8>();
    let chars: String = bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// Normalises what a person typed: case, spaces and dashes do not matter.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let chars: String =
        typed.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
    (chars.len() == 8 && chars.bytes().all(|b| ALPHABET.contains(&b)))
        .then(|| format!("{}-{}", &chars[..4], &chars[4..]))
}

/// RFC 8628 §3.1 and RFC 6749 §3.3: the scope of a device authorization request. Unknown
/// scopes and scopes the app was not registered for are `invalid_scope`; without `scope`, the
/// app's registered scopes among [`DEFAULT_SCOPES`] (none of them: `invalid_scope`).
pub fn requested_scope(raw: Option<&str>, client: &Client, known: &ScopeSet) -> Result<ScopeSet, OAuthError> {
    let scopes = match raw {
        Some(raw) => ScopeSet::parse(raw).map_err(OAuthError::invalid_scope)?,
        None => client.scopes.iter().filter(|s| DEFAULT_SCOPES.contains(&s.as_str())).cloned().collect(),
    };
    if scopes.is_empty() {
        return Err(OAuthError::invalid_scope("scope is missing and this app has no default scope (openid, profile)"));
    }
    if let Some(unknown) = scopes.missing_from(known).next() {
        return Err(OAuthError::invalid_scope(format!("unknown scope '{unknown}'")));
    }
    if let Some(not_allowed) = scopes.missing_from(&client.scopes).next() {
        return Err(OAuthError::invalid_scope(format!("this app is not allowed the scope '{not_allowed}'")));
    }
    Ok(scopes)
}

/// The device authorization response (RFC 8628 §3.2).
#[derive(Debug, Clone, Serialize)]
pub struct DeviceAuthorizationResponse {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

impl DeviceAuthorizationResponse {
    /// `verification_uri` is the `/device` page; the complete form carries the user code.
    pub fn new(device_code: String, user_code: String, verification_uri: String, expires_in: i64) -> Self {
        let verification_uri_complete = format!(
            "{verification_uri}?user_code={}",
            url::form_urlencoded::byte_serialize(user_code.as_bytes()).collect::<String>()
        );
        Self { device_code, user_code, verification_uri, verification_uri_complete, expires_in, interval: INTERVAL }
    }
}

/// The answer to one poll of the token endpoint (RFC 8628 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// `authorization_pending`
    Pending,
    /// `slow_down`: polled sooner than the interval allows; the interval grows by 5 seconds.
    SlowDown,
    /// `expired_token`
    Expired,
    /// `access_denied`
    Denied,
    /// Approved: issue the tokens (once).
    Approved,
    /// Already exchanged: `invalid_grant`.
    Used,
}

pub fn poll(code: &DeviceCode, now: i64) -> Poll {
    if now >= code.expires_at {
        return Poll::Expired;
    }
    match code.status {
        DeviceStatus::Denied => Poll::Denied,
        DeviceStatus::Consumed => Poll::Used,
        DeviceStatus::Approved => Poll::Approved,
        DeviceStatus::Pending => match code.last_polled_at {
            Some(last) if now - last < code.interval_secs => Poll::SlowDown,
            _ => Poll::Pending,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn code(status: DeviceStatus, last_polled_at: Option<i64>) -> DeviceCode {
        DeviceCode {
            device_code_hash: "h".into(),
            user_code: "BCDF-GHJK".into(),
            client_id: "c".into(),
            scope: ScopeSet::parse("openid").unwrap(),
            status,
            user_id: None,
            auth_time: None,
            sid: None,
            interval_secs: 5,
            last_polled_at,
            created_at: 0,
            expires_at: 600,
        }
    }

    #[test]
    fn user_codes_are_typeable_and_normalise() {
        let code = generate_user_code();
        assert_eq!(code.len(), 9);
        assert_eq!(normalize_user_code(&code.to_lowercase().replace('-', " ")), Some(code));
        assert_eq!(normalize_user_code("WDJB-MJHT"), Some("WDJB-MJHT".into()));
        assert_eq!(normalize_user_code("WDJB-MJH"), None);
        assert_eq!(normalize_user_code("AEIO-UUUU"), None, "vowels are not in the alphabet");
    }

    fn client(scopes: &str) -> Client {
        Client {
            client_id: "c".into(),
            secret_hash: None,
            kind: crate::model::ClientKind::Public,
            name: "TV app".into(),
            homepage_url: None,
            logo_uri: None,
            redirect_uris: Vec::new(),
            redirect_policy: crate::types::RedirectPolicy::Exact,
            scopes: ScopeSet::parse(scopes).unwrap(),
            require_pkce: false,
            id_token_alg: "RS256".into(),
            owner_id: None,
            created_at: 0,
            grant_types: Default::default(),
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            description: None,
            policy_uri: None,
            tos_uri: None,
            first_party: false,
            previous_secret_hash: None,
            previous_secret_expires_at: None,
            access_token_ttl: None,
            authorized_org: None,
            access_token_format: Default::default(),
        }
    }

    #[test]
    fn scope_defaults_to_the_apps_sign_in_scopes_and_is_checked_like_authorize() {
        let known = ScopeSet::parse("openid profile email read-billing").unwrap();
        let app = client("openid profile email");
        assert_eq!(requested_scope(None, &app, &known).unwrap().to_string(), "openid profile");
        assert_eq!(requested_scope(Some("openid email"), &app, &known).unwrap().to_string(), "email openid");
        assert_eq!(requested_scope(None, &client("email"), &known).unwrap_err().code, ErrorCode::InvalidScope);
        let unknown = requested_scope(Some("openid admin"), &app, &known).unwrap_err();
        assert_eq!(unknown.description, "unknown scope 'admin'");
        let not_allowed = requested_scope(Some("read-billing"), &app, &known).unwrap_err();
        assert_eq!(not_allowed.code, ErrorCode::InvalidScope);
        assert_eq!(not_allowed.description, "this app is not allowed the scope 'read-billing'");
    }

    #[test]
    fn the_complete_verification_uri_carries_the_user_code() {
        let response =
            DeviceAuthorizationResponse::new("d".into(), "WDJB-MJHT".into(), "https://id.example/device".into(), 600);
        assert_eq!(response.verification_uri_complete, "https://id.example/device?user_code=WDJB-MJHT");
        assert_eq!(response.interval, 5);
    }

    #[test]
    fn polling_faster_than_the_interval_slows_down() {
        assert_eq!(poll(&code(DeviceStatus::Pending, None), 10), Poll::Pending);
        assert_eq!(poll(&code(DeviceStatus::Pending, Some(8)), 10), Poll::SlowDown);
        assert_eq!(poll(&code(DeviceStatus::Pending, Some(5)), 10), Poll::Pending);
        assert_eq!(poll(&code(DeviceStatus::Approved, Some(9)), 10), Poll::Approved);
        assert_eq!(poll(&code(DeviceStatus::Denied, None), 10), Poll::Denied);
        assert_eq!(poll(&code(DeviceStatus::Consumed, None), 10), Poll::Used);
        assert_eq!(poll(&code(DeviceStatus::Approved, None), 600), Poll::Expired);
    }
}
