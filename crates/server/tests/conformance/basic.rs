//! The Basic profile's request and token modules: the happy flows, client authentication,
//! userinfo, scopes, parameters Doorway must accept or ignore, code reuse, redirect URI
//! registration, request objects, PKCE and refresh tokens.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, LOCATION};
use serde_json::{Value, json};

use crate::rp::{self, Auth, Bearer, Browser, Check, Expect, ensure};
use crate::{Ctx, code_flow, code_flow_at, happy};

modules![
    "oidcc-server" => server,
    "oidcc-server-client-secret-post" => server_client_secret_post,
    "oidcc-response-type-missing" => response_type_missing,
    "oidcc-idtoken-signature" => idtoken_signature,
    "oidcc-userinfo-get" => userinfo_get,
    "oidcc-userinfo-post-header" => userinfo_post_header,
    "oidcc-userinfo-post-body" => userinfo_post_body,
    "oidcc-ensure-request-without-nonce-succeeds-for-code-flow" => without_nonce,
    "oidcc-scope-profile" => scope_profile,
    "oidcc-scope-email" => scope_email,
    "oidcc-scope-all" => scope_all,
    "oidcc-alternate-happy-flow" => alternate_happy_flow,
    "oidcc-display-page" => display_page,
    "oidcc-display-popup" => display_popup,
    "oidcc-ui-locales" => ui_locales,
    "oidcc-claims-locales" => claims_locales,
    "oidcc-ensure-request-with-unknown-parameter-succeeds" => unknown_parameter,
    "oidcc-ensure-request-with-acr-values-succeeds" => acr_values,
    "oidcc-codereuse" => codereuse,
    "oidcc-codereuse-30seconds" => codereuse_30seconds,
    "oidcc-ensure-registered-redirect-uri" => registered_redirect_uri,
    "oidcc-ensure-post-request-succeeds" => post_request,
    "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported" => unsigned_request_object,
    "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported" => request_uri_unsigned,
    "oidcc-claims-essential" => claims_essential,
    "oidcc-ensure-request-with-valid-pkce-succeeds" => valid_pkce,
    "oidcc-refresh-token" => refresh_token,
];

/// OIDC Core §3.1: the code flow end to end, then userinfo (§5.3) for the same subject.
async fn server(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let done = happy(&ctx, &browser, &user, &[]).await?;
    ensure(done.flow.login_pages.len() == 1, "the person was not asked to sign in")?;
    rp::userinfo_ok(&ctx.op, &done.tokens, Bearer::Get).await?;
    let header = jsonwebtoken::decode_header(&done.tokens.id_token).map_err(|e| e.to_string())?;
    // Not in the OIDF module (its state is alphanumeric): a state full of reserved characters
    // comes back byte for byte (RFC 6749 §4.1.2), on success and on error.
    let state = r#"{"next":"/a b?c=d&e=f+g","n":"é%20"}"#;
    happy(&ctx, &browser, &user, &[("state", state)]).await?;
    let request = rp::auth_request(&ctx.rp, &[("state", state), ("response_type", "token")]);
    let flow = browser.authorize(&ctx.op, &user, &request, false).await?;
    rp::expect_error(&ctx.op, &ctx.rp, &flow, &request, &["unsupported_response_type"])?;
    Ok(format!("alg {:?}", header.alg))
}

/// RFC 6749 §2.3.1: the client secret in the request body.
async fn server_client_secret_post(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let done = code_flow(&ctx, &browser, &user, &[], false, Auth::Post, &[]).await?;
    rp::userinfo_ok(&ctx.op, &done.tokens, Bearer::Get).await?;
    Ok(String::new())
}

