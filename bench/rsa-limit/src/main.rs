//! Signs a JWT-sized message in a loop, on whatever core it is pinned to, and prints one JSON
//! line: signatures per second for RS256 (RSA-2048, PKCS#1 v1.5, SHA-256), PS256, ES256 and
//! EdDSA (Ed25519). Key pairs are generated once and reused, as a server caches its keys.
//! Usage: rsa-limit [SECONDS_PER_ALG=3]

use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256,
    RsaKeyPair,
};

fn rate(seconds: f64, mut sign: impl FnMut()) -> (f64, f64) {
    for _ in 0..20 {
        sign();
    }
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..10 {
            sign();
        }
        n += 10;
    }
    let elapsed = start.elapsed().as_secs_f64();
    (n as f64 / elapsed, elapsed * 1e6 / n as f64)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: f64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(3.0);
    // A header.payload of an ID token's size (~700 bytes base64url).
    let message = vec![b'a'; 700];
    let rng = SystemRandom::new();

    let rsa = RsaKeyPair::generate(KeySize::Rsa2048)?;
    let mut rsa_sig = vec![0u8; rsa.public_modulus_len()];
    let (rs256, rs256_us) = rate(seconds, || {
        let _ = rsa.sign(&RSA_PKCS1_SHA256, &rng, &message, &mut rsa_sig);
    });
    let (ps256, ps256_us) = rate(seconds, || {
        let _ = rsa.sign(&RSA_PSS_SHA256, &rng, &message, &mut rsa_sig);
    });

    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)?;
    let (es256, es256_us) = rate(seconds, || {
        let _ = ec.sign(&rng, &message);
    });

    let ed = Ed25519KeyPair::generate()?;
    let _ = ed.public_key();
    let (eddsa, eddsa_us) = rate(seconds, || {
        let _ = ed.sign(&message);
    });

    println!(
        "{{\"rs256_per_s\":{rs256:.0},\"rs256_us\":{rs256_us:.1},\"ps256_per_s\":{ps256:.0},\"ps256_us\":{ps256_us:.1},\
         \"es256_per_s\":{es256:.0},\"es256_us\":{es256_us:.1},\"eddsa_per_s\":{eddsa:.0},\"eddsa_us\":{eddsa_us:.1}}}"
    );
    Ok(())
}
