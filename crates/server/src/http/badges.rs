//! "Sign in with <Platform>" buttons: SVG drawn here from configuration (platform name, logo,
//! accent colour) in four sizes and two themes, served at stable URLs with a long cache lifetime
//! and an ETag, and the HTML / Markdown snippets that link one to the authorization endpoint.
//! Every piece of text is XML-escaped; an operator's logo is embedded as an image (a data: URI),
//! so nothing in it runs, and nothing is ever fetched.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64ct::{Base64, Encoding};
use doorway_core::routes;
use doorway_core::secrets::hash_secret;

use crate::http::error::PageError;
use crate::state::AppState;

/// How long browsers and proxies may keep a button without asking again (7 days); the ETag
/// makes a revalidation after a configuration change cheap.
const CACHE_CONTROL: &str = "public, max-age=604800";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Sm,
    Md,
    Lg,
    Xl,
}

impl Size {
    pub const ALL: [Size; 4] = [Size::Sm, Size::Md, Size::Lg, Size::Xl];

    pub fn as_str(self) -> &'static str {
        match self {
            Size::Sm => "sm",
            Size::Md => "md",
            Size::Lg => "lg",
            Size::Xl => "xl",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Height, font size, logo size, horizontal padding, gap, corner radius.
    fn metrics(self) -> (f64, f64, f64, f64, f64, f64) {
        match self {
            Size::Sm => (28.0, 12.0, 16.0, 10.0, 7.0, 6.0),
            Size::Md => (36.0, 14.0, 20.0, 12.0, 8.0, 8.0),
            Size::Lg => (44.0, 16.0, 24.0, 16.0, 10.0, 9.0),
            Size::Xl => (56.0, 20.0, 30.0, 20.0, 12.0, 11.0),
        }
    }

    pub fn height(self) -> u32 {
        // Whole pixels by construction (see `metrics`).
        self.metrics().0 as u32
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub const ALL: [Theme; 2] = [Theme::Light, Theme::Dark];

    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    /// Background, border, text.
    fn colours(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Theme::Light => ("#ffffff", "#d0d7de", "#1b1f24"),
            Theme::Dark => ("#16181d", "#16181d", "#ffffff"),
        }
    }
}

/// The platform name as it appears in button URLs: lower-case ASCII letters, digits and dashes.
pub fn platform_slug(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() { "platform".to_owned() } else { slug.to_owned() }
}

/// The path of a button: `/badges/sign-in-with-<slug>-<size>-<theme>.svg`.
pub fn badge_path(platform: &str, size: Size, theme: Theme) -> String {
    format!("{}/sign-in-with-{}-{}-{}.svg", routes::BADGES, platform_slug(platform), size.as_str(), theme.as_str())
}

/// Escapes text for XML and HTML, in content and in quoted attributes alike.
pub fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Advance widths of printable ASCII in a Helvetica-like face, per 1000 units of font size.
const WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '..'/'
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // '0'..'?'
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // '@'..'O'
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 'P'..'_'
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // '`'..'o'
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // 'p'..'~'
];

/// The text's width at `font_size`, semibold. The button sets it as `textLength`, so whatever
/// font the viewer has, the text fills exactly the room it was given.
fn text_width(text: &str, font_size: f64) -> f64 {
    let units: u32 = text
        .chars()
        .map(|c| match u32::from(c) {
            code @ 32..=126 => u32::from(WIDTHS[(code - 32) as usize]),
            code if code >= 0x2E80 => 1000,
            _ => 600,
        })
        .sum();
    f64::from(units) * font_size / 1000.0 * 1.06
}

/// Doorway's own mark, in a 24×24 box: a rounded tile in the accent colour with an open door.
fn default_mark(accent: &str) -> String {
    format!(
        "<defs><linearGradient id=\"dw-mark\" x1=\"0\" y1=\"0\" x2=\"1\" y2=\"1\">\
         <stop offset=\"0\" stop-color=\"{accent}\"/><stop offset=\"1\" stop-color=\"#9b5de5\"/></linearGradient></defs>\
         <rect width=\"24\" height=\"24\" rx=\"6\" fill=\"url(#dw-mark)\"/>\
         <path d=\"M7.5 19V10a4.5 4.5 0 0 1 9 0v9\" fill=\"none\" stroke=\"#fff\" stroke-width=\"2\" stroke-linecap=\"round\"/>\
         <path d=\"M12 19v-6.5l4.5-1.5V19z\" fill=\"#fff\" fill-opacity=\"0.85\"/>"
    )
}

