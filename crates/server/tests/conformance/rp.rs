//! The relying party the modules play: it knows Doorway only through discovery, talks HTTP only,
//! keeps cookies like a browser, and answers Doorway's login and consent pages by reading their
//! forms (hidden inputs included) and posting them back. It never reads Doorway's database.

use std::collections::HashMap;

use base64ct::{Base64UrlUnpadded, Encoding};
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderMap, LOCATION};
use reqwest::redirect::Policy;
use serde_json::Value;

use crate::html;

/// Every check returns this: the failure says what was expected and what came.
pub type Check<T> = Result<T, String>;

/// Fails with `why` unless `ok`.
pub fn ensure(ok: bool, why: impl Into<String>) -> Check<()> {
    if ok { Ok(()) } else { Err(why.into()) }
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn random(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// The OpenID Provider as discovery describes it.
pub struct Op {
    pub discovery_url: String,
    pub meta: Value,
    pub issuer: String,
}

impl Op {
    /// OIDC Discovery §4: `issuer` + `/.well-known/openid-configuration`.
    pub async fn discover(issuer: &str) -> Check<Op> {
        let discovery_url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let response = reqwest::get(&discovery_url).await.map_err(|e| format!("discovery: {e}"))?;
        ensure(response.status() == 200, format!("discovery answered {}", response.status()))?;
        let meta: Value = response.json().await.map_err(|e| format!("discovery is not JSON: {e}"))?;
        let issuer = meta["issuer"].as_str().ok_or("discovery has no issuer")?.to_owned();
        Ok(Op { discovery_url, meta, issuer })
    }

    pub fn endpoint(&self, name: &str) -> Check<String> {
        self.meta[name].as_str().map(str::to_owned).ok_or_else(|| format!("discovery has no {name}"))
    }

    pub async fn jwks(&self) -> Check<jsonwebtoken::jwk::JwkSet> {
        let response = reqwest::get(self.endpoint("jwks_uri")?).await.map_err(|e| format!("jwks: {e}"))?;
        ensure(response.status() == 200, format!("jwks_uri answered {}", response.status()))?;
        response.json().await.map_err(|e| format!("jwks_uri is not a JWK set: {e}"))
    }
}

/// A registered client as the RP knows it.
#[derive(Clone, Debug)]
pub struct Rp {
    pub client_id: String,
    pub secret: String,
    pub redirect_uri: String,
    pub post_logout_redirect_uri: String,
}

/// Client authentication at the token endpoint (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    Basic,
    Post,
}

/// What came back to the RP's redirect URI, and what the person was asked on the way.
#[derive(Debug, Default)]
pub struct Flow {
    pub callback: String,
    pub params: HashMap<String, String>,
    /// Every login page shown (and answered), as HTML.
    pub login_pages: Vec<String>,
    pub consent_pages: usize,
}

/// A cookie-keeping user agent that never follows redirects by itself.
pub struct Browser {
    pub http: reqwest::Client,
    issuer: String,
}

impl Browser {
    pub fn new(op: &Op) -> Self {
        let http = reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build();
        Self { http: http.expect("an HTTP client"), issuer: op.issuer.clone() }
    }

    pub async fn get(&self, url: &str) -> Check<reqwest::Response> {
        self.http.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))
    }

    pub async fn post_form(&self, url: &str, pairs: &[(String, String)]) -> Check<reqwest::Response> {
        self.http.post(url).form(pairs).send().await.map_err(|e| format!("POST {url}: {e}"))
    }

    /// Submits `form` of the page at `page_url` as a browser would.
    pub async fn submit(
        &self,
        page_url: &str,
        form: &html::Form,
        fill: &[(&str, &str)],
        button: Option<(&str, &str)>,
    ) -> Check<reqwest::Response> {
        let action = resolve(page_url, &form.action)?;
        let pairs = form.submission(fill, button);
        if form.method == "post" {
            self.post_form(&action, &pairs).await
        } else {
            let mut url = url::Url::parse(&action).map_err(|e| e.to_string())?;
            url.query_pairs_mut().extend_pairs(&pairs);
            self.get(url.as_str()).await
        }
    }

    /// Sends the browser to the authorization endpoint (GET, or a form POST: OIDC Core
    /// §3.1.2.1) and walks through login (as `username`) and consent (Allow) until Doorway sends
    /// it somewhere else.
    pub async fn authorize(&self, op: &Op, username: &str, params: &[(String, String)], post: bool) -> Check<Flow> {
        let endpoint = op.endpoint("authorization_endpoint")?;
        let response = if post {
            self.post_form(&endpoint, params).await?
        } else {
            let mut url = url::Url::parse(&endpoint).map_err(|e| e.to_string())?;
            url.query_pairs_mut().extend_pairs(params);
            self.get(url.as_str()).await?
        };
        self.drive(username, response).await
    }

    /// Follows Doorway's redirects and answers its pages until a redirect leaves the issuer.
    pub async fn drive(&self, username: &str, mut response: reqwest::Response) -> Check<Flow> {
        let mut flow = Flow::default();
        for _ in 0..12 {
            let here = response.url().to_string();
            let status = response.status().as_u16();
            if matches!(status, 302 | 303) {
                let next = resolve(&here, &location(&response)?)?;
                if !same_origin(&next, &self.issuer) {
                    flow.params = query_of(&next);
                    flow.callback = next;
                    return Ok(flow);
                }
                response = self.get(&next).await?;
                continue;
            }
            let body = response.text().await.map_err(|e| e.to_string())?;
            ensure(status == 200, format!("Doorway answered {status} at {here}: {}", snippet(&body)))?;
            if let Some(login) = html::form_with(&body, "password") {
                ensure(flow.login_pages.len() < 3, "the login page keeps coming back")?;
                flow.login_pages.push(body.clone());
                let fill = [("username", username), ("password", crate::helpers::PASSWORD)];
                response = self.submit(&here, &login, &fill, None).await?;
            } else if let Some(consent) = html::form_with(&body, "decision") {
                flow.consent_pages += 1;
                response = self.submit(&here, &consent, &[], Some(("decision", "allow"))).await?;
            } else {
                return Err(format!("unexpected page at {here}: {}", snippet(&body)));
            }
        }
        Err("the authorization flow never came back to the client".into())
    }
}

