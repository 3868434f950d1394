//! OpenID Connect: the claims released per scope, the ID token, discovery metadata.

pub mod claims;
pub mod discovery;
pub mod id_token;
