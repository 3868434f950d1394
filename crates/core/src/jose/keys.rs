//! One signing key: generated with aws-lc-rs, stored as PKCS#8, published as a JWK whose
//! `kid` is its RFC 7638 thumbprint (a new key always gets a new kid).

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use base64ct::{Base64, Encoding};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed")]
    Generate,
    #[error("the stored key cannot be read: {0}")]
    Parse(String),
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("unsupported algorithm '{0}'")]
    Unsupported(String),
}

/// The ID token signing algorithms Doorway offers, RS256 first (Authlib and chat-ui use it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    Rs256,
    Ps256,
    Es256,
    EdDsa,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 4] = [SigningAlg::Rs256, SigningAlg::Ps256, SigningAlg::Es256, SigningAlg::EdDsa];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, KeyError> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw).ok_or_else(|| KeyError::Unsupported(raw.to_owned()))
    }

    /// The jsonwebtoken algorithm.
    pub fn jwt(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Ps256 => Algorithm::PS256,
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

/// A private signing key ready to sign, with its public JWK.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    encoding: EncodingKey,
    jwk: Jwk,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = Base64::encode_string(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

impl SigningKey {
    /// Generates a new private key, returned as PKCS#8 DER (the form that is sealed and stored).
    pub fn generate_pkcs8(alg: SigningAlg) -> Result<Vec<u8>, KeyError> {
        let der = match alg {
            SigningAlg::Rs256 | SigningAlg::Ps256 => {
                let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
                let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> = pair.as_der().map_err(|_| KeyError::Generate)?;
                der.as_ref().to_vec()
            }
            SigningAlg::Es256 => {
                let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| KeyError::Generate)?;
                pair.to_pkcs8v1().map_err(|_| KeyError::Generate)?.as_ref().to_vec()
            }
            SigningAlg::EdDsa => {
                let pair = Ed25519KeyPair::generate().map_err(|_| KeyError::Generate)?;
                pair.to_pkcs8v1().map_err(|_| KeyError::Generate)?.as_ref().to_vec()
            }
        };
        Ok(der)
    }

    /// Loads a key from PKCS#8 DER. The kid is the JWK thumbprint, so it is derived, not stored.
    pub fn from_pkcs8(alg: SigningAlg, der: &[u8]) -> Result<Self, KeyError> {
        let parse = |e: jsonwebtoken::errors::Error| KeyError::Parse(e.to_string());
        let encoding = match alg {
            // jsonwebtoken's RSA signer wants PKCS#1; its PEM reader unwraps PKCS#8.
            SigningAlg::Rs256 | SigningAlg::Ps256 => {
                EncodingKey::from_rsa_pem(pem("PRIVATE KEY", der).as_bytes()).map_err(parse)?
            }
            SigningAlg::Es256 => EncodingKey::from_ec_der(der),
            SigningAlg::EdDsa => EncodingKey::from_ed_der(der),
        };
        let mut jwk = Jwk::from_encoding_key(&encoding, alg.jwt()).map_err(parse)?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(parse)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(Self { kid, alg, encoding, jwk })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public half, as published in the JWKS.
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Signs `claims` as a compact JWS with `kid` in the header.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(self.alg.jwt());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| KeyError::Sign(e.to_string()))
    }

    /// Signs `claims` with an explicit `typ` header (explicit typing, RFC 8725 §3.11), e.g.
    /// `logout+jwt`, so a token of one kind cannot be replayed as another.
    pub fn sign_with_typ<T: Serialize>(&self, claims: &T, typ: &str) -> Result<String, KeyError> {
        let mut header = Header::new(self.alg.jwt());
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| KeyError::Sign(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn every_algorithm_signs_tokens_its_public_jwk_verifies() {
        for alg in SigningAlg::ALL {
            let der = SigningKey::generate_pkcs8(alg).unwrap();
            let key = SigningKey::from_pkcs8(alg, &der).unwrap();
            let token = key.sign(&serde_json::json!({"sub": "x", "aud": "c", "exp": 4_000_000_000u64})).unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.kid.as_deref(), Some(key.kid()));
            let decoding = DecodingKey::from_jwk(key.public_jwk()).unwrap();
            let mut validation = Validation::new(alg.jwt());
            validation.set_audience(&["c"]);
            let data = jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
            assert_eq!(data.claims["sub"], "x");
        }
    }

    #[test]
    fn public_jwk_carries_no_private_material() {
        let key =
            SigningKey::from_pkcs8(SigningAlg::Rs256, &SigningKey::generate_pkcs8(SigningAlg::Rs256).unwrap()).unwrap();
        let json = serde_json::to_value(key.public_jwk()).unwrap();
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(json.get(private).is_none(), "JWK leaks {private}");
        }
        assert_eq!(json["use"], "sig");
        assert_eq!(json["alg"], "RS256");
    }

    #[test]
    fn two_generated_keys_have_distinct_kids() {
        let a =
            SigningKey::from_pkcs8(SigningAlg::Es256, &SigningKey::generate_pkcs8(SigningAlg::Es256).unwrap()).unwrap();
        let b =
            SigningKey::from_pkcs8(SigningAlg::Es256, &SigningKey::generate_pkcs8(SigningAlg::Es256).unwrap()).unwrap();
        assert_ne!(a.kid(), b.kid());
    }
}
