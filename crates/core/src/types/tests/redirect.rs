//! Redirect URIs: what may be registered, the exact and origin policies, the response builder.

use crate::types::*;

fn uri(raw: &str) -> RedirectUri {
    RedirectUri::parse(raw).unwrap()
}

fn rejected(raw: &str) -> RedirectUriError {
    match RedirectUri::parse(raw) {
        Ok(parsed) => panic!("{raw} was accepted as {parsed:?}"),
        Err(e) => e,
    }
}

/// What `RedirectPolicy::verify` answers, as the URI it will redirect to.
fn verify(policy: RedirectPolicy, registered: &[&str], presented: Option<&str>) -> Result<String, &'static str> {
    let registered: Vec<RedirectUri> = registered.iter().map(|r| uri(r)).collect();
    policy.verify(&registered, presented).map(|v| v.as_str().to_owned())
}

const NO_MATCH: &str = "redirect_uri does not match any redirect URI registered for this app";
const NOT_UNDER_ORIGIN: &str = "redirect_uri is not under an origin registered for this app";
const NOT_VALID: &str = "redirect_uri is not a valid redirect URI";
const REQUIRED: &str = "redirect_uri is required";

// ---------------------------------------------------------------------------------------------
// RedirectUri::parse: what may be registered
// ---------------------------------------------------------------------------------------------

#[test]
fn https_redirect_is_accepted_and_kept_verbatim() {
    for raw in [
        "https://app.example/callback",
        "https://app.example",
        "https://app.example:8443/cb?tenant=a&x=%2F",
        "https://APP.example/CallBack",
    ] {
        assert_eq!(uri(raw).as_str(), raw);
        assert_eq!(uri(raw).to_string(), raw);
        assert_eq!(String::from(uri(raw)), raw);
    }
}

#[test]
fn http_redirect_is_accepted_only_for_loopback() {
    for raw in [
        "http://127.0.0.1/cb",
        "http://127.0.0.1:8080/cb",
        "http://[::1]/cb",
        "http://[::1]:3000/cb",
        "http://localhost/cb",
        "http://localhost:5173/auth/callback",
    ] {
        assert_eq!(uri(raw).as_str(), raw);
    }
    for raw in [
        "http://app.example/cb",
        "http://127.0.0.2/cb",
        "http://10.0.0.1/cb",
        "http://localhost.evil.example/cb",
        "http://127.0.0.1.evil.example/cb",
        "http://localhost./cb",
        "http://[::ffff:127.0.0.1]/cb",
    ] {
        assert_eq!(rejected(raw), RedirectUriError::Scheme, "{raw}");
    }
}

#[test]
fn redirect_with_fragment_is_rejected() {
    assert_eq!(rejected("https://app.example/cb#"), RedirectUriError::Fragment);
    assert_eq!(rejected("https://app.example/cb#frag"), RedirectUriError::Fragment);
    assert_eq!(rejected("https://app.example/cb?x=1#a"), RedirectUriError::Fragment);
}

#[test]
fn redirect_with_userinfo_is_rejected() {
    for raw in [
        "https://user@app.example/cb",
        "https://user:pass@app.example/cb",
        "https://:pass@app.example/cb",
        "https://@app.example/cb",
        // The classic confusion: reads as good.example, goes to evil.example.
        "https://good.example@evil.example/",
        "https://good.example:443@evil.example/",
        "http://127.0.0.1:8080@evil.example/cb",
        "http://localhost@evil.example/cb",
        "https://good.example%2F@evil.example/",
    ] {
        assert_eq!(rejected(raw), RedirectUriError::UserInfo, "{raw}");
    }
}

#[test]
fn percent_encoded_at_in_host_is_rejected() {
    // The host decodes to `good.example@evil.example`, which is not a valid host.
    assert_eq!(rejected("https://good.example%40evil.example/"), RedirectUriError::NotAbsolute);
    assert_eq!(rejected("https://good.example%40evil.example"), RedirectUriError::NotAbsolute);
}

#[test]
fn redirect_with_wildcard_is_rejected() {
    assert_eq!(rejected("https://*.app.example/cb"), RedirectUriError::Wildcard);
    assert_eq!(rejected("https://app.*/cb"), RedirectUriError::Wildcard);
    assert_eq!(rejected("https://app.example:*/cb"), RedirectUriError::Wildcard);
    assert_eq!(rejected("https://*"), RedirectUriError::Wildcard);
}