/// RFC 6749 §3.1.1: without response_type the request is refused: an error page, or (the
/// redirect URI being valid) `invalid_request` / `unsupported_response_type` with state.
async fn response_type_missing(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let request = rp::auth_request(&ctx.rp, &[("response_type", "")]);
    let mut url = url::Url::parse(&ctx.op.endpoint("authorization_endpoint")?).map_err(|e| e.to_string())?;
    url.query_pairs_mut().extend_pairs(&request);
    let response = browser.get(url.as_str()).await?;
    if response.headers().get(LOCATION).is_none() {
        let status = response.status().as_u16();
        ensure((400..500).contains(&status), format!("no redirect and status {status}"))?;
        return Ok(format!("error page {status}"));
    }
    let flow = browser.drive(&user, response).await?;
    ensure(flow.login_pages.is_empty(), "the person was asked to sign in for an invalid request")?;
    let error = rp::expect_error(&ctx.op, &ctx.rp, &flow, &request, &["invalid_request", "unsupported_response_type"])?;
    Ok(format!("redirected with {error}"))
}

/// OIDC Core §3.1.3.7 step 6: the ID token is signed (never `alg: none`) by a published key, and
/// a token whose signature was altered does not verify (so the check is not vacuous). Run for
/// every algorithm discovery offers, each with a client registered for it (the OIDF module
/// checks the one its client is configured with).
async fn idtoken_signature(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let advertised = ctx.op.meta["id_token_signing_alg_values_supported"].as_array().cloned().unwrap_or_default();
    let mut checked = Vec::new();
    for (expected, client) in std::iter::once(("RS256".to_owned(), ctx.rp.clone())).chain(ctx.by_alg.iter().cloned()) {
        let done = code_flow_at(&ctx, &client, &browser, &user, &[], false, Auth::Basic, &[]).await?;
        let header = jsonwebtoken::decode_header(&done.tokens.id_token).map_err(|e| e.to_string())?;
        let alg = format!("{:?}", header.alg);
        ensure(alg == expected, format!("the client registered for {expected} got {alg}"))?;
        ensure(advertised.iter().any(|a| *a == alg), format!("{alg} is not advertised"))?;
        let forged = rp::tampered(&done.tokens.id_token);
        let expect = Expect { nonce: rp::param(&done.request, "nonce"), auth_time_required: false };
        ensure(
            rp::verify_id_token(&ctx.op, &client, &forged, None, &expect).await.is_err(),
            format!("an {alg} ID token with an altered signature verified"),
        )?;
        checked.push(alg);
    }
    Ok(format!("verified: {}", checked.join(", ")))
}

async fn userinfo_with(ctx: Arc<Ctx>, user: String, how: Bearer) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let done = happy(&ctx, &browser, &user, &[("scope", "openid profile email")]).await?;
    let claims = rp::userinfo_ok(&ctx.op, &done.tokens, how).await?;
    ensure(claims["email"].is_string(), "userinfo lacks the email the scope granted")?;
    // RFC 6750 §3.1: a token that is not valid is 401 with error="invalid_token".
    let (status, headers) = bogus_userinfo(&ctx, how).await?;
    ensure(status == 401, format!("an invalid access token got {status}"))?;
    ensure(headers.contains("invalid_token"), format!("WWW-Authenticate: {headers}"))?;
    Ok(String::new())
}

async fn bogus_userinfo(ctx: &Ctx, how: Bearer) -> Check<(u16, String)> {
    let endpoint = ctx.op.endpoint("userinfo_endpoint")?;
    let http = reqwest::Client::new();
    let token = "not-a-token-Doorway-issued-0123456789";
    let request = match how {
        Bearer::Get => http.get(&endpoint).bearer_auth(token),
        Bearer::PostHeader => http.post(&endpoint).bearer_auth(token),
        Bearer::PostBody => http.post(&endpoint).form(&[("access_token", token)]),
    };
    let response = request.send().await.map_err(|e| e.to_string())?;
    let challenge = response.headers().get(reqwest::header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok());
    Ok((response.status().as_u16(), challenge.unwrap_or_default().to_owned()))
}

