//! The RP-Initiated Logout profile (OpenID Connect RP-Initiated Logout 1.0). Each module signs in,
//! sends the browser to `end_session_endpoint` with the module's parameters, checks where it
//! lands, and then proves the session state with `prompt=none` (as the OIDF modules do): after a
//! logout it must answer `login_required`.

use std::sync::Arc;

use reqwest::header::{CONTENT_TYPE, LOCATION};
use serde_json::json;

use crate::html;
use crate::rp::{self, Browser, Check, ensure};
use crate::{Ctx, Done, happy};

modules![
    "oidcc-rp-initiated-logout" => logout,
    "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri" => bad_post_logout_redirect_uri,
    "oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri" => query_added,
    "oidcc-rp-initiated-logout-modified-id-token-hint" => modified_id_token_hint,
    "oidcc-rp-initiated-logout-bad-id-token-hint" => bad_id_token_hint,
    "oidcc-rp-initiated-logout-no-id-token-hint" => no_id_token_hint,
    "oidcc-rp-initiated-logout-no-params" => no_params,
    "oidcc-rp-initiated-logout-no-post-logout-redirect-uri" => no_post_logout_redirect_uri,
    "oidcc-rp-initiated-logout-no-state" => no_state,
    "oidcc-rp-initiated-logout-only-state" => only_state,
];

async fn signed_in(ctx: &Ctx, user: &str) -> Check<(Browser, Done)> {
    let browser = Browser::new(&ctx.op);
    let done = happy(ctx, &browser, user, &[]).await?;
    Ok((browser, done))
}

/// The browser sent to the end_session_endpoint with `params` (GET: §2).
async fn end_session(ctx: &Ctx, browser: &Browser, params: &[(&str, &str)]) -> Check<reqwest::Response> {
    let mut url = url::Url::parse(&ctx.op.endpoint("end_session_endpoint")?).map_err(|e| e.to_string())?;
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
    browser.get(url.as_str()).await
}

/// The OIDF modules' long state (128 characters), to catch an OP that truncates or alters it.
fn long_state() -> String {
    let mut state = String::new();
    while state.len() < 128 {
        state.push_str(&rp::random(""));
    }
    state.truncate(128);
    state
}

/// §3: a redirect to exactly the registered URI, with exactly `state` (or none).
fn expect_redirect(ctx: &Ctx, response: &reqwest::Response, state: Option<&str>) -> Check<()> {
    ensure(matches!(response.status().as_u16(), 302 | 303), format!("expected a redirect, got {}", response.status()))?;
    let location = rp::location(response)?;
    let (base, _) = location.split_once('?').unwrap_or((&location, ""));
    ensure(base == ctx.rp.post_logout_redirect_uri, format!("redirected to {location}"))?;
    let query = rp::query_of(&location);
    ensure(query.get("state").map(String::as_str) == state, format!("state came back as {:?}", query.get("state")))?;
    ensure(query.len() == usize::from(state.is_some()), format!("unexpected parameters in {location}"))?;
    Ok(())
}

/// §4: a request that fails validation is not followed: an error page, never a redirect.
async fn expect_error_page(response: reqwest::Response) -> Check<String> {
    ensure(response.headers().get(LOCATION).is_none(), "redirected despite an invalid logout request")?;
    let status = response.status().as_u16();
    ensure((400..500).contains(&status), format!("expected an error page, got {status}"))?;
    let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    ensure(content_type.starts_with("text/html"), "the error is not a page")?;
    Ok(format!("error page {status}"))
}

/// A page (200, no redirect) with the "Sign out?" form; submits it as the person would.
async fn confirm(ctx: &Ctx, browser: &Browser, response: reqwest::Response) -> Check<reqwest::Response> {
    ensure(response.headers().get(LOCATION).is_none(), "redirected before the person confirmed")?;
    ensure(response.status() == 200, format!("expected the confirmation page, got {}", response.status()))?;
    let here = response.url().to_string();
    let page = response.text().await.map_err(|e| e.to_string())?;
    let endpoint = ctx.op.endpoint("end_session_endpoint")?;
    let form = html::forms(&page)
        .into_iter()
        .find(|f| rp::resolve(&here, &f.action).is_ok_and(|a| a == endpoint) && f.method == "post")
        .ok_or_else(|| format!("no sign-out form on {}", rp::snippet(&page)))?;
    browser.submit(&here, &form, &[], None).await
}