#[test]
fn empty_authority_cannot_smuggle_a_host() {
    // `https:///host` is read by URL parsers as `https://host`: the checks on the written
    // authority (userinfo, wildcard) would see an empty one and let the host through.
    assert_eq!(rejected("https:///*.app.example/cb"), RedirectUriError::NotAbsolute);
    assert_eq!(rejected("https:///app.example/cb"), RedirectUriError::NotAbsolute);
    assert_eq!(rejected("http:///localhost/cb"), RedirectUriError::NotAbsolute);
}

#[test]
fn script_data_and_custom_schemes_are_rejected() {
    for raw in [
        "javascript:alert(1)",
        "javascript://app.example/%0aalert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "ftp://app.example/cb",
        "com.example.app:/oauth2redirect",
        "myapp://callback",
        "https:app.example/cb",
        "https:/app.example/cb",
    ] {
        assert_eq!(rejected(raw), RedirectUriError::Scheme, "{raw}");
    }
}

#[test]
fn uppercase_scheme_is_rejected() {
    // The exact policy compares bytes, so the scheme must be written the one way.
    assert_eq!(rejected("HTTPS://app.example/cb"), RedirectUriError::Scheme);
    assert_eq!(rejected("Https://app.example/cb"), RedirectUriError::Scheme);
    assert_eq!(rejected("HTTP://127.0.0.1/cb"), RedirectUriError::Scheme);
}

#[test]
fn relative_or_hostless_redirect_is_rejected() {
    assert_eq!(rejected(""), RedirectUriError::NotAbsolute);
    assert_eq!(rejected("/callback"), RedirectUriError::NotAbsolute);
    assert_eq!(rejected("//evil.example/cb"), RedirectUriError::NotAbsolute);
    assert_eq!(rejected("app.example/cb"), RedirectUriError::NotAbsolute);
    assert_eq!(rejected("https://"), RedirectUriError::NotAbsolute);
    assert_eq!(rejected("https://[::1/cb"), RedirectUriError::NotAbsolute);
}

#[test]
fn backslashes_are_rejected() {
    // Browsers read `\` as `/` in special URLs: `https://good.example\@evil.example`.
    assert_eq!(rejected("https://good.example\\@evil.example/"), RedirectUriError::BadCharacters);
    assert_eq!(rejected("https:\\\\evil.example/"), RedirectUriError::BadCharacters);
    assert_eq!(rejected("https://app.example/a\\b"), RedirectUriError::BadCharacters);
}

#[test]
fn whitespace_and_control_characters_are_rejected() {
    for raw in [
        " https://app.example/cb",
        "https://app.example/cb ",
        "https://app.example/c b",
        "https://app.example/cb\t",
        "https://app.example/cb\n",
        "https://app.\nexample/cb",
        "https://app.example/cb\r\nSet-Cookie: x=1",
        "https://app.example/cb\0",
        "https://app.example/cb\u{7f}",
        "https://app.example/cb\u{a0}",
        "https://app.example/cb\u{2028}",
    ] {
        assert_eq!(rejected(raw), RedirectUriError::BadCharacters, "{raw:?}");
    }
}

#[test]
fn dot_segments_are_rejected_even_percent_encoded() {
    for raw in [
        "https://app.example/cb/../evil",
        "https://app.example/cb/./x",
        "https://app.example/..",
        "https://app.example/.",
        "https://app.example/cb/..?x=1",
        "https://app.example/cb/%2e%2e/evil",
        "https://app.example/cb/%2E%2E/evil",
        "https://app.example/cb/.%2e/evil",
        "https://app.example/cb/%2e./evil",
        "https://app.example/cb/%2e/x",
        "http://127.0.0.1/cb/../x",
    ] {
        assert_eq!(rejected(raw), RedirectUriError::DotSegment, "{raw}");
    }
    // Dots inside a segment, and dots in the query, are ordinary characters.
    for raw in [
        "https://app.example/cb/...",
        "https://app.example/cb/..x",
        "https://app.example/.well-known/cb",
        "https://app.example/cb?next=../x",
        "https://app.example/cb/%252e%252e/x",
    ] {
        assert_eq!(uri(raw).as_str(), raw);
    }
}

#[test]
fn too_long_redirect_is_rejected() {
    let prefix = "https://app.example/";
    let at_limit = format!("{prefix}{}", "a".repeat(RedirectUri::MAX_LEN - prefix.len()));
    assert_eq!(at_limit.len(), 2000);
    assert_eq!(uri(&at_limit).as_str(), at_limit);
    let over = format!("{at_limit}a");
    assert_eq!(rejected(&over), RedirectUriError::TooLong);
}

