//! The device_code grant (RFC 8628 §3.4, §3.5): polling for a device authorization.
// TODO(helper): implement (placeholder so the tree compiles).

use doorway_core::model::Client;
use doorway_core::oauth::params::Params;
use doorway_core::oauth::token::TokenResponse;
use doorway_core::{ErrorCode, OAuthError};

use crate::http::error::JsonError;
use crate::state::AppState;

pub async fn exchange(state: &AppState, client: &Client, params: &Params) -> Result<TokenResponse, JsonError> {
    let _ = (state, client, params);
    Err(OAuthError::new(ErrorCode::UnsupportedGrantType, "the device grant is not available yet").into())
}
