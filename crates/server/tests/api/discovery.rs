//! Discovery metadata, the JWKS, CORS, and the issuer's independence from the Host header.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::*;

async fn get_json(url: &str) -> (reqwest::header::HeaderMap, Value) {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let headers = response.headers().clone();
    (headers, response.json().await.unwrap())
}

#[tokio::test]
async fn both_metadata_urls_serve_the_same_document() {
    let app = spawn_app().await;
    let (headers, oidc) = get_json(&app.url("/.well-known/openid-configuration")).await;
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));
    let (_, rfc8414) = get_json(&app.url("/.well-known/oauth-authorization-server")).await;
    assert_eq!(oidc, rfc8414);
}

#[tokio::test]
async fn metadata_states_the_exact_issuer_and_endpoints() {
    let app = spawn_app().await;
    let metadata = app.discovery().await;
    assert_eq!(metadata["issuer"], app.issuer);
    assert!(!app.issuer.ends_with('/'));
    assert_eq!(metadata["authorization_endpoint"], app.url("/oauth/authorize"));
    assert_eq!(metadata["token_endpoint"], app.url("/oauth/token"));
    assert_eq!(metadata["userinfo_endpoint"], app.url("/oauth/userinfo"));
    assert_eq!(metadata["jwks_uri"], app.url("/oauth/jwks"));
}

