//! OpenID Connect: the claims released per scope, the ID token, discovery metadata, logout.

pub mod claims;
pub mod discovery;
pub mod id_token;
pub mod logout;
