//! Hosted apps (in the manner of Hugging Face Spaces): a confidential app whose redirect URIs
//! may be any URL under one origin, configured by four environment variables. Shared by
//! `doorway apps provision` and the console's "hosted app" form.

use doorway_core::model::ClientKind;
use doorway_core::secrets::{hash_secret, random_token};
use doorway_core::types::{RedirectPolicy, RedirectUri, ScopeSet};
use doorway_store::{AppProfile, NewClient};

use crate::http::console::form::parse_url;

/// Hugging Face's default lifetime of a Space's OAuth tokens: 8 hours.
pub const DEFAULT_TOKEN_MINUTES: i64 = 480;

/// What a hosted app is made of.
pub struct Hosted {
    pub name: String,
    pub origin: RedirectUri,
    pub scopes: ScopeSet,
    pub token_minutes: i64,
    pub authorized_org: Option<String>,
    /// The developer who owns it (`None` from the CLI: an operator's app).
    pub owner_id: Option<String>,
}

/// An origin: `https://host[:port]` (http on loopback), nothing after it but an optional `/`.
pub fn parse_origin(raw: &str) -> Result<RedirectUri, String> {
    let uri = parse_url(raw)?;
    let url = url::Url::parse(uri.as_str()).map_err(|_| "must be an absolute https:// URL".to_owned())?;
    if url.path() != "/" || url.query().is_some() {
        return Err("must be an origin only, like https://app.example (no path or query)".to_owned());
    }
    Ok(uri)
}

/// The new app and its secret (shown once; only its hash is stored).
pub fn build(hosted: Hosted) -> (NewClient, AppProfile, String) {
    let secret = random_token("dws_");
    let client = NewClient {
        client_id: uuid::Uuid::new_v4().to_string(),
        secret_hash: Some(hash_secret(&secret)),
        kind: ClientKind::Confidential,
        name: hosted.name,
        homepage_url: Some(hosted.origin.as_str().trim_end_matches('/').to_owned()),
        logo_uri: None,
        redirect_uris: vec![hosted.origin],
        redirect_policy: RedirectPolicy::Origin,
        scopes: hosted.scopes,
        require_pkce: false,
        id_token_alg: "RS256".into(),
        owner_id: hosted.owner_id,
        grant_types: Default::default(),
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
    };
    let profile = AppProfile {
        access_token_ttl: Some(hosted.token_minutes * 60),
        authorized_org: hosted.authorized_org,
        ..AppProfile::default()
    };
    (client, profile, secret)
}

/// The placeholder shown wherever the secret itself no longer can be.
pub const SECRET_PLACEHOLDER: &str = "YOUR_CLIENT_SECRET";

/// The four variables a hosted app reads (huggingface_hub's names), in order.
pub fn env_vars(client_id: &str, secret: Option<&str>, scopes: &ScopeSet, issuer: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OAUTH_CLIENT_ID", client_id.to_owned()),
        ("OAUTH_CLIENT_SECRET", secret.unwrap_or(SECRET_PLACEHOLDER).to_owned()),
        ("OAUTH_SCOPES", scopes.to_string()),
        ("OPENID_PROVIDER_URL", issuer.to_owned()),
    ]
}

/// The variables as a `.env` block; values with spaces are double-quoted.
pub fn env_block(vars: &[(&'static str, String)]) -> String {
    vars.iter().map(|(k, v)| if v.contains(' ') { format!("{k}=\"{v}\"\n") } else { format!("{k}={v}\n") }).collect()
}
