//! The demo relying party (`serve --demo`): a page with a "Sign in with" button that runs the
//! real flow over HTTP — authorization request with PKCE and nonce, code exchange with
//! client_secret_basic, ID token verified against the JWKS, userinfo — like a third-party
//! website would. It talks to this server through its bound address, never in-process.

use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use doorway_core::model::ClientKind;
use doorway_core::secrets::{constant_time_eq, hash_secret, random_hex_id, random_token};
use doorway_core::types::{CodeChallenge, CodeVerifier, Email, RedirectPolicy, RedirectUri, ScopeSet, Username};
use doorway_store::{NewClient, NewUser, Store};
use minijinja::context;
use serde::Deserialize;

use crate::config::Config;
use crate::http::error::PageError;
use crate::http::form::TypedQuery;
use crate::http::session::MaybeUser;
use crate::state::{AppState, now};
use crate::ui::ser;

pub const DEMO_CLIENT_ID: &str = "doorway-demo";
pub const DEMO_USERNAME: &str = "demo-user";
const COOKIE: &str = "doorway_demo";

/// The demo app's credentials and the demo user's password, fresh at every start.
pub struct DemoClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    pub username: String,
    pub password: String,
    http: reqwest::Client,
}

/// Creates (or refreshes) the demo user and the demo app. The password and the client secret
/// are new at every start: only their hashes are stored, so they cannot be shown again.
pub async fn prepare(store: &Store, config: &Config) -> anyhow::Result<DemoClient> {
    let password = random_token("")[..16].to_owned();
    let hash = tokio::task::spawn_blocking({
        let password = password.clone();
        move || crate::password::hash_blocking(&password)
    })
    .await??;
    let now = now();
    match store.find_user_by_username(DEMO_USERNAME).await? {
        Some(user) => {
            store.set_password(&user.id, &hash, now).await?;
        }
        None => {
            store
                .create_user(
                    NewUser {
                        id: uuid::Uuid::new_v4().to_string(),
                        sub: random_hex_id(),
                        username: Username::parse(DEMO_USERNAME).map_err(anyhow::Error::msg)?,
                        email: Email::parse("demo@example.com").map_err(anyhow::Error::msg)?,
                        email_verified: true,
                        name: Some("Demo User".into()),
                        password_hash: hash,
                        is_admin: false,
                        is_pro: false,
                        can_pay: false,
                    },
                    now,
                )
                .await?;
        }
    }
    // Recreated at every start so its redirect URI follows the configured issuer.
    store.delete_client(DEMO_CLIENT_ID).await?;
    let redirect_uri = format!("{}{}", config.issuer, doorway_core::routes::DEMO_CALLBACK);
    let client_secret = random_token("dws_");
    store
        .create_client(
            NewClient {
                client_id: DEMO_CLIENT_ID.into(),
                secret_hash: Some(hash_secret(&client_secret)),
                kind: ClientKind::Confidential,
                name: "Doorway demo app".into(),
                homepage_url: Some(format!("{}{}", config.issuer, doorway_core::routes::DEMO)),
                logo_uri: None,
                redirect_uris: vec![RedirectUri::parse(&redirect_uri).context("the demo redirect URI")?],
                redirect_policy: RedirectPolicy::Exact,
                scopes: ScopeSet::parse("openid profile email").map_err(anyhow::Error::msg)?,
                require_pkce: true,
                id_token_alg: "RS256".into(),
                owner_id: None,
                grant_types: Default::default(),
                post_logout_redirect_uris: Vec::new(),
                backchannel_logout_uri: None,
            },
            now,
        )
        .await?;
    let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build()?;
    Ok(DemoClient {
        client_id: DEMO_CLIENT_ID.into(),
        client_secret,
        redirect_uri,
        username: DEMO_USERNAME.into(),
        password,
        http,
    })
}

fn demo(state: &AppState) -> Result<&DemoClient, PageError> {
    state.demo.as_ref().ok_or_else(PageError::not_found)
}

pub async fn page(State(state): State<AppState>, MaybeUser(user): MaybeUser) -> Result<Response, PageError> {
    let demo = demo(&state)?;
    Ok(Html(
        state.ui.render(
            "demo.html",
            context! { client_id => &demo.client_id, current_user => ser(user.map(|u| u.user)) },
        )?,
    )
    .into_response())
}

/// Starts a sign-in the way a website would: fresh state, nonce and PKCE verifier, kept in a
/// cookie of the "website" until the user comes back.
pub async fn start(State(state): State<AppState>, jar: CookieJar) -> Result<Response, PageError> {
    let demo = demo(&state)?;
    let (csrf_state, nonce, verifier) = (random_token(""), random_token(""), random_token(""));
    let challenge = CodeChallenge::for_verifier(&CodeVerifier::parse(&verifier).map_err(anyhow::Error::msg)?);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &demo.client_id)
        .append_pair("redirect_uri", &demo.redirect_uri)
        .append_pair("scope", "openid profile email")
        .append_pair("state", &csrf_state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256")
        .finish();
    let cookie = Cookie::build((COOKIE, format!("{csrf_state}.{nonce}.{verifier}")))
        .path(doorway_core::routes::DEMO)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.https())
        .build();
    let location = format!("{}{}?{query}", state.config.issuer, doorway_core::routes::AUTHORIZE);
    Ok((jar.add(cookie), Redirect::to(&location)).into_response())
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

