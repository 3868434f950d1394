//! Every route × every kind of malformed request: the answer is a 4xx (or, where the input is
//! simply ignored, the page itself) — never a 5xx, a stack trace or an internal error text.

use base64ct::{Base64, Encoding};
use reqwest::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};

use crate::helpers::*;
use crate::surface::{Route, Surface, routes};

/// Text that must never reach a client: panics, backtraces, source locations, driver errors,
/// and axum's own rejection wording (Doorway answers with its own messages).
const LEAKS: &[&str] = &[
    "panicked",
    "stack backtrace",
    "RUST_BACKTRACE",
    "thread '",
    ".rs:",
    "called `Result::unwrap()`",
    "called `Option::unwrap()`",
    "sqlx",
    "SqliteError",
    "error returned from database",
    "Failed to deserialize",
    "Failed to buffer the request body",
    "Expected request with `Content-Type",
    "Internal Server Error",
    "minijinja",
];

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Anonymous,
    /// A signed-in browser whose form bodies carry a valid CSRF token.
    SignedIn,
    /// The admin API's bearer token.
    Admin,
}

/// One malformed request.
#[derive(Debug, Clone)]
struct Probe {
    name: &'static str,
    /// The request as a whole is unacceptable (oversized, wrong content type): it must be a
    /// 4xx, not merely "no 5xx", unless an anonymous caller is first sent to sign in.
    strict: bool,
    query: Option<String>,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
}

/// Invalid UTF-8 (as percent-escapes, which decoders see as bytes), NUL, and the names every
/// endpoint reads.
const BAD_PAIRS: &str = "state=%FF%FE&username=%00alice&client_id=%C0%AF&redirect_uri=%FF&scope=openid%00&\
                         grant_type=%FF&code=%00&name=%ED%A0%80&email=%FF%40x&user_code=%00&decision=%FF";

/// Every field the pages' query and form structs read, twice (and paging fields mistyped).
const DUPLICATES: &str = "interaction=a&interaction=b&next=%2F&next=%2F&state=a&state=b&token=a&token=b&saved=1&\
                          saved=2&notice=a&notice=b&ended=1&ended=2&disabled=a&disabled=b&deleted=a&deleted=b&\
                          sent=a&sent=b&code=a&code=b&error=a&error=b&login_hint=a&login_hint=b&password=a&\
                          password=b&reveal=a&reveal=b&created=a&created=b&limit=x&limit=-1&cursor=%FF&\
                          username=a&username=b&user_code=a&user_code=b&decision=a&decision=b";

/// A NUL in every field any endpoint reads (PostgreSQL refuses NUL in text columns).
fn nul_everywhere() -> String {
    const NAMES: &[&str] = &[
        "client_id",
        "redirect_uri",
        "state",
        "nonce",
        "login_hint",
        "username",
        "email",
        "name",
        "user_code",
        "interaction",
        "next",
        "token",
        "code",
        "refresh_token",
        "scope",
        "response_type",
        "grant_type",
        "post_logout_redirect_uri",
        "id_token_hint",
        "session",
        "sid",
        "org",
        "role",
        "description",
        "homepage_url",
        "website",
        "password",
        "current_password",
        "new_password",
        "decision",
        "notice",
        "before",
        "totp",
        "recovery_code",
        "invitation",
        "member",
        "cursor",
        "limit",
    ];
    NAMES.iter().map(|name| format!("{name}=a%00b")).collect::<Vec<_>>().join("&")
}

/// The same as a JSON object, for the admin API and the JSON-accepting OAuth endpoints.
fn nul_json() -> Vec<u8> {
    const NAMES: &[&str] = &[
        "name",
        "username",
        "email",
        "password",
        "redirect_uris",
        "scopes",
        "description",
        "homepage_url",
        "client_id",
        "kind",
        "role",
        "display_name",
        "website",
        "grant_types",
        "org",
        "algorithms",
        "alg",
    ];
    let object: serde_json::Map<String, serde_json::Value> =
        NAMES.iter().map(|name| ((*name).to_owned(), serde_json::Value::String("a\u{0}b".into()))).collect();
    serde_json::to_vec(&object).unwrap()
}

