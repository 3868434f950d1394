//! Logout rules: which post-logout redirect may be followed (RP-Initiated Logout 1.0), what a
//! logout token says (Back-Channel Logout 1.0), and when a failed delivery is retried.
//!
//! Never build a post-logout redirect from a URI that was not matched against the app's
//! registration: [`PostLogoutRedirect`] can only come from [`PostLogoutRedirect::verify`].

use serde_json::{Map, Value, json};

use crate::types::RedirectUri;

/// Back-Channel Logout 1.0 §2.4: the one event a logout token carries.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Back-Channel Logout 1.0 §2.5: the JWT `typ` header of a logout token.
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";
/// Seconds a logout token is valid; the spec recommends at most two minutes (§2.4).
pub const LOGOUT_TOKEN_LIFETIME: i64 = 120;

/// A `post_logout_redirect_uri` that equals, byte for byte, one the app registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostLogoutRedirect {
    uri: String,
}

impl PostLogoutRedirect {
    /// RP-Initiated Logout 1.0 §3: the value MUST have been registered. Exact comparison only:
    /// no normalisation, no loopback port exception, no prefix match.
    pub fn verify(registered: &[RedirectUri], presented: &str) -> Option<Self> {
        registered.iter().any(|r| r.as_str() == presented).then(|| Self { uri: presented.to_owned() })
    }

    pub fn as_str(&self) -> &str {
        &self.uri
    }

    /// The URI with `state` appended to its query (§3: returned unchanged when it was sent),
    /// keeping the registered query byte for byte.
    pub fn with_state(&self, state: Option<&str>) -> String {
        let Some(state) = state else {
            return self.uri.clone();
        };
        let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("state", state).finish();
        let separator = match self.uri.find('?') {
            None => "?",
            Some(i) if i + 1 == self.uri.len() || self.uri.ends_with('&') => "",
            Some(_) => "&",
        };
        format!("{}{separator}{query}", self.uri)
    }
}

/// The claims of one logout token (Back-Channel Logout 1.0 §2.4). Never a `nonce` (§2.4: it
/// is prohibited, so a logout token cannot be mistaken for an ID token).
pub fn logout_token_claims(
    issuer: &str,
    client_id: &str,
    sub: Option<&str>,
    sid: &str,
    jti: &str,
    now: i64,
) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("aud".into(), json!(client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + LOGOUT_TOKEN_LIFETIME));
    claims.insert("jti".into(), json!(jti));
    if let Some(sub) = sub {
        claims.insert("sub".into(), json!(sub));
    }
    claims.insert("sid".into(), json!(sid));
    claims.insert("events".into(), json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
    claims
}

/// The same logout, valid from `now`: a retry after the first token expired must not be
/// refused by the app for `exp`. The `jti` is kept: it is one logout, delivered late.
pub fn refreshed(mut claims: Map<String, Value>, now: i64) -> Map<String, Value> {
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + LOGOUT_TOKEN_LIFETIME));
    claims
}

/// How failed deliveries are retried: exponential backoff from `base` seconds, capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: i64,
    pub cap: i64,
    pub max_attempts: i64,
}

impl Default for RetryPolicy {
    /// 1 s, 2 s, 4 s … 2048 s, then hourly: 15 attempts span about three hours, so an app that
    /// is down for a deploy or an outage still hears of the logout.
    fn default() -> Self {
        Self { base: 1, cap: 3600, max_attempts: 15 }
    }
}

impl RetryPolicy {
    /// When to try again after the `attempts`-th failed attempt (1 for the first), or `None`
    /// to give up.
    pub fn next_attempt_at(&self, attempts: i64, now: i64) -> Option<i64> {
        if attempts >= self.max_attempts {
            return None;
        }
        let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 62)).unwrap_or(62);
        let delay = self.base.max(1).saturating_mul(2_i64.saturating_pow(exponent)).min(self.cap);
        Some(now + delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(uris: &[&str]) -> Vec<RedirectUri> {
        uris.iter().map(|u| RedirectUri::parse(u).unwrap()).collect()
    }

    #[test]
    fn only_a_byte_for_byte_registered_uri_verifies() {
        let list = registered(&["https://app.example/bye", "http://127.0.0.1:8000/out"]);
        assert!(PostLogoutRedirect::verify(&list, "https://app.example/bye").is_some());
        for attack in [
            "https://app.example/bye/",
            "https://app.example/bye?x=1",
            "https://APP.example/bye",
            "https://app.example/Bye",
            "https://app.example/bye#frag",
            "https://app.example.evil/bye",
            "https://app.example/bye/../evil",
            "http://127.0.0.1:9999/out",
            "",
        ] {
            assert!(PostLogoutRedirect::verify(&list, attack).is_none(), "{attack} must not verify");
        }
    }

    #[test]
    fn state_is_appended_and_the_registered_query_kept() {
        let list = registered(&["https://app.example/bye", "https://app.example/out?from=idp"]);
        let plain = PostLogoutRedirect::verify(&list, "https://app.example/bye").unwrap();
        assert_eq!(plain.with_state(Some("a b&c")), "https://app.example/bye?state=a+b%26c");
        assert_eq!(plain.with_state(None), "https://app.example/bye");
        let query = PostLogoutRedirect::verify(&list, "https://app.example/out?from=idp").unwrap();
        assert_eq!(query.with_state(Some("s")), "https://app.example/out?from=idp&state=s");
    }

    #[test]
    fn logout_token_has_the_event_and_no_nonce() {
        let claims = logout_token_claims("https://id.example", "c1", Some("sub1"), "sid1", "j1", 100);
        assert_eq!(claims["iss"], "https://id.example");
        assert_eq!(claims["aud"], "c1");
        assert_eq!(claims["sub"], "sub1");
        assert_eq!(claims["sid"], "sid1");
        assert_eq!(claims["jti"], "j1");
        assert_eq!(claims["iat"], 100);
        assert_eq!(claims["exp"], 220);
        assert_eq!(claims["events"], json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
        assert!(!claims.contains_key("nonce"));
        let later = refreshed(claims, 1000);
        assert_eq!((later["iat"].as_i64(), later["exp"].as_i64()), (Some(1000), Some(1120)));
        assert_eq!(later["jti"], "j1");
    }

    #[test]
    fn retries_back_off_exponentially_up_to_the_cap_then_give_up() {
        let policy = RetryPolicy::default();
        let delays: Vec<Option<i64>> = (1..=16).map(|n| policy.next_attempt_at(n, 0)).collect();
        assert_eq!(&delays[..4], &[Some(1), Some(2), Some(4), Some(8)]);
        assert_eq!(delays[11], Some(2048));
        assert_eq!(delays[12], Some(3600));
        assert_eq!(delays[13], Some(3600));
        assert_eq!(delays[14], None, "the 15th failure gives up");
        assert_eq!(delays[15], None);
    }
}