/// Whether `url` is on the issuer's origin (scheme, host and port), i.e. still at Doorway.
pub fn same_origin(url: &str, issuer: &str) -> bool {
    match (url::Url::parse(url), url::Url::parse(issuer)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// A URL relative to the page it appeared on, made absolute.
pub fn resolve(base: &str, reference: &str) -> Check<String> {
    let base = url::Url::parse(base).map_err(|e| format!("{base}: {e}"))?;
    base.join(reference).map(|u| u.to_string()).map_err(|e| format!("{reference}: {e}"))
}

pub fn location(response: &reqwest::Response) -> Check<String> {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| format!("{} without a Location", response.status()))
}

pub fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).map(|u| u.query_pairs().into_owned().collect()).unwrap_or_default()
}

/// The start of a page, as a failure message shows it.
pub fn snippet(body: &str) -> String {
    let text: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let start = text.find("<main").unwrap_or(0);
    text[start..].chars().take(300).collect()
}

/// The authorization request the OIDF suite sends by default (code flow, `scope=openid`, fresh
/// `state` and `nonce`); `extra` replaces or adds parameters, an empty value removes one.
pub fn auth_request(rp: &Rp, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = vec![
        ("client_id".into(), rp.client_id.clone()),
        ("redirect_uri".into(), rp.redirect_uri.clone()),
        ("response_type".into(), "code".into()),
        ("scope".into(), "openid".into()),
        ("state".into(), random("st-")),
        ("nonce".into(), random("n-")),
    ];
    for (name, value) in extra {
        params.retain(|(k, _)| k != name);
        if !value.is_empty() {
            params.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    params
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// RFC 6749 §4.1.2 and RFC 9207: a successful response at the RP's redirect URI with the
/// request's `state` and Doorway's `iss`. Returns the code.
pub fn expect_code(op: &Op, rp: &Rp, flow: &Flow, request: &[(String, String)]) -> Check<String> {
    ensure(flow.callback.starts_with(&rp.redirect_uri), format!("sent to {} instead of the client", flow.callback))?;
    if let Some(error) = flow.params.get("error") {
        return Err(format!("authorization failed: {error} ({:?})", flow.params.get("error_description")));
    }
    ensure(flow.params.get("state").map(String::as_str) == param(request, "state"), "state was not echoed exactly")?;
    ensure(flow.params.get("iss") == Some(&op.issuer), "iss is missing or not the issuer (RFC 9207 §2)")?;
    let code = flow.params.get("code").cloned().ok_or("no code in the response")?;
    // The OIDF suite's minimum for an unguessable code: 128 bits as 22 base64url characters.
    ensure(code.len() >= 22, format!("the code is only {} characters", code.len()))?;
    Ok(code)
}

/// An error response at the RP's redirect URI with one of `allowed`, `state` and `iss`.
pub fn expect_error(op: &Op, rp: &Rp, flow: &Flow, request: &[(String, String)], allowed: &[&str]) -> Check<String> {
    ensure(flow.callback.starts_with(&rp.redirect_uri), format!("sent to {} instead of the client", flow.callback))?;
    ensure(!flow.params.contains_key("code"), "a code came back where an error was expected")?;
    let error = flow.params.get("error").ok_or("no error in the response")?;
    ensure(allowed.contains(&error.as_str()), format!("error {error}, expected one of {allowed:?}"))?;
    ensure(flow.params.get("state").map(String::as_str) == param(request, "state"), "state was not echoed exactly")?;
    ensure(flow.params.get("iss") == Some(&op.issuer), "iss is missing or not the issuer (RFC 9207 §2)")?;
    if let Some(description) = flow.params.get("error_description") {
        error_text_is_valid(description)?;
    }
    Ok(error.clone())
}

/// RFC 6749 §5.2: `error_description` is %x20-21 / %x23-5B / %x5D-7E (no CR, LF, TAB, `"`, `\`).
pub fn error_text_is_valid(text: &str) -> Check<()> {
    let bad = text.chars().find(|c| !matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E));
    ensure(bad.is_none(), format!("error_description has the character {bad:?} (RFC 6749 §5.2)"))
}

/// A token endpoint call with client authentication `auth`.
pub async fn token_call(op: &Op, rp: &Rp, auth: Auth, form: &[(&str, &str)]) -> Check<(u16, HeaderMap, Value)> {
    let mut pairs: Vec<(&str, &str)> = form.to_vec();
    let mut request = reqwest::Client::new().post(op.endpoint("token_endpoint")?);
    match auth {
        // RFC 6749 §2.3.1: client_id and secret form-urlencoded before Basic encoding.
        Auth::Basic => {
            let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            request = request.basic_auth(enc(&rp.client_id), Some(enc(&rp.secret)));
        }
        Auth::Post => {
            pairs.push(("client_id", &rp.client_id));
            pairs.push(("client_secret", &rp.secret));
        }
    }
    // Sent the way the OIDF suite's Java client sends it: with a charset parameter.
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
    let response = request
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded;charset=UTF-8")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("token endpoint: {e}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.map_err(|e| format!("token endpoint answered {status} without JSON: {e}"))?;
    Ok((status, headers, body))
}

/// Tokens from a successful token response.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub id_token: String,
    pub refresh_token: Option<String>,
    pub claims: Value,
}

/// What the ID token must say beyond the common checks.
#[derive(Debug, Default, Clone)]
pub struct Expect<'a> {
    pub nonce: Option<&'a str>,
    /// `max_age` was sent: `auth_time` is REQUIRED (OIDC Core §3.1.2.1).
    pub auth_time_required: bool,
}