/// OIDC Core §5.3.1, RFC 6750 §2.1: GET with the Authorization header.
async fn userinfo_get(ctx: Arc<Ctx>, user: String) -> Check<String> {
    userinfo_with(ctx, user, Bearer::Get).await
}

/// OIDC Core §5.3.1, RFC 6750 §2.1: POST with the Authorization header.
async fn userinfo_post_header(ctx: Arc<Ctx>, user: String) -> Check<String> {
    userinfo_with(ctx, user, Bearer::PostHeader).await
}

/// RFC 6750 §2.2: POST with `access_token` in a form body.
async fn userinfo_post_body(ctx: Arc<Ctx>, user: String) -> Check<String> {
    userinfo_with(ctx, user, Bearer::PostBody).await
}

/// OIDC Core §3.1.2.1: nonce is OPTIONAL in the code flow, and then absent from the ID token.
async fn without_nonce(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let done = happy(&ctx, &browser, &user, &[("nonce", "")]).await?;
    ensure(done.tokens.claims.get("nonce").is_none(), "a nonce appeared in the ID token")?;
    Ok(String::new())
}

/// OIDC Core §5.1: the type of every standard claim that came back.
fn claim_types(claims: &Value) -> Check<()> {
    for name in ["name", "given_name", "family_name", "preferred_username", "picture", "website", "email", "locale"] {
        if let Some(value) = claims.get(name) {
            ensure(value.is_string(), format!("{name} is not a string"))?;
        }
    }
    for name in ["email_verified", "phone_number_verified"] {
        if let Some(value) = claims.get(name) {
            ensure(value.is_boolean(), format!("{name} is not a boolean"))?;
        }
    }
    if let Some(value) = claims.get("updated_at") {
        ensure(value.is_i64(), "updated_at is not a number")?;
    }
    Ok(())
}

const PROFILE_CLAIMS: [&str; 5] = ["name", "preferred_username", "given_name", "family_name", "picture"];

/// OIDC Core §5.4: the claims a scope stands for come back (from userinfo, as an access token
/// was issued), with their standard types. The OIDF module skips a scope the OP does not list
/// in scopes_supported.
async fn scope_flow(ctx: &Ctx, user: &str, wanted: &[&str], reverse: bool) -> Check<(Value, Vec<String>)> {
    let supported: Vec<&str> = ctx.op.meta["scopes_supported"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut asked: Vec<&str> = vec!["openid"];
    let mut skipped = Vec::new();
    for scope in wanted {
        if supported.contains(scope) {
            asked.push(scope);
        } else {
            skipped.push((*scope).to_owned());
        }
    }
    if reverse {
        asked.reverse();
    }
    let scope = asked.join(" ");
    let browser = Browser::new(&ctx.op);
    let done = happy(ctx, &browser, user, &[("scope", &scope)]).await?;
    let claims = rp::userinfo_ok(&ctx.op, &done.tokens, Bearer::Get).await?;
    claim_types(&claims)?;
    claim_types(&done.tokens.claims)?;
    if asked.contains(&"profile") {
        ensure(PROFILE_CLAIMS.iter().any(|c| claims.get(*c).is_some()), "no profile claim came back")?;
    }
    if asked.contains(&"email") {
        ensure(claims["email"].is_string(), "no email came back")?;
        ensure(claims["email_verified"].is_boolean(), "no email_verified came back")?;
    }
    Ok((claims, skipped))
}

async fn scope_profile(ctx: Arc<Ctx>, user: String) -> Check<String> {
    scope_flow(&ctx, &user, &["profile"], false).await.map(|_| String::new())
}

async fn scope_email(ctx: Arc<Ctx>, user: String) -> Check<String> {
    scope_flow(&ctx, &user, &["email"], false).await.map(|_| String::new())
}

async fn scope_all(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let (_, skipped) = scope_flow(&ctx, &user, &["address", "email", "phone", "profile"], false).await?;
    if skipped.is_empty() {
        return Ok(String::new());
    }
    // Doorway's documented policy (stricter than OIDC Core §3.1.2.1's "SHOULD ignore"): a scope
    // it does not offer is refused with invalid_scope, at the redirect URI, with state.
    let scope = format!("openid {}", skipped.join(" "));
    let browser = Browser::new(&ctx.op);
    let request = rp::auth_request(&ctx.rp, &[("scope", &scope)]);
    let flow = browser.authorize(&ctx.op, &user, &request, false).await?;
    rp::expect_error(&ctx.op, &ctx.rp, &flow, &request, &["invalid_scope"])?;
    Ok(format!("not in scopes_supported: {} (asked for anyway: invalid_scope)", skipped.join(", ")))
}

/// RFC 6749 §3.3: scope order does not matter; nor does the order of the parameters.
async fn alternate_happy_flow(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let (_, _) = scope_flow(&ctx, &user, &["email"], true).await?;
    // The parameters in another order as well (auth_request puts client_id first; reversed).
    let browser = Browser::new(&ctx.op);
    let mut request = rp::auth_request(&ctx.rp, &[("scope", "email openid")]);
    request.reverse();
    let flow = browser.authorize(&ctx.op, &user, &request, false).await?;
    rp::expect_code(&ctx.op, &ctx.rp, &flow, &request)?;
    Ok(String::new())
}

/// OIDC Core §3.1.2.1: a request with `extra` succeeds like any other.
async fn accepted(ctx: Arc<Ctx>, user: String, extra: &[(&str, &str)]) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    happy(&ctx, &browser, &user, extra).await?;
    Ok(String::new())
}

