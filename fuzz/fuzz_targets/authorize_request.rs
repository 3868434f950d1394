//! The authorization request pipeline (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) on an arbitrary
//! query string. First byte: which app (see `common::client`); the rest: the query. Checks
//! that an error is only ever sent to the verified redirect URI.
#![no_main]

#[path = "common.rs"]
mod common;

use doorway_core::oauth::authorize::{self, SessionState};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, query)) = data.split_first() else { return };
    let params = common::params(query);
    let client = common::client(selector);
    if authorize::client_id(&params).is_err() {
        return;
    }
    let Ok(redirect) = authorize::verify_redirect(&params, &client) else { return };
    let target = redirect.as_str().to_owned();
    match authorize::validate(&params, &client, redirect, &common::known_scopes()) {
        Ok(request) => {
            assert!(request.state.as_ref().is_none_or(|s| s.len() <= 4096));
            assert!(request.nonce.as_ref().is_none_or(|s| s.len() <= 4096));
            assert!(!client.is_public() || request.code_challenge.is_some(), "PKCE skipped for a public app");
            for (fresh, other) in [(false, false), (true, false), (false, true)] {
                let session = SessionState { auth_time: 0, fresh_login: fresh, hint_names_other_user: other };
                let _ = authorize::decide(&request, Some(session), fresh, 10_000);
                let _ = authorize::decide(&request, None, other, 10_000);
            }
        }
        Err(error) => {
            let location = error.location(common::ISSUER);
            assert!(location.starts_with(&target), "error sent to {location}, verified {target}");
        }
    }
});
