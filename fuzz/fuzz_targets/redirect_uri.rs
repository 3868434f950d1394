//! The redirect-URI parser and matcher. Input: `registered\npresented` (lossy UTF-8), or one
//! string used as both. Checks more than "no panic": an accepted registration keeps its bytes,
//! and the exact policy only ever accepts the registration itself or, for a loopback
//! registration, the same URI with another port (RFC 9700 §2.1, RFC 8252 §7.3).
#![no_main]

use doorway_core::types::{RedirectPolicy, RedirectUri};
use libfuzzer_sys::fuzz_target;

fn without_port(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    let host = ["127.0.0.1", "[::1]", "localhost"].into_iter().find(|h| rest.starts_with(h))?;
    let after = &rest[host.len()..];
    let after = match after.strip_prefix(':') {
        Some(port) => &port[port.bytes().take_while(u8::is_ascii_digit).count()..],
        None => after,
    };
    Some(format!("http://{host}{after}"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (registered, presented) = text.split_once('\n').unwrap_or((&text, &text));
    let presented_parsed = RedirectUri::parse(presented);
    let Ok(uri) = RedirectUri::parse(registered) else { return };
    assert_eq!(uri.as_str(), registered, "a registration is kept byte for byte");
    assert!(RedirectUri::parse(uri.as_str()).is_ok(), "an accepted URI parses again");
    let registrations = [uri];

    if let Ok(verified) = RedirectPolicy::Exact.verify(&registrations, Some(presented)) {
        assert_eq!(verified.as_str(), presented);
        if presented != registered {
            let (a, b) = (without_port(registered), without_port(presented));
            assert!(a.is_some() && a == b, "exact policy accepted {presented:?} for {registered:?}");
        }
        let location = verified.with_params(&[("code", "c"), ("state", presented)]);
        assert!(location.starts_with(presented));
    }
    if let Ok(verified) = RedirectPolicy::Origin.verify(&registrations, Some(presented)) {
        assert!(presented_parsed.is_ok(), "origin policy accepted an invalid URI {presented:?}");
        assert_eq!(verified.as_str(), presented);
    }
    let implicit = RedirectPolicy::Exact.verify(&registrations, None);
    assert!(implicit.is_ok_and(|v| v.as_str() == registered && !v.was_sent()));
});