async fn display_page(ctx: Arc<Ctx>, user: String) -> Check<String> {
    accepted(ctx, user, &[("display", "page")]).await
}

async fn display_popup(ctx: Arc<Ctx>, user: String) -> Check<String> {
    accepted(ctx, user, &[("display", "popup")]).await.map(|_| "pages are responsive; popup looks like page".into())
}

async fn ui_locales(ctx: Arc<Ctx>, user: String) -> Check<String> {
    accepted(ctx, user, &[("ui_locales", "se")]).await.map(|_| "accepted; pages stay English".into())
}

async fn claims_locales(ctx: Arc<Ctx>, user: String) -> Check<String> {
    accepted(ctx, user, &[("claims_locales", "se")]).await
}

/// RFC 6749 §3.1: unknown parameters MUST be ignored.
async fn unknown_parameter(ctx: Arc<Ctx>, user: String) -> Check<String> {
    accepted(ctx, user, &[("extra", "foobar"), ("x-unknown", "1")]).await
}

/// OIDC Core §3.1.2.1: acr_values is a voluntary request; the OP may satisfy it or not.
async fn acr_values(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let done = happy(&ctx, &browser, &user, &[("acr_values", "1 2")]).await?;
    if let Some(acr) = done.tokens.claims.get("acr") {
        ensure(acr.is_string(), "acr is not a string")?;
    }
    Ok(String::new())
}