/// Exchanges `code` (RFC 6749 §4.1.3) and applies the token response and ID token checks.
pub async fn redeem(
    op: &Op,
    rp: &Rp,
    auth: Auth,
    code: &str,
    extra: &[(&str, &str)],
    expect: &Expect<'_>,
) -> Check<Tokens> {
    let mut form =
        vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", rp.redirect_uri.as_str())];
    form.extend_from_slice(extra);
    let (status, headers, body) = token_call(op, rp, auth, &form).await?;
    token_response(op, rp, status, &headers, &body, expect).await
}

/// OIDC Core §3.1.3.3 and the common ID token checks (§3.1.3.7).
pub async fn token_response(
    op: &Op,
    rp: &Rp,
    status: u16,
    headers: &HeaderMap,
    body: &Value,
    expect: &Expect<'_>,
) -> Check<Tokens> {
    ensure(status == 200, format!("token endpoint answered {status}: {body}"))?;
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    ensure(content_type.starts_with("application/json"), format!("token response Content-Type {content_type}"))?;
    let cache = headers.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()).unwrap_or_default();
    ensure(cache.contains("no-store"), "token response without Cache-Control: no-store (OIDC Core §3.1.3.3)")?;
    if let Some(pragma) = headers.get("pragma").and_then(|v| v.to_str().ok()) {
        ensure(pragma.split(',').any(|p| p.trim() == "no-cache"), format!("Pragma: {pragma}"))?;
    }
    let token_type = body["token_type"].as_str().unwrap_or_default();
    ensure(token_type.eq_ignore_ascii_case("bearer"), format!("token_type {token_type:?}"))?;
    if let Some(expires_in) = body.get("expires_in") {
        ensure(expires_in.as_i64().is_some_and(|e| e > 0), format!("expires_in {expires_in}"))?;
    }
    let access_token = body["access_token"].as_str().ok_or("no access_token")?.to_owned();
    ensure(access_token.len() >= 22, "the access token is shorter than 128 bits of base64url")?;
    let id_token = body["id_token"].as_str().ok_or("no id_token")?.to_owned();
    let claims = verify_id_token(op, rp, &id_token, Some(&access_token), expect).await?;
    let refresh_token = body["refresh_token"].as_str().map(str::to_owned);
    Ok(Tokens { access_token, id_token, refresh_token, claims })
}