#[test]
fn redirect_uri_deserializes_only_through_parse() {
    let ok: RedirectUri = serde_json::from_str("\"https://app.example/cb\"").unwrap();
    assert_eq!(ok.as_str(), "https://app.example/cb");
    let bad = serde_json::from_str::<RedirectUri>("\"https://user@app.example/cb\"");
    assert!(bad.unwrap_err().to_string().contains("user name or password"));
    assert_eq!(serde_json::to_string(&ok).unwrap(), "\"https://app.example/cb\"");
}

// ---------------------------------------------------------------------------------------------
// RedirectPolicy::Exact
// ---------------------------------------------------------------------------------------------

#[test]
fn exact_policy_accepts_the_identical_uri() {
    let registered = ["https://app.example/callback", "https://app.example/other?x=1"];
    assert_eq!(
        verify(RedirectPolicy::Exact, &registered, Some("https://app.example/callback")),
        Ok("https://app.example/callback".to_owned())
    );
    assert_eq!(
        verify(RedirectPolicy::Exact, &registered, Some("https://app.example/other?x=1")),
        Ok("https://app.example/other?x=1".to_owned())
    );
}

#[test]
fn exact_policy_compares_byte_for_byte() {
    let registered = ["https://app.example/callback"];
    for presented in [
        "https://app.example/callback/",
        "https://app.example/callback?",
        "https://app.example/callback?x=1",
        "https://app.example/callback#",
        "https://APP.example/callback",
        "https://app.example/Callback",
        "HTTPS://app.example/callback",
        "https://app.example:443/callback",
        "https://app.example/callback/../x",
        "https://app.example/callback/..",
        "https://app.example/callbackx",
        "https://app.example/callback.evil.example",
        "https://app.example/callback%2F..%2Fx",
        "https://app.example.evil.example/callback",
        "https://app.example/callback@evil.example",
        "https://app.example/%63allback",
        "http://app.example/callback",
        " https://app.example/callback",
        "https://app.example/callback ",
        "https://app.example/",
        "https://app.example/call",
        "",
    ] {
        assert_eq!(verify(RedirectPolicy::Exact, &registered, Some(presented)), Err(NO_MATCH), "{presented:?}");
    }
}

#[test]
fn exact_policy_with_query_in_registration_requires_that_query() {
    let registered = ["https://app.example/cb?tenant=a"];
    assert_eq!(
        verify(RedirectPolicy::Exact, &registered, Some("https://app.example/cb?tenant=a")),
        Ok("https://app.example/cb?tenant=a".to_owned())
    );
    for presented in [
        "https://app.example/cb",
        "https://app.example/cb?tenant=b",
        "https://app.example/cb?tenant=a&x=1",
        "https://app.example/cb?tenant=ab",
    ] {
        assert_eq!(verify(RedirectPolicy::Exact, &registered, Some(presented)), Err(NO_MATCH), "{presented}");
    }
}

#[test]
fn loopback_redirect_accepts_any_port() {
    // RFC 8252 §7.3: native apps bind an ephemeral port.
    for (registered, presented) in [
        ("http://127.0.0.1/cb", "http://127.0.0.1:51004/cb"),
        ("http://127.0.0.1/cb", "http://127.0.0.1/cb"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:9090/cb"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1/cb"),
        ("http://[::1]/cb", "http://[::1]:3000/cb"),
        ("http://[::1]:1/cb", "http://[::1]:65535/cb"),
        ("http://localhost/cb", "http://localhost:5173/cb"),
        ("http://localhost:3000/cb?x=1", "http://localhost:4000/cb?x=1"),
        ("http://127.0.0.1", "http://127.0.0.1:8000"),
        ("http://127.0.0.1/", "http://127.0.0.1:8000/"),
    ] {
        assert_eq!(
            verify(RedirectPolicy::Exact, &[registered], Some(presented)),
            Ok(presented.to_owned()),
            "{registered} vs {presented}"
        );
    }
}

#[test]
fn loopback_port_exception_keeps_the_rest_exact() {
    let registered = ["http://127.0.0.1/cb"];
    for presented in [
        "http://127.0.0.1:8080/cb/",
        "http://127.0.0.1:8080/cb?x=1",
        "http://127.0.0.1:8080/cbx",
        "http://127.0.0.1:8080/cb/../x",
        "http://127.0.0.1:8080/CB",
        "http://127.0.0.1:/cb",
        "http://127.0.0.1:123456/cb",
        "http://127.0.0.1:80a/cb",
        "https://127.0.0.1:8080/cb",
    ] {
        assert_eq!(verify(RedirectPolicy::Exact, &registered, Some(presented)), Err(NO_MATCH), "{presented}");
    }
}

