//! The HTTP surface: thin handlers over the protocol core and the store.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{get, post};
use doorway_core::routes;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

mod account;
pub mod admin;
mod authorize;
mod avatar;
mod badges;
mod brand;
mod client_auth;
pub(crate) mod console;
pub mod demo;
mod device;
mod discovery;
mod docs_page;
mod email_links;
pub mod error;
mod form;
mod introspect;
pub mod logout;
pub mod ops;
pub(crate) mod orgs;
mod passkeys;
mod password;
mod password_reset;
mod revoke;
mod session;
mod settings;
pub mod token;
mod two_factor;
mod userinfo;

/// Pages must not be framed, leak the URL (codes, states) in Referer, or load foreign scripts.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; script-src 'self'; \
                   connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

pub fn router(state: AppState) -> Router {
    // Browsers call these cross-origin (single-page apps, @huggingface/hub): CORS without
    // credentials. The authorization endpoint and the pages get none.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(3600));
    let api = Router::new()
        .route(routes::DISCOVERY, get(discovery::metadata))
        .route(routes::AS_METADATA, get(discovery::metadata))
        .route(routes::JWKS, get(discovery::jwks))
        .route(routes::JWKS_WELL_KNOWN, get(discovery::jwks))
        .route(routes::TOKEN, post(token::token))
        .route(routes::REVOKE, post(revoke::revoke))
        .route(routes::INTROSPECT, post(introspect::introspect))
        .route(routes::DEVICE_AUTHORIZATION, post(device::authorization))
        .route(routes::USERINFO, get(userinfo::userinfo).post(userinfo::userinfo))
        .layer(cors)
        .route(routes::HEALTHZ, get(ops::healthz))
        .route(routes::READYZ, get(ops::readyz));
    let pages = Router::new()
        .route("/", get(account::home))
        .route(routes::AUTHORIZE, get(authorize::authorize_get).post(authorize::authorize_post))
        .route(routes::AUTHORIZE_RESUME, get(authorize::resume))
        .route(routes::CONSENT, post(authorize::consent))
        .route(routes::END_SESSION, get(logout::end_session).post(logout::end_session))
        .route(routes::DEVICE, get(device::page).post(device::submit))
        .route(routes::LOGIN, get(account::login_page).post(account::login))
        .route(two_factor::PATH, get(two_factor::page_get).post(two_factor::submit))
        .route(settings::two_factor::PATH, get(settings::two_factor::show))
        .route(settings::two_factor::SETUP, post(settings::two_factor::setup))
        .route(settings::two_factor::CONFIRM, post(settings::two_factor::confirm))
        .route(settings::two_factor::DISABLE, post(settings::two_factor::disable))
        .route(settings::two_factor::RECOVERY_CODES, post(settings::two_factor::regenerate))
        .route(routes::SIGNUP, get(account::signup_page).post(account::signup))
        .route(routes::LOGOUT, get(account::logout_page).post(account::logout))
        .route(routes::ACCOUNT, get(account::account_page).post(account::update_account))
        .route(routes::ACCOUNT_PASSWORD, post(password::change_password))
        .route(routes::ACCOUNT_EMAIL, get(email_links::email_page).post(email_links::change_email))
        .route(routes::ACCOUNT_EMAIL_RESEND, post(email_links::resend))
        .route(routes::EMAIL_VERIFY, get(email_links::verify_page).post(email_links::verify))
        .route(routes::PASSWORD_FORGOT, get(password_reset::forgot_page).post(password_reset::forgot))
        .route(routes::PASSWORD_RESET, get(password_reset::reset_page).post(password_reset::reset))
        .route(routes::SETTINGS_SESSIONS, get(settings::sessions::list))
        .route(routes::SETTINGS_SESSIONS_END, post(settings::sessions::end))
        .route(routes::SETTINGS_SESSIONS_END_OTHERS, post(settings::sessions::end_others))
        .route(settings::passkeys::PATH, get(settings::passkeys::list))
        .route(settings::passkeys::RENAME, post(settings::passkeys::rename))
        .route(settings::passkeys::DELETE, post(settings::passkeys::delete))
        .route(passkeys::REGISTER_START, post(passkeys::register_start))
        .route(passkeys::REGISTER_FINISH, post(passkeys::register_finish))
        .route(passkeys::SIGN_IN_START, post(passkeys::sign_in_start))
        .route(passkeys::SIGN_IN_FINISH, post(passkeys::sign_in_finish))
        .route(passkeys::SCRIPT, get(passkeys::script))
        .route(routes::SETTINGS_CONNECTED_APPS, get(settings::connected::list))
        .route(routes::SETTINGS_CONNECTED_APPS_REVOKE, post(settings::connected::revoke))
        .route(settings::security_log::PATH, get(settings::security_log::list))
        .route(routes::SETTINGS_CONNECTED_APPS_ORGS, post(settings::connected::set_orgs))
        .route(routes::ORGS_NEW, get(orgs::pages::new_page).post(orgs::pages::create))
        .route(routes::SETTINGS_ORGS, get(orgs::manage::list))
        .route(routes::SETTINGS_ORG_INVITATIONS, post(orgs::manage::answer_invitation))
        .route("/settings/organizations/{name}", get(orgs::manage::show))
        .route("/settings/organizations/{name}/invite", post(orgs::manage::invite))
        .route("/settings/organizations/{name}/members", post(orgs::manage::change_member))
        .route("/settings/organizations/{name}/invitations/withdraw", post(orgs::manage::withdraw))
        .route("/settings/organizations/{name}/leave", post(orgs::manage::leave))
        .route("/settings/organizations/{name}/profile", post(orgs::manage::update_profile))
        .route("/avatars/{file}", get(avatar::avatar))
        .route(routes::STATIC_CSS, get(stylesheet))
        .route("/static/brand.css", get(brand::stylesheet))
        .route("/static/brand-logo.svg", get(brand::logo))
        .route(routes::STATIC_FORM_POST_JS, get(form_post_script))
        .route(routes::STATIC_CONSOLE_JS, get(console_script))
        .route("/badges/{file}", get(badges::badge))
        .route(routes::DOCS_SIGN_IN, get(docs_page::sign_in))
        .route(routes::SETTINGS_APPLICATIONS, get(console::list).post(console::create))
        .route("/settings/applications/new", get(console::new_app))
        .route("/settings/applications/hosted", get(console::hosted_form).post(console::provision))
        .route("/settings/applications/{client_id}", get(console::show).post(console::update))
        .route("/settings/applications/{client_id}/edit", get(console::edit))
        .route("/settings/applications/{client_id}/rotate-secret", post(console::rotate_secret))
        .route("/settings/applications/{client_id}/delete", post(console::delete))
        .route(routes::DEMO, get(demo::page))
        .route(routes::DEMO_START, get(demo::start))
        .route(routes::DEMO_CALLBACK, get(demo::callback))
        // The `profile` claim: `<issuer>/<username>` (usernames cannot shadow the routes above).
        .route("/{username}", get(account::profile));
    // Under an https issuer, browsers must never come back over plain http (RFC 6797).
    let hsts = state.config.https().then(|| {
        SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        )
    });
    api.merge(pages)
        .merge(admin::router().layer(axum::middleware::from_fn_with_state(state.clone(), admin::audit::record_writes)))
        .fallback(not_found)
        .layer(tower::util::option_layer(hsts))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        // Client authentication (four endpoints share it) reads the peer address from here.
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::throttle::with_peer))
        .layer(CatchPanicLayer::custom(error::panic_response))
        // Outermost: a panic's 500 is still counted and logged with its request id.
        .layer(axum::middleware::from_fn(ops::observe))
        .with_state(state)
}

async fn stylesheet() -> impl axum::response::IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/doorway.css"),
    )
}

async fn form_post_script() -> impl axum::response::IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/form_post.js"),
    )
}

async fn console_script() -> impl axum::response::IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/console.js"),
    )
}

async fn not_found(state: axum::extract::State<AppState>) -> error::PageError {
    let _ = state;
    error::PageError::not_found()
}
