//! Discovery metadata (OIDC Discovery §3, RFC 8414), built from the route constants so it can
//! only advertise what is served.

use serde::Serialize;

use crate::oidc::claims;
use crate::routes;

#[derive(Debug, Clone, Serialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub device_authorization_endpoint: String,
    pub end_session_endpoint: String,
    pub scopes_supported: Vec<String>,
    pub response_types_supported: [&'static str; 1],
    pub response_modes_supported: [&'static str; 2],
    pub grant_types_supported: [&'static str; 4],
    pub subject_types_supported: [&'static str; 1],
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: [&'static str; 3],
    pub revocation_endpoint_auth_methods_supported: [&'static str; 3],
    pub introspection_endpoint_auth_methods_supported: [&'static str; 2],
    pub code_challenge_methods_supported: [&'static str; 1],
    pub claims_supported: &'static [&'static str],
    pub prompt_values_supported: [&'static str; 4],
    pub claims_parameter_supported: bool,
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
    pub authorization_response_iss_parameter_supported: bool,
    pub backchannel_logout_supported: bool,
    pub backchannel_logout_session_supported: bool,
    pub frontchannel_logout_supported: bool,
}

impl ProviderMetadata {
    /// `issuer` has no trailing slash; the endpoints hang off it.
    pub fn new(issuer: &str, scopes: Vec<String>, algs: Vec<&'static str>) -> Self {
        let at = |path: &str| format!("{issuer}{path}");
        Self {
            issuer: issuer.to_owned(),
            authorization_endpoint: at(routes::AUTHORIZE),
            token_endpoint: at(routes::TOKEN),
            userinfo_endpoint: at(routes::USERINFO),
            jwks_uri: at(routes::JWKS),
            revocation_endpoint: at(routes::REVOKE),
            introspection_endpoint: at(routes::INTROSPECT),
            device_authorization_endpoint: at(routes::DEVICE_AUTHORIZATION),
            end_session_endpoint: at(routes::END_SESSION),
            scopes_supported: scopes,
            response_types_supported: ["code"],
            response_modes_supported: ["query", "form_post"],
            grant_types_supported: [
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:device_code",
            ],
            subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: algs,
            token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
            revocation_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
            introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
            code_challenge_methods_supported: ["S256"],
            claims_supported: claims::SUPPORTED,
            prompt_values_supported: ["none", "login", "consent", "select_account"],
            claims_parameter_supported: false,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            authorization_response_iss_parameter_supported: true,
            backchannel_logout_supported: true,
            backchannel_logout_session_supported: true,
            frontchannel_logout_supported: false,
        }
    }
}
