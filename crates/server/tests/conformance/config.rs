//! The Config profile: what discovery must publish (OIDC Discovery 1.0 §3, §4; RFC 8414 §2), and
//! the RP-Initiated Logout profile's discovery check.

use std::sync::Arc;

use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::Ctx;
use crate::rp::{Check, ensure};

modules![
    "oidcc-discovery-endpoint-verification" => discovery_endpoint_verification,
    "oidcc-rp-initiated-logout-discovery-endpoint-verification" => logout_discovery,
];

/// OIDC Discovery §3 says `https`; like the OIDF suite's local runs, `http` is accepted only on
/// a loopback host (Doorway's own rule for issuers and redirect URIs).
fn secure_url(name: &str, raw: &str) -> Check<url::Url> {
    let url = url::Url::parse(raw).map_err(|e| format!("{name} {raw:?} is not a URL: {e}"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    ensure(url.scheme() == "https" || (url.scheme() == "http" && loopback), format!("{name} {raw} is not https"))?;
    ensure(url.fragment().is_none(), format!("{name} has a fragment"))?;
    Ok(url)
}

fn string_array<'a>(meta: &'a Value, name: &str) -> Check<Vec<&'a str>> {
    let values = meta[name].as_array().ok_or_else(|| format!("{name} is missing or not an array"))?;
    values.iter().map(|v| v.as_str().ok_or_else(|| format!("{name} has a non-string entry"))).collect()
}

/// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
fn valid_scope_token(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

async fn discovery_endpoint_verification(ctx: Arc<Ctx>, _user: String) -> Check<String> {
    let op = &ctx.op;
    // OIDC Discovery §4: 200 with application/json.
    let response = reqwest::get(&op.discovery_url).await.map_err(|e| e.to_string())?;
    ensure(response.status() == 200, format!("discovery answered {}", response.status()))?;
    let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    ensure(content_type.starts_with("application/json"), format!("discovery Content-Type {content_type}"))?;
    let meta: Value = response.json().await.map_err(|e| e.to_string())?;

    // §4.3: the issuer is the URL the document was fetched under, minus the well-known suffix.
    let issuer = meta["issuer"].as_str().ok_or("no issuer")?;
    ensure(
        op.discovery_url == format!("{issuer}/.well-known/openid-configuration"),
        format!("issuer {issuer} does not match the discovery URL {}", op.discovery_url),
    )?;
    let issuer_url = secure_url("issuer", issuer)?;
    ensure(issuer_url.query().is_none(), "issuer has a query (RFC 8414 §2)")?;

    // §3: REQUIRED metadata, and the endpoints a code-flow OP serves.
    for name in ["authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"] {
        let value = meta[name].as_str().ok_or_else(|| format!("{name} is missing"))?;
        secure_url(name, value)?;
    }
    // Every advertised endpoint follows the same rule (the OIDF's "all endpoints are https").
    for (name, value) in meta.as_object().ok_or("discovery is not an object")? {
        if (name.ends_with("_endpoint") || name.ends_with("_uri")) && value.is_string() {
            secure_url(name, value.as_str().unwrap_or_default())?;
        }
    }
    let response_types = string_array(&meta, "response_types_supported")?;
    ensure(response_types.contains(&"code"), "response_types_supported lacks code (Basic profile)")?;
    let subject_types = string_array(&meta, "subject_types_supported")?;
    ensure(
        !subject_types.is_empty() && subject_types.iter().all(|t| matches!(*t, "public" | "pairwise")),
        format!("subject_types_supported {subject_types:?}"),
    )?;
    let algs = string_array(&meta, "id_token_signing_alg_values_supported")?;
    ensure(algs.contains(&"RS256"), "id_token_signing_alg_values_supported lacks RS256 (OIDC Discovery §3)")?;
    ensure(!algs.contains(&"none"), "unsigned ID tokens are offered")?;
    if meta.get("grant_types_supported").is_some() {
        let grants = string_array(&meta, "grant_types_supported")?;
        ensure(grants.contains(&"authorization_code"), "grant_types_supported lacks authorization_code")?;
    }
    let scopes = string_array(&meta, "scopes_supported")?;
    ensure(scopes.contains(&"openid"), "scopes_supported lacks openid")?;
    ensure(scopes.iter().all(|s| valid_scope_token(s)), "scopes_supported has an invalid scope token")?;
    let claims = string_array(&meta, "claims_supported")?;
    ensure(claims.contains(&"sub"), "claims_supported lacks sub")?;
    if meta.get("code_challenge_methods_supported").is_some() {
        let methods = string_array(&meta, "code_challenge_methods_supported")?;
        ensure(methods.contains(&"S256"), "code_challenge_methods_supported lacks S256")?;
    }
    for flag in ["claims_parameter_supported", "request_parameter_supported", "request_uri_parameter_supported"] {
        if let Some(value) = meta.get(flag) {
            ensure(value.is_boolean(), format!("{flag} is not a boolean"))?;
        }
    }
    // RFC 8414 §2: locales are BCP 47 tags.
    for name in ["ui_locales_supported", "claims_locales_supported"] {
        if meta.get(name).is_some() {
            let tags = string_array(&meta, name)?;
            ensure(tags.iter().all(|t| t.split('-').all(|p| !p.is_empty())), format!("{name} has a malformed tag"))?;
        }
    }

    // §3 jwks_uri: signing keys only, public halves only, each with a kid the ID tokens name.
    let jwks: Value = reqwest::get(op.endpoint("jwks_uri")?)
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let keys = jwks["keys"].as_array().ok_or("the JWKS has no keys array")?;
    ensure(!keys.is_empty(), "the JWKS is empty")?;
    for key in keys {
        ensure(key["kty"].is_string(), "a JWK without kty")?;
        ensure(key["kid"].is_string(), "a JWK without kid")?;
        // RFC 7518 §6.3.2, §6.2.2, §6.4: no private or symmetric key material.
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            ensure(key.get(private).is_none(), format!("a JWK publishes the private member {private}"))?;
        }
        if let Some(usage) = key.get("use") {
            ensure(usage == "sig", format!("a JWK has use {usage}"))?;
        }
        // RFC 7518 §6: the public members each key type needs.
        let needs: &[&str] = match key["kty"].as_str() {
            Some("RSA") => &["n", "e"],
            Some("EC") => &["crv", "x", "y"],
            Some("OKP") => &["crv", "x"],
            other => return Err(format!("a JWK of kty {other:?}")),
        };
        for member in needs {
            ensure(key[*member].is_string(), format!("a {} JWK without {member}", key["kty"]))?;
        }
    }
    // A kid names one key: a relying party picks the key by it.
    let mut kids: Vec<&str> = keys.iter().filter_map(|k| k["kid"].as_str()).collect();
    kids.sort_unstable();
    kids.dedup();
    ensure(kids.len() == keys.len(), "two JWKs share a kid")?;
    // The parsed set must be usable by a relying party.
    let parsed = op.jwks().await?;
    ensure(parsed.keys.len() == keys.len(), "some JWKs do not parse")?;
    let notes = format!(
        "claims_parameter_supported={}, request_parameter_supported={}",
        meta["claims_parameter_supported"], meta["request_parameter_supported"]
    );
    Ok(notes)
}

/// RP-Initiated Logout 1.0 §2.1: `end_session_endpoint` is published (https, or loopback http).
async fn logout_discovery(ctx: Arc<Ctx>, _user: String) -> Check<String> {
    let endpoint = ctx.op.endpoint("end_session_endpoint")?;
    secure_url("end_session_endpoint", &endpoint)?;
    // The endpoint answers (GET with no parameters: a page, never a server error).
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?
        .get(&endpoint)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    ensure(response.status().as_u16() < 500, format!("end_session_endpoint answered {}", response.status()))?;
    Ok(String::new())
}
