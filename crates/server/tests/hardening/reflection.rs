//! Reflected input is always escaped: script and attribute-breaking payloads sent as `state`,
//! `login_hint`, a username, an error text or a `redirect_uri` never come back raw in HTML,
//! and never raw in a `Location` header.

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, LOCATION};

use crate::helpers::*;
use crate::invalid_input::http;
use crate::surface::{Surface, routes};

const PAYLOADS: [&str; 3] = ["<script>alert(1)</script>", "\"><img src=x>", "'><svg onload=alert(1)>"];

/// The parameters pages and endpoints may echo.
const ECHOED: &[&str] = &[
    "state",
    "login_hint",
    "error",
    "error_description",
    "redirect_uri",
    "post_logout_redirect_uri",
    "client_id",
    "scope",
    "username",
    "email",
    "name",
    "user_code",
    "next",
    "interaction",
    "nonce",
    "ui_locales",
    "display",
    "prompt",
    "response_type",
    "response_mode",
    "code",
    "decision",
    "description",
    "homepage_url",
    "role",
    "id_token_hint",
    "logout_hint",
];

/// The problems with one answer: a payload raw in an HTML (or untyped) body, or in Location.
async fn unescaped(response: reqwest::Response, what: &str) -> (Vec<String>, String) {
    let status = response.status();
    let content_type =
        response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = response.text().await.unwrap_or_default();
    let mut problems = Vec::new();
    for payload in PAYLOADS {
        // JSON is data, not markup: with `nosniff` a browser never renders it as HTML.
        let json = content_type.starts_with("application/json") || content_type.starts_with("application/jwt");
        if body.contains(payload) && !json {
            problems.push(format!("{what}: {status} {content_type:?} reflects {payload:?} raw"));
        }
        if location.contains(payload) {
            problems.push(format!("{what}: Location reflects {payload:?} raw: {location}"));
        }
    }
    (problems, body)
}

fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