/// Draws one button.
pub fn render(platform: &str, logo_svg: Option<&str>, accent: &str, size: Size, theme: Theme) -> String {
    let (height, font, logo, pad, gap, radius) = size.metrics();
    let (background, border, foreground) = theme.colours();
    let label = format!("Sign in with {platform}");
    let text_w = text_width(&label, font).ceil();
    let width = (pad + logo + gap + text_w + pad * 1.15).ceil();
    let logo_y = (height - logo) / 2.0;
    let mark = match logo_svg {
        Some(svg) => format!(
            "<image x=\"{pad}\" y=\"{logo_y}\" width=\"{logo}\" height=\"{logo}\" href=\"data:image/svg+xml;base64,{}\"/>",
            Base64::encode_string(svg.as_bytes())
        ),
        None => {
            format!("<g transform=\"translate({pad} {logo_y}) scale({})\">{}</g>", logo / 24.0, default_mark(accent))
        }
    };
    let label = escape(&label);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         role=\"img\" aria-label=\"{label}\"><title>{label}</title>\
         <rect x=\"0.5\" y=\"0.5\" width=\"{w}\" height=\"{h}\" rx=\"{radius}\" fill=\"{background}\" stroke=\"{border}\"/>\
         {mark}\
         <text x=\"{text_x}\" y=\"{text_y}\" font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif\" \
         font-size=\"{font}\" font-weight=\"600\" fill=\"{foreground}\" textLength=\"{text_w}\" \
         lengthAdjust=\"spacingAndGlyphs\">{label}</text></svg>\n",
        w = width - 1.0,
        h = height - 1.0,
        text_x = pad + logo + gap,
        text_y = (height / 2.0 + font * 0.35).round(),
    )
}

/// Reads `sign-in-with-<slug>-<size>-<theme>.svg` (this platform's slug only) or the generic
/// `sign-in-<size>-<theme>.svg`.
fn parse_file_name(file: &str, slug: &str) -> Option<(Size, Theme)> {
    let stem = file.strip_suffix(".svg")?;
    let mut parts = stem.rsplitn(3, '-');
    let theme = Theme::parse(parts.next()?)?;
    let size = Size::parse(parts.next()?)?;
    let prefix = parts.next()?;
    let named = prefix.strip_prefix("sign-in-with-").is_some_and(|s| s == slug);
    (named || prefix == "sign-in").then_some((size, theme))
}

/// `GET /badges/{file}`.
pub async fn badge(State(state): State<AppState>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let slug = platform_slug(&state.config.platform_name);
    let Some((size, theme)) = parse_file_name(&file, &slug) else {
        return PageError::not_found().into_response();
    };
    let svg = render(
        &state.config.platform_name,
        state.config.platform_logo_svg.as_deref(),
        &state.config.accent_color,
        size,
        theme,
    );
    let etag = format!("\"{}\"", &hash_secret(&svg)[..24]);
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim().trim_start_matches("W/") == etag));
    let common = [(header::CACHE_CONTROL, CACHE_CONTROL.to_owned()), (header::ETAG, etag)];
    if cached {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (common, [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")], svg).into_response()
}

/// The authorization URL a "Sign in with" link starts: the app's client_id and redirect URI,
/// `scope=openid%20profile`, `response_type=code`, and a `{STATE}` for the app to replace.
pub fn sign_in_link(issuer: &str, client_id: &str, redirect_uri: &str) -> String {
    let encode = |raw: &str| url::form_urlencoded::byte_serialize(raw.as_bytes()).collect::<String>();
    format!(
        "{issuer}{}?client_id={}&redirect_uri={}&scope=openid%20profile&response_type=code&state={{STATE}}",
        routes::AUTHORIZE,
        encode(client_id),
        encode(redirect_uri),
    )
}

/// Ready-to-paste HTML for a button linking to `link`.
pub fn html_snippet(issuer: &str, platform: &str, link: &str, size: Size, theme: Theme) -> String {
    format!(
        "<a href=\"{}\"><img src=\"{}{}\" alt=\"Sign in with {}\" height=\"{}\"></a>",
        escape(link),
        escape(issuer),
        badge_path(platform, size, theme),
        escape(platform),
        size.height()
    )
}

/// Ready-to-paste Markdown for a button linking to `link`.
pub fn markdown_snippet(issuer: &str, platform: &str, link: &str, size: Size, theme: Theme) -> String {
    let alt: String = platform.chars().filter(|c| !matches!(c, '[' | ']' | '\\')).collect();
    format!("[![Sign in with {alt}]({issuer}{})]({link})", badge_path(platform, size, theme))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(platform_slug("Hugging Face"), "hugging-face");
        assert_eq!(platform_slug("  Acme & Co.  "), "acme-co");
        assert_eq!(platform_slug("<>"), "platform");
    }

    #[test]
    fn file_names_name_this_platform_or_none() {
        assert_eq!(parse_file_name("sign-in-with-acme-co-md-dark.svg", "acme-co"), Some((Size::Md, Theme::Dark)));
        assert_eq!(parse_file_name("sign-in-xl-light.svg", "acme"), Some((Size::Xl, Theme::Light)));
        assert_eq!(parse_file_name("sign-in-with-other-md-dark.svg", "acme"), None);
        assert_eq!(parse_file_name("sign-in-with-acme-huge-dark.svg", "acme"), None);
        assert_eq!(parse_file_name("sign-in-with-acme-md-dark.png", "acme"), None);
    }

    #[test]
    fn text_is_escaped() {
        let svg = render("<script>&\"x\"", None, "#2f5bea", Size::Md, Theme::Light);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;&amp;&quot;x&quot;"));
    }
}