/// The common ID token checks: signature by the JWKS key of the header's `kid`, `iss`, `aud`,
/// `azp`, `exp`, `iat` within 5 minutes, `sub`, `nonce`, `auth_time`, `at_hash`.
pub async fn verify_id_token(
    op: &Op,
    rp: &Rp,
    id_token: &str,
    access_token: Option<&str>,
    expect: &Expect<'_>,
) -> Check<Value> {
    let header = jsonwebtoken::decode_header(id_token).map_err(|e| format!("ID token header: {e}"))?;
    let kid = header.kid.as_deref().ok_or("the ID token header has no kid")?;
    let jwks = op.jwks().await?;
    let jwk = jwks.find(kid).ok_or_else(|| format!("kid {kid} is not in the JWKS"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| format!("JWK {kid}: {e}"))?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[&rp.client_id]);
    validation.set_issuer(&[&op.issuer]);
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .map_err(|e| format!("ID token does not verify: {e}"))?
        .claims;
    let now = now();
    ensure(claims["iss"] == op.issuer, "iss is not discovery's issuer")?;
    match &claims["aud"] {
        Value::String(aud) => ensure(*aud == rp.client_id, "aud is not the client")?,
        Value::Array(auds) => {
            ensure(auds.iter().any(|a| *a == rp.client_id), "aud does not contain the client")?;
            if auds.len() > 1 {
                ensure(claims["azp"] == rp.client_id, "several audiences without azp = client")?;
            }
        }
        other => return Err(format!("aud is {other}")),
    }
    let sub = claims["sub"].as_str().ok_or("no sub")?;
    ensure(!sub.is_empty() && sub.len() <= 255, "sub must be 1 to 255 ASCII characters (OIDC Core §2)")?;
    let exp = claims["exp"].as_i64().ok_or("exp is not a number")?;
    ensure(exp > now, "exp is not in the future")?;
    let iat = claims["iat"].as_i64().ok_or("iat is not a number")?;
    ensure((iat - now).abs() <= 300, format!("iat {iat} is more than 5 minutes from now ({now})"))?;
    match (expect.nonce, claims.get("nonce")) {
        (Some(sent), Some(got)) => ensure(got == sent, "nonce is not the request's")?,
        (Some(_), None) => return Err("nonce is missing (OIDC Core §3.1.3.7 step 11)".into()),
        (None, Some(got)) => return Err(format!("nonce {got} appeared although none was sent")),
        (None, None) => {}
    }
    match claims.get("auth_time") {
        Some(at) => {
            let at = at.as_i64().ok_or("auth_time is not a number")?;
            ensure(at <= now + 5 && at > now - 24 * 3600, format!("auth_time {at} is not a plausible time"))?;
        }
        None if expect.auth_time_required => return Err("auth_time is required when max_age is sent".into()),
        None => {}
    }
    if let (Some(at_hash), Some(token)) = (claims.get("at_hash"), access_token) {
        ensure(*at_hash == left_half_hash(token, header.alg)?, "at_hash does not match the access token")?;
    }
    Ok(claims)
}