/// RFC 6749 §4.1.2, §5.2: a second redemption is `invalid_grant` (400, JSON, a valid
/// error_description), and (RFC 6749 §4.1.2, SHOULD; Doorway does) tokens issued from the code
/// are revoked.
async fn reuse(ctx: &Ctx, user: &str, wait: Duration) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let request = rp::auth_request(&ctx.rp, &[]);
    let flow = browser.authorize(&ctx.op, user, &request, false).await?;
    let code = rp::expect_code(&ctx.op, &ctx.rp, &flow, &request)?;
    let expect = Expect { nonce: rp::param(&request, "nonce"), auth_time_required: false };
    let tokens = rp::redeem(&ctx.op, &ctx.rp, Auth::Basic, &code, &[], &expect).await?;
    tokio::time::sleep(wait).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", &ctx.rp.redirect_uri)];
    let (status, headers, body) = rp::token_call(&ctx.op, &ctx.rp, Auth::Basic, &form).await?;
    ensure(status == 400, format!("a reused code got {status}"))?;
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    ensure(content_type.starts_with("application/json"), format!("error Content-Type {content_type}"))?;
    ensure(body["error"] == "invalid_grant", format!("a reused code got {}", body["error"]))?;
    if let Some(description) = body["error_description"].as_str() {
        rp::error_text_is_valid(description)?;
    }
    if let Some(uri) = body.get("error_uri") {
        ensure(uri.as_str().is_some_and(|u| url::Url::parse(u).is_ok()), "error_uri is not a URI")?;
    }
    let (status, _) = rp::userinfo(&ctx.op, &tokens.access_token, Bearer::Get).await?;
    ensure(status == 401, format!("the access token from the replayed code still works ({status})"))?;
    if let Some(refresh) = &tokens.refresh_token {
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())];
        let (status, _, body) = rp::token_call(&ctx.op, &ctx.rp, Auth::Basic, &form).await?;
        ensure(status == 400, format!("the refresh token from the replayed code still works ({status} {body})"))?;
    }
    Ok("tokens from the code revoked on reuse".into())
}

async fn codereuse(ctx: Arc<Ctx>, user: String) -> Check<String> {
    reuse(&ctx, &user, Duration::ZERO).await
}

/// The same after 30 s (overlapping the other modules: they run concurrently).
async fn codereuse_30seconds(ctx: Arc<Ctx>, user: String) -> Check<String> {
    reuse(&ctx, &user, Duration::from_secs(30)).await
}

/// RFC 6749 §3.1.2.4, OIDC Core §3.1.2.1: an unregistered redirect URI is never redirected to:
/// the person sees an error page. Exact matching: a changed path, an added query, another host.
async fn registered_redirect_uri(ctx: Arc<Ctx>, _user: String) -> Check<String> {
    let base = &ctx.rp.redirect_uri;
    let bad = [
        "https://attacker.example/callback".to_owned(),
        format!("{base}/extra"),
        format!("{base}?injected=1"),
        base.to_uppercase(),
    ];
    let browser = Browser::new(&ctx.op);
    for uri in &bad {
        let request = rp::auth_request(&ctx.rp, &[("redirect_uri", uri)]);
        let mut url = url::Url::parse(&ctx.op.endpoint("authorization_endpoint")?).map_err(|e| e.to_string())?;
        url.query_pairs_mut().extend_pairs(&request);
        let response = browser.get(url.as_str()).await?;
        let status = response.status().as_u16();
        ensure(response.headers().get(LOCATION).is_none(), format!("redirected for {uri}"))?;
        ensure((400..500).contains(&status), format!("{uri} got {status}, expected an error page"))?;
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        ensure(content_type.starts_with("text/html"), format!("the error for {uri} is not a page"))?;
    }
    Ok(format!("{} unregistered URIs: error pages, no redirect", bad.len()))
}

/// OIDC Core §3.1.2.1: the authorization endpoint accepts a form POST.
async fn post_request(ctx: Arc<Ctx>, user: String) -> Check<String> {
    // Errors travel the same way from a POSTed request: prompt=none while signed out.
    let stranger = Browser::new(&ctx.op);
    let request = rp::auth_request(&ctx.rp, &[("prompt", "none")]);
    let flow = stranger.authorize(&ctx.op, &user, &request, true).await?;
    rp::expect_error(&ctx.op, &ctx.rp, &flow, &request, &["login_required"])?;
    let browser = Browser::new(&ctx.op);
    code_flow(&ctx, &browser, &user, &[], true, Auth::Basic, &[]).await?;
    Ok(String::new())
}

