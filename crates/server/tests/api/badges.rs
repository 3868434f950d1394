//! "Sign in with" buttons and the developer docs page: every size and theme is a well-formed
//! SVG document served as `image/svg+xml`, cacheable with an ETag; the platform's name, logo and
//! accent colour come from configuration and are escaped.

use crate::helpers::*;

const SIZES: [(&str, f64); 4] = [("sm", 28.0), ("md", 36.0), ("lg", 44.0), ("xl", 56.0)];
const THEMES: [&str; 2] = ["light", "dark"];

/// Parses an SVG document and checks what every button has; returns its label.
fn check_svg(body: &str, height: f64, what: &str) -> String {
    let doc = roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("{what} is not well-formed XML: {e}\n{body}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{what}");
    assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"), "{what}");
    assert_eq!(root.attribute("height").unwrap().parse::<f64>().unwrap(), height, "{what}");
    let width: f64 = root.attribute("width").unwrap().parse().unwrap();
    assert!(width > height * 3.0, "{what}: width {width}");
    assert_eq!(root.attribute("viewBox").unwrap(), format!("0 0 {width} {height}"), "{what}");
    let title = root.children().find(|n| n.has_tag_name("title")).expect("a <title>");
    let text = root.descendants().find(|n| n.has_tag_name("text")).expect("a <text>");
    assert_eq!(title.text(), text.text(), "{what}");
    assert!(root.descendants().all(|n| !n.has_tag_name("script")), "{what}: no script");
    title.text().unwrap().to_owned()
}

#[tokio::test]
async fn every_size_and_theme_is_valid_svg_with_the_right_headers() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    for (size, height) in SIZES {
        for theme in THEMES {
            for name in [format!("sign-in-with-doorway-{size}-{theme}.svg"), format!("sign-in-{size}-{theme}.svg")] {
                let response = http.get(app.url(&format!("/badges/{name}"))).send().await.unwrap();
                assert_eq!(response.status(), 200, "{name}");
                let headers = response.headers().clone();
                assert_eq!(headers["content-type"], "image/svg+xml; charset=utf-8", "{name}");
                let cache = headers["cache-control"].to_str().unwrap();
                assert!(cache.starts_with("public") && cache.contains("max-age=604800"), "{name}: {cache}");
                let etag = headers["etag"].to_str().unwrap().to_owned();
                assert!(etag.starts_with('"') && etag.ends_with('"'), "{name}: {etag}");
                let body = response.text().await.unwrap();
                assert_eq!(check_svg(&body, height, &name), "Sign in with Doorway");
                let dark = body.contains("fill=\"#16181d\"");
                assert_eq!(dark, theme == "dark", "{name}: theme colours");
                // A cache revalidating gets 304 and no body.
                let again =
                    http.get(app.url(&format!("/badges/{name}"))).header("if-none-match", &etag).send().await.unwrap();
                assert_eq!(again.status(), 304, "{name}");
                assert_eq!(again.headers()["etag"], etag.as_str());
                assert!(again.text().await.unwrap().is_empty());
            }
        }
    }
}

#[tokio::test]
async fn unknown_platforms_sizes_and_themes_are_not_found() {
    let app = spawn_app().await;
    for name in [
        "sign-in-with-github-md-dark.svg",
        "sign-in-with-doorway-huge-dark.svg",
        "sign-in-with-doorway-md-blue.svg",
        "sign-in-with-doorway-md-dark.png",
        "sign-in-with-doorway.svg",
    ] {
        let response = reqwest::get(app.url(&format!("/badges/{name}"))).await.unwrap();
        assert_eq!(response.status(), 404, "{name}");
    }
}

#[tokio::test]
async fn branding_comes_from_configuration_and_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("logo.svg");
    std::fs::write(&logo, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\"><circle r=\"5\"/></svg>")
        .unwrap();
    let svg = std::fs::read_to_string(&logo).unwrap();
    let app = spawn_app_with(move |config| {
        config.platform_name = "Acme <Hub> & \"Co\"".into();
        config.platform_logo_svg = Some(svg);
        config.accent_color = "#ff6600".into();
    })
    .await;
    for (size, height) in SIZES {
        for theme in THEMES {
            let name = format!("sign-in-with-acme-hub-co-{size}-{theme}.svg");
            let response = reqwest::get(app.url(&format!("/badges/{name}"))).await.unwrap();
            assert_eq!(response.status(), 200, "{name}");
            let body = response.text().await.unwrap();
            assert_eq!(check_svg(&body, height, &name), "Sign in with Acme <Hub> & \"Co\"");
            assert!(body.contains("href=\"data:image/svg+xml;base64,"), "{name}: the logo is an embedded image");
            assert!(!body.contains("<circle"), "{name}: the logo's markup is not inlined");
        }
    }
    // Without a logo file, the built-in mark takes the accent colour.
    let app = spawn_app_with(|config| config.accent_color = "#ff6600".into()).await;
    let body = reqwest::get(app.url("/badges/sign-in-md-light.svg")).await.unwrap().text().await.unwrap();
    assert!(body.contains("stop-color=\"#ff6600\""));
}

#[tokio::test]
async fn the_docs_page_lists_scopes_endpoints_and_every_button_with_its_snippets() {
    let app = spawn_app().await;
    let response = reqwest::get(app.url("/docs/sign-in")).await.unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    let discovery = app.discovery().await;
    for endpoint in
        ["authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint"]
    {
        let url = discovery[endpoint].as_str().unwrap().replace('/', "&#x2f;");
        assert!(page.contains(&url), "{endpoint} {url}");
    }
    for scope in ["openid", "profile", "email", "read-billing"] {
        assert!(page.contains(&format!("<code>{scope}</code>")), "{scope}");
    }
    for (size, _) in SIZES {
        for theme in THEMES {
            let path = format!("&#x2f;badges&#x2f;sign-in-with-doorway-{size}-{theme}.svg");
            assert!(page.contains(&format!("<img src=\"{path}\"")), "{size}-{theme} shown");
            assert!(page.contains(&format!("id=\"html-{size}-{theme}\"")), "{size}-{theme} HTML snippet");
            assert!(page.contains(&format!("id=\"md-{size}-{theme}\"")), "{size}-{theme} Markdown snippet");
        }
    }
    assert!(page.contains("scope=openid%20profile&amp;amp;response_type=code&amp;amp;state={STATE}"));
}
