//! The admin API over the wire: who may call it (admin API tokens only — never a browser
//! session or an OAuth token), each resource, and its OpenAPI document checked against the
//! routes the server really answers.

use doorway_core::secrets::{hash_secret, random_hex_id, random_token};
use doorway_core::types::ScopeSet;
use doorway_store::NewAdminToken;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// A live admin API token, straight into the store (the CLI's own test is cli_admin.rs).
async fn admin_token(app: &TestApp, read_only: bool) -> String {
    let token = random_token("dwa_");
    let new = NewAdminToken { id: random_hex_id(), name: "tests".into(), token_hash: hash_secret(&token), read_only };
    app.store.create_admin_token(&new, 0).await.unwrap();
    token
}

struct Api<'a> {
    app: &'a TestApp,
    token: String,
}

impl Api<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = reqwest::Client::new().request(method, self.app.url(path)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// Calls and expects `status`, returning the JSON body (Null when empty).
    async fn expect(&self, method: Method, path: &str, body: Option<Value>, status: u16) -> Value {
        let response = self.call(method.clone(), path, body).await;
        let got = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "{method} {path}: {text}");
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() }
    }
}

async fn api(app: &TestApp) -> Api<'_> {
    Api { app, token: admin_token(app, false).await }
}

/// Asserts a JSON error with `status` and `error`, returning the response's headers.
async fn assert_error(response: reqwest::Response, status: u16, error: &str) -> reqwest::header::HeaderMap {
    assert_eq!(response.status().as_u16(), status);
    let headers = response.headers().clone();
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    headers
}

// --- Authentication --------------------------------------------------------------------------

#[tokio::test]
async fn no_token_is_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let response = reqwest::get(app.url("/api/v1/users")).await.unwrap();
    let headers = assert_error(response, 401, "unauthorized").await;
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"doorway-admin\"");
}

#[tokio::test]
async fn a_wrong_token_is_401_invalid_token() {
    let app = spawn_app().await;
    admin_token(&app, false).await;
    for presented in ["Bearer dwa_not-a-real-token", "Bearer something-else", "Basic YWRtaW46YWRtaW4=", "Bearer"] {
        let response = reqwest::Client::new()
            .get(app.url("/api/v1/users"))
            .header("authorization", presented)
            .send()
            .await
            .unwrap();
        let headers = assert_error(response, 401, "invalid_token").await;
        assert_eq!(
            headers["www-authenticate"], "Bearer realm=\"doorway-admin\", error=\"invalid_token\"",
            "{presented}"
        );
    }
}

#[tokio::test]
async fn a_revoked_token_is_401() {
    let app = spawn_app().await;
    let api = api(&app).await;
    api.expect(Method::GET, "/api/v1/users", None, 200).await;
    let id = app.store.list_admin_tokens().await.unwrap()[0].id.clone();
    assert!(app.store.revoke_admin_token(&id, 1).await.unwrap());
    assert_error(api.call(Method::GET, "/api/v1/users", None).await, 401, "invalid_token").await;
}

#[tokio::test]
async fn a_signed_in_administrators_session_is_not_an_admin_credential() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let flags = doorway_store::UserFlags { is_admin: Some(true), ..Default::default() };
    app.store.set_user_flags(&alice.id, &flags, 1).await.unwrap();
    let browser = Browser::new();
    browser.login(&app, "alice").await;
    assert_eq!(browser.get(&app.url("/account")).await.status(), 200, "signed in");
    let response = browser.get(&app.url("/api/v1/users")).await;
    assert_error(response, 401, "unauthorized").await;
    // Nor does a session get to write with a CSRF token from a page.
    let page = Form::new(browser.get(&app.url("/settings/sessions")).await.text().await.unwrap());
    let response = browser
        .http
        .post(app.url("/api/v1/users"))
        .header("x-csrf-token", &page.csrf_token)
        .json(&json!({ "username": "mallory", "email": "m@example.com" }))
        .send()
        .await
        .unwrap();
    assert_error(response, 401, "unauthorized").await;
    assert!(app.store.find_user_by_username("mallory").await.unwrap().is_none());
}

