//! The authorization endpoint: client → redirect URI → everything else. Until the client and
//! the redirect URI are verified, errors are pages; after, they are 303 redirects carrying
//! `error`, `error_description`, `state` and `iss` (RFC 9207).

use doorway_core::model::ClientKind;
use doorway_core::types::{RedirectPolicy, ScopeSet};
use serde_json::Value;

use crate::helpers::*;

/// GETs an authorization URL with a fresh, signed-out browser.
async fn get(url: &str) -> reqwest::Response {
    Browser::new().get(url).await
}

// --- Before the redirect URI is verified: pages, never redirects -----------------------------

#[tokio::test]
async fn unknown_client_id_renders_a_page_and_never_redirects() {
    let app = spawn_app().await;
    let client = TestClient {
        client_id: "no-such-client".into(),
        secret: None,
        redirect_uri: "https://app.example/callback".into(),
    };
    let body = error_page(get(&authorize_url(&app, &client, &[])).await, 400).await;
    assert!(body.contains("Unknown app"), "{body}");
    assert!(!body.contains("app.example/callback"));
}

#[tokio::test]
async fn missing_client_id_renders_a_page() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let url = authorize_url(&app, &client, &[("client_id", "")]);
    let body = error_page(get(&url).await, 400).await;
    assert!(body.contains("client_id is missing"), "{body}");
}

#[tokio::test]
async fn duplicated_client_id_renders_a_page() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let url = format!("{}&client_id={}", authorize_url(&app, &client, &[]), client.client_id);
    let body = error_page(get(&url).await, 400).await;
    assert!(body.contains("invalid_request"), "{body}");
}

/// Registers an app with `registered` under `policy`, then presents each of `presented` and
/// asserts an error page without any redirect.
async fn assert_redirect_uris_refused(registered: &str, policy: RedirectPolicy, presented: &[&str]) {
    let app = spawn_app().await;
    let client = app.create_client(registered, ClientKind::Confidential, policy).await;
    for uri in presented {
        let url = authorize_url(&app, &client, &[("redirect_uri", uri)]);
        let body = error_page(get(&url).await, 400).await;
        assert!(body.contains("redirect_uri"), "{uri} should be refused by name: {body}");
    }
}

#[tokio::test]
async fn unregistered_redirect_uri_renders_a_page_and_never_redirects() {
    assert_redirect_uris_refused("https://app.example/callback", RedirectPolicy::Exact, &["https://app.example/other"])
        .await;
}

#[tokio::test]
async fn redirect_uri_path_traversal_is_refused() {
    assert_redirect_uris_refused(
        "https://app.example/callback",
        RedirectPolicy::Exact,
        &[
            "https://app.example/callback/../evil",
            "https://app.example/callback/%2e%2e/evil",
            "https://app.example/evil/../callback",
        ],
    )
    .await;
    assert_redirect_uris_refused(
        "https://app.example/",
        RedirectPolicy::Origin,
        &["https://app.example/callback/../evil", "https://app.example/%2E%2E/evil"],
    )
    .await;
}

#[tokio::test]
async fn redirect_uri_on_another_host_is_refused() {
    assert_redirect_uris_refused(
        "https://app.example/callback",
        RedirectPolicy::Exact,
        &["https://evil.example/callback", "https://app.example.evil.example/callback"],
    )
    .await;
}

#[tokio::test]
async fn redirect_uri_userinfo_at_trick_is_refused() {
    assert_redirect_uris_refused(
        "https://app.example/callback",
        RedirectPolicy::Exact,
        &["https://app.example@evil.example/callback"],
    )
    .await;
    assert_redirect_uris_refused(
        "https://app.example/",
        RedirectPolicy::Origin,
        &["https://app.example@evil.example/callback"],
    )
    .await;
}