#[test]
fn loopback_host_literal_must_match() {
    // RFC 8252 §8.3: 127.0.0.1 and localhost are different registrations.
    for (registered, presented) in [
        ("http://127.0.0.1/cb", "http://localhost:8080/cb"),
        ("http://127.0.0.1/cb", "http://localhost/cb"),
        ("http://127.0.0.1/cb", "http://[::1]:8080/cb"),
        ("http://localhost/cb", "http://127.0.0.1:8080/cb"),
        ("http://[::1]/cb", "http://127.0.0.1:8080/cb"),
        ("http://127.0.0.1/cb", "http://127.1:8080/cb"),
        ("http://127.0.0.1/cb", "http://127.0.0.1.evil.example:8080/cb"),
        ("http://localhost/cb", "http://localhost.evil.example/cb"),
        ("http://localhost/cb", "http://localhost:80.evil.example/cb"),
    ] {
        assert_eq!(
            verify(RedirectPolicy::Exact, &[registered], Some(presented)),
            Err(NO_MATCH),
            "{registered} vs {presented}"
        );
    }
}

#[test]
fn loopback_redirect_with_userinfo_is_rejected() {
    for presented in [
        "http://127.0.0.1:8080@evil.example/cb",
        "http://127.0.0.1@evil.example/cb",
        "http://localhost:1@evil.example/cb",
    ] {
        assert_eq!(
            verify(RedirectPolicy::Exact, &["http://127.0.0.1/cb", "http://localhost/cb"], Some(presented)),
            Err(NO_MATCH),
            "{presented}"
        );
    }
}

#[test]
fn non_loopback_registration_has_no_port_exception() {
    assert_eq!(
        verify(RedirectPolicy::Exact, &["https://app.example/cb"], Some("https://app.example:8443/cb")),
        Err(NO_MATCH)
    );
    assert_eq!(
        verify(RedirectPolicy::Exact, &["https://app.example:8443/cb"], Some("https://app.example:9443/cb")),
        Err(NO_MATCH)
    );
    // https on a loopback host is not a native-app redirect either.
    assert_eq!(
        verify(RedirectPolicy::Exact, &["https://localhost/cb"], Some("https://localhost:8443/cb")),
        Err(NO_MATCH)
    );
}

#[test]
fn absent_redirect_uses_the_only_registration() {
    // RFC 6749 §3.1.2.3.
    let registered = [uri("https://app.example/cb")];
    let verified = RedirectPolicy::Exact.verify(&registered, None).unwrap();
    assert_eq!(verified.as_str(), "https://app.example/cb");
    assert!(!verified.was_sent());

    let sent = RedirectPolicy::Exact.verify(&registered, Some("https://app.example/cb")).unwrap();
    assert!(sent.was_sent());
}

#[test]
fn absent_redirect_with_several_registrations_is_rejected() {
    let registered = ["https://app.example/a", "https://app.example/b"];
    assert_eq!(verify(RedirectPolicy::Exact, &registered, None), Err(REQUIRED));
    assert_eq!(verify(RedirectPolicy::Exact, &[], None), Err(REQUIRED));
    assert_eq!(verify(RedirectPolicy::Exact, &[], Some("https://app.example/a")), Err(NO_MATCH));
}

// ---------------------------------------------------------------------------------------------
// RedirectPolicy::Origin
// ---------------------------------------------------------------------------------------------

#[test]
fn origin_policy_accepts_any_path_and_query_on_the_origin() {
    let registered = ["https://app.example/"];
    for presented in [
        "https://app.example/",
        "https://app.example",
        "https://app.example/deep/path/cb",
        "https://app.example/cb?b=2&a=1",
        "https://app.example/cb?x=%2F%20&&y=",
        "https://app.example:443/cb",
    ] {
        let verified = RedirectPolicy::Origin.verify(&registered.map(uri), Some(presented)).unwrap();
        // The query is passed through byte for byte, never re-serialised.
        assert_eq!(verified.as_str(), presented);
        assert!(verified.was_sent());
    }
}

