//! Signing keys: generation, sealing at rest, the public JWK set, and signing ID tokens.
//! The JOSE work itself is done by `jsonwebtoken` on aws-lc-rs; nothing here builds a JWS by
//! hand.

mod hint;
mod keys;
mod provider;
mod seal;

pub use hint::verify_issued;
pub use keys::{KeyError, SigningAlg, SigningKey};
pub use provider::install as install_provider;
pub use seal::{MasterKey, SealError};
