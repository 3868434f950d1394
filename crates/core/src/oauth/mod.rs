//! OAuth 2 endpoints as pure decisions: the authorization request pipeline, the token request,
//! client authentication.

pub mod access_token;
pub mod authorize;
pub mod device;
pub mod grant;
pub mod params;
pub mod refresh;
pub mod token;
