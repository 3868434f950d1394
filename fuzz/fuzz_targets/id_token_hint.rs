//! The JWS parser behind `id_token_hint` (OIDC Core §3.1.2.1, RP-Initiated Logout §2).
//! Three shapes per input: the input as a token; a valid header for a real kid followed by
//! the input; and the input as the payload of a correctly signed token, so the claims parser
//! behind a good signature is reached. Checks that nothing unsigned by the key is accepted.
#![no_main]

use std::sync::OnceLock;

use base64ct::{Base64UrlUnpadded, Encoding};
use doorway_core::jose::{SigningAlg, SigningKey, verify_issued};
use jsonwebtoken::{DecodingKey, EncodingKey};
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://id.example";

struct Fixture {
    kid: String,
    verifier: (SigningAlg, DecodingKey),
    signer: EncodingKey,
}

fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            doorway_core::jose::install_provider();
            let der = SigningKey::generate_pkcs8(SigningAlg::Es256).ok()?;
            let key = SigningKey::from_pkcs8(SigningAlg::Es256, &der).ok()?;
            let decoding = DecodingKey::from_jwk(key.public_jwk()).ok()?;
            Some(Fixture {
                kid: key.kid().to_owned(),
                verifier: (SigningAlg::Es256, decoding),
                signer: EncodingKey::from_ec_der(&der),
            })
        })
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some(f) = fixture() else { return };
    let key_for = |kid: &str| (kid == f.kid).then_some(&f.verifier);
    let text = String::from_utf8_lossy(data);

    // 1. Arbitrary text: nothing the fuzzer writes carries a valid ES256 signature.
    assert!(verify_issued(&text, ISSUER, key_for).is_none(), "accepted an unsigned token: {text:?}");

    // 2. A real kid's header, the rest arbitrary: still no signature.
    let header = Base64UrlUnpadded::encode_string(format!(r#"{{"alg":"ES256","kid":"{}"}}"#, f.kid).as_bytes());
    assert!(verify_issued(&format!("{header}.{text}"), ISSUER, key_for).is_none());

    // 3. Arbitrary bytes as the payload of a correctly signed token: the claims parser runs.
    let payload = Base64UrlUnpadded::encode_string(data);
    let message = format!("{header}.{payload}");
    let Ok(signature) = jsonwebtoken::crypto::sign(message.as_bytes(), &f.signer, jsonwebtoken::Algorithm::ES256)
    else {
        return;
    };
    if let Some(claims) = verify_issued(&format!("{message}.{signature}"), ISSUER, key_for) {
        assert_eq!(claims.get("iss").and_then(|v| v.as_str()), Some(ISSUER));
        assert!(!claims.contains_key("events"), "a logout token accepted as a hint");
    }
});