#[tokio::test]
async fn no_route_reflects_a_script_payload_unescaped() {
    let surface = Surface::start().await;
    let mut problems = Vec::new();
    for payload in PAYLOADS {
        let mut pairs: Vec<(&str, &str)> = ECHOED.iter().map(|name| (*name, payload)).collect();
        for route in routes().iter().filter(|r| !r.admin) {
            let path = surface.path(route);
            for method in &route.methods {
                for signed_in in [false, true] {
                    let client = if signed_in { surface.browser.http.clone() } else { http() };
                    let request = if *method == Method::GET {
                        client.get(format!("{}?{}", surface.app.url(&path), query(&pairs)))
                    } else {
                        pairs.retain(|(name, _)| *name != "csrf_token");
                        if signed_in {
                            pairs.push(("csrf_token", surface.csrf.as_str()));
                        }
                        client.request(method.clone(), surface.app.url(&path)).form(&pairs)
                    };
                    let response = request.send().await.unwrap();
                    let what = format!("{method} {path} (signed in: {signed_in})");
                    problems.extend(unescaped(response, &what).await.0);
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn the_authorization_error_page_escapes_client_id_redirect_uri_and_state() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    for payload in PAYLOADS {
        // Unknown client: an error page, which may name what was sent.
        let url = app.url(&format!(
            "/oauth/authorize?{}",
            query(&[("client_id", payload), ("redirect_uri", payload), ("state", payload)])
        ));
        let (problems, _) = unescaped(http().get(url).send().await.unwrap(), "unknown client").await;
        assert!(problems.is_empty(), "{problems:?}");
        // A registered client, an unregistered redirect_uri: never followed, shown escaped.
        let redirect = format!("https://app.example/callback{payload}");
        let url = authorize_url(&app, &client, &[("redirect_uri", &redirect), ("state", payload)]);
        let response = http().get(url).send().await.unwrap();
        assert_eq!(response.status(), 400);
        let (problems, _) = unescaped(response, "unregistered redirect_uri").await;
        assert!(problems.is_empty(), "{problems:?}");
    }
}

#[tokio::test]
async fn errors_sent_back_to_the_app_carry_the_payload_encoded_in_query_and_form_post() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    for payload in PAYLOADS {
        // An unknown scope is named in error_description: the payload travels in it twice.
        let url = authorize_url(&app, &client, &[("scope", &format!("openid {payload}")), ("state", payload)]);
        let response = http().get(url).send().await.unwrap();
        let back = redirected_error(&response, &client);
        assert_eq!(back["state"], payload, "state comes back unchanged once decoded");
        let (problems, _) = unescaped(response, "query response").await;
        assert!(problems.is_empty(), "{problems:?}");

        // form_post: the same values inside an auto-submitting HTML form.
        let url = authorize_url(
            &app,
            &client,
            &[("scope", &format!("openid {payload}")), ("state", payload), ("response_mode", "form_post")],
        );
        let response = http().get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let (problems, body) = unescaped(response, "form_post response").await;
        assert!(problems.is_empty(), "{problems:?}");
        assert!(body.contains("name=\"state\""), "a form_post page: {body}");
    }
}

#[tokio::test]
async fn login_hint_is_prefilled_escaped() {
    let app = spawn_app().await;
    for payload in PAYLOADS {
        let response =
            http().get(app.url(&format!("/login?{}", query(&[("login_hint", payload)])))).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let (problems, body) = unescaped(response, "login page").await;
        assert!(problems.is_empty(), "{problems:?}");
        assert!(body.contains("alert(1)") || body.contains("img src=x"), "the hint is shown (escaped): {body}");
    }
}

#[tokio::test]
async fn a_failed_sign_in_shows_the_typed_username_escaped() {
    let app = spawn_app().await;
    app.create_user("alice").await;
    for payload in PAYLOADS {
        let browser = Browser::new();
        let page = browser.get(&app.url("/login")).await.text().await.unwrap();
        let csrf = input_value(&page, "csrf_token").unwrap();
        let response = browser
            .http
            .post(app.url("/login"))
            .form(&[("username", payload), ("password", "wrong password"), ("csrf_token", &csrf)])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
        let (problems, body) = unescaped(response, "login error").await;
        assert!(problems.is_empty(), "{problems:?}");
        assert!(body.contains("Incorrect username or password"), "{body}");
    }
}

#[tokio::test]
async fn sign_up_device_and_logout_pages_escape_what_was_typed() {
    let surface = Surface::start().await;
    let app = &surface.app;
    let mut problems = Vec::new();
    for payload in PAYLOADS {
        // Sign-up with a hostile username and email: the form comes back with errors.
        let browser = Browser::new();
        let page = browser.get(&app.url("/signup")).await.text().await.unwrap();
        if let Some(csrf) = input_value(&page, "csrf_token") {
            let response = browser
                .http
                .post(app.url("/signup"))
                .form(&[("username", payload), ("email", payload), ("password", payload), ("csrf_token", &csrf)])
                .send()
                .await
                .unwrap();
            problems.extend(unescaped(response, "sign-up").await.0);
        }
        // The device page prefilled from verification_uri_complete, and a wrong code typed.
        let url = app.url(&format!("/device?{}", query(&[("user_code", payload)])));
        problems.extend(unescaped(surface.browser.get(&url).await, "device page").await.0);
        let response = surface
            .browser
            .http
            .post(app.url("/device"))
            .form(&[("user_code", payload), ("csrf_token", &surface.csrf)])
            .send()
            .await
            .unwrap();
        problems.extend(unescaped(response, "device submit").await.0);
        // RP-initiated logout with a hostile redirect, state and client_id.
        let url = app.url(&format!(
            "/oauth/logout?{}",
            query(&[("post_logout_redirect_uri", payload), ("state", payload), ("client_id", payload)])
        ));
        problems.extend(unescaped(http().get(url).send().await.unwrap(), "logout").await.0);
        let url = app.url(&format!(
            "/oauth/logout?{}",
            query(&[
                ("client_id", &surface.client.client_id),
                ("post_logout_redirect_uri", payload),
                ("state", payload)
            ])
        ));
        problems.extend(unescaped(surface.browser.get(&url).await, "logout with a real client").await.0);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