/// OIDC Core §6.1, §6.3: an OP that does not support request objects must say so with
/// `request_not_supported` (the OIDF module accepts that or a correct use). Doorway publishes
/// `request_parameter_supported: false`.
async fn unsigned_request_object(ctx: Arc<Ctx>, user: String) -> Check<String> {
    ensure(ctx.op.meta["request_parameter_supported"] == false, "request_parameter_supported is not false")?;
    let claims = json!({
        "iss": ctx.rp.client_id, "aud": ctx.op.issuer, "client_id": ctx.rp.client_id,
        "response_type": "code", "redirect_uri": ctx.rp.redirect_uri, "scope": "openid", "state": "s", "nonce": "n",
    });
    let object = format!("{}.{}.", rp::b64(&json!({"alg": "none"})), rp::b64(&claims));
    rejected_as_unsupported(&ctx, &user, &[("request", &object)], "request_not_supported").await
}

/// OIDC Core §6.2, §6.3: `request_uri_not_supported`, matching `request_uri_parameter_supported:
/// false`.
async fn request_uri_unsigned(ctx: Arc<Ctx>, user: String) -> Check<String> {
    ensure(ctx.op.meta["request_uri_parameter_supported"] == false, "request_uri_parameter_supported is not false")?;
    let uri = "https://rp.example/requests/1.jwt";
    rejected_as_unsupported(&ctx, &user, &[("request_uri", uri)], "request_uri_not_supported").await
}

async fn rejected_as_unsupported(ctx: &Ctx, user: &str, extra: &[(&str, &str)], code: &str) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let request = rp::auth_request(&ctx.rp, extra);
    let flow = browser.authorize(&ctx.op, user, &request, false).await?;
    ensure(flow.login_pages.is_empty(), "the person was asked to sign in before the refusal")?;
    rp::expect_error(&ctx.op, &ctx.rp, &flow, &request, &[code])?;
    Ok(format!("rejected as unsupported ({code})"))
}

/// OIDC Core §5.5: the `claims` parameter asking for `name` as essential in userinfo. The
/// request must succeed; the OIDF module only warns if `name` is missing.
async fn claims_essential(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let claims = json!({"userinfo": {"name": {"essential": true}}}).to_string();
    let browser = Browser::new(&ctx.op);
    let done = happy(&ctx, &browser, &user, &[("claims", &claims)]).await?;
    let info = rp::userinfo_ok(&ctx.op, &done.tokens, Bearer::Get).await?;
    // The OIDF module also warns if the ID token carries name when it was asked for in userinfo.
    ensure(done.tokens.claims.get("name").is_none(), "name is in the ID token though asked for in userinfo")?;
    Ok(if info.get("name").is_some() {
        "name returned".into()
    } else {
        "warning: name not returned (claims_parameter_supported=false; ask for scope profile)".into()
    })
}

/// RFC 7636 §4: S256 challenge at the authorization endpoint, verifier at the token endpoint.
async fn valid_pkce(ctx: Arc<Ctx>, user: String) -> Check<String> {
    use aws_lc_rs::digest;
    use base64ct::{Base64UrlUnpadded, Encoding};
    let verifier = format!("{}{}", rp::random(""), rp::random(""));
    let challenge = Base64UrlUnpadded::encode_string(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref());
    let browser = Browser::new(&ctx.op);
    let extra = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    code_flow(&ctx, &browser, &user, &extra, false, Auth::Basic, &[("code_verifier", &verifier)]).await?;
    // The same flow with a wrong verifier must fail (RFC 7636 §4.6).
    let request = rp::auth_request(&ctx.rp, &extra);
    let flow = browser.authorize(&ctx.op, &user, &request, false).await?;
    let code = rp::expect_code(&ctx.op, &ctx.rp, &flow, &request)?;
    let wrong = format!("{verifier}x");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", &ctx.rp.redirect_uri),
        ("code_verifier", &wrong),
    ];
    let (status, _, body) = rp::token_call(&ctx.op, &ctx.rp, Auth::Basic, &form).await?;
    ensure(status == 400 && body["error"] == "invalid_grant", format!("a wrong verifier got {status} {body}"))?;
    Ok(String::new())
}

