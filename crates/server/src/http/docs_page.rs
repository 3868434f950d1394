//! `/docs/sign-in`: the page for app developers — the scopes this installation offers (from its
//! registry), the endpoints (read from the discovery document, so they never disagree), the
//! button gallery with ready-to-paste snippets, and a worked example.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use doorway_core::routes;
use minijinja::context;

use crate::http::badges::{self, Size, Theme};
use crate::http::error::PageError;
use crate::http::session::MaybeUser;
use crate::state::AppState;
use crate::ui::ser;

/// Stand-ins in the gallery's snippets, for the developer to replace.
const EXAMPLE_CLIENT_ID: &str = "YOUR_CLIENT_ID";
const EXAMPLE_REDIRECT: &str = "https://your-app.example/callback";

/// The endpoints worth listing, by their discovery names, with what each is for.
const ENDPOINTS: [(&str, &str); 8] = [
    ("authorization_endpoint", "Send the browser here to sign in (GET or POST)"),
    ("token_endpoint", "Exchange a code or refresh token for tokens"),
    ("userinfo_endpoint", "The signed-in person's claims (Bearer access token)"),
    ("jwks_uri", "Public keys to verify ID tokens"),
    ("end_session_endpoint", "Sign the person out (RP-initiated logout)"),
    ("revocation_endpoint", "Revoke a token (RFC 7009)"),
    ("introspection_endpoint", "Check a token (RFC 7662, confidential apps)"),
    ("device_authorization_endpoint", "Device flow for TVs and command lines (RFC 8628)"),
];

pub async fn sign_in(State(state): State<AppState>, MaybeUser(user): MaybeUser) -> Result<Response, PageError> {
    let issuer = &state.config.issuer;
    let platform = &state.config.platform_name;
    let discovery: serde_json::Value = serde_json::from_str(&state.discovery).unwrap_or_default();
    let endpoints: Vec<_> = ENDPOINTS
        .iter()
        .filter_map(|(name, what)| {
            discovery.get(*name).and_then(|v| v.as_str()).map(|url| context! { name => *name, what => *what, url })
        })
        .collect();
    let link = badges::sign_in_link(issuer, EXAMPLE_CLIENT_ID, EXAMPLE_REDIRECT);
    let mut gallery = Vec::new();
    for theme in Theme::ALL {
        for size in Size::ALL {
            gallery.push(context! {
                id => format!("{}-{}", size.as_str(), theme.as_str()),
                size => size.as_str(),
                theme => theme.as_str(),
                path => badges::badge_path(platform, size, theme),
                html => badges::html_snippet(issuer, platform, &link, size, theme),
                markdown => badges::markdown_snippet(issuer, platform, &link, size, theme),
            });
        }
    }
    let html = state.ui.render(
        "docs_sign_in.html",
        context! {
            current_user => ser(user.map(|u| u.user)),
            discovery_url => format!("{issuer}{}", routes::DISCOVERY),
            endpoints,
            scopes => ser(state.scopes.for_display(state.scopes.known())),
            gallery,
            link,
            token_endpoint => discovery.get("token_endpoint").and_then(|v| v.as_str()),
            userinfo_endpoint => discovery.get("userinfo_endpoint").and_then(|v| v.as_str()),
            example_client_id => EXAMPLE_CLIENT_ID,
            example_redirect => EXAMPLE_REDIRECT,
            console => routes::SETTINGS_APPLICATIONS,
            generic_badge => format!("{}/sign-in-md-light.svg", routes::BADGES),
        },
    )?;
    Ok(Html(html).into_response())
}
