//! Newtypes that parse once at the edge. Storage and protocol code accept only these.

mod account;
mod org;
mod pkce;
mod redirect;
mod scope;

pub use account::{Email, Password, Username};
pub use org::{OrgName, OrgRole};
pub use pkce::{CodeChallenge, CodeVerifier};
pub use redirect::{RedirectPolicy, RedirectUri, RedirectUriError, VerifiedRedirect};
pub use scope::{Scope, ScopeSet};

#[cfg(test)]
mod tests;