#[tokio::test]
async fn metadata_states_only_what_doorway_supports() {
    let app = spawn_app().await;
    let metadata = app.discovery().await;
    assert_eq!(metadata["response_types_supported"], json!(["code"]));
    assert_eq!(metadata["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(metadata["subject_types_supported"], json!(["public"]));
    assert_eq!(
        metadata["grant_types_supported"],
        json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
    assert_eq!(metadata["response_modes_supported"], json!(["query", "form_post"]));
    for endpoint in
        ["revocation_endpoint", "introspection_endpoint", "device_authorization_endpoint", "end_session_endpoint"]
    {
        assert!(metadata[endpoint].as_str().unwrap().starts_with(&app.issuer), "{endpoint}");
    }
    assert_eq!(metadata["backchannel_logout_supported"], true);
    assert_eq!(metadata["id_token_signing_alg_values_supported"], json!(["RS256", "PS256", "ES256", "EdDSA"]));
    assert_eq!(
        metadata["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        metadata["id_token_signing_alg_values_supported"][0], "RS256",
        "Authlib and chat-ui take the first algorithm"
    );
    assert_eq!(metadata["authorization_response_iss_parameter_supported"], true);
    assert_eq!(metadata["request_uri_parameter_supported"], false);
    assert_eq!(metadata["request_parameter_supported"], false);

    let scopes: Vec<&str> =
        metadata["scopes_supported"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    for scope in ["openid", "profile", "email", "read-billing"] {
        assert!(scopes.contains(&scope), "{scope} in {scopes:?}");
    }
    let claims: Vec<&str> =
        metadata["claims_supported"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    for claim in [
        "sub",
        "name",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "email",
        "email_verified",
        "isPro",
        "canPay",
        "orgs",
    ] {
        assert!(claims.contains(&claim), "{claim} in {claims:?}");
    }
}

#[tokio::test]
async fn operator_declared_scopes_are_advertised() {
    let app = spawn_app_with(|config| {
        config.extra_scopes.push(doorway_server::config::ScopeDef::new(
            "inference-api",
            "Call inference on your behalf",
            &[],
        ));
    })
    .await;
    let metadata = app.discovery().await;
    assert!(metadata["scopes_supported"].as_array().unwrap().contains(&json!("inference-api")));
}

#[tokio::test]
async fn jwks_is_served_at_both_urls_with_public_members_only() {
    let app = spawn_app().await;
    let (headers, jwks) = get_json(&app.url("/oauth/jwks")).await;
    assert!(headers["content-type"].to_str().unwrap().contains("json"));
    let (_, well_known) = get_json(&app.url("/.well-known/jwks.json")).await;
    assert_eq!(jwks, well_known);

    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    let mut kids = HashSet::new();
    for key in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
            assert!(key.get(private).is_none(), "private member {private} in {key}");
        }
        assert_eq!(key["use"], "sig", "{key}");
        let kid = key["kid"].as_str().unwrap();
        assert!(kids.insert(kid.to_owned()), "duplicate kid {kid}");
    }
    assert!(keys.iter().any(|k| k["kty"] == "RSA" && k["alg"] == "RS256"), "an RS256 key is published");
}

#[tokio::test]
async fn id_token_kid_is_in_the_jwks() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let tokens = tokens_for(&app, &client, "openid").await;
    let header = jsonwebtoken::decode_header(tokens["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let (_, jwks) = get_json(&app.url("/oauth/jwks")).await;
    assert!(jwks["keys"].as_array().unwrap().iter().any(|k| k["kid"] == header.kid.clone().unwrap().as_str()));
}

async fn with_origin(method: reqwest::Method, url: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .request(method, url)
        .header("origin", "https://spa.example")
        .send()
        .await
        .unwrap()
}

fn allow_origin(response: &reqwest::Response) -> Option<String> {
    response.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn cors_is_served_on_discovery_jwks_token_and_userinfo() {
    let app = spawn_app().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/oauth/jwks",
        "/.well-known/jwks.json",
        "/oauth/userinfo",
    ] {
        let response = with_origin(reqwest::Method::GET, &app.url(path)).await;
        assert!(allow_origin(&response).is_some(), "no CORS on {path}");
    }
    // Even an error answer of the token endpoint must be readable by the calling page.
    let response = with_origin(reqwest::Method::POST, &app.url("/oauth/token")).await;
    assert_eq!(response.status(), 401, "no client authentication");
    assert!(allow_origin(&response).is_some(), "no CORS on the token endpoint");
}

#[tokio::test]
async fn cors_preflight_on_the_token_endpoint_is_answered() {
    let app = spawn_app().await;
    let response = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, app.url("/oauth/token"))
        .header("origin", "https://spa.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert!(allow_origin(&response).is_some());
    let methods = response.headers()["access-control-allow-methods"].to_str().unwrap().to_owned();
    assert!(methods.contains("POST"), "{methods}");
    let headers = response.headers()["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(headers.contains("content-type"), "{headers}");
    // Cookies never ride along: the endpoints are credential-less.
    assert!(response.headers().get("access-control-allow-credentials").is_none());
}

#[tokio::test]
async fn cors_is_never_served_on_the_authorization_endpoint_or_pages() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    for url in [authorize_url(&app, &client, &[]), app.url("/oauth/authorize?client_id=nope"), app.url("/login")] {
        let response = with_origin(reqwest::Method::GET, &url).await;
        assert_eq!(allow_origin(&response), None, "CORS on {url}");
    }
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, app.url("/oauth/authorize"))
        .header("origin", "https://spa.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(allow_origin(&preflight), None);
}

#[tokio::test]
async fn issuer_is_never_taken_from_the_host_header() {
    let app = spawn_app().await;
    let response = reqwest::Client::new()
        .get(app.url("/.well-known/openid-configuration"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    let metadata: Value = response.json().await.unwrap();
    assert_eq!(metadata["issuer"], app.issuer);
    assert_eq!(metadata["authorization_endpoint"], app.url("/oauth/authorize"));
    let text = metadata.to_string();
    assert!(!text.contains("evil.example"), "{text}");
}

#[tokio::test]
async fn configured_issuer_is_served_whatever_address_is_used() {
    // Behind a proxy: the server listens on one address and is known by another.
    let app = spawn_app_with(|config| config.issuer = "https://id.example".into()).await;
    let metadata: Value =
        reqwest::get(app.at("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    assert_eq!(metadata["issuer"], "https://id.example");
    assert_eq!(metadata["token_endpoint"], "https://id.example/oauth/token");
}
