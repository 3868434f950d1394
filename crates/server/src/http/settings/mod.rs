//! A signed-in person's settings beyond the profile (`/account`): the browser sessions they have
//! open and the apps they granted access to. Every form is CSRF-protected; every page answers
//! `no-store`; a person only ever sees and ends their own sessions and grants.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub mod connected;
pub mod device;
pub mod passkeys;
pub mod security_log;
pub mod sessions;
pub mod two_factor;

pub use connected::revoke_app;

fn page(jar: CookieJar, status: StatusCode, html: String) -> Response {
    (status, jar, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// Where a settings page sends someone who is not signed in.
fn to_login() -> Response {
    Redirect::to(doorway_core::routes::LOGIN).into_response()
}

/// A moment as a page shows it: machine-readable, absolute, and relative to now.
#[derive(Debug, Clone, Serialize)]
pub struct Moment {
    /// RFC 3339, for `<time datetime>`.
    pub iso: String,
    /// `2026-11-29 14:03 UTC`.
    pub absolute: String,
    /// `just now`, `5 minutes ago`, `3 days ago`, or the date.
    pub relative: String,
}

impl Moment {
    pub fn new(at: i64, now: i64) -> Self {
        let Ok(t) = OffsetDateTime::from_unix_timestamp(at) else {
            return Self { iso: String::new(), absolute: at.to_string(), relative: at.to_string() };
        };
        let absolute =
            format!("{}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute());
        let plural = |n: i64, unit: &str| if n == 1 { format!("1 {unit} ago") } else { format!("{n} {unit}s ago") };
        let elapsed = now - at;
        let relative = match elapsed {
            ..60 => "just now".to_owned(),
            60..3_600 => plural(elapsed / 60, "minute"),
            3_600..86_400 => plural(elapsed / 3_600, "hour"),
            86_400..2_592_000 => plural(elapsed / 86_400, "day"),
            _ => absolute.split(' ').next().unwrap_or_default().to_owned(),
        };
        Self { iso: t.format(&Rfc3339).unwrap_or_default(), absolute, relative }
    }
}

#[cfg(test)]
mod tests {
    use super::Moment;

    #[test]
    fn moments_read_naturally() {
        let now = 1_800_000_000;
        assert_eq!(Moment::new(now - 5, now).relative, "just now");
        assert_eq!(Moment::new(now - 60, now).relative, "1 minute ago");
        assert_eq!(Moment::new(now - 7_200, now).relative, "2 hours ago");
        assert_eq!(Moment::new(now - 3 * 86_400, now).relative, "3 days ago");
        let old = Moment::new(0, now);
        assert_eq!(old.absolute, "1970-01-01 00:00 UTC");
        assert_eq!(old.relative, "1970-01-01");
        assert_eq!(old.iso, "1970-01-01T00:00:00Z");
    }
}
