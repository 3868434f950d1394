//! The token request: client credentials from the HTTP Basic header and the body (RFC 6749
//! §2.3.1), client authentication, and the checks a code must pass (§4.1.3, RFC 7636 §4.6).
//! Input: `Authorization header value\nform body`; an empty first line means no header.
//! Checks that a wrong secret never authenticates.
#![no_main]

#[path = "common.rs"]
mod common;

use doorway_core::oauth::token::{self, ClientCredentials};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let header = String::from_utf8_lossy(header);
    let header = (!header.is_empty()).then_some(header.as_ref());
    let params = common::params(body);
    let Ok(credentials) = token::client_credentials(header, &params) else { return };
    for selector in 0..2u8 {
        let client = common::client(selector);
        for now in [0, 1_000] {
            if token::authenticate_at(&credentials, &client, now).is_ok() {
                match &credentials {
                    ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. } => {
                        assert!(!client.is_public());
                        assert!(secret == common::SECRET || (secret == "dws_previous" && now < 100));
                    }
                    ClientCredentials::None { .. } => assert!(client.is_public()),
                }
            }
        }
        for with_challenge in [true, false] {
            let _ = token::check_code(&common::code(with_challenge), &client, &params, 10);
        }
    }
});
