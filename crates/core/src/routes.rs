//! Every path Doorway serves, in one place. Discovery is built from these same constants.

pub const DISCOVERY: &str = "/.well-known/openid-configuration";
pub const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
pub const JWKS: &str = "/oauth/jwks";
pub const JWKS_WELL_KNOWN: &str = "/.well-known/jwks.json";
pub const AUTHORIZE: &str = "/oauth/authorize";
pub const AUTHORIZE_RESUME: &str = "/oauth/authorize/resume";
pub const CONSENT: &str = "/oauth/consent";
pub const TOKEN: &str = "/oauth/token";
pub const USERINFO: &str = "/oauth/userinfo";
pub const REVOKE: &str = "/oauth/revoke";
pub const INTROSPECT: &str = "/oauth/introspect";
pub const DEVICE_AUTHORIZATION: &str = "/oauth/device";
pub const END_SESSION: &str = "/oauth/logout";
pub const DEVICE: &str = "/device";

pub const LOGIN: &str = "/login";
pub const SIGNUP: &str = "/signup";
pub const LOGOUT: &str = "/logout";
pub const ACCOUNT: &str = "/account";
pub const ACCOUNT_PASSWORD: &str = "/account/password";
/// Email: the account's address (change it, resend the verification), the link that verifies
/// an address, and the password reset ("Forgot password?" and the mailed link).
pub const ACCOUNT_EMAIL: &str = "/account/email";
pub const ACCOUNT_EMAIL_RESEND: &str = "/account/email/resend";
pub const EMAIL_VERIFY: &str = "/account/verify-email";
pub const PASSWORD_FORGOT: &str = "/login/forgot-password";
pub const PASSWORD_RESET: &str = "/login/reset-password";
pub const AVATARS: &str = "/avatars";
pub const STATIC_CSS: &str = "/static/doorway.css";
pub const STATIC_FORM_POST_JS: &str = "/static/form_post.js";
pub const STATIC_CONSOLE_JS: &str = "/static/console.js";

/// The developer console: a signed-in person's own OAuth apps.
pub const SETTINGS_APPLICATIONS: &str = "/settings/applications";
/// "Sign in with" buttons: `/badges/sign-in-with-<platform>-<size>-<theme>.svg`.
pub const BADGES: &str = "/badges";
/// The page for app developers: scopes, endpoints, buttons, a worked example.
pub const DOCS_SIGN_IN: &str = "/docs/sign-in";

/// What a person granted to apps, and revoking it.
pub const SETTINGS_CONNECTED_APPS: &str = "/settings/connected-applications";
pub const SETTINGS_CONNECTED_APPS_REVOKE: &str = "/settings/connected-applications/revoke";
/// A person's browser sessions: list, end one, end all others.
pub const SETTINGS_SESSIONS: &str = "/settings/sessions";
pub const SETTINGS_SESSIONS_END: &str = "/settings/sessions/end";
pub const SETTINGS_SESSIONS_END_OTHERS: &str = "/settings/sessions/end-others";
/// Which organizations an app may see in detail, changed after consent.
pub const SETTINGS_CONNECTED_APPS_ORGS: &str = "/settings/connected-applications/orgs";

/// Organizations: creating one, a person's list (with invitations to answer), and one page per
/// org (`/settings/organizations/{name}`) to manage members. An org's profile is `/<name>`.
pub const ORGS_NEW: &str = "/orgs/new";
pub const SETTINGS_ORGS: &str = "/settings/organizations";
pub const SETTINGS_ORG_INVITATIONS: &str = "/settings/organization-invitations";

/// The admin API (its routes are listed in the server's `http::admin::routes::ROUTES`) and its
/// OpenAPI document.
pub const ADMIN_API: &str = "/api/v1";
pub const ADMIN_OPENAPI: &str = "/api/openapi.json";

pub const DEMO: &str = "/demo";
pub const DEMO_START: &str = "/demo/start";
pub const DEMO_CALLBACK: &str = "/demo/callback";

/// Operations: liveness (the process answers) and readiness (the database answers and is
/// migrated), for load balancers and orchestrators.
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
/// Prometheus metrics: served only on `--metrics-listen`, never on the public listener.
pub const METRICS: &str = "/metrics";
