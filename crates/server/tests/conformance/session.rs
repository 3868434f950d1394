//! The Basic profile's session modules: `prompt`, `max_age`, `id_token_hint` and `login_hint`
//! (OIDC Core §3.1.2.1), each driven as a second authorization in the same browser.

use std::sync::Arc;
use std::time::Duration;

use crate::html;
use crate::rp::{self, Browser, Check, ensure};
use crate::{Ctx, happy};

modules![
    "oidcc-prompt-login" => prompt_login,
    "oidcc-prompt-none-not-logged-in" => prompt_none_not_logged_in,
    "oidcc-prompt-none-logged-in" => prompt_none_logged_in,
    "oidcc-max-age-1" => max_age_1,
    "oidcc-max-age-10000" => max_age_10000,
    "oidcc-id-token-hint" => id_token_hint,
    "oidcc-login-hint" => login_hint,
];

fn auth_time(claims: &serde_json::Value) -> Check<i64> {
    claims["auth_time"].as_i64().ok_or_else(|| "no auth_time in the ID token".into())
}

/// `prompt=login`: the person must sign in again although signed in; the second ID token's
/// auth_time is later than the first's.
async fn prompt_login(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let first = happy(&ctx, &browser, &user, &[]).await?;
    // auth_time has one-second resolution.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = happy(&ctx, &browser, &user, &[("prompt", "login")]).await?;
    ensure(second.flow.login_pages.len() == 1, "prompt=login did not show the login page again")?;
    ensure(first.tokens.claims["sub"] == second.tokens.claims["sub"], "sub changed between sign-ins")?;
    let (a, b) = (auth_time(&first.tokens.claims)?, auth_time(&second.tokens.claims)?);
    ensure(b > a, format!("auth_time did not increase ({a} then {b})"))?;
    Ok(String::new())
}

/// `prompt=none` with nobody signed in: `login_required` (or another error that needs the
/// person, OIDC Core §3.1.2.6) at the redirect URI, with state; no page is shown.
async fn prompt_none_not_logged_in(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let request = rp::auth_request(&ctx.rp, &[("prompt", "none")]);
    let flow = browser.authorize(&ctx.op, &user, &request, false).await?;
    ensure(flow.login_pages.is_empty() && flow.consent_pages == 0, "a page was shown despite prompt=none")?;
    let allowed = ["login_required", "interaction_required", "consent_required", "account_selection_required"];
    let error = rp::expect_error(&ctx.op, &ctx.rp, &flow, &request, &allowed)?;
    ensure(error == "login_required", format!("{error}: login_required is the precise answer"))?;
    Ok(error)
}

/// `prompt=none` when signed in (and consent given): a code straight away, same subject.
async fn prompt_none_logged_in(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let first = happy(&ctx, &browser, &user, &[]).await?;
    let second = happy(&ctx, &browser, &user, &[("prompt", "none")]).await?;
    ensure(second.flow.login_pages.is_empty() && second.flow.consent_pages == 0, "a page was shown")?;
    ensure(first.tokens.claims["sub"] == second.tokens.claims["sub"], "sub changed")?;
    // Signed in, but never asked about the second client: consent_required (OIDC Core §3.1.2.6).
    let request = rp::auth_request(&ctx.rp2, &[("prompt", "none")]);
    let flow = browser.authorize(&ctx.op, &user, &request, false).await?;
    rp::expect_error(&ctx.op, &ctx.rp2, &flow, &request, &["consent_required"])?;
    Ok(String::new())
}

/// `max_age=1` after 2 s: the person must sign in again; auth_time is present, later than the
/// first, and recent.
async fn max_age_1(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let first = happy(&ctx, &browser, &user, &[]).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Start at a second boundary, so the max_age=0 check below most likely falls within the
    // same second as this sign-in (the case Doorway once let through).
    let into_second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or_default();
    tokio::time::sleep(Duration::from_millis(u64::from(1000 - into_second))).await;
    let second = happy(&ctx, &browser, &user, &[("max_age", "1")]).await?;
    ensure(second.flow.login_pages.len() == 1, "max_age=1 did not show the login page again")?;
    let (a, b) = (auth_time(&first.tokens.claims)?, auth_time(&second.tokens.claims)?);
    ensure(b > a, format!("auth_time did not increase ({a} then {b})"))?;
    ensure((rp::now() - b).abs() <= 60, "auth_time is not recent")?;
    // OIDC Core §3.1.2.1: max_age=0 is like prompt=login, even within the second of a sign-in.
    let third = happy(&ctx, &browser, &user, &[("max_age", "0")]).await?;
    ensure(third.flow.login_pages.len() == 1, "max_age=0 did not show the login page again")?;
    Ok(String::new())
}

/// `max_age=10000`: the earlier sign-in is recent enough; auth_time is present and unchanged.
async fn max_age_10000(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let first = happy(&ctx, &browser, &user, &[]).await?;
    let second = happy(&ctx, &browser, &user, &[("max_age", "10000")]).await?;
    ensure(second.flow.login_pages.is_empty(), "max_age=10000 asked the person to sign in again")?;
    let (a, b) = (auth_time(&first.tokens.claims)?, auth_time(&second.tokens.claims)?);
    ensure(a == b, format!("auth_time changed without a new sign-in ({a} then {b})"))?;
    Ok(String::new())
}

/// `id_token_hint` (with `prompt=none`, as the OIDF module sends it) naming the signed-in
/// person: a code, no page, the same subject. A hint whose signature was altered is refused.
async fn id_token_hint(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let first = happy(&ctx, &browser, &user, &[]).await?;
    let hint = first.tokens.id_token.clone();
    let second = happy(&ctx, &browser, &user, &[("prompt", "none"), ("id_token_hint", &hint)]).await?;
    ensure(second.flow.login_pages.is_empty(), "a hint for the signed-in person asked for a sign-in")?;
    ensure(first.tokens.claims["sub"] == second.tokens.claims["sub"], "sub changed")?;
    // Not in the OIDF module: a hint naming someone else is login_required under prompt=none
    // (OIDC Core §3.1.2.1: the OP must not return a token for another user).
    let other = Browser::new(&ctx.op);
    let theirs = happy(&ctx, &other, &ctx.other_user, &[]).await?;
    let request = rp::auth_request(&ctx.rp, &[("prompt", "none"), ("id_token_hint", &theirs.tokens.id_token)]);
    let flow = browser.authorize(&ctx.op, &user, &request, false).await?;
    rp::expect_error(&ctx.op, &ctx.rp, &flow, &request, &["login_required"])?;
    // Nor may a forged hint pass for a real one.
    let forged = rp::tampered(&hint);
    let request = rp::auth_request(&ctx.rp, &[("prompt", "none"), ("id_token_hint", &forged)]);
    let flow = browser.authorize(&ctx.op, &user, &request, false).await?;
    rp::expect_error(&ctx.op, &ctx.rp, &flow, &request, &["invalid_request", "login_required"])?;
    Ok(String::new())
}

/// `login_hint`: the login page arrives with the username filled in.
async fn login_hint(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let done = happy(&ctx, &browser, &user, &[("login_hint", &user)]).await?;
    let page = done.flow.login_pages.first().ok_or("no login page was shown")?;
    let form = html::form_with(page, "password").ok_or("the login page has no form")?;
    ensure(
        form.value("username") == Some(user.as_str()),
        format!("username prefilled as {:?}", form.value("username")),
    )?;
    Ok(String::new())
}