#[test]
fn origin_policy_rejects_another_origin() {
    let registered = ["https://app.example/cb"];
    for presented in [
        "https://app.example:8443/cb",
        "https://other.example/cb",
        "https://app.example.evil.example/cb",
        "https://evil.example/app.example/cb",
        "https://sub.app.example/cb",
        "https://xapp.example/cb",
        "https://app.exampl/cb",
        "http://127.0.0.1/cb",
    ] {
        assert_eq!(verify(RedirectPolicy::Origin, &registered, Some(presented)), Err(NOT_UNDER_ORIGIN), "{presented}");
    }
}

#[test]
fn origin_policy_rejects_another_scheme() {
    assert_eq!(
        verify(RedirectPolicy::Origin, &["http://localhost:3000/"], Some("https://localhost:3000/cb")),
        Err(NOT_UNDER_ORIGIN)
    );
    assert_eq!(
        verify(RedirectPolicy::Origin, &["https://app.example/"], Some("http://app.example/cb")),
        Err(NOT_VALID)
    );
}

#[test]
fn origin_policy_rejects_invalid_presented_uris() {
    let registered = ["https://app.example/"];
    for presented in [
        "https://user@app.example/cb",
        "https://app.example@evil.example/cb",
        "https://app.example/cb#frag",
        "https://app.example/../cb",
        "https://app.example/%2e%2e/cb",
        "https://app.example/cb\\x",
        "https:///app.example/cb",
        "javascript:alert(1)",
        "/cb",
        "",
    ] {
        assert_eq!(verify(RedirectPolicy::Origin, &registered, Some(presented)), Err(NOT_VALID), "{presented:?}");
    }
}

#[test]
fn origin_policy_on_loopback_accepts_any_port_but_not_another_host() {
    let registered = ["http://127.0.0.1:3000/"];
    assert_eq!(
        verify(RedirectPolicy::Origin, &registered, Some("http://127.0.0.1:4000/cb?x=1")),
        Ok("http://127.0.0.1:4000/cb?x=1".to_owned())
    );
    assert_eq!(verify(RedirectPolicy::Origin, &registered, Some("http://localhost:3000/cb")), Err(NOT_UNDER_ORIGIN));
}

#[test]
fn origin_policy_always_requires_redirect_uri() {
    assert_eq!(verify(RedirectPolicy::Origin, &["https://app.example/"], None), Err(REQUIRED));
}

#[test]
fn redirect_policy_names_round_trip() {
    for policy in [RedirectPolicy::Exact, RedirectPolicy::Origin] {
        assert_eq!(RedirectPolicy::parse(policy.as_str()), Some(policy));
    }
    assert_eq!(RedirectPolicy::parse("Exact"), None);
    assert_eq!(RedirectPolicy::parse("prefix"), None);
    assert_eq!(RedirectPolicy::default(), RedirectPolicy::Exact);
}

// ---------------------------------------------------------------------------------------------
// VerifiedRedirect::with_params
// ---------------------------------------------------------------------------------------------

fn verified(raw: &str) -> VerifiedRedirect {
    RedirectPolicy::Origin.verify(&[uri("https://app.example/")], Some(raw)).unwrap()
}

#[test]
fn with_params_starts_a_query() {
    assert_eq!(
        verified("https://app.example/cb").with_params(&[("code", "abc"), ("state", "xyz")]),
        "https://app.example/cb?code=abc&state=xyz"
    );
    assert_eq!(verified("https://app.example").with_params(&[("code", "abc")]), "https://app.example?code=abc");
}

#[test]
fn with_params_appends_to_an_existing_query() {
    assert_eq!(
        verified("https://app.example/cb?tenant=a").with_params(&[("code", "abc")]),
        "https://app.example/cb?tenant=a&code=abc"
    );
    assert_eq!(verified("https://app.example/cb?").with_params(&[("code", "abc")]), "https://app.example/cb?code=abc");
    assert_eq!(
        verified("https://app.example/cb?tenant=a&").with_params(&[("code", "abc")]),
        "https://app.example/cb?tenant=a&code=abc"
    );
    assert_eq!(
        verified("https://app.example/cb?x=%2F%20+y").with_params(&[("code", "abc")]),
        "https://app.example/cb?x=%2F%20+y&code=abc"
    );
}

#[test]
fn with_params_url_encodes_values() {
    assert_eq!(
        verified("https://app.example/cb").with_params(&[
            ("state", "a b&c=d#e/f?g+h%i"),
            ("iss", "https://id.example"),
            ("x", "é"),
        ]),
        "https://app.example/cb?state=a+b%26c%3Dd%23e%2Ff%3Fg%2Bh%25i\
         &iss=https%3A%2F%2Fid.example&x=%C3%A9"
    );
}
