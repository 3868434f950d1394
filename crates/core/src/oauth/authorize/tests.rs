//! The authorization pipeline, step by step: what is shown (client and redirect checks), what
//! is redirected (everything after), and the login / consent decision.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::model::ClientKind;
use crate::types::{RedirectPolicy, RedirectUri};

const CLIENT_ID: &str = "app-1";
const REDIRECT: &str = "https://app.example/cb";
const ISSUER: &str = "https://id.example";
/// RFC 7636 Appendix B.
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn client(kind: ClientKind) -> Client {
    Client {
        client_id: CLIENT_ID.into(),
        secret_hash: None,
        kind,
        name: "Test app".into(),
        homepage_url: None,
        logo_uri: None,
        redirect_uris: vec![RedirectUri::parse(REDIRECT).unwrap()],
        redirect_policy: RedirectPolicy::Exact,
        scopes: ScopeSet::parse("openid profile email").unwrap(),
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

fn public_client() -> Client {
    client(ClientKind::Public)
}

fn confidential_client() -> Client {
    client(ClientKind::Confidential)
}

fn known_scopes() -> ScopeSet {
    ScopeSet::parse("openid profile email read-billing").unwrap()
}

fn params(pairs: &[(&str, &str)]) -> Params {
    Params::new(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
}

/// A valid request of a public client, with `changes` applied: a pair replaces the parameter
/// of that name, and a pair with an empty name removes the parameter named by its value.
fn request_params(changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", "af0ifjsldkj"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (name, value) in changes {
        if name.is_empty() {
            pairs.retain(|(k, _)| k != value);
        } else if let Some(pair) = pairs.iter_mut().find(|(k, _)| k == name) {
            pair.1 = (*value).to_owned();
        } else {
            pairs.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    pairs
}

/// Runs the three steps as the endpoint does.
fn run(pairs: Vec<(String, String)>, client: &Client) -> Result<AuthorizationRequest, Box<RedirectError>> {
    let params = Params::new(pairs);
    assert_eq!(client_id(&params).unwrap(), CLIENT_ID);
    let redirect = verify_redirect(&params, client).unwrap();
    validate(&params, client, redirect, &known_scopes())
}

fn accepted(changes: &[(&str, &str)]) -> AuthorizationRequest {
    run(request_params(changes), &public_client()).unwrap()
}

/// The redirected error: (error, error_description, echoed state).
fn refused_for(client: &Client, pairs: Vec<(String, String)>) -> (ErrorCode, String, Option<String>) {
    let err = run(pairs, client).unwrap_err();
    assert_eq!(err.redirect.as_str(), REDIRECT);
    (err.error.code, err.error.description, err.state)
}

fn refused(changes: &[(&str, &str)]) -> (ErrorCode, String, Option<String>) {
    refused_for(&public_client(), request_params(changes))
}

fn invalid_request(description: &str) -> (ErrorCode, String, Option<String>) {
    (ErrorCode::InvalidRequest, description.to_owned(), Some("af0ifjsldkj".to_owned()))
}

fn invalid_scope(description: &str) -> (ErrorCode, String, Option<String>) {
    (ErrorCode::InvalidScope, description.to_owned(), Some("af0ifjsldkj".to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Step 1: client_id (shown, never redirected)
// ---------------------------------------------------------------------------------------------

#[test]
fn client_id_is_read_once() {
    assert_eq!(client_id(&params(&[("client_id", "app-1")])), Ok("app-1"));
}

#[test]
fn missing_client_id_is_an_invalid_request() {
    let missing = Err(OAuthError::invalid_request("client_id is missing"));
    assert_eq!(client_id(&params(&[])), missing);
    assert_eq!(client_id(&params(&[("client_id", "")])), missing);
    assert_eq!(client_id(&params(&[("client_ID", "app-1")])), missing);
}

#[test]
fn duplicated_client_id_is_an_invalid_request() {
    // Two client ids could be read differently by two layers: refuse rather than pick one.
    let duplicated = Err(OAuthError::invalid_request("client_id was sent more than once"));
    assert_eq!(client_id(&params(&[("client_id", "app-1"), ("client_id", "evil")])), duplicated);
    assert_eq!(client_id(&params(&[("client_id", "app-1"), ("client_id", "app-1")])), duplicated);
    assert_eq!(client_id(&params(&[("client_id", ""), ("client_id", "app-1")])), duplicated);
}

// ---------------------------------------------------------------------------------------------
// Step 2: redirect_uri (shown, never redirected)
// ---------------------------------------------------------------------------------------------

#[test]
fn registered_redirect_uri_is_verified() {
    let redirect = verify_redirect(&Params::new(request_params(&[])), &public_client()).unwrap();
    assert_eq!(redirect.as_str(), REDIRECT);
    assert!(redirect.was_sent());
}

#[test]
fn openid_request_requires_redirect_uri() {
    // OIDC Core §3.1.2.1, even though the app has a single registration.
    let required = Err(OAuthError::invalid_request("redirect_uri is required in OpenID Connect requests"));
    for scope in ["openid", "profile openid", "openid  email"] {
        let params = Params::new(request_params(&[("", "redirect_uri"), ("scope", scope)]));
        assert_eq!(verify_redirect(&params, &public_client()), required, "{scope}");
    }
    let empty = Params::new(request_params(&[("redirect_uri", "")]));
    assert_eq!(verify_redirect(&empty, &public_client()), required);
}

#[test]
fn plain_oauth_request_without_redirect_uri_uses_the_only_registration() {
    // RFC 6749 §3.1.2.3.
    let params = Params::new(request_params(&[("", "redirect_uri"), ("scope", "profile")]));
    let redirect = verify_redirect(&params, &public_client()).unwrap();
    assert_eq!(redirect.as_str(), REDIRECT);
    assert!(!redirect.was_sent());
    // The scope `openidx` is not `openid`.
    let params = Params::new(request_params(&[("", "redirect_uri"), ("scope", "openidx")]));
    assert_eq!(verify_redirect(&params, &public_client()).unwrap().as_str(), REDIRECT);
}

#[test]
fn plain_oauth_request_without_redirect_uri_and_several_registrations_is_rejected() {
    let mut client = public_client();
    client.redirect_uris.push(RedirectUri::parse("https://app.example/other").unwrap());
    let params = Params::new(request_params(&[("", "redirect_uri"), ("scope", "profile")]));
    assert_eq!(verify_redirect(&params, &client), Err(OAuthError::invalid_request("redirect_uri is required")));
}

#[test]
fn mismatched_redirect_uri_is_shown_not_redirected() {
    let no_match =
        Err(OAuthError::invalid_request("redirect_uri does not match any redirect URI registered for this app"));
    for presented in [
        "https://evil.example/cb",
        "https://app.example/cb/",
        "https://app.example/cb?x=1",
        "https://app.example/cb/../evil",
        "https://app.example/cbx",
        "https://app.example@evil.example/cb",
        "https://app.example/CB",
    ] {
        let params = Params::new(request_params(&[("redirect_uri", presented)]));
        assert_eq!(verify_redirect(&params, &public_client()), no_match, "{presented}");
    }
}

#[test]
fn duplicated_redirect_uri_is_rejected() {
    let mut pairs = request_params(&[]);
    pairs.push(("redirect_uri".into(), "https://evil.example/cb".into()));
    assert_eq!(
        verify_redirect(&Params::new(pairs), &public_client()),
        Err(OAuthError::invalid_request("redirect_uri was sent more than once"))
    );
}

#[test]
fn origin_policy_app_redirects_anywhere_on_its_origin() {
    let mut client = public_client();
    client.redirect_policy = RedirectPolicy::Origin;
    let params = Params::new(request_params(&[("redirect_uri", "https://app.example/spaces/x?tab=files")]));
    assert_eq!(verify_redirect(&params, &client).unwrap().as_str(), "https://app.example/spaces/x?tab=files");
    let params = Params::new(request_params(&[("redirect_uri", "https://app.example.evil.example/cb")]));
    assert_eq!(
        verify_redirect(&params, &client),
        Err(OAuthError::invalid_request("redirect_uri is not under an origin registered for this app"))
    );
}

// ---------------------------------------------------------------------------------------------
// Step 3: validate (redirected with state and iss)
// ---------------------------------------------------------------------------------------------

#[test]
fn valid_request_is_accepted() {
    let request = accepted(&[("login_hint", "alice")]);
    assert_eq!(request.client_id, CLIENT_ID);
    assert_eq!(request.redirect.as_str(), REDIRECT);
    assert!(request.redirect.was_sent());
    assert_eq!(request.scopes.to_string(), "openid profile");
    assert!(request.is_openid());
    assert_eq!(request.state.as_deref(), Some("af0ifjsldkj"));
    assert_eq!(request.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    assert_eq!(request.code_challenge.as_ref().map(CodeChallenge::as_str), Some(CHALLENGE));
    assert_eq!(request.prompt, Prompt::default());
    assert_eq!(request.max_age, None);
    assert_eq!(request.login_hint.as_deref(), Some("alice"));
}

#[test]
fn minimal_request_is_accepted() {
    let request = accepted(&[("", "state"), ("", "nonce")]);
    assert_eq!(request.state, None);
    assert_eq!(request.nonce, None);
    assert_eq!(request.login_hint, None);
    let request = accepted(&[("scope", "profile")]);
    assert!(!request.is_openid());
}

#[test]
fn unknown_parameters_are_ignored_even_duplicated() {
    let mut pairs = request_params(&[]);
    pairs.push(("utm_source".into(), "a".into()));
    pairs.push(("utm_source".into(), "b".into()));
    assert!(run(pairs, &public_client()).is_ok());
}

#[test]
fn missing_response_type_is_an_invalid_request() {
    assert_eq!(refused(&[("", "response_type")]), invalid_request("response_type is missing"));
    assert_eq!(refused(&[("response_type", "")]), invalid_request("response_type is missing"));
}

#[test]
fn implicit_and_hybrid_response_types_are_unsupported() {
    // RFC 9700 §2.1.2: no tokens in the front channel.
    for response_type in ["token", "id_token", "code id_token", "id_token token", "CODE", "code "] {
        assert_eq!(
            refused(&[("response_type", response_type)]),
            (
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported".to_owned(),
                Some("af0ifjsldkj".to_owned())
            ),
            "{response_type}"
        );
    }
}

#[test]
fn response_mode_other_than_query_or_form_post_is_rejected() {
    assert_eq!(accepted(&[("response_mode", "query")]).response_mode, ResponseMode::Query);
    assert_eq!(accepted(&[("response_mode", "form_post")]).response_mode, ResponseMode::FormPost);
    for mode in ["fragment", "web_message"] {
        assert_eq!(
            refused(&[("response_mode", mode)]),
            invalid_request(&format!("response_mode '{mode}' is not supported (use query or form_post)")),
            "{mode}"
        );
    }
}

#[test]
fn errors_after_a_form_post_request_travel_by_form_post() {
    let params = params(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_mode", "form_post"),
        ("response_type", "token"),
        ("scope", "openid"),
    ]);
    let client = confidential_client();
    let redirect = verify_redirect(&params, &client).unwrap();
    let error = validate(&params, &client, redirect, &known_scopes()).unwrap_err();
    assert_eq!(error.mode, ResponseMode::FormPost);
    assert_eq!(error.error.code, ErrorCode::UnsupportedResponseType);
}

#[test]
fn duplicated_parameter_is_an_invalid_request() {
    // RFC 6749 §3.1: parameters must not be included more than once.
    for (name, value) in [
        ("scope", "openid"),
        ("response_type", "code"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("nonce", "other"),
        ("prompt", "none"),
        ("max_age", "60"),
        ("login_hint", "bob"),
        ("response_mode", "query"),
    ] {
        let mut pairs = request_params(&[(name, value)]);
        pairs.push((name.to_owned(), value.to_owned()));
        assert_eq!(
            refused_for(&public_client(), pairs),
            invalid_request(&format!("{name} was sent more than once")),
            "{name}"
        );
    }
}

#[test]
fn duplicated_state_is_not_echoed() {
    let mut pairs = request_params(&[]);
    pairs.push(("state".into(), "attacker".into()));
    assert_eq!(
        refused_for(&public_client(), pairs),
        (ErrorCode::InvalidRequest, "state was sent more than once".to_owned(), None)
    );
}

#[test]
fn overlong_state_and_nonce_are_rejected() {
    let long = "s".repeat(4097);
    let (code, description, state) = refused(&[("state", &long)]);
    assert_eq!((code, description.as_str()), (ErrorCode::InvalidRequest, "state is too long"));
    assert_eq!(state.as_deref(), Some(long.as_str()));
    assert_eq!(refused(&[("nonce", &long)]), invalid_request("nonce is too long"));
    let at_limit = "s".repeat(4096);
    let request = accepted(&[("state", &at_limit), ("nonce", &at_limit)]);
    assert_eq!(request.state.as_deref(), Some(at_limit.as_str()));
    assert_eq!(request.nonce.as_deref(), Some(at_limit.as_str()));
}

#[test]
fn missing_scope_is_an_invalid_scope() {
    for changes in [&[("", "scope")][..], &[("scope", "")], &[("scope", "   ")]] {
        assert_eq!(refused(changes), invalid_scope("scope is missing"), "{changes:?}");
    }
}

#[test]
fn unknown_scope_is_an_invalid_scope() {
    assert_eq!(refused(&[("scope", "openid admin")]), invalid_scope("unknown scope 'admin'"));
    // Scopes are case-sensitive (RFC 6749 §3.3).
    assert_eq!(refused(&[("scope", "OpenID")]), invalid_scope("unknown scope 'OpenID'"));
}

#[test]
fn scope_not_registered_for_the_app_is_an_invalid_scope() {
    assert_eq!(
        refused(&[("scope", "openid read-billing")]),
        invalid_scope("this app is not allowed the scope 'read-billing'")
    );
}

#[test]
fn malformed_scope_is_an_invalid_scope() {
    assert_eq!(
        refused(&[("scope", "openid \"profile\"")]),
        invalid_scope("a scope may not contain spaces, quotes or backslashes")
    );
    assert_eq!(
        refused(&[("scope", "openid pro\\file")]),
        invalid_scope("a scope may not contain spaces, quotes or backslashes")
    );
}

#[test]
fn repeated_scopes_are_merged() {
    let request = accepted(&[("scope", "profile  openid profile")]);
    assert_eq!(request.scopes.to_string(), "openid profile");
}

// PKCE (RFC 7636, RFC 9700 §2.1.1)

#[test]
fn pkce_plain_is_rejected() {
    assert_eq!(
        refused(&[("code_challenge_method", "plain")]),
        invalid_request("code_challenge_method must be S256; plain is not supported")
    );
}

#[test]
fn pkce_challenge_without_method_is_rejected() {
    // RFC 7636 §4.3: no method means plain.
    assert_eq!(
        refused(&[("", "code_challenge_method")]),
        invalid_request("code_challenge_method must be S256; plain is not supported")
    );
}

#[test]
fn pkce_method_without_challenge_is_rejected() {
    assert_eq!(refused(&[("", "code_challenge")]), invalid_request("code_challenge_method without code_challenge"));
}

#[test]
fn pkce_method_is_case_sensitive() {
    for method in ["s256", "SHA256", "S512"] {
        assert_eq!(
            refused(&[("code_challenge_method", method)]),
            invalid_request("unsupported code_challenge_method; use S256"),
            "{method}"
        );
    }
}

#[test]
fn malformed_pkce_challenge_is_rejected() {
    for challenge in
        ["short", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk0", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"]
    {
        assert_eq!(
            refused(&[("code_challenge", challenge)]),
            invalid_request("code_challenge must be the 43-character base64url SHA-256 of the verifier"),
            "{challenge}"
        );
    }
}

#[test]
fn public_client_without_pkce_is_rejected() {
    assert_eq!(
        refused(&[("", "code_challenge"), ("", "code_challenge_method")]),
        invalid_request("this app must use PKCE: send code_challenge with S256")
    );
}

#[test]
fn confidential_client_may_skip_pkce_unless_required() {
    let pairs = request_params(&[("", "code_challenge"), ("", "code_challenge_method")]);
    let request = run(pairs.clone(), &confidential_client()).unwrap();
    assert_eq!(request.code_challenge, None);

    let mut strict = confidential_client();
    strict.require_pkce = true;
    assert_eq!(refused_for(&strict, pairs), invalid_request("this app must use PKCE: send code_challenge with S256"));
    assert!(run(request_params(&[]), &strict).unwrap().code_challenge.is_some());
}

// prompt and max_age (OIDC Core §3.1.2.1)

#[test]
fn prompt_values_are_parsed() {
    let prompt = |raw: &str| accepted(&[("prompt", raw)]).prompt;
    let none = Prompt { none: true, login: false, consent: false };
    let login = Prompt { none: false, login: true, consent: false };
    let consent = Prompt { none: false, login: false, consent: true };
    assert_eq!(prompt("none"), none);
    assert_eq!(prompt("login"), login);
    assert_eq!(prompt("consent"), consent);
    assert_eq!(prompt("login consent"), Prompt { none: false, login: true, consent: true });
    assert_eq!(prompt(" login  login "), login);
    assert_eq!(prompt(""), Prompt::default());
}

#[test]
fn prompt_select_account_counts_as_login() {
    let login = Prompt { none: false, login: true, consent: false };
    assert_eq!(accepted(&[("prompt", "select_account")]).prompt, login);
}

#[test]
fn prompt_none_with_other_values_is_rejected() {
    for prompt in ["none login", "consent none", "none select_account", "none none"] {
        assert_eq!(
            refused(&[("prompt", prompt)]),
            invalid_request("prompt=none cannot be combined with other values"),
            "{prompt}"
        );
    }
}

#[test]
fn unknown_prompt_value_is_rejected() {
    assert_eq!(refused(&[("prompt", "login bogus")]), invalid_request("unsupported prompt value 'bogus'"));
    assert_eq!(refused(&[("prompt", "NONE")]), invalid_request("unsupported prompt value 'NONE'"));
}

#[test]
fn max_age_is_a_non_negative_integer() {
    assert_eq!(accepted(&[("max_age", "0")]).max_age, Some(0));
    assert_eq!(accepted(&[("max_age", "3600")]).max_age, Some(3600));
    assert_eq!(accepted(&[("max_age", "")]).max_age, None);
    for raw in ["abc", "-1", "1.5", "1e3", " 60", "60s", "99999999999"] {
        assert_eq!(refused(&[("max_age", raw)]), invalid_request("max_age must be a non-negative integer"), "{raw}");
    }
}

#[test]
fn login_hint_is_truncated() {
    let long = "h".repeat(300);
    let request = accepted(&[("login_hint", &long)]);
    assert_eq!(request.login_hint, Some("h".repeat(256)));
}

#[test]
fn request_object_is_not_supported() {
    // OIDC Core §6.1 and §3.1.2.6: the dedicated error codes.
    assert_eq!(
        refused(&[("request", "eyJhbGciOiJub25lIn0.e30.")]),
        (
            ErrorCode::RequestNotSupported,
            "request objects are not supported".to_owned(),
            Some("af0ifjsldkj".to_owned())
        )
    );
    assert_eq!(
        refused(&[("request_uri", "https://app.example/req.jwt")]),
        (ErrorCode::RequestUriNotSupported, "request_uri is not supported".to_owned(), Some("af0ifjsldkj".to_owned()))
    );
}

#[test]
fn redirect_error_location_carries_error_description_state_and_iss() {
    let err = run(request_params(&[("scope", "openid admin")]), &public_client()).unwrap_err();
    assert_eq!(err.state.as_deref(), Some("af0ifjsldkj"));
    assert_eq!(
        err.location(ISSUER),
        "https://app.example/cb?error=invalid_scope\
         &error_description=unknown+scope+%27admin%27\
         &state=af0ifjsldkj&iss=https%3A%2F%2Fid.example"
    );
}

#[test]
fn redirect_error_without_state_has_no_state() {
    let err = run(request_params(&[("", "state"), ("response_type", "token")]), &public_client()).unwrap_err();
    assert_eq!(
        err.location(ISSUER),
        "https://app.example/cb?error=unsupported_response_type\
         &error_description=only+response_type%3Dcode+is+supported\
         &iss=https%3A%2F%2Fid.example"
    );
}

#[test]
fn redirect_error_keeps_the_registered_query_and_encodes_state() {
    let mut client = public_client();
    client.redirect_uris = vec![RedirectUri::parse("https://app.example/cb?tenant=a").unwrap()];
    let params = Params::new(request_params(&[
        ("redirect_uri", "https://app.example/cb?tenant=a"),
        ("state", "a&b=c d"),
        ("", "code_challenge"),
        ("", "code_challenge_method"),
    ]));
    let redirect = verify_redirect(&params, &client).unwrap();
    let err = validate(&params, &client, redirect, &known_scopes()).unwrap_err();
    assert_eq!(
        err.location(ISSUER),
        "https://app.example/cb?tenant=a&error=invalid_request\
         &error_description=this+app+must+use+PKCE%3A+send+code_challenge+with+S256\
         &state=a%26b%3Dc+d&iss=https%3A%2F%2Fid.example"
    );
}

// ---------------------------------------------------------------------------------------------
// decide: login, consent or a code (OIDC Core §3.1.2.3, §3.1.2.4)
// ---------------------------------------------------------------------------------------------

const NOW: i64 = 1_700_000_000;

fn signed_in(seconds_ago: i64) -> Option<SessionState> {
    Some(SessionState { auth_time: NOW - seconds_ago, fresh_login: false, hint_names_other_user: false })
}

fn just_signed_in(seconds_ago: i64) -> Option<SessionState> {
    Some(SessionState { auth_time: NOW - seconds_ago, fresh_login: true, hint_names_other_user: false })
}

fn login_required() -> Next {
    Next::Fail(OAuthError::new(ErrorCode::LoginRequired, "the user is not signed in"))
}

fn consent_required() -> Next {
    Next::Fail(OAuthError::new(ErrorCode::ConsentRequired, "the user has not approved this app"))
}

#[test]
fn signed_in_user_with_consent_gets_a_code() {
    let request = accepted(&[]);
    assert_eq!(decide(&request, signed_in(60), true, NOW), Next::Issue);
    assert_eq!(decide(&request, just_signed_in(0), true, NOW), Next::Issue);
}

#[test]
fn no_session_leads_to_login() {
    assert_eq!(decide(&accepted(&[]), None, true, NOW), Next::Login);
    assert_eq!(decide(&accepted(&[]), None, false, NOW), Next::Login);
}

#[test]
fn no_session_with_prompt_none_is_login_required() {
    let request = accepted(&[("prompt", "none")]);
    assert_eq!(decide(&request, None, true, NOW), login_required());
}

#[test]
fn prompt_login_forces_login_unless_fresh() {
    for prompt in ["login", "select_account"] {
        let request = accepted(&[("prompt", prompt)]);
        assert_eq!(decide(&request, signed_in(1), true, NOW), Next::Login, "{prompt}");
        // Having just signed in during this request, the person must not loop.
        assert_eq!(decide(&request, just_signed_in(0), true, NOW), Next::Issue, "{prompt}");
    }
}

#[test]
fn max_age_exceeded_leads_to_login() {
    let request = accepted(&[("max_age", "300")]);
    assert_eq!(decide(&request, signed_in(301), true, NOW), Next::Login);
    assert_eq!(decide(&request, signed_in(300), true, NOW), Next::Issue);
    assert_eq!(decide(&request, signed_in(10), true, NOW), Next::Issue);
    assert_eq!(decide(&request, just_signed_in(301), true, NOW), Next::Issue);
}

#[test]
fn max_age_zero_requires_a_sign_in_in_this_request() {
    let request = accepted(&[("max_age", "0")]);
    assert_eq!(decide(&request, signed_in(1), true, NOW), Next::Login);
    // Signed in earlier within the same second: still like prompt=login.
    assert_eq!(decide(&request, signed_in(0), true, NOW), Next::Login);
    assert_eq!(decide(&request, just_signed_in(0), true, NOW), Next::Issue);
}

#[test]
fn max_age_exceeded_with_prompt_none_is_login_required() {
    let request = accepted(&[("max_age", "300"), ("prompt", "none")]);
    assert_eq!(
        decide(&request, signed_in(301), true, NOW),
        Next::Fail(OAuthError::new(ErrorCode::LoginRequired, "the user must sign in again"))
    );
    assert_eq!(decide(&request, signed_in(299), true, NOW), Next::Issue);
}

#[test]
fn missing_consent_leads_to_consent() {
    assert_eq!(decide(&accepted(&[]), signed_in(60), false, NOW), Next::Consent);
    assert_eq!(decide(&accepted(&[]), just_signed_in(0), false, NOW), Next::Consent);
}

#[test]
fn missing_consent_with_prompt_none_is_consent_required() {
    let request = accepted(&[("prompt", "none")]);
    assert_eq!(decide(&request, signed_in(60), false, NOW), consent_required());
    assert_eq!(decide(&request, signed_in(60), true, NOW), Next::Issue);
}

#[test]
fn prompt_consent_forces_consent() {
    let request = accepted(&[("prompt", "consent")]);
    assert_eq!(decide(&request, signed_in(60), true, NOW), Next::Consent);
    let request = accepted(&[("prompt", "login consent")]);
    assert_eq!(decide(&request, signed_in(60), true, NOW), Next::Login);
    assert_eq!(decide(&request, just_signed_in(0), true, NOW), Next::Consent);
}

#[test]
fn id_token_hint_for_another_user_requires_login_or_fails_with_prompt_none() {
    let hinted = Some(SessionState { auth_time: NOW - 10, fresh_login: false, hint_names_other_user: true });
    let request = accepted(&[]);
    assert_eq!(decide(&request, hinted, true, NOW), Next::Login);
    let silent = accepted(&[("prompt", "none")]);
    assert!(matches!(decide(&silent, hinted, true, NOW), Next::Fail(e) if e.code == ErrorCode::LoginRequired));
    let fresh = Some(SessionState { auth_time: NOW, fresh_login: true, hint_names_other_user: true });
    assert_eq!(decide(&request, fresh, true, NOW), Next::Issue, "the person chose to sign in as someone else");
}