#[tokio::test]
async fn an_oauth_access_token_is_not_an_admin_token() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let client = app.confidential_client().await;
    let tokens = tokens_for(&app, &client, "openid profile").await;
    let response = reqwest::Client::new()
        .get(app.url("/api/v1/users"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_error(response, 401, "invalid_token").await;
}

#[tokio::test]
async fn a_read_only_token_reads_and_is_refused_every_write() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let api = Api { app: &app, token: admin_token(&app, true).await };
    api.expect(Method::GET, "/api/v1/users", None, 200).await;
    api.expect(Method::GET, "/api/v1/scopes", None, 200).await;
    let writes = [
        (Method::POST, "/api/v1/users".to_owned()),
        (Method::PATCH, format!("/api/v1/users/{}", alice.id)),
        (Method::POST, format!("/api/v1/users/{}/disable", alice.id)),
        (Method::POST, "/api/v1/keys/rotate".to_owned()),
    ];
    for (method, path) in writes {
        let response = api.call(method, &path, Some(json!({}))).await;
        let headers = assert_error(response, 403, "insufficient_scope").await;
        assert!(headers["www-authenticate"].to_str().unwrap().contains("insufficient_scope"), "{path}");
    }
    assert!(!app.store.find_user(&alice.id).await.unwrap().unwrap().disabled, "nothing changed");
}

// --- Users -----------------------------------------------------------------------------------