fn big_param() -> String {
    format!("state={0}&username={0}&client_id={0}", "a".repeat(16 * 1024))
}

/// The probes for a method that reads the query (GET, DELETE).
fn query_probes() -> Vec<Probe> {
    let probe = |name, query: String| Probe { name, strict: false, query: Some(query), content_type: None, body: None };
    vec![
        probe("invalid UTF-8 and NUL in the query", BAD_PAIRS.to_owned()),
        probe("duplicated query parameters", DUPLICATES.to_owned()),
        probe("a NUL in every query parameter", nul_everywhere()),
        probe("16 KB query parameter", big_param()),
    ]
}

/// The probes for a method with a body (POST, PATCH). `csrf` is added to form bodies.
fn body_probes(csrf: &str) -> Vec<Probe> {
    let form = |pairs: &str| format!("{pairs}&csrf_token={csrf}").into_bytes();
    let mut raw_invalid = b"state=".to_vec();
    raw_invalid.extend_from_slice(&[0xff, 0xfe, 0x00, 0xc0, 0xaf]);
    raw_invalid.extend_from_slice(format!("&csrf_token={csrf}").as_bytes());
    let probe = |name: &'static str, content_type: Option<&'static str>, body: Vec<u8>| {
        let strict = name.starts_with("1 MB") || name.contains("content type") || name.contains(" to a ");
        Probe { name, strict, query: None, content_type, body: Some(body) }
    };
    vec![
        probe("invalid UTF-8 and NUL in a form body", Some(FORM), form(BAD_PAIRS)),
        probe("raw invalid UTF-8 bytes in a form body", Some(FORM), raw_invalid.clone()),
        probe("duplicated form fields", Some(FORM), form(DUPLICATES)),
        probe("a NUL in every form field", Some(FORM), form(&nul_everywhere())),
        probe("a NUL in every JSON field", Some(JSON), nul_json()),
        probe("16 KB form parameter", Some(FORM), form(&big_param())),
        probe("1 MB form body", Some(FORM), form(&format!("state={}", "a".repeat(1024 * 1024)))),
        probe("JSON to a form endpoint", Some(JSON), br#"{"state":"\u0000","username":"x","grant_type":7}"#.to_vec()),
        probe(
            "invalid UTF-8 in a JSON body",
            Some(JSON),
            [br#"{"name":""#.as_slice(), &[0xff, 0xfe], br#""}"#].concat(),
        ),
        probe("1 MB JSON body", Some(JSON), format!(r#"{{"name":"{}"}}"#, "a".repeat(1024 * 1024)).into_bytes()),
        probe("no content type", None, form(BAD_PAIRS)),
        probe("an unknown content type", Some("text/plain; charset=utf-8"), raw_invalid),
        probe(
            "multipart (an unexpected content type)",
            Some("multipart/form-data; boundary=x"),
            b"--y\r\n\x00".to_vec(),
        ),
    ]
}

/// What went wrong with one answer, if anything.
fn judge(status: StatusCode, body: &str) -> Option<String> {
    if status.is_server_error() {
        return Some(format!("answered {status}"));
    }
    LEAKS.iter().find(|leak| body.contains(*leak)).map(|leak| format!("{status} whose body leaks {leak:?}"))
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn send(
    surface: &Surface,
    who: Who,
    method: Method,
    path: &str,
    probe: &Probe,
) -> Result<(StatusCode, reqwest::header::HeaderMap, String), reqwest::Error> {
    let mut url = surface.app.url(path);
    if let Some(query) = &probe.query {
        url = format!("{url}?{query}");
    }
    let client = if who == Who::SignedIn { surface.browser.http.clone() } else { http() };
    let mut request = client.request(method, &url);
    if who == Who::Admin {
        request = request.header(AUTHORIZATION, format!("Bearer {}", surface.admin_token));
    }
    if let Some(content_type) = probe.content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    if let Some(body) = &probe.body {
        request = request.body(body.clone());
    }
    let response = request.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = String::from_utf8_lossy(&response.bytes().await.unwrap_or_default()).into_owned();
    Ok((status, headers, body))
}

/// Paths whose POST would end the signed-in session the other probes rely on: probed
/// without the CSRF token, so the handler refuses them instead.
fn ends_the_session(route: &Route) -> bool {
    matches!(route.pattern.as_str(), "/logout" | "/oauth/logout" | "/settings/sessions/end-others")
}

/// Runs every probe on every route and method as `who`; returns the failures.
async fn run_matrix(surface: &Surface, who: Who) -> Vec<String> {
    let mut failures = Vec::new();
    for route in routes() {
        if (who == Who::Admin) != route.admin {
            continue;
        }
        let path = surface.path(&route);
        for method in &route.methods {
            let csrf = if who == Who::SignedIn && !ends_the_session(&route) { surface.csrf.as_str() } else { "" };
            let probes =
                if *method == Method::GET || *method == Method::DELETE { query_probes() } else { body_probes(csrf) };
            for probe in probes {
                match send(surface, who, method.clone(), &path, &probe).await {
                    Ok((status, headers, body)) => {
                        let to_login = headers
                            .get(reqwest::header::LOCATION)
                            .and_then(|v| v.to_str().ok())
                            .is_some_and(|l| l.starts_with("/login"));
                        let excused = who == Who::Anonymous && status == StatusCode::SEE_OTHER && to_login;
                        // Every body sent to an admin operation that reads one is invalid for it.
                        let strict = if who == Who::Admin {
                            route.takes_body && probe.body.is_some() && probe.name != "JSON to a form endpoint"
                        } else {
                            probe.strict
                        };
                        if strict && !status.is_client_error() && !excused {
                            failures.push(format!("{who:?} {method} {path} with {}: {status}, not a 4xx", probe.name));
                        }
                        if let Some(problem) = judge(status, &body) {
                            failures.push(format!("{who:?} {method} {path} with {}: {problem}", probe.name));
                        }
                    }
                    // The server may answer an oversized body early and close the connection
                    // while the client still writes: only the 1 MB probes may end that way.
                    Err(err) if probe.name.starts_with("1 MB") => {
                        assert!(!err.is_timeout(), "{method} {path}: {err}");
                    }
                    Err(err) => failures.push(format!("{who:?} {method} {path} with {}: {err}", probe.name)),
                }
            }
        }
    }
    failures
}

fn report(failures: &[String]) {
    assert!(failures.is_empty(), "{} bad answers:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn malformed_requests_to_every_route_never_get_a_5xx_or_internal_text_anonymously() {
    let surface = Surface::start().await;
    report(&run_matrix(&surface, Who::Anonymous).await);
}

#[tokio::test]
async fn malformed_requests_to_every_route_never_get_a_5xx_or_internal_text_when_signed_in() {
    let surface = Surface::start().await;
    report(&run_matrix(&surface, Who::SignedIn).await);
}

/// PostgreSQL refuses what SQLite stores (a NUL in a text column), so the matrix runs on both.
#[tokio::test]
async fn nul_bytes_and_invalid_utf8_never_get_a_5xx_on_postgres_either() {
    let Some(db) = PgDatabase::create("nul_bytes_and_invalid_utf8_never_get_a_5xx_on_postgres_either").await else {
        return;
    };
    let surface = Surface::start_on(&db.url).await;
    let mut failures = run_matrix(&surface, Who::Anonymous).await;
    failures.extend(run_matrix(&surface, Who::SignedIn).await);
    failures.extend(run_matrix(&surface, Who::Admin).await);
    failures.extend(path_failures(&surface).await);
    failures.extend(basic_nul_failures(&surface).await);
    failures.extend(header_failures(&surface).await);
    db.finish().await;
    report(&failures);
}

#[tokio::test]
async fn malformed_requests_to_every_admin_api_route_never_get_a_5xx_or_internal_text() {
    let surface = Surface::start().await;
    report(&run_matrix(&surface, Who::Admin).await);
}

#[tokio::test]
async fn a_wrong_method_on_any_route_is_405_with_allow() {
    let surface = Surface::start().await;
    let mut failures = Vec::new();
    let all = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];
    for route in routes() {
        // The admin API answers any method under /api/v1/{*rest} with its JSON 404.
        if route.pattern.contains("{*") {
            continue;
        }
        let path = surface.path(&route);
        for method in all.iter().filter(|m| !route.methods.contains(m)) {
            let probe = Probe { name: "wrong method", strict: true, query: None, content_type: None, body: None };
            let who = if route.admin { Who::Admin } else { Who::Anonymous };
            let (status, headers, body) = send(&surface, who, method.clone(), &path, &probe).await.unwrap();
            let allow = headers.get(ALLOW).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let missing: Vec<&Method> =
                route.methods.iter().filter(|m| !allow.split(',').any(|a| a.trim() == m.as_str())).collect();
            if status != StatusCode::METHOD_NOT_ALLOWED || !missing.is_empty() {
                failures.push(format!("{method} {path}: {status}, Allow: {allow:?} (expected {:?})", route.methods));
            }
            if let Some(problem) = judge(status, &body) {
                failures.push(format!("{method} {path}: {problem}"));
            }
        }
    }
    report(&failures);
}

#[tokio::test]
async fn the_token_endpoint_refuses_each_malformed_body_with_invalid_request() {
    let app = spawn_app().await;
    let client = app.confidential_client().await;
    let cases: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
        ("invalid UTF-8", Some(FORM), b"grant_type=authorization_code&code=%FF%FE".to_vec()),
        ("NUL", Some(FORM), b"grant_type=authorization_code%00&code=x".to_vec()),
        ("1 MB", Some(FORM), format!("grant_type=authorization_code&code={}", "a".repeat(1 << 20)).into_bytes()),
        ("JSON that is not an object of strings", Some(JSON), br#"{"grant_type":["a"]}"#.to_vec()),
        ("broken JSON", Some(JSON), b"{\"grant_type\":".to_vec()),
    ];
    for (name, content_type, body) in cases {
        let mut request =
            http().post(app.url("/oauth/token")).basic_auth(&client.client_id, client.secret.as_deref()).body(body);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let json: serde_json::Value = response.json().await.unwrap();
        assert!(status.is_client_error(), "{name}: {status}");
        let error = json["error"].as_str().unwrap_or_default();
        assert!(["invalid_request", "invalid_grant", "unsupported_grant_type"].contains(&error), "{name}: {json}");
    }
}

/// Headers a client cannot be trusted with: bytes that are not UTF-8 (HTTP allows them), a
/// 16 KB bearer token, cookies that decode to nothing, a content type that is not text.
async fn header_failures(surface: &Surface) -> Vec<String> {
    use reqwest::header::{COOKIE, HeaderValue};
    let headers: Vec<(&str, reqwest::header::HeaderName, HeaderValue)> = vec![
        ("non-UTF-8 Basic", AUTHORIZATION, HeaderValue::from_bytes(b"Basic \xff\xfe%00").unwrap()),
        ("non-UTF-8 Bearer", AUTHORIZATION, HeaderValue::from_bytes(b"Bearer \xc0\xaf").unwrap()),
        ("16 KB Bearer", AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {}", "a".repeat(16 * 1024))).unwrap()),
        (
            "junk cookies",
            COOKIE,
            HeaderValue::from_bytes(b"doorway_session=\xff\xfe; doorway_csrf=%00; __Host-doorway_session=;=").unwrap(),
        ),
        ("non-UTF-8 content type", CONTENT_TYPE, HeaderValue::from_bytes(b"application/\xffjson").unwrap()),
    ];
    let mut failures = Vec::new();
    for route in routes() {
        let path = surface.path(&route);
        for method in &route.methods {
            for (name, header, value) in &headers {
                let response =
                    http().request(method.clone(), surface.app.url(&path)).header(header, value.clone()).body("a=b");
                let response = response.send().await.unwrap();
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                if let Some(problem) = judge(status, &body) {
                    failures.push(format!("{method} {path} with {name}: {problem}"));
                }
            }
        }
    }
    failures
}

#[tokio::test]
async fn malformed_headers_never_get_a_5xx_or_internal_text() {
    let surface = Surface::start().await;
    report(&header_failures(&surface).await);
}

/// Bytes hyper itself must refuse before Doorway sees them: raw (not percent-encoded)
/// non-ASCII and control bytes in the request target.
#[tokio::test]
async fn raw_invalid_bytes_in_the_request_line_are_a_400() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let address = app.address.trim_start_matches("http://").to_owned();
    for target in [&b"/oauth/authorize?state=\xff\xfe"[..], b"/login?next=\x00", b"/\xc0\xaf", b"/oauth/token?\x7f"] {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let request = [b"GET ".as_slice(), target, b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"].concat();
        stream.write_all(&request).await.unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 400"), "{:?}: {answer}", String::from_utf8_lossy(target));
    }
}

/// A NUL inside HTTP Basic credentials (base64 hides it from header checks): `invalid_client`
/// at every endpoint that authenticates clients.
async fn basic_nul_failures(surface: &Surface) -> Vec<String> {
    let mut failures = Vec::new();
    for path in ["/oauth/token", "/oauth/revoke", "/oauth/introspect", "/oauth/device"] {
        for pair in ["app\0x:secret", "app%00x:secret", "app:sec\0ret"] {
            let response = http()
                .post(surface.app.url(path))
                .header(AUTHORIZATION, format!("Basic {}", Base64::encode_string(pair.as_bytes())))
                .form(&[("grant_type", "client_credentials"), ("token", "x")])
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body = response.text().await.unwrap();
            if status != StatusCode::UNAUTHORIZED || !body.contains("\"invalid_client\"") {
                failures.push(format!("POST {path} with Basic {pair:?}: {status} {body}"));
            }
        }
    }
    failures
}

#[tokio::test]
async fn a_nul_in_basic_credentials_is_invalid_client() {
    let surface = Surface::start().await;
    report(&basic_nul_failures(&surface).await);
}

/// Path segments that do not decode to text, or decode to a NUL, on every kind of route.
async fn path_failures(surface: &Surface) -> Vec<String> {
    let mut failures = Vec::new();
    let paths = [
        "/%FF",
        "/alice%00",
        "/settings/organizations/%FF",
        "/settings/organizations/a%00b",
        "/settings/applications/a%00b",
        "/api/v1/users/%FF",
        "/api/v1/users/a%00b",
        "/api/v1/apps/a%00b",
        "/api/v1/orgs/a%00b/members",
        "/badges/%00.svg",
        "/avatars/%00.png",
    ];
    for path in paths {
        for admin in [false, true] {
            let mut request = surface.browser.http.get(surface.app.url(path));
            if admin {
                request = request.header(AUTHORIZATION, format!("Bearer {}", surface.admin_token));
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let body = response.text().await.unwrap();
            if !status.is_client_error() {
                failures.push(format!("GET {path}: {status}, not a 4xx"));
            }
            if let Some(problem) = judge(status, &body) {
                failures.push(format!("GET {path}: {problem}"));
            }
        }
    }
    failures
}

#[tokio::test]
async fn a_nul_or_invalid_utf8_path_segment_is_a_4xx_without_internal_text() {
    let surface = Surface::start().await;
    report(&path_failures(&surface).await);
}
