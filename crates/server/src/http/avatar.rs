//! Generated default avatars: a symmetric 5×5 pattern in a colour derived from the user's
//! `sub`, so every account has a `picture` without storing images or fetching anything.

use aws_lc_rs::digest;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::http::error::PageError;
use crate::state::AppState;

pub fn default_picture(state: &AppState, sub: &str) -> String {
    format!("{}{}/{sub}.svg", state.config.issuer, doorway_core::routes::AVATARS)
}

fn svg_for(sub: &str) -> String {
    let hash = digest::digest(&digest::SHA256, sub.as_bytes());
    let bytes = hash.as_ref();
    // u32: 255 * 360 overflows a u16 (a panic in debug builds, a wrong colour in release).
    let hue = u32::from(bytes[0]) * 360 / 256;
    let mut cells = String::new();
    for row in 0..5u8 {
        for col in 0..3u8 {
            let bit = usize::from(row * 3 + col);
            if bytes[1 + bit / 8] >> (bit % 8) & 1 == 1 {
                for x in if col == 2 { vec![2] } else { vec![col, 4 - col] } {
                    cells.push_str(&format!(
                        r#"<rect x="{}" y="{}" width="16" height="16"/>"#,
                        8 + u16::from(x) * 16,
                        8 + u16::from(row) * 16
                    ));
                }
            }
        }
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96"><rect width="96" height="96" fill="hsl({hue},45%,92%)"/><g fill="hsl({hue},55%,45%)">{cells}</g></svg>"#
    )
}

pub async fn avatar(Path(file): Path<String>) -> Response {
    let Some(sub) = file.strip_suffix(".svg").filter(|s| s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return PageError::not_found().into_response();
    };
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400, immutable"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'"),
        ],
        svg_for(sub),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avatars_are_deterministic_and_distinct() {
        let a = svg_for("0123456789abcdef01234567");
        assert_eq!(a, svg_for("0123456789abcdef01234567"));
        assert_ne!(a, svg_for("fedcba9876543210fedcba98"));
        assert!(a.starts_with("<svg"));
    }
}