#[tokio::test]
async fn users_are_listed_a_page_at_a_time() {
    let app = spawn_app().await;
    for name in ["ann", "bea", "cid", "dan", "eve"] {
        app.create_user(name).await;
    }
    let api = api(&app).await;
    let mut seen = Vec::new();
    let mut path = "/api/v1/users?limit=2".to_owned();
    for _ in 0..5 {
        let page = api.expect(Method::GET, &path, None, 200).await;
        let names: Vec<String> =
            page["data"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_owned()).collect();
        assert!(names.len() <= 2);
        seen.extend(names);
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/users?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    // The test users share a creation time: the id orders them, and no page repeats or skips one.
    seen.sort();
    assert_eq!(seen, ["ann", "bea", "cid", "dan", "eve"]);
    for bad in ["limit=0", "limit=500", "limit=two", "cursor=garbage!"] {
        let response = api.call(Method::GET, &format!("/api/v1/users?{bad}"), None).await;
        assert_error(response, 422, "invalid_request").await;
    }
}

#[tokio::test]
async fn a_user_is_created_read_flagged_disabled_and_enabled() {
    let app = spawn_app().await;
    let api = api(&app).await;
    let created = api
        .expect(
            Method::POST,
            "/api/v1/users",
            Some(json!({ "username": "zoe", "email": "zoe@example.com", "name": "Zoë" })),
            201,
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let password = created["password"].as_str().expect("a generated password, shown once").to_owned();
    assert!(created.get("password_hash").is_none());
    assert_eq!(created["is_admin"], false);
    let read = api.expect(Method::GET, &format!("/api/v1/users/{id}"), None, 200).await;
    assert_eq!(read["username"], "zoe");
    assert!(read.get("password").is_none(), "never shown again");

    // The generated password signs in.
    let browser = Browser::new();
    let login = Form::new(browser.get(&app.url("/login")).await.text().await.unwrap());
    let response = browser
        .http
        .post(app.url("/login"))
        .form(&[("username", "zoe"), ("password", password.as_str()), ("csrf_token", &login.csrf_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);

    let flagged =
        api.expect(Method::PATCH, &format!("/api/v1/users/{id}"), Some(json!({ "is_admin": true })), 200).await;
    assert_eq!((flagged["is_admin"].clone(), flagged["is_pro"].clone()), (json!(true), json!(false)));

    let disabled = api.expect(Method::POST, &format!("/api/v1/users/{id}/disable"), None, 200).await;
    assert_eq!(disabled["disabled"], true);
    assert_eq!(browser.get(&app.url("/account")).await.status(), 303, "the session ended");
    let enabled = api.expect(Method::POST, &format!("/api/v1/users/{id}/enable"), None, 200).await;
    assert_eq!(enabled["disabled"], false);
}

#[tokio::test]
async fn creating_a_user_checks_every_field() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    let api = api(&app).await;
    let cases = [
        (json!({ "email": "x@example.com" }), 422, "invalid_request"),
        (json!({ "username": "x y", "email": "x@example.com" }), 422, "invalid_request"),
        (json!({ "username": "login", "email": "x@example.com" }), 422, "invalid_request"),
        (json!({ "username": "xavier", "email": "not-an-email" }), 422, "invalid_request"),
        (json!({ "username": "xavier", "email": "x@example.com", "password": "short" }), 422, "invalid_request"),
        (json!({ "username": "xavier", "email": "x@example.com", "is_root": true }), 422, "invalid_request"),
        (json!({ "username": "ALICE", "email": "x@example.com" }), 409, "conflict"),
        (json!({ "username": "xavier", "email": "alice@example.com" }), 409, "conflict"),
    ];
    for (body, status, error) in cases {
        let response = api.call(Method::POST, "/api/v1/users", Some(body.clone())).await;
        assert_eq!(response.status().as_u16(), status, "{body}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"], error, "{body}");
    }
    let malformed = reqwest::Client::new()
        .post(app.url("/api/v1/users"))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(malformed, 400, "invalid_request").await;
    let form = reqwest::Client::new()
        .post(app.url("/api/v1/users"))
        .bearer_auth(&api.token)
        .form(&[("username", "xavier"), ("email", "x@example.com")])
        .send()
        .await
        .unwrap();
    assert_error(form, 415, "invalid_request").await;
}

#[tokio::test]
async fn unknown_users_apps_and_endpoints_are_json_404s() {
    let app = spawn_app().await;
    let api = api(&app).await;
    for path in ["/api/v1/users/nobody", "/api/v1/apps/nothing", "/api/v1/users/nobody/grants", "/api/v1/nothing-here"]
    {
        assert_error(api.call(Method::GET, path, None).await, 404, "not_found").await;
    }
}

// --- Apps ------------------------------------------------------------------------------------

async fn client_credentials(app: &TestApp, client_id: &str, secret: &str) -> StatusCode {
    reqwest::Client::new()
        .post(app.url("/oauth/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn an_app_is_created_with_its_secret_once_then_updated_rotated_and_deleted() {
    let app = spawn_app().await;
    let api = api(&app).await;
    let body = json!({
        "name": "Build bot",
        "redirect_uris": ["https://bot.example/callback"],
        "scopes": "openid profile",
        "grant_types": ["authorization_code", "client_credentials"],
        "first_party": true,
        "access_token_ttl": 600,
    });
    let created = api.expect(Method::POST, "/api/v1/apps", Some(body), 201).await;
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("dws_"));
    assert_eq!(created["first_party"], true);
    assert_eq!(created["access_token_ttl"], 600);
    assert_eq!(created["grant_types"], "authorization_code client_credentials");
    assert_eq!(client_credentials(&app, &client_id, &secret).await, 200);

    let read = api.expect(Method::GET, &format!("/api/v1/apps/{client_id}"), None, 200).await;
    assert!(read.get("client_secret").is_none() && read.get("secret_hash").is_none(), "{read}");
    let listed = api.expect(Method::GET, "/api/v1/apps", None, 200).await;
    assert!(listed["data"].as_array().unwrap().iter().any(|a| a["client_id"] == client_id.as_str()));

    let updated = api
        .expect(
            Method::PATCH,
            &format!("/api/v1/apps/{client_id}"),
            Some(json!({ "name": "Build bot 2", "homepage_url": "https://bot.example", "access_token_ttl": null })),
            200,
        )
        .await;
    assert_eq!(updated["name"], "Build bot 2");
    assert_eq!(updated["homepage_url"], "https://bot.example");
    assert_eq!(updated["access_token_ttl"], Value::Null);
    assert_eq!(updated["grant_types"], "authorization_code client_credentials", "kept when not sent");
    assert_eq!(updated["redirect_uris"], json!(["https://bot.example/callback"]));
    let cleared = api
        .expect(Method::PATCH, &format!("/api/v1/apps/{client_id}"), Some(json!({ "homepage_url": null })), 200)
        .await;
    assert_eq!(cleared["homepage_url"], Value::Null);

    let rotated = api.expect(Method::POST, &format!("/api/v1/apps/{client_id}/rotate-secret"), None, 200).await;
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(client_credentials(&app, &client_id, &secret).await, 401, "the old secret stops working");
    assert_eq!(client_credentials(&app, &client_id, new_secret).await, 200);

    api.expect(Method::DELETE, &format!("/api/v1/apps/{client_id}"), None, 204).await;
    assert_error(api.call(Method::GET, &format!("/api/v1/apps/{client_id}"), None).await, 404, "not_found").await;
    assert_error(api.call(Method::DELETE, &format!("/api/v1/apps/{client_id}"), None).await, 404, "not_found").await;
}

#[tokio::test]
async fn app_fields_are_validated_field_by_field() {
    let app = spawn_app().await;
    let api = api(&app).await;
    let base = |extra: Value| {
        let mut body = json!({ "name": "App", "redirect_uris": ["https://app.example/cb"] });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (base(json!({ "name": "" })), "name"),
        (base(json!({ "redirect_uris": [] })), "redirect_uris"),
        (base(json!({ "redirect_uris": ["http://app.example/cb"] })), "redirect_uris"),
        (base(json!({ "redirect_uris": ["https://app.example/cb#frag"] })), "redirect_uris"),
        (base(json!({ "redirect_uris": ["https://*.example/cb"] })), "redirect_uris"),
        (base(json!({ "redirect_uris": ["javascript:alert(1)"] })), "redirect_uris"),
        (base(json!({ "logo_uri": "http://app.example/logo.png" })), "logo_uri"),
        (base(json!({ "scopes": "openid unknown-scope" })), "scopes"),
        (base(json!({ "kind": "public", "grant_types": "client_credentials" })), "grant_types"),
        (base(json!({ "id_token_alg": "HS256" })), "id_token_alg"),
        (base(json!({ "access_token_ttl": 5 })), "access_token_ttl"),
    ];
    for (body, field) in cases {
        let response = api.call(Method::POST, "/api/v1/apps", Some(body.clone())).await;
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(error["error_description"].as_str().unwrap().starts_with(field), "{field}: {error}");
    }
    assert!(app.store.list_clients().await.unwrap().is_empty(), "nothing was created");
    // A public app has no secret to rotate.
    let public = api.expect(Method::POST, "/api/v1/apps", Some(base(json!({ "kind": "public" }))), 201).await;
    assert_eq!(public["client_secret"], Value::Null);
    let path = format!("/api/v1/apps/{}/rotate-secret", public["client_id"].as_str().unwrap());
    assert_error(api.call(Method::POST, &path, None).await, 422, "invalid_request").await;
}

// --- Grants, keys, scopes --------------------------------------------------------------------

#[tokio::test]
async fn a_users_grants_are_listed_and_revoking_one_asks_consent_again() {
    let app = spawn_app().await;
    let alice = app.create_user("alice").await;
    let client = app.confidential_client().await;
    let browser = Browser::new();
    let code = obtain_code(&app, &browser, &client, &[]).await;
    let tokens: Value = exchange(&app, &client, &code).await.json().await.unwrap();
    let api = api(&app).await;
    let grants = api.expect(Method::GET, &format!("/api/v1/users/{}/grants", alice.id), None, 200).await;
    let grant = &grants["data"][0];
    assert_eq!(grant["client_id"], client.client_id.as_str());
    assert_eq!(grant["app_name"], "Test App");
    assert_eq!(grant["scopes"], json!(["email", "openid", "profile"]));
    assert!(grant["last_used_at"].is_i64());

    let path = format!("/api/v1/users/{}/grants/{}", alice.id, client.client_id);
    api.expect(Method::DELETE, &path, None, 204).await;
    assert_error(api.call(Method::DELETE, &path, None).await, 404, "not_found").await;
    let userinfo = reqwest::Client::new()
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    let response = browser.get(&authorize_url(&app, &client, &[])).await;
    assert_eq!(response.status(), 200, "consent is asked again");
}

#[tokio::test]
async fn keys_are_listed_and_rotated() {
    let app = spawn_app().await;
    let api = api(&app).await;
    let before = api.expect(Method::GET, "/api/v1/keys", None, 200).await;
    let keys = before["data"].as_array().unwrap();
    assert_eq!(keys.len(), 4, "one active key per algorithm");
    assert!(keys.iter().all(|k| k["status"] == "active" && k.get("private_key").is_none()));

    let rotated =
        api.expect(Method::POST, "/api/v1/keys/rotate", Some(json!({ "algs": ["ES256"], "now": true })), 200).await;
    let new = &rotated["data"][0];
    assert_eq!((new["alg"].clone(), new["status"].clone()), (json!("ES256"), json!("active")));
    let jwks = reqwest::get(app.url("/oauth/jwks")).await.unwrap().text().await.unwrap();
    assert!(jwks.contains(new["kid"].as_str().unwrap()), "published at once");
    let after = api.expect(Method::GET, "/api/v1/keys", None, 200).await;
    assert!(after["data"].as_array().unwrap().iter().any(|k| k["alg"] == "ES256" && k["status"] == "retired"));
    let response = api.call(Method::POST, "/api/v1/keys/rotate", Some(json!({ "algs": ["HS256"] }))).await;
    assert_error(response, 422, "invalid_request").await;
}

#[tokio::test]
async fn the_scope_registry_lists_operator_scopes_with_their_claims() {
    let app = spawn_app_with(|config| {
        config.extra_scopes.push(doorway_server::config::ScopeDef::new("read-repos", "Read your repositories", &[]));
        config.extra_scopes.push(doorway_server::config::ScopeDef::new("email", "Your email address", &["ignored"]));
    })
    .await;
    let api = api(&app).await;
    let scopes = api.expect(Method::GET, "/api/v1/scopes", None, 200).await;
    let data = scopes["data"].as_array().unwrap();
    let names: Vec<&str> = data.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["openid", "profile", "email", "read-billing", "read-repos"]);
    let email = &data[2];
    assert_eq!(email["description"], "Your email address", "an operator may reword a built-in scope");
    assert_eq!(email["claims"], json!(["email", "email_verified"]), "but not what it releases");
    assert_eq!(data[4]["claims"], json!([]));
    assert!(data[1]["claims"].as_array().unwrap().contains(&json!("preferred_username")));
}

// --- The OpenAPI document --------------------------------------------------------------------

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// A documented path with the fixtures' values for its parameters.
fn concrete_path(path: &str, user_id: &str, client_id: &str) -> String {
    path.replace("{id}", user_id)
        .replace("{client_id}", client_id)
        .replace("{org}", "acme")
        .replace("{username}", "alice")
}

#[tokio::test]
async fn the_openapi_document_matches_the_routes_the_server_answers() {
    let app = spawn_app().await;
    let response = reqwest::get(app.url("/api/openapi.json")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], app.issuer.as_str());
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 10);

    // Fixtures for the path parameters: a user with a grant to an app.
    let user = app.create_user("alice").await;
    let client = app.confidential_client().await;
    app.store.grant_consent(&user.id, &client.client_id, &ScopeSet::parse("openid").unwrap(), 1).await.unwrap();
    // …and an organization alice is the (last) admin of.
    let org = doorway_store::NewOrg {
        id: uuid::Uuid::new_v4().to_string(),
        sub: doorway_core::secrets::random_hex_id(),
        name: doorway_core::types::OrgName::parse("acme").unwrap(),
        display_name: None,
        avatar_url: None,
    };
    app.store.create_org(&org, &user.id, 1).await.unwrap();
    let api = api(&app).await;

    // Every documented operation answers, with one of its documented statuses. Deletions last,
    // the grant before its app.
    let mut operations: Vec<(String, String, Value)> = Vec::new();
    for (path, item) in paths {
        assert!(path.starts_with("/api/v1/"), "{path}");
        for (method, op) in item.as_object().unwrap() {
            assert!(METHODS.contains(&method.as_str()), "{method}");
            operations.push((method.clone(), path.clone(), op.clone()));
        }
    }
    operations.sort_by_key(|(method, path, _)| (method == "delete", std::cmp::Reverse(path.len())));
    for (method, path, op) in &operations {
        let concrete = concrete_path(path, &user.id, &client.client_id);
        assert!(!concrete.contains('{'), "an undocumented parameter in {path}");
        let body = op.get("requestBody").map(|_| json!({}));
        let response = api.call(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(), &concrete, body).await;
        let status = response.status().as_u16();
        assert!(status != 404 && status != 405, "{method} {path} is documented but answers {status}");
        assert!(
            op["responses"].get(status.to_string()).is_some(),
            "{method} {path} answered {status}, not among its documented responses"
        );
        assert!(op["operationId"].is_string() && op["summary"].is_string(), "{method} {path}");
        // Every operation requires the admin token.
        let anonymous = reqwest::Client::new()
            .request(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(), app.url(&concrete))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{method} {path} without a token");
    }

    // Nothing is served beyond the document: other methods on its paths are 405, and other
    // paths under /api/v1 are 404.
    for (path, item) in paths {
        let concrete = concrete_path(path, &user.id, &client.client_id);
        for method in METHODS.iter().filter(|m| item.get(**m).is_none()) {
            let response =
                api.call(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(), &concrete, None).await;
            assert_eq!(response.status(), 405, "{method} {path} is not documented, so it must not be served");
        }
    }
    for path in ["/api/v1/tokens", "/api/v1/users/x/y/z", "/api/v1/admin"] {
        assert_eq!(api.call(Method::GET, path, None).await.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn the_hugging_face_example_registry_loads_and_is_served() {
    use doorway_server::config::{Config, GlobalArgs, ServeArgs};
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/hf-scopes.toml");
    let data = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let global = GlobalArgs { data_dir: Some(data.path().to_owned()), database: None, config: Some(file) };
    let serve = ServeArgs { issuer: Some(issuer.clone()), ..ServeArgs::default() };
    let mut config = Config::resolve(&global, &serve).unwrap();
    config.listen = listener.local_addr().unwrap();
    doorway_server::install_crypto();
    let built = doorway_server::startup::Application::build_on(config, listener).await.unwrap();
    let store = built.state().store.clone();
    tokio::spawn(built.run_until_stopped());
    let token = random_token("dwa_");
    let new = NewAdminToken { id: random_hex_id(), name: "t".into(), token_hash: hash_secret(&token), read_only: true };
    store.create_admin_token(&new, 0).await.unwrap();

    let scopes: Value = reqwest::Client::new()
        .get(format!("{issuer}/api/v1/scopes"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = scopes["data"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    let expected = [
        "openid",
        "profile",
        "email",
        "read-billing",
        "inference-api",
        "read-repos",
        "write-repos",
        "manage-repos",
        "read-mcp",
        "write-discussions",
        "read-collections",
        "write-collections",
        "gated-repos",
        "webhooks",
        "jobs",
    ];
    assert_eq!(names, expected);
    let discovery: Value =
        reqwest::get(format!("{issuer}/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    assert_eq!(discovery["scopes_supported"].as_array().unwrap().len(), expected.len());
}