/// OIDC Core §3.1.3.6: base64url of the left half of the hash the signing algorithm uses.
pub fn left_half_hash(value: &str, alg: jsonwebtoken::Algorithm) -> Check<String> {
    use aws_lc_rs::digest;
    use jsonwebtoken::Algorithm as A;
    let algorithm = match alg {
        A::RS256 | A::PS256 | A::ES256 | A::HS256 => &digest::SHA256,
        A::RS384 | A::PS384 | A::ES384 | A::HS384 => &digest::SHA384,
        // Ed25519 hashes with SHA-512 (OpenID Connect Core errata; as implementations do).
        A::RS512 | A::PS512 | A::HS512 | A::EdDSA => &digest::SHA512,
        other => return Err(format!("no at_hash rule for {other:?}")),
    };
    let hash = digest::digest(algorithm, value.as_bytes());
    let bytes = hash.as_ref();
    Ok(Base64UrlUnpadded::encode_string(&bytes[..bytes.len() / 2]))
}

/// How the access token travels to the userinfo endpoint (RFC 6750 §2.1, §2.2).
#[derive(Clone, Copy, Debug)]
pub enum Bearer {
    Get,
    PostHeader,
    PostBody,
}

/// OIDC Core §5.3: the claims for `access_token`, checked to be JSON with `sub`.
pub async fn userinfo(op: &Op, access_token: &str, how: Bearer) -> Check<(u16, Value)> {
    let endpoint = op.endpoint("userinfo_endpoint")?;
    let http = reqwest::Client::new();
    let request = match how {
        Bearer::Get => http.get(&endpoint).bearer_auth(access_token),
        Bearer::PostHeader => http.post(&endpoint).bearer_auth(access_token),
        Bearer::PostBody => http.post(&endpoint).form(&[("access_token", access_token)]),
    };
    let response = request.send().await.map_err(|e| format!("userinfo: {e}"))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Ok((status, Value::Null));
    }
    let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    ensure(content_type.starts_with("application/json"), format!("userinfo Content-Type {content_type}"))?;
    let body: Value = response.json().await.map_err(|e| format!("userinfo is not JSON: {e}"))?;
    ensure(body["sub"].is_string(), "userinfo has no sub")?;
    Ok((status, body))
}

/// Userinfo that must succeed and name the ID token's subject (OIDC Core §5.3.2).
pub async fn userinfo_ok(op: &Op, tokens: &Tokens, how: Bearer) -> Check<Value> {
    let (status, body) = userinfo(op, &tokens.access_token, how).await?;
    ensure(status == 200, format!("userinfo answered {status} ({how:?})"))?;
    ensure(body["sub"] == tokens.claims["sub"], "userinfo sub differs from the ID token's (OIDC Core §5.3.2)")?;
    Ok(body)
}

/// An ID token with its signature altered: one character well inside the signature changed
/// (the last one may carry only padding bits, which a lenient decoder would ignore).
pub fn tampered(id_token: &str) -> String {
    let mut chars: Vec<char> = id_token.chars().collect();
    let at = chars.len().saturating_sub(10);
    if let Some(c) = chars.get_mut(at) {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    chars.into_iter().collect()
}

/// Base64url-decoded JSON of a JWT's payload, without verifying (for building test inputs).
pub fn payload(jwt: &str) -> Check<Value> {
    let part = jwt.split('.').nth(1).ok_or("not a JWT")?;
    let bytes = Base64UrlUnpadded::decode_vec(part).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

pub fn b64(value: &Value) -> String {
    Base64UrlUnpadded::encode_string(value.to_string().as_bytes())
}