/// The session is over: `prompt=none` gets an error that needs the person (OIDC Core §3.1.2.6).
async fn expect_signed_out(ctx: &Ctx, browser: &Browser, user: &str) -> Check<()> {
    let request = rp::auth_request(&ctx.rp, &[("prompt", "none")]);
    let flow = browser.authorize(&ctx.op, user, &request, false).await?;
    let allowed = ["login_required", "interaction_required", "consent_required", "account_selection_required"];
    rp::expect_error(&ctx.op, &ctx.rp, &flow, &request, &allowed).map(|_| ())
}

/// The session survived: `prompt=none` still gets a code.
async fn expect_signed_in(ctx: &Ctx, browser: &Browser, user: &str) -> Check<()> {
    let request = rp::auth_request(&ctx.rp, &[("prompt", "none")]);
    let flow = browser.authorize(&ctx.op, user, &request, false).await?;
    rp::expect_code(&ctx.op, &ctx.rp, &flow, &request).map(|_| ()).map_err(|e| format!("session lost: {e}"))
}

/// §2, §3: id_token_hint, post_logout_redirect_uri and state: signed out at once and sent back
/// to the registered URI with the state unchanged.
async fn logout(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let (browser, done) = signed_in(&ctx, &user).await?;
    let state = long_state();
    let params = [
        ("id_token_hint", done.tokens.id_token.as_str()),
        ("post_logout_redirect_uri", &ctx.rp.post_logout_redirect_uri),
        ("state", &state),
    ];
    let response = end_session(&ctx, &browser, &params).await?;
    expect_redirect(&ctx, &response, Some(&state))?;
    expect_signed_out(&ctx, &browser, &user).await?;
    // §2: the OP MUST support POST as well (an RP's auto-submitted form).
    let again = happy(&ctx, &browser, &user, &[]).await?;
    ensure(again.flow.login_pages.len() == 1, "signed out, yet not asked to sign in again")?;
    let params: Vec<(String, String)> = [
        ("id_token_hint", again.tokens.id_token.as_str()),
        ("post_logout_redirect_uri", &ctx.rp.post_logout_redirect_uri),
        ("state", &state),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let response = browser.post_form(&ctx.op.endpoint("end_session_endpoint")?, &params).await?;
    expect_redirect(&ctx, &response, Some(&state))?;
    expect_signed_out(&ctx, &browser, &user).await?;
    // Nobody signed in any more: the verified redirect is still honoured (documented behaviour).
    let params = [
        ("id_token_hint", again.tokens.id_token.as_str()),
        ("post_logout_redirect_uri", &ctx.rp.post_logout_redirect_uri),
        ("state", &state),
    ];
    expect_redirect(&ctx, &end_session(&ctx, &browser, &params).await?, Some(&state))?;
    Ok("GET and POST".into())
}

/// §3: a post_logout_redirect_uri that was never registered is not redirected to.
async fn bad_post_logout_redirect_uri(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let (browser, done) = signed_in(&ctx, &user).await?;
    let params = [
        ("id_token_hint", done.tokens.id_token.as_str()),
        ("post_logout_redirect_uri", "https://attacker.example/logged-out"),
        ("state", "s"),
    ];
    let note = expect_error_page(end_session(&ctx, &browser, &params).await?).await?;
    // Nothing from the refused request was acted on.
    expect_signed_in(&ctx, &browser, &user).await?;
    Ok(note)
}

/// §3 (exact match): the registered URI with a query added is a different URI.
async fn query_added(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let (browser, done) = signed_in(&ctx, &user).await?;
    let uri = format!("{}?foo=bar", ctx.rp.post_logout_redirect_uri);
    let params = [("id_token_hint", done.tokens.id_token.as_str()), ("post_logout_redirect_uri", &uri), ("state", "s")];
    expect_error_page(end_session(&ctx, &browser, &params).await?).await
}

/// §4: the OP MUST verify it issued the id_token_hint; an altered signature is refused.
async fn modified_id_token_hint(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let (browser, done) = signed_in(&ctx, &user).await?;
    let forged = rp::tampered(&done.tokens.id_token);
    let params = [
        ("id_token_hint", forged.as_str()),
        ("post_logout_redirect_uri", &ctx.rp.post_logout_redirect_uri),
        ("state", "s"),
    ];
    expect_error_page(end_session(&ctx, &browser, &params).await?).await
}

/// §4: a hint Doorway never signed (here an unsigned JWT with the real claims).
async fn bad_id_token_hint(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let (browser, done) = signed_in(&ctx, &user).await?;
    let claims = rp::payload(&done.tokens.id_token)?;
    let unsigned = format!("{}.{}.", rp::b64(&json!({"alg": "none"})), rp::b64(&claims));
    let params = [
        ("id_token_hint", unsigned.as_str()),
        ("post_logout_redirect_uri", &ctx.rp.post_logout_redirect_uri),
        ("state", "s"),
    ];
    expect_error_page(end_session(&ctx, &browser, &params).await?).await
}

/// A post_logout_redirect_uri without id_token_hint: the OIDF module requires that the OP does
/// not redirect and shows an error or asks the person. Without client_id Doorway cannot tell
/// whose URI it is (error page); with client_id (RP-Initiated Logout 1.0 §2) it asks first, and
/// only after the person confirms does it redirect to the verified URI.
async fn no_id_token_hint(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let (browser, _) = signed_in(&ctx, &user).await?;
    let params = [("post_logout_redirect_uri", ctx.rp.post_logout_redirect_uri.as_str()), ("state", "s1")];
    expect_error_page(end_session(&ctx, &browser, &params).await?).await?;
    expect_signed_in(&ctx, &browser, &user).await?;
    let params = [
        ("client_id", ctx.rp.client_id.as_str()),
        ("post_logout_redirect_uri", &ctx.rp.post_logout_redirect_uri),
        ("state", "s2"),
    ];
    let asked = end_session(&ctx, &browser, &params).await?;
    let confirmed = confirm(&ctx, &browser, asked).await?;
    expect_redirect(&ctx, &confirmed, Some("s2"))?;
    expect_signed_out(&ctx, &browser, &user).await?;
    Ok("without client_id: error page; with client_id: asked, then redirected".into())
}

/// No parameters: the person is asked, then signed out, and stays on Doorway.
async fn no_params(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let (browser, _) = signed_in(&ctx, &user).await?;
    let asked = end_session(&ctx, &browser, &[]).await?;
    let confirmed = confirm(&ctx, &browser, asked).await?;
    ensure(confirmed.status() == 200 && confirmed.headers().get(LOCATION).is_none(), "expected the signed-out page")?;
    expect_signed_out(&ctx, &browser, &user).await?;
    Ok(String::new())
}

/// id_token_hint only: signed out at once, and a page (no redirect: none was asked for).
async fn no_post_logout_redirect_uri(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let (browser, done) = signed_in(&ctx, &user).await?;
    let response = end_session(&ctx, &browser, &[("id_token_hint", &done.tokens.id_token)]).await?;
    ensure(response.headers().get(LOCATION).is_none(), "redirected without a post_logout_redirect_uri")?;
    ensure(response.status() == 200, format!("expected the signed-out page, got {}", response.status()))?;
    expect_signed_out(&ctx, &browser, &user).await?;
    Ok(String::new())
}

/// No state: the redirect carries no state parameter.
async fn no_state(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let (browser, done) = signed_in(&ctx, &user).await?;
    let params = [
        ("id_token_hint", done.tokens.id_token.as_str()),
        ("post_logout_redirect_uri", &ctx.rp.post_logout_redirect_uri),
    ];
    let response = end_session(&ctx, &browser, &params).await?;
    expect_redirect(&ctx, &response, None)?;
    expect_signed_out(&ctx, &browser, &user).await?;
    Ok(String::new())
}

/// Only state: nowhere to send it, so no redirect; the person is asked, then signed out.
async fn only_state(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let (browser, _) = signed_in(&ctx, &user).await?;
    let asked = end_session(&ctx, &browser, &[("state", "only")]).await?;
    let confirmed = confirm(&ctx, &browser, asked).await?;
    ensure(confirmed.headers().get(LOCATION).is_none(), "redirected with only state")?;
    ensure(confirmed.status() == 200, format!("expected the signed-out page, got {}", confirmed.status()))?;
    expect_signed_out(&ctx, &browser, &user).await?;
    Ok(String::new())
}
