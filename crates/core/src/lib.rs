//! Doorway's protocol core: the OAuth 2 / OpenID Connect rules as pure functions and types.
//!
//! Nothing here touches HTTP or SQL, and nothing reads the clock: the current time is always a
//! parameter, so expiry and replay rules are tested deterministically.

pub mod error;
pub mod jose;
pub mod model;
pub mod oauth;
pub mod oidc;
pub mod routes;
pub mod secrets;
pub mod types;

pub use error::{ErrorCode, OAuthError};
