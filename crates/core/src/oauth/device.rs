//! The device authorization grant (RFC 8628): user codes people can type, and the polling rules.

use crate::model::{DeviceCode, DeviceStatus};
use crate::secrets::random_bytes;

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
    use crate::types::ScopeSet;

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
