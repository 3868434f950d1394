//! The token endpoint's decisions: which client authentication a request carries, whether it
//! authenticates the app, and whether a consumed code may be exchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64ct::{Base64, Encoding};

use super::*;
use crate::error::ErrorCode;
use crate::model::ClientKind;
use crate::secrets::hash_secret;
use crate::types::{RedirectPolicy, RedirectUri, ScopeSet};

const CLIENT_ID: &str = "app-1";
const SECRET: &str = "s3cret-value";
const REDIRECT: &str = "https://app.example/cb";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const NOW: i64 = 1_700_000_000;

fn params(pairs: &[(&str, &str)]) -> Params {
    Params::new(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
}

fn basic(user_pass: &str) -> String {
    format!("Basic {}", Base64::encode_string(user_pass.as_bytes()))
}

fn credentials(authorization: Option<&str>, pairs: &[(&str, &str)]) -> Result<ClientCredentials, OAuthError> {
    client_credentials(authorization, &params(pairs))
}

fn basic_creds(client_id: &str, secret: &str) -> ClientCredentials {
    ClientCredentials::Basic { client_id: client_id.into(), secret: secret.into() }
}

fn post_creds(client_id: &str, secret: &str) -> ClientCredentials {
    ClientCredentials::Post { client_id: client_id.into(), secret: secret.into() }
}

fn client(kind: ClientKind) -> Client {
    Client {
        client_id: CLIENT_ID.into(),
        secret_hash: (kind == ClientKind::Confidential).then(|| hash_secret(SECRET)),
        kind,
        name: "Test app".into(),
        homepage_url: None,
        logo_uri: None,
        redirect_uris: vec![RedirectUri::parse(REDIRECT).unwrap()],
        redirect_policy: RedirectPolicy::Exact,
        scopes: ScopeSet::parse("openid profile").unwrap(),
        require_pkce: false,
        id_token_alg: "RS256".into(),
        owner_id: None,
        created_at: 0,
        grant_types: Default::default(),
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        description: None,
        policy_uri: None,
        tos_uri: None,
        first_party: false,
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        access_token_ttl: None,
        authorized_org: None,
        access_token_format: Default::default(),
    }
}

fn malformed() -> OAuthError {
    OAuthError::invalid_client("malformed Basic credentials")
}

fn auth_failed() -> OAuthError {
    OAuthError::invalid_client("client authentication failed")
}

// ---------------------------------------------------------------------------------------------
// client_credentials: which method, and only one (RFC 6749 §2.3)
// ---------------------------------------------------------------------------------------------

#[test]
fn basic_credentials_are_read_from_the_header() {
    let creds = credentials(Some(&basic("app-1:s3cret-value")), &[]).unwrap();
    assert_eq!(creds, basic_creds(CLIENT_ID, SECRET));
    assert_eq!(creds.client_id(), Some(CLIENT_ID));
    assert!(creds.used_basic());
}

#[test]
fn basic_scheme_is_case_insensitive() {
    let encoded = Base64::encode_string(b"app-1:s3cret-value");
    for header in [
        format!("basic {encoded}"),
        format!("BASIC {encoded}"),
        format!("Basic  {encoded} "),
        format!(" Basic {encoded}"),
    ] {
        assert_eq!(credentials(Some(&header), &[]), Ok(basic_creds(CLIENT_ID, SECRET)), "{header:?}");
    }
}

#[test]
fn basic_credentials_are_form_urlencoded() {
    // RFC 6749 §2.3.1: id and secret are each form-urlencoded before base64.
    assert_eq!(credentials(Some(&basic("my%20app%2F1:a%3Ab+c%2B%25")), &[]), Ok(basic_creds("my app/1", "a:b c+%")));
    // A raw colon in the secret belongs to the secret: only the first one separates.
    assert_eq!(credentials(Some(&basic("app-1:a:b")), &[]), Ok(basic_creds(CLIENT_ID, "a:b")));
    assert_eq!(credentials(Some(&basic("app-1:")), &[]), Ok(basic_creds(CLIENT_ID, "")));
    assert_eq!(credentials(Some(&basic("app-1:caf%C3%A9")), &[]), Ok(basic_creds(CLIENT_ID, "café")));
}

#[test]
fn basic_with_percent_encoded_colon_in_id_does_not_split_there() {
    assert_eq!(credentials(Some(&basic("a%3Ab:secret")), &[]), Ok(basic_creds("a:b", "secret")));
}

#[test]
fn malformed_basic_credentials_are_invalid_client() {
    for header in [
        "Basic !!!not-base64!!!".to_owned(),
        "Basic YXBwLTE6c2VjcmV0".to_owned() + "=", // bad padding
        "Basic".to_owned(),
        "Basic ".to_owned(),
        basic("app-1"),                                                  // no colon
        format!("Basic {}", Base64::encode_string(&[0xff, b':', b'a'])), // not UTF-8
        basic("app-1:%FF"),                                              // decodes to invalid UTF-8
        basic("%C3:secret"),
    ] {
        assert_eq!(credentials(Some(&header), &[]), Err(malformed()), "{header:?}");
    }
}

#[test]
fn base64url_in_basic_is_malformed() {
    // `?` and `>` encode to `/` and `+` in standard base64, `_` and `-` in base64url.
    let standard = Base64::encode_string(b"app-1:s?>");
    assert!(standard.contains('/') || standard.contains('+'));
    let url_safe = standard.replace('/', "_").replace('+', "-");
    assert_eq!(credentials(Some(&format!("Basic {url_safe}")), &[]), Err(malformed()));
}

#[test]
fn non_basic_scheme_is_invalid_client() {
    let only_basic = Err(OAuthError::invalid_client("only HTTP Basic client authentication is supported"));
    for header in ["Bearer eyJhbGciOi", "Digest username=\"app-1\"", "Basicx YXBwLTE6cw==", "YXBwLTE6cw==", ""] {
        assert_eq!(credentials(Some(header), &[]), only_basic, "{header:?}");
    }
}

#[test]
fn basic_and_client_secret_in_body_is_an_invalid_request() {
    assert_eq!(
        credentials(Some(&basic("app-1:s3cret-value")), &[("client_secret", SECRET)]),
        Err(OAuthError::invalid_request("use one client authentication method, not two"))
    );
}

#[test]
fn body_client_id_differing_from_basic_is_an_invalid_request() {
    assert_eq!(
        credentials(Some(&basic("app-1:s3cret-value")), &[("client_id", "app-2")]),
        Err(OAuthError::invalid_request("client_id in the body differs from the Basic credentials"))
    );
    // Compared after form-decoding the Basic id.
    assert_eq!(
        credentials(Some(&basic("my+app:s")), &[("client_id", "my+app")]),
        Err(OAuthError::invalid_request("client_id in the body differs from the Basic credentials"))
    );
}

#[test]
fn body_client_id_equal_to_basic_is_accepted() {
    assert_eq!(
        credentials(Some(&basic("app-1:s3cret-value")), &[("client_id", CLIENT_ID)]),
        Ok(basic_creds(CLIENT_ID, SECRET))
    );
    assert_eq!(credentials(Some(&basic("my+app:s")), &[("client_id", "my app")]), Ok(basic_creds("my app", "s")));
}

#[test]
fn client_secret_post_is_read_from_the_body() {
    let creds = credentials(None, &[("client_id", CLIENT_ID), ("client_secret", SECRET)]).unwrap();
    assert_eq!(creds, post_creds(CLIENT_ID, SECRET));
    assert_eq!(creds.client_id(), Some(CLIENT_ID));
    assert!(!creds.used_basic());
}

#[test]
fn none_with_or_without_client_id() {
    assert_eq!(
        credentials(None, &[("client_id", CLIENT_ID)]),
        Ok(ClientCredentials::None { client_id: Some(CLIENT_ID.into()) })
    );
    let anonymous = credentials(None, &[("code", "abc")]).unwrap();
    assert_eq!(anonymous, ClientCredentials::None { client_id: None });
    assert_eq!(anonymous.client_id(), None);
    // An empty value counts as absent (RFC 6749 §3.1).
    assert_eq!(
        credentials(None, &[("client_id", ""), ("client_secret", "")]),
        Ok(ClientCredentials::None { client_id: None })
    );
}

#[test]
fn client_secret_without_client_id_is_an_invalid_request() {
    assert_eq!(
        credentials(None, &[("client_secret", SECRET)]),
        Err(OAuthError::invalid_request("client_secret without client_id"))
    );
}

#[test]
fn duplicated_token_parameters_are_an_invalid_request() {
    for name in ["client_id", "client_secret", "code", "code_verifier", "redirect_uri", "grant_type"] {
        assert_eq!(
            credentials(None, &[(name, "a"), (name, "b")]),
            Err(OAuthError::invalid_request(format!("{name} was sent more than once"))),
            "{name}"
        );
    }
}

#[test]
fn credentials_debug_redacts_the_secret() {
    let basic = format!("{:?}", basic_creds(CLIENT_ID, SECRET));
    let post = format!("{:?}", post_creds(CLIENT_ID, SECRET));
    assert_eq!(basic, "Basic(app-1, [redacted])");
    assert_eq!(post, "Post(app-1, [redacted])");
    assert!(!basic.contains(SECRET) && !post.contains(SECRET));
}

// ---------------------------------------------------------------------------------------------
// authenticate
// ---------------------------------------------------------------------------------------------

#[test]
fn confidential_client_with_the_right_secret_is_authenticated() {
    let app = client(ClientKind::Confidential);
    assert_eq!(authenticate(&basic_creds(CLIENT_ID, SECRET), &app), Ok(()));
    assert_eq!(authenticate(&post_creds(CLIENT_ID, SECRET), &app), Ok(()));
}

#[test]
fn wrong_secret_is_invalid_client() {
    let app = client(ClientKind::Confidential);
    for secret in ["wrong", "", "s3cret-valu", "s3cret-value ", "S3CRET-VALUE"] {
        assert_eq!(authenticate(&basic_creds(CLIENT_ID, secret), &app), Err(auth_failed()));
        assert_eq!(authenticate(&post_creds(CLIENT_ID, secret), &app), Err(auth_failed()));
    }
    // The stored hash is not the secret.
    let hash = hash_secret(SECRET);
    assert_eq!(authenticate(&post_creds(CLIENT_ID, &hash), &app), Err(auth_failed()));
}

#[test]
fn confidential_client_without_secret_is_invalid_client() {
    let app = client(ClientKind::Confidential);
    for creds in
        [ClientCredentials::None { client_id: None }, ClientCredentials::None { client_id: Some(CLIENT_ID.into()) }]
    {
        assert_eq!(authenticate(&creds, &app), Err(auth_failed()));
    }
}

#[test]
fn confidential_client_with_no_stored_secret_never_authenticates() {
    let mut app = client(ClientKind::Confidential);
    app.secret_hash = None;
    assert_eq!(authenticate(&basic_creds(CLIENT_ID, SECRET), &app), Err(auth_failed()));
    assert_eq!(authenticate(&post_creds(CLIENT_ID, ""), &app), Err(auth_failed()));
}

#[test]
fn public_client_authenticates_with_none() {
    let app = client(ClientKind::Public);
    assert_eq!(authenticate(&ClientCredentials::None { client_id: None }, &app), Ok(()));
    assert_eq!(authenticate(&ClientCredentials::None { client_id: Some(CLIENT_ID.into()) }, &app), Ok(()));
}

#[test]
fn public_client_presenting_a_secret_is_invalid_client() {
    let app = client(ClientKind::Public);
    assert_eq!(authenticate(&basic_creds(CLIENT_ID, SECRET), &app), Err(auth_failed()));
    assert_eq!(authenticate(&post_creds(CLIENT_ID, ""), &app), Err(auth_failed()));
    // Even when a hash is on record (an app turned public keeps its old secret row).
    let mut app = app;
    app.secret_hash = Some(hash_secret(SECRET));
    assert_eq!(authenticate(&basic_creds(CLIENT_ID, SECRET), &app), Err(auth_failed()));
    assert_eq!(authenticate(&post_creds(CLIENT_ID, SECRET), &app), Err(auth_failed()));
}

// ---------------------------------------------------------------------------------------------
// check_code (RFC 6749 §4.1.3, RFC 7636 §4.6)
// ---------------------------------------------------------------------------------------------

fn code() -> AuthorizationCode {
    AuthorizationCode {
        code_hash: hash_secret("the-code"),
        client_id: CLIENT_ID.into(),
        user_id: "user-1".into(),
        redirect_uri: REDIRECT.into(),
        redirect_uri_sent: true,
        scope: ScopeSet::parse("openid profile").unwrap(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: Some(CHALLENGE.into()),
        auth_time: NOW - 30,
        created_at: NOW - 10,
        expires_at: NOW + 50,
        sid: None,
    }
}

fn exchange(pairs: &[(&str, &str)]) -> Params {
    let mut all = vec![("grant_type", "authorization_code"), ("code", "the-code")];
    all.extend_from_slice(pairs);
    params(&all)
}

fn check(code: &AuthorizationCode, pairs: &[(&str, &str)], now: i64) -> Result<(), OAuthError> {
    check_code(code, &client(ClientKind::Public), &exchange(pairs), now)
}

const GOOD: &[(&str, &str)] = &[("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)];

#[test]
fn valid_code_exchange_passes() {
    assert_eq!(check(&code(), GOOD, NOW), Ok(()));
}

#[test]
fn expired_code_is_invalid_grant() {
    let expired = Err(OAuthError::invalid_grant("the authorization code has expired"));
    let code = code();
    assert_eq!(check(&code, GOOD, code.expires_at - 1), Ok(()));
    assert_eq!(check(&code, GOOD, code.expires_at), expired);
    assert_eq!(check(&code, GOOD, code.expires_at + 3600), expired);
}

#[test]
fn code_issued_to_another_client_is_invalid_grant() {
    let mut code = code();
    code.client_id = "app-2".into();
    assert_eq!(
        check(&code, GOOD, NOW),
        Err(OAuthError::invalid_grant("the authorization code was issued to another client"))
    );
}

#[test]
fn redirect_uri_is_required_when_sent_at_authorization() {
    let required = Err(OAuthError::invalid_grant("redirect_uri is required: it was sent at authorization"));
    assert_eq!(check(&code(), &[("code_verifier", VERIFIER)], NOW), required);
    assert_eq!(check(&code(), &[("redirect_uri", ""), ("code_verifier", VERIFIER)], NOW), required);
}

#[test]
fn redirect_uri_may_be_omitted_when_not_sent_at_authorization() {
    let mut code = code();
    code.redirect_uri_sent = false;
    assert_eq!(check(&code, &[("code_verifier", VERIFIER)], NOW), Ok(()));
    assert_eq!(check(&code, GOOD, NOW), Ok(()));
}

#[test]
fn differing_redirect_uri_is_invalid_grant() {
    let differs = Err(OAuthError::invalid_grant("redirect_uri differs from the one sent at authorization"));
    let mut not_sent = code();
    not_sent.redirect_uri_sent = false;
    for presented in [
        "https://app.example/cb/",
        "https://app.example/cb?x=1",
        "https://APP.example/cb",
        "https://evil.example/cb",
        "https://app.example:443/cb",
    ] {
        let pairs = [("redirect_uri", presented), ("code_verifier", VERIFIER)];
        assert_eq!(check(&code(), &pairs, NOW), differs, "{presented}");
        // Even when it was optional, a redirect_uri that is sent must match.
        assert_eq!(check(&not_sent, &pairs, NOW), differs, "{presented}");
    }
}

#[test]
fn pkce_verifier_is_required_when_a_challenge_was_sent() {
    assert_eq!(
        check(&code(), &[("redirect_uri", REDIRECT)], NOW),
        Err(OAuthError::invalid_grant("code_verifier is required"))
    );
    assert_eq!(
        check(&code(), &[("redirect_uri", REDIRECT), ("code_verifier", "")], NOW),
        Err(OAuthError::invalid_grant("code_verifier is required"))
    );
}

#[test]
fn pkce_verifier_mismatch_is_invalid_grant() {
    let mismatch = Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"));
    for verifier in [
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
        &"a".repeat(43),
        &format!("{VERIFIER}a"),
        // The plain method: the challenge itself sent back as the verifier.
        CHALLENGE,
    ] {
        assert_eq!(
            check(&code(), &[("redirect_uri", REDIRECT), ("code_verifier", verifier)], NOW),
            mismatch,
            "{verifier}"
        );
    }
}

#[test]
fn malformed_pkce_verifier_is_invalid_grant() {
    let malformed = Err(OAuthError::invalid_grant("code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]"));
    for verifier in [&VERIFIER[..42], &format!("{VERIFIER} "), &format!("{}+", &VERIFIER[..42]), &"a".repeat(129)] {
        assert_eq!(
            check(&code(), &[("redirect_uri", REDIRECT), ("code_verifier", verifier)], NOW),
            malformed,
            "{verifier:?}"
        );
    }
}

#[test]
fn pkce_downgrade_is_invalid_grant() {
    // RFC 9700 §2.1.1: a verifier with no challenge on record means the challenge was
    // stripped from the authorization request.
    let mut code = code();
    code.code_challenge = None;
    assert_eq!(
        check(&code, GOOD, NOW),
        Err(OAuthError::invalid_grant("code_verifier sent, but no code_challenge was sent at authorization"))
    );
    assert_eq!(check(&code, &[("redirect_uri", REDIRECT)], NOW), Ok(()));
}

#[test]
fn corrupt_stored_challenge_is_a_server_error() {
    let mut code = code();
    code.code_challenge = Some("not-a-challenge".into());
    let err = check(&code, GOOD, NOW).unwrap_err();
    assert_eq!(err, OAuthError::server_error());
    assert_eq!(err.code, ErrorCode::ServerError);
}

#[test]
fn duplicated_code_verifier_is_an_invalid_request() {
    let pairs = [
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"),
    ];
    assert_eq!(check(&code(), &pairs, NOW), Err(OAuthError::invalid_request("code_verifier was sent more than once")));
}

#[test]
fn checks_run_in_order_expiry_first() {
    // An expired code of another client with every parameter wrong reports expiry.
    let mut code = code();
    code.client_id = "app-2".into();
    assert_eq!(
        check(&code, &[("code_verifier", "x")], code.expires_at).map_err(|e| e.description),
        Err("the authorization code has expired".to_owned())
    );
}

#[test]
fn token_error_codes_map_to_statuses() {
    // RFC 6749 §5.2 with Doorway's choice of 401 for invalid_client.
    assert_eq!(auth_failed().code.status(), 401);
    assert_eq!(auth_failed().code.as_str(), "invalid_client");
    assert_eq!(ErrorCode::InvalidGrant.status(), 400);
    assert_eq!(ErrorCode::InvalidRequest.status(), 400);
    assert_eq!(ErrorCode::ServerError.status(), 500);
}

#[test]
fn a_rotated_out_secret_works_only_during_its_grace_period() {
    let mut app = client(ClientKind::Confidential);
    app.secret_hash = Some(hash_secret("new-secret"));
    app.previous_secret_hash = Some(hash_secret(SECRET));
    app.previous_secret_expires_at = Some(100);
    assert_eq!(authenticate_at(&basic_creds(CLIENT_ID, "new-secret"), &app, 500), Ok(()));
    assert_eq!(authenticate_at(&basic_creds(CLIENT_ID, SECRET), &app, 99), Ok(()));
    assert_eq!(authenticate_at(&post_creds(CLIENT_ID, SECRET), &app, 100), Err(auth_failed()));
    // Without a time, only the current secret counts.
    assert_eq!(authenticate(&basic_creds(CLIENT_ID, SECRET), &app), Err(auth_failed()));
    app.previous_secret_expires_at = None;
    assert_eq!(authenticate_at(&basic_creds(CLIENT_ID, SECRET), &app, 0), Err(auth_failed()));
}
