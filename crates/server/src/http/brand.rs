//! Operator branding on every page: the accent colour and the platform's logo from
//! configuration, as a small stylesheet and an image (the pages' CSP allows no inline style).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::config::DEFAULT_ACCENT;
use crate::state::AppState;

/// `/static/brand.css`: overrides of doorway.css for what the operator configured; empty
/// otherwise. The colour was validated (`#rgb` or `#rrggbb`) at start-up.
pub async fn stylesheet(State(state): State<AppState>) -> Response {
    let mut css = String::new();
    let accent = &state.config.accent_color;
    if accent != DEFAULT_ACCENT {
        // The operator's colour in both schemes: a brand colour is the same in the dark.
        css.push_str(&format!(
            ":root {{ --accent: {accent}; }}\n@media (prefers-color-scheme: dark) {{ :root {{ --accent: {accent}; }} }}\n"
        ));
    }
    if state.config.platform_logo_svg.is_some() {
        css.push_str(
            ".brand-mark { background: url(/static/brand-logo.svg) center / contain no-repeat; border-radius: 0; }\n",
        );
    }
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")], css)
        .into_response()
}

/// `/static/brand-logo.svg`: the configured logo, sandboxed (an SVG opened on its own runs no
/// script and loads nothing); 404 when none is configured.
pub async fn logo(State(state): State<AppState>) -> Response {
    match &state.config.platform_logo_svg {
        Some(svg) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "public, max-age=300"),
                (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; sandbox"),
            ],
            svg.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