#[tokio::test]
async fn redirect_uri_case_and_trailing_changes_are_refused_under_exact_matching() {
    assert_redirect_uris_refused(
        "https://app.example/callback",
        RedirectPolicy::Exact,
        &[
            "https://APP.example/callback",
            "https://app.example/Callback",
            "https://app.example/callback/",
            "https://app.example/callback?x=1",
            "https://app.example:443/callback",
            "http://app.example/callback",
        ],
    )
    .await;
}

#[tokio::test]
async fn origin_policy_refuses_another_origin_and_plain_http() {
    assert_redirect_uris_refused(
        "https://space.example/",
        RedirectPolicy::Origin,
        &[
            "https://evil.example/oauth/callback",
            "https://space.example:8443/oauth/callback",
            "http://space.example/oauth/callback",
            "https://space.example/oauth/callback#fragment",
            "https://space.example/oauth/../../evil",
        ],
    )
    .await;
}

#[tokio::test]
async fn missing_redirect_uri_in_an_openid_request_renders_a_page() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let url = authorize_url(&app, &client, &[("redirect_uri", "")]);
    let body = error_page(get(&url).await, 400).await;
    assert!(body.contains("redirect_uri is required in OpenID Connect requests"), "{body}");
}

#[tokio::test]
async fn missing_redirect_uri_in_a_plain_oauth_request_uses_the_only_registration() {
    // RFC 6749 §3.1.2.3: without openid, a single registered URI may be implied; then the token
    // request need not repeat it.
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let code = obtain_code(&app, &Browser::new(), &client, &[("redirect_uri", ""), ("scope", "profile")]).await;
    let response = reqwest::Client::new()
        .post(app.url("/oauth/token"))
        .basic_auth(&client.client_id, client.secret.as_ref())
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("code_verifier", VERIFIER)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("id_token").is_none(), "no openid, no ID token");
}

// --- After the redirect URI is verified: 303 back to the client ------------------------------

/// Asserts that `extra` makes the request fail back at the client with `error`, the state and
/// the issuer, and returns the error description.
async fn assert_error_redirect(extra: &[(&str, &str)], error: &str) -> String {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    assert_error_redirect_for(&app, &client, extra, error).await
}

async fn assert_error_redirect_for(app: &TestApp, client: &TestClient, extra: &[(&str, &str)], error: &str) -> String {
    let response = get(&authorize_url(app, client, extra)).await;
    let query = redirected_error(&response, client);
    assert_eq!(query["error"], error, "{query:?}");
    assert_eq!(query["state"], "xyz-state");
    assert_eq!(query["iss"], app.issuer);
    assert!(!query.contains_key("code"));
    query["error_description"].clone()
}

#[tokio::test]
async fn unsupported_response_type_redirects_with_error_state_and_iss() {
    for response_type in ["token", "id_token", "code id_token", "none"] {
        let description = assert_error_redirect(&[("response_type", response_type)], "unsupported_response_type").await;
        assert_eq!(description, "only response_type=code is supported");
    }
}

#[tokio::test]
async fn missing_response_type_is_invalid_request() {
    let description = assert_error_redirect(&[("response_type", "")], "invalid_request").await;
    assert_eq!(description, "response_type is missing");
}

#[tokio::test]
async fn unknown_scope_is_invalid_scope() {
    let description = assert_error_redirect(&[("scope", "openid admin:everything")], "invalid_scope").await;
    assert_eq!(description, "unknown scope 'admin:everything'");
    let description = assert_error_redirect(&[("scope", "openid write-everything")], "invalid_scope").await;
    assert_eq!(description, "unknown scope 'write-everything'");
}

#[tokio::test]
async fn scope_not_allowed_for_the_app_is_invalid_scope() {
    let app = spawn_app().await;
    let client = app
        .create_client_with("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact, |c| {
            c.scopes = ScopeSet::parse("openid profile").unwrap()
        })
        .await;
    let description =
        assert_error_redirect_for(&app, &client, &[("scope", "openid profile email")], "invalid_scope").await;
    assert_eq!(description, "this app is not allowed the scope 'email'");
}

