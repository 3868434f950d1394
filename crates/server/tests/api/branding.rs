//! Operator branding on the pages: the accent colour and the logo from configuration.

use crate::helpers::*;

const LOGO: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\"><circle r=\"5\"/></svg>";

#[tokio::test]
async fn pages_take_the_configured_accent_colour_and_logo() {
    let app = spawn_app_with(|config| {
        config.accent_color = "#ff6600".into();
        config.platform_logo_svg = Some(LOGO.into());
    })
    .await;
    let page = reqwest::get(app.url("/login")).await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"<link rel="stylesheet" href="/static/brand.css">"#), "{page}");

    let css = reqwest::get(app.url("/static/brand.css")).await.unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let css = css.text().await.unwrap();
    assert!(css.contains("--accent: #ff6600;"), "{css}");
    assert!(css.contains("url(/static/brand-logo.svg)"), "{css}");

    let logo = reqwest::get(app.url("/static/brand-logo.svg")).await.unwrap();
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/svg+xml");
    let csp = logo.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("sandbox") && csp.contains("default-src 'none'"), "an SVG opened alone runs nothing: {csp}");
    assert_eq!(logo.text().await.unwrap(), LOGO);
}

#[tokio::test]
async fn without_branding_the_stylesheet_overrides_nothing_and_there_is_no_logo() {
    let app = spawn_app().await;
    let css = reqwest::get(app.url("/static/brand.css")).await.unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.text().await.unwrap(), "", "doorway.css's own colours, light and dark");
    assert_eq!(reqwest::get(app.url("/static/brand-logo.svg")).await.unwrap().status(), 404);
}
