//! Random secrets and their stored form. Tokens, codes, client secrets and session ids are
//! high-entropy random strings; only their SHA-256 is stored, so a database leak yields nothing
//! usable. A slow KDF would add nothing for 256-bit random values and would cost every request.

use aws_lc_rs::digest;
use base64ct::{Base64UrlUnpadded, Encoding};
use subtle::ConstantTimeEq;

/// Fills `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // aws-lc's RNG fails only if the OS entropy source is broken; then nothing is safe to issue.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// A 256-bit random value, base64url without padding (43 characters), after `prefix`.
pub fn random_token(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 43);
    out.push_str(prefix);
    out.push_str(&Base64UrlUnpadded::encode_string(&random_bytes::<32>()));
    out
}

/// 24 lowercase hex characters, the shape of Hugging Face's `sub`.
pub fn random_hex_id() -> String {
    random_bytes::<12>().iter().map(|b| format!("{b:02x}")).collect()
}

/// The stored form of a secret: its SHA-256, hex.
pub fn hash_secret(secret: &str) -> String {
    digest::digest(&digest::SHA256, secret.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares a presented secret with a stored hash in constant time.
pub fn verify_secret(presented: &str, stored_hash: &str) -> bool {
    hash_secret(presented).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// Constant-time equality of two strings (for CSRF tokens and the like).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_and_unique() {
        let a = random_token("dw_");
        let b = random_token("dw_");
        assert!(a.starts_with("dw_"));
        assert_eq!(a.len(), 3 + 43);
        assert_ne!(a, b);
    }

    #[test]
    fn stored_hash_verifies_only_the_same_secret() {
        let stored = hash_secret("s3cret");
        assert!(verify_secret("s3cret", &stored));
        assert!(!verify_secret("s3cret ", &stored));
        assert_eq!(stored.len(), 64);
    }

    #[test]
    fn hex_ids_look_like_hugging_face_subs() {
        let id = random_hex_id();
        assert_eq!(id.len(), 24);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }
}