#[tokio::test]
async fn missing_scope_is_invalid_scope() {
    let description = assert_error_redirect(&[("scope", "")], "invalid_scope").await;
    assert_eq!(description, "scope is missing");
}

#[tokio::test]
async fn duplicated_parameter_is_invalid_request() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let url = format!("{}&scope=openid", authorize_url(&app, &client, &[]));
    let response = get(&url).await;
    let query = redirected_error(&response, &client);
    assert_eq!(query["error"], "invalid_request");
    assert_eq!(query["error_description"], "scope was sent more than once");
    assert_eq!(query["state"], "xyz-state");
    assert_eq!(query["iss"], app.issuer);
}

#[tokio::test]
async fn duplicated_state_is_invalid_request_and_echoes_no_state() {
    // Which of two states would the client expect back? Neither is echoed.
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let url = format!("{}&state=other", authorize_url(&app, &client, &[]));
    let response = get(&url).await;
    let query = redirected_error(&response, &client);
    assert_eq!(query["error"], "invalid_request");
    assert_eq!(query["error_description"], "state was sent more than once");
    assert!(!query.contains_key("state"));
    assert_eq!(query["iss"], app.issuer);
}

#[tokio::test]
async fn pkce_plain_is_rejected() {
    let description = assert_error_redirect(
        &[("code_challenge", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), ("code_challenge_method", "plain")],
        "invalid_request",
    )
    .await;
    assert_eq!(description, "code_challenge_method must be S256; plain is not supported");
}

#[tokio::test]
async fn pkce_challenge_without_method_is_rejected_as_implicit_plain() {
    let description = assert_error_redirect(&[("code_challenge_method", "")], "invalid_request").await;
    assert_eq!(description, "code_challenge_method must be S256; plain is not supported");
}

#[tokio::test]
async fn public_client_without_pkce_is_invalid_request() {
    let app = spawn_app().await;
    let client = app.create_client("http://localhost:5173/callback", ClientKind::Public, RedirectPolicy::Exact).await;
    let description = assert_error_redirect_for(
        &app,
        &client,
        &[("code_challenge", ""), ("code_challenge_method", "")],
        "invalid_request",
    )
    .await;
    assert_eq!(description, "this app must use PKCE: send code_challenge with S256");
}

