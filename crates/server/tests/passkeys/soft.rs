//! A software authenticator, enough to answer a passkey sign-in over HTTP without a browser:
//! an ES256 key pair whose public half is stored as a webauthn-rs `Passkey`, and assertions
//! (WebAuthn §6.1 authenticator data, §5.8.1 client data, the signature over both) built by
//! hand, so tests can replay them, wind the counter back, or change the origin or user handle.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Value, json};

pub fn b64u(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref().to_vec()
}

pub struct SoftPasskey {
    key: EcdsaKeyPair,
    pub credential_id: Vec<u8>,
    /// The RP ID (the issuer's host) the authenticator signs for.
    pub rp_id: String,
}

/// What one assertion says; tests change a field to play an attack.
pub struct Assertion<'a> {
    pub challenge: &'a str,
    pub origin: &'a str,
    pub user_handle: &'a [u8],
    pub counter: u32,
}

impl SoftPasskey {
    pub fn new(rp_id: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let credential_id = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, pkcs8.as_ref()).as_ref().to_vec();
        Self { key, credential_id, rp_id: rp_id.to_owned() }
    }

    /// The webauthn-rs `Passkey` (serialized) a registration of this key would have stored.
    pub fn stored_json(&self) -> String {
        // An uncompressed SEC1 point: 0x04 || x || y.
        let point = self.key.public_key().as_ref();
        json!({ "cred": {
            "cred_id": b64u(&self.credential_id),
            "cred": { "type_": "ES256", "key": { "EC_EC2": {
                "curve": "SECP256R1", "x": b64u(&point[1..33]), "y": b64u(&point[33..65]),
            } } },
            "counter": 0,
            "transports": null,
            "user_verified": true,
            "backup_eligible": false,
            "backup_state": false,
            "registration_policy": "required",
            "extensions": {},
            "attestation": { "data": "None", "metadata": "None" },
            "attestation_format": "none",
        } })
        .to_string()
    }

    /// The `PublicKeyCredential` JSON that `static/passkeys.js` would send for `assertion`.
    pub fn assert(&self, assertion: &Assertion<'_>) -> Value {
        let client_data = json!({
            "type": "webauthn.get", "challenge": assertion.challenge, "origin": assertion.origin,
            "crossOrigin": false,
        })
        .to_string();
        let mut auth_data = sha256(self.rp_id.as_bytes());
        // Flags: user present (0x01) and user verified (0x04).
        auth_data.push(0x05);
        auth_data.extend_from_slice(&assertion.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&sha256(client_data.as_bytes()));
        let signature = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        json!({
            "id": b64u(&self.credential_id), "rawId": b64u(&self.credential_id), "type": "public-key",
            "response": {
                "authenticatorData": b64u(&auth_data),
                "clientDataJSON": b64u(client_data.as_bytes()),
                "signature": b64u(signature.as_ref()),
                "userHandle": b64u(assertion.user_handle),
            },
            "extensions": {}
        })
    }
}
