//! HTTP steps that never panic: under load the server is killed mid-request, so every step
//! tells "the server went away" (the answer is unknown) from "the server answered wrongly" (a
//! bug). The load tasks stop on the first; the test fails on the second.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{PASSWORD, TestClient, VERIFIER, input_value, query_of};
use crate::nodes::ISSUER;

/// Why a step did not complete.
#[derive(Debug)]
pub enum Fail {
    /// The connection failed or broke: whether the server acted on the request is unknown.
    Down,
    /// The server answered something it must not.
    Bug(String),
}

pub type Step<T> = Result<T, Fail>;

fn down(_: reqwest::Error) -> Fail {
    Fail::Down
}

fn bug<T>(what: impl Into<String>) -> Step<T> {
    Err(Fail::Bug(what.into()))
}

/// A client for the token endpoint and the admin API: no cookies, no redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A browser: keeps cookies, does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// An authorization request (PKCE S256, the shared test verifier) on the node at `base`.
pub fn authorize_url(base: &str, client: &TestClient) -> String {
    let challenge =
        doorway_core::types::CodeChallenge::for_verifier(&doorway_core::types::CodeVerifier::parse(VERIFIER).unwrap());
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", client.client_id.as_str()),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("scope", "openid profile"),
            ("state", "st"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    format!("{base}/oauth/authorize?{query}")
}

/// Where a `Location` points: the shared issuer and relative paths map to the node at `base`.
fn on_node(base: &str, location: &str) -> String {
    if let Some(rest) = location.strip_prefix(ISSUER) {
        format!("{base}{rest}")
    } else if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        location.to_owned()
    }
}

/// Signs up `username` (password [`PASSWORD`]) in `http`; `Ok` only on the success redirect.
pub async fn signup(http: &reqwest::Client, base: &str, username: &str) -> Step<()> {
    match signup_answer(http, base, username).await? {
        (303, _) => Ok(()),
        (status, body) => bug(format!("sign-up of {username} answered {status}: {}", snippet(&body))),
    }
}

/// Posts the sign-up form for `username`: the status and the page.
pub async fn signup_answer(http: &reqwest::Client, base: &str, username: &str) -> Step<(u16, String)> {
    let page = http.get(format!("{base}/signup")).send().await.map_err(down)?;
    if page.status() != 200 {
        return bug(format!("GET /signup answered {}", page.status()));
    }
    let page = page.text().await.map_err(down)?;
    let Some(csrf) = input_value(&page, "csrf_token") else { return bug("no CSRF token on /signup") };
    let email = format!("{username}@example.com");
    let form = [("username", username), ("email", &email), ("password", PASSWORD), ("csrf_token", &csrf)];
    let response = http.post(format!("{base}/signup")).form(&form).send().await.map_err(down)?;
    let status = response.status().as_u16();
    Ok((status, response.text().await.map_err(down)?))
}

/// The end of an authorization flow.
pub struct Flow {
    pub code: String,
    /// Whether a consent page was shown (and allowed) on the way.
    pub consent_shown: bool,
}

/// Follows an authorization request through the login page (signing in as `username`) and, if
/// `allow_consent`, the consent page, to the client's callback. A consent page when
/// `allow_consent` is false is a bug: the consent was expected to be remembered.
pub async fn authorize(
    http: &reqwest::Client,
    base: &str,
    client: &TestClient,
    username: &str,
    allow_consent: bool,
) -> Step<Flow> {
    let mut consent_shown = false;
    let mut response = http.get(authorize_url(base, client)).send().await.map_err(down)?;
    for _ in 0..8 {
        let status = response.status().as_u16();
        if status == 302 || status == 303 {
            let Some(location) = response.headers().get("location").and_then(|l| l.to_str().ok()) else {
                return bug(format!("{status} without a Location"));
            };
            let next = on_node(base, location);
            if !next.starts_with(base) {
                return callback_code(&next).map(|code| Flow { code, consent_shown });
            }
            response = http.get(&next).send().await.map_err(down)?;
            continue;
        }
        let page_url = response.url().to_string();
        let page = response.text().await.map_err(down)?;
        if status != 200 {
            return bug(format!("authorization flow answered {status} at {page_url}: {}", snippet(&page)));
        }
        let Some(csrf) = input_value(&page, "csrf_token") else { return bug(format!("no form at {page_url}")) };
        let interaction = input_value(&page, "interaction").unwrap_or_default();
        response = if page.contains("name=\"decision\"") {
            if !allow_consent {
                return bug(format!("{username} was asked for consent again for {}", client.client_id));
            }
            consent_shown = true;
            let form = [("decision", "allow"), ("csrf_token", &csrf), ("interaction", &interaction)];
            http.post(format!("{base}/oauth/consent")).form(&form).send().await.map_err(down)?
        } else if page_url.contains("/login") {
            let form =
                [("username", username), ("password", PASSWORD), ("csrf_token", &csrf), ("interaction", &interaction)];
            http.post(format!("{base}/login")).form(&form).send().await.map_err(down)?
        } else {
            return bug(format!("unexpected page {page_url}: {}", snippet(&page)));
        };
    }
    bug("the authorization flow did not reach the client")
}