#[tokio::test]
async fn confidential_client_that_opted_into_pkce_must_send_it() {
    let app = spawn_app().await;
    let client = app
        .create_client_with("https://app.example/callback", ClientKind::Confidential, RedirectPolicy::Exact, |c| {
            c.require_pkce = true
        })
        .await;
    assert_error_redirect_for(
        &app,
        &client,
        &[("code_challenge", ""), ("code_challenge_method", "")],
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn request_object_is_request_not_supported() {
    let description = assert_error_redirect(&[("request", "eyJhbGciOiJub25lIn0.e30.")], "request_not_supported").await;
    assert_eq!(description, "request objects are not supported");
}

#[tokio::test]
async fn request_uri_is_request_uri_not_supported() {
    let description =
        assert_error_redirect(&[("request_uri", "https://app.example/request.jwt")], "request_uri_not_supported").await;
    assert_eq!(description, "request_uri is not supported");
}

#[tokio::test]
async fn response_mode_other_than_query_is_invalid_request() {
    assert_error_redirect(&[("response_mode", "fragment")], "invalid_request").await;
}

#[tokio::test]
async fn unsupported_prompt_value_is_invalid_request() {
    assert_error_redirect(&[("prompt", "sometimes")], "invalid_request").await;
    assert_error_redirect(&[("prompt", "none login")], "invalid_request").await;
}

#[tokio::test]
async fn error_redirect_keeps_a_json_state_byte_exact() {
    // @huggingface/hub sends a JSON state; it must come back unchanged.
    let state = r#"{"nonce":"a b&c=d","redirectUri":"http://localhost:5173/"}"#;
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let response = get(&authorize_url(&app, &client, &[("state", state), ("response_type", "token")])).await;
    let query = redirected_error(&response, &client);
    assert_eq!(query["state"], state);
}

// --- Requests that succeed -------------------------------------------------------------------

#[tokio::test]
async fn unknown_parameters_are_ignored() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let code =
        obtain_code(&app, &Browser::new(), &client, &[("foo", "bar"), ("utm_source", "newsletter"), ("foo2", "")])
            .await;
    assert_eq!(exchange(&app, &client, &code).await.status(), 200);
}

#[tokio::test]
async fn signed_out_request_is_sent_to_login_with_303() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let response = get(&authorize_url(&app, &client, &[("login_hint", "alice")])).await;
    assert_eq!(response.status(), 303);
    let next = location(&response);
    assert!(next.starts_with("/login?interaction="), "{next}");
    assert!(next.ends_with("&login_hint=alice"), "{next}");
    assert!(response.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn post_to_authorize_works_like_get() {
    // OIDC Core §3.1.2.1: form-encoded POST.
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let url = authorize_url(&app, &client, &[]);
    let query = url.split_once('?').unwrap().1.to_owned();
    let browser = Browser::new();
    let response = browser
        .http
        .post(app.url("/oauth/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "a POST is answered with 303, never 307");
    let back = browser.drive(&app, response, "alice", "allow").await;
    let query = query_of(&back);
    assert!(back.starts_with(&client.redirect_uri));
    assert_eq!(query["state"], "xyz-state");
    assert_eq!(query["iss"], app.issuer);
    assert_eq!(exchange(&app, &client, &query["code"]).await.status(), 200);
}

#[tokio::test]
async fn post_to_authorize_errors_redirect_with_303() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let url = authorize_url(&app, &client, &[("response_type", "token")]);
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/oauth/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(url.split_once('?').unwrap().1.to_owned())
        .send()
        .await
        .unwrap();
    let query = redirected_error(&response, &client);
    assert_eq!(query["error"], "unsupported_response_type");
    assert_eq!(query["state"], "xyz-state");
}

#[tokio::test]
async fn loopback_redirect_with_another_port_is_accepted() {
    // RFC 8252 §7.3: native apps listen on an ephemeral port.
    let app = spawn_app().await;
    app.create_user("alice").await;
    let registered =
        app.create_client("http://127.0.0.1:8000/callback", ClientKind::Public, RedirectPolicy::Exact).await;
    let client = TestClient { redirect_uri: "http://127.0.0.1:51234/callback".into(), ..registered };
    let code = obtain_code(&app, &Browser::new(), &client, &[]).await;
    assert_eq!(exchange(&app, &client, &code).await.status(), 200);
}

#[tokio::test]
async fn loopback_port_exception_does_not_extend_to_the_path() {
    assert_redirect_uris_refused(
        "http://127.0.0.1:8000/callback",
        RedirectPolicy::Exact,
        &["http://127.0.0.1:51234/other"],
    )
    .await;
}

#[tokio::test]
async fn origin_policy_accepts_any_path_and_keeps_the_clients_query() {
    // What huggingface_hub sends from a Space: a callback carrying its own query string.
    let app = spawn_app().await;
    app.create_user("alice").await;
    let registered =
        app.create_client("https://space.example/", ClientKind::Confidential, RedirectPolicy::Origin).await;
    let client = TestClient {
        redirect_uri: "https://space.example/oauth/huggingface/callback?_target_url=%2F%3F".into(),
        ..registered
    };
    let back = Browser::new().authorize(&app, &authorize_url(&app, &client, &[]), "alice", "allow").await;
    let prefix = "https://space.example/oauth/huggingface/callback?_target_url=%2F%3F&code=";
    assert!(back.starts_with(prefix), "{back}");
    let query = query_of(&back);
    assert_eq!(query["_target_url"], "/?");
    assert_eq!(query["state"], "xyz-state");
    assert_eq!(query["iss"], app.issuer);
    let response = exchange(&app, &client, &query["code"]).await;
    assert_eq!(response.status(), 200);

    // gradio's callback path under the same origin.
    let gradio = TestClient { redirect_uri: "https://space.example/login/callback".into(), ..client };
    let back = Browser::new().authorize(&app, &authorize_url(&app, &gradio, &[]), "alice", "allow").await;
    assert!(back.starts_with("https://space.example/login/callback?code="), "{back}");
}

// --- redirect_uri at the token endpoint (RFC 6749 §4.1.3) ------------------------------------

async fn exchange_with_redirect(
    app: &TestApp,
    client: &TestClient,
    code: &str,
    redirect_uri: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("grant_type", "authorization_code"), ("code", code), ("code_verifier", VERIFIER)];
    if let Some(uri) = redirect_uri {
        form.push(("redirect_uri", uri));
    }
    reqwest::Client::new()
        .post(app.url("/oauth/token"))
        .basic_auth(&client.client_id, client.secret.as_ref())
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn redirect_uri_sent_at_authorize_must_be_repeated_at_token() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let code = obtain_code(&app, &Browser::new(), &client, &[]).await;
    let response = exchange_with_redirect(&app, &client, &code, None).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "redirect_uri is required: it was sent at authorization");
}

#[tokio::test]
async fn redirect_uri_at_token_must_be_identical() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let registered =
        app.create_client("https://space.example/", ClientKind::Confidential, RedirectPolicy::Origin).await;
    let client = TestClient { redirect_uri: "https://space.example/callback?a=1".into(), ..registered };
    let code = obtain_code(&app, &Browser::new(), &client, &[]).await;
    // Another URL that the app's policy would accept is still not the one that was sent.
    let response = exchange_with_redirect(&app, &client, &code, Some("https://space.example/callback")).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "redirect_uri differs from the one sent at authorization");
}