pub async fn callback(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    jar: CookieJar,
    TypedQuery(query): TypedQuery<CallbackQuery>,
) -> Result<Response, PageError> {
    let current_user = ser(user.map(|u| u.user));
    let demo = demo(&state)?;
    let stored = jar.get(COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    let mut parts = stored.splitn(3, '.');
    let (expected_state, nonce, verifier) = (parts.next(), parts.next(), parts.next());
    let mut removal = Cookie::build((COOKIE, "")).path(doorway_core::routes::DEMO).build();
    removal.make_removal();
    let jar = jar.add(removal);
    let outcome = match (expected_state, nonce, verifier, &query.state) {
        (Some(expected), Some(nonce), Some(verifier), Some(got)) if constant_time_eq(expected, got) => {
            complete(&state, demo, &query, nonce, verifier).await
        }
        _ => {
            Err("The state does not match this browser's sign-in attempt (start again from the demo page).".to_owned())
        }
    };
    let (status, html) = match outcome {
        Ok(ctx) => (StatusCode::OK, state.ui.render("demo_result.html", context! { current_user, ..ctx })?),
        Err(error) => (StatusCode::BAD_REQUEST, state.ui.render("demo_result.html", context! { error, current_user })?),
    };
    Ok((status, jar, Html(html)).into_response())
}

/// The relying party's half: check `iss`, exchange the code, verify the ID token, call userinfo.
fn fail(what: &'static str) -> impl Fn(reqwest::Error) -> String {
    move |e| format!("{what}: {e}")
}

async fn complete(
    state: &AppState,
    demo: &DemoClient,
    query: &CallbackQuery,
    nonce: &str,
    verifier: &str,
) -> Result<minijinja::Value, String> {
    if query.iss.as_deref() != Some(state.config.issuer.as_str()) {
        return Err("The response's iss does not name this provider (RFC 9207).".into());
    }
    if let Some(error) = &query.error {
        return Err(format!("The provider answered {error}: {}", query.error_description.as_deref().unwrap_or("")));
    }
    let code = query.code.as_deref().ok_or("The response carries no code.")?;
    let base = &state.internal_base;
    let response = demo
        .http
        .post(format!("{base}{}", doorway_core::routes::TOKEN))
        .basic_auth(&demo.client_id, Some(&demo.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", demo.redirect_uri.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .map_err(fail("token request"))?;
    let tokens: serde_json::Value = response.json().await.map_err(fail("token response"))?;
    if let Some(error) = tokens.get("error") {
        return Err(format!("The token endpoint answered {error}: {}", tokens["error_description"]));
    }
    let id_token = tokens["id_token"].as_str().ok_or("The token response has no id_token.")?;
    let access_token = tokens["access_token"].as_str().ok_or("The token response has no access_token.")?;

    let jwks: jsonwebtoken::jwk::JwkSet = demo
        .http
        .get(format!("{base}{}", doorway_core::routes::JWKS))
        .send()
        .await
        .map_err(fail("JWKS request"))?
        .json()
        .await
        .map_err(fail("JWKS response"))?;
    let header = jsonwebtoken::decode_header(id_token).map_err(|e| format!("ID token header: {e}"))?;
    let jwk = header.kid.as_deref().and_then(|kid| jwks.find(kid)).ok_or("The ID token's kid is not in the JWKS.")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| format!("JWK: {e}"))?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[&demo.client_id]);
    validation.set_issuer(&[&state.config.issuer]);
    let claims = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(id_token, &key, &validation)
        .map_err(|e| format!("The ID token does not verify: {e}"))?
        .claims;
    if claims.get("nonce").and_then(|n| n.as_str()) != Some(nonce) {
        return Err("The ID token's nonce does not match.".into());
    }
    let userinfo: serde_json::Value = demo
        .http
        .get(format!("{base}{}", doorway_core::routes::USERINFO))
        .bearer_auth(access_token)
        .send()
        .await
        .map_err(fail("userinfo request"))?
        .json()
        .await
        .map_err(fail("userinfo response"))?;
    let mut shown = tokens.clone();
    for secret in ["access_token", "id_token", "refresh_token"] {
        if let Some(value) = shown.get_mut(secret).filter(|v| v.is_string()) {
            let text = value.as_str().unwrap_or_default();
            *value = serde_json::Value::String(format!("{}…", &text[..text.len().min(16)]));
        }
    }
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let claims = serde_json::Value::Object(claims);
    Ok(context! {
        claims_json => pretty(&claims),
        claims => crate::ui::ser(&claims),
        userinfo_json => pretty(&userinfo),
        token_json => pretty(&shown),
    })
}