fn callback_code(callback: &str) -> Step<String> {
    if !callback.starts_with("https://app.example/callback") {
        return bug(format!("redirected elsewhere: {callback}"));
    }
    let query = query_of(callback);
    if query.get("iss").map(String::as_str) != Some(ISSUER) {
        return bug(format!("callback without the issuer: {callback}"));
    }
    match query.get("code") {
        Some(code) => Ok(code.clone()),
        None => bug(format!("callback without a code: {callback}")),
    }
}

/// A token endpoint answer: status and JSON body.
pub struct TokenAnswer {
    pub status: u16,
    pub body: Value,
}

impl TokenAnswer {
    pub fn str(&self, field: &str) -> Step<String> {
        match self.body[field].as_str() {
            Some(value) => Ok(value.to_owned()),
            None => bug(format!("no {field} in {}", self.body)),
        }
    }
}

async fn token_request(
    http: &reqwest::Client,
    base: &str,
    client: &TestClient,
    form: &[(&str, &str)],
) -> Step<TokenAnswer> {
    let response = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(form)
        .send()
        .await
        .map_err(down)?;
    let status = response.status().as_u16();
    // A body cut off by the kill leaves the outcome unknown, like a lost connection.
    let text = response.text().await.map_err(down)?;
    match serde_json::from_str(&text) {
        Ok(body) => Ok(TokenAnswer { status, body }),
        Err(_) => bug(format!("/oauth/token answered {status} with a body that is not JSON: {}", snippet(&text))),
    }
}

/// Redeems a code (RFC 6749 §4.1.3).
pub async fn exchange(http: &reqwest::Client, base: &str, client: &TestClient, code: &str) -> Step<TokenAnswer> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("code_verifier", VERIFIER),
    ];
    token_request(http, base, client, &form).await
}

/// Rotates a refresh token (RFC 6749 §6).
pub async fn refresh(http: &reqwest::Client, base: &str, client: &TestClient, token: &str) -> Step<TokenAnswer> {
    token_request(http, base, client, &[("grant_type", "refresh_token"), ("refresh_token", token)]).await
}

/// A client_credentials grant (RFC 6749 §4.4) for an app only the admin API created.
pub async fn client_credentials(http: &reqwest::Client, base: &str, client: &TestClient) -> Step<TokenAnswer> {
    token_request(http, base, client, &[("grant_type", "client_credentials")]).await
}

/// Creates a client_credentials app through the admin API; `Ok` only on `201`.
pub async fn create_app(http: &reqwest::Client, base: &str, admin_token: &str, name: &str) -> Step<TestClient> {
    let body = serde_json::json!({
        "name": name,
        "redirect_uris": [],
        "scopes": "openid",
        "grant_types": ["client_credentials"],
    });
    let response =
        http.post(format!("{base}/api/v1/apps")).bearer_auth(admin_token).json(&body).send().await.map_err(down)?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(down)?;
    let created: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match (status, created["client_id"].as_str(), created["client_secret"].as_str()) {
        (201, Some(id), Some(secret)) => {
            Ok(TestClient { client_id: id.to_owned(), secret: Some(secret.to_owned()), redirect_uri: String::new() })
        }
        _ => bug(format!("POST /api/v1/apps answered {status}: {}", snippet(&text))),
    }
}

fn snippet(text: &str) -> String {
    text.chars().take(300).collect()
}