#[tokio::test]
async fn expired_code_is_invalid_grant() {
    let app = spawn_app_with(|config| config.code_ttl = 1).await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let code = obtain_code(&app, &Browser::new(), &client, &[]).await;
    // The behaviour under test is time itself.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let response = exchange(&app, &client, &code).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].as_str().unwrap().contains("expired"), "{body}");
}

#[tokio::test]
async fn code_issued_to_one_client_cannot_be_redeemed_by_another() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let other = app.confidential_client().await;
    let code = obtain_code(&app, &Browser::new(), &client, &[]).await;
    let response = exchange(&app, &other, &code).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

#[tokio::test]
async fn no_authorize_response_is_a_307_or_308() {
    // Every kind of answer: page, login redirect, error redirect, code redirect, over GET and
    // POST. A 307/308 after a POST would replay the form body to the client.
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    let urls = [
        authorize_url(&app, &client, &[("client_id", "nope")]),
        authorize_url(&app, &client, &[("redirect_uri", "https://evil.example/")]),
        authorize_url(&app, &client, &[("response_type", "token")]),
        authorize_url(&app, &client, &[]),
    ];
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for url in &urls {
        let body = url.split_once('?').unwrap().1.to_owned();
        let post = plain
            .post(app.url("/oauth/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let get = browser.get(url).await;
        for status in [post.status().as_u16(), get.status().as_u16()] {
            assert!(![307, 308].contains(&status), "{url} gave {status}");
            assert!([200, 303, 400].contains(&status), "{url} gave {status}");
        }
    }
    // Signed in and consented: the code redirect itself.
    browser.authorize(&app, &authorize_url(&app, &client, &[]), "alice", "allow").await;
    let response = browser.get(&authorize_url(&app, &client, &[])).await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with(&client.redirect_uri));
}