/// OIDC Core §12: a refresh gives a new access token and an ID token with the same iss, sub,
/// aud and auth_time, a new iat and no foreign nonce; the refresh token is bound to its client.
async fn refresh_token(ctx: Arc<Ctx>, user: String) -> Check<String> {
    let browser = Browser::new(&ctx.op);
    let first = happy(&ctx, &browser, &user, &[]).await?;
    let refresh = first.tokens.refresh_token.clone().ok_or("no refresh_token was issued")?;
    // RFC 6749 Appendix A.17: VSCHAR only.
    ensure(refresh.bytes().all(|b| (0x20..=0x7E).contains(&b)), "the refresh token has characters outside VSCHAR")?;
    let grants = ctx.op.meta["grant_types_supported"].as_array().cloned().unwrap_or_default();
    ensure(grants.iter().any(|g| g == "refresh_token"), "refresh_token is not in grant_types_supported")?;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())];
    let (status, headers, body) = rp::token_call(&ctx.op, &ctx.rp, Auth::Basic, &form).await?;
    ensure(status == 200, format!("refresh answered {status}: {body}"))?;
    let second = if body.get("id_token").is_some() {
        let refreshed = rp::token_response(&ctx.op, &ctx.rp, status, &headers, &body, &Expect::default()).await;
        // A nonce, if any, may only repeat the original one: retry the checks allowing it.
        let refreshed = match refreshed {
            Ok(tokens) => tokens,
            Err(why) if why.contains("nonce") => {
                let expect = Expect { nonce: rp::param(&first.request, "nonce"), auth_time_required: false };
                rp::token_response(&ctx.op, &ctx.rp, status, &headers, &body, &expect).await?
            }
            Err(why) => return Err(why),
        };
        let (a, b) = (&first.tokens.claims, &refreshed.claims);
        for claim in ["iss", "sub", "aud", "auth_time"] {
            ensure(a[claim] == b[claim], format!("the refreshed ID token's {claim} changed (OIDC Core §12.2)"))?;
        }
        ensure(b["iat"].as_i64() > a["iat"].as_i64(), "the refreshed ID token's iat is not new")?;
        refreshed
    } else {
        let access_token = body["access_token"].as_str().ok_or("no access_token on refresh")?.to_owned();
        rp::Tokens { access_token, id_token: String::new(), refresh_token: None, claims: first.tokens.claims.clone() }
    };
    rp::userinfo_ok(&ctx.op, &second, Bearer::Get).await?;

    // The OIDF module's second client: its refresh token presented by the first client fails.
    let other = Browser::new(&ctx.op);
    let request = rp::auth_request(&ctx.rp2, &[]);
    let flow = other.authorize(&ctx.op, &user, &request, false).await?;
    let code = rp::expect_code(&ctx.op, &ctx.rp2, &flow, &request)?;
    let expect = Expect { nonce: rp::param(&request, "nonce"), auth_time_required: false };
    let theirs = rp::redeem(&ctx.op, &ctx.rp2, Auth::Basic, &code, &[], &expect).await?;
    // subject_types_supported public: the same person has the same sub at every client.
    ensure(theirs.claims["sub"] == first.tokens.claims["sub"], "a public sub differs between clients")?;
    let their_refresh = theirs.refresh_token.ok_or("the second client got no refresh_token")?;
    let form = [("grant_type", "refresh_token"), ("refresh_token", their_refresh.as_str())];
    let (status, _, body) = rp::token_call(&ctx.op, &ctx.rp, Auth::Basic, &form).await?;
    ensure(
        status == 400 && body["error"] == "invalid_grant",
        format!("another client's refresh token got {status} {body}"),
    )?;
    Ok(if second.id_token.is_empty() { "no ID token on refresh".into() } else { "new ID token checked".into() })
}
