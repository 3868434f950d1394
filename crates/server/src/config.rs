//! Configuration: flags and environment variables (clap), then an optional TOML file, then
//! defaults. `doorway serve` needs none of it to start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// Settings shared by every command (global flags).
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Directory for the SQLite database and the generated key file.
    #[arg(long, global = true, env = "DOORWAY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH (default: DATA_DIR/doorway.db) or postgres://…
    #[arg(long = "database", global = true, env = "DOORWAY_DATABASE_URL", value_name = "URL")]
    pub database: Option<String>,
    /// Optional TOML configuration file.
    #[arg(long, global = true, env = "DOORWAY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Settings of `doorway serve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "DOORWAY_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The issuer URL apps see (no trailing slash). Never taken from the Host header.
    #[arg(long, env = "DOORWAY_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,
    /// Lifetime of authorization codes (e.g. 60, 60s, 2m).
    #[arg(long, env = "DOORWAY_CODE_TTL", value_name = "DURATION")]
    pub code_ttl: Option<String>,
    /// Lifetime of access tokens and ID tokens.
    #[arg(long, env = "DOORWAY_ACCESS_TOKEN_TTL", value_name = "DURATION")]
    pub access_token_ttl: Option<String>,
    /// Lifetime of browser sessions.
    #[arg(long, env = "DOORWAY_SESSION_TTL", value_name = "DURATION")]
    pub session_ttl: Option<String>,
    /// A refresh token unused for this long expires.
    #[arg(long, env = "DOORWAY_REFRESH_IDLE_TTL", value_name = "DURATION")]
    pub refresh_idle_ttl: Option<String>,
    /// A refresh token family ends this long after sign-in, however used.
    #[arg(long, env = "DOORWAY_REFRESH_ABSOLUTE_TTL", value_name = "DURATION")]
    pub refresh_absolute_ttl: Option<String>,
    /// Concurrent refreshes of one token within this window get the same successor.
    #[arg(long, env = "DOORWAY_REFRESH_GRACE", value_name = "DURATION")]
    pub refresh_grace: Option<String>,
    /// Lifetime of device codes (RFC 8628).
    #[arg(long, env = "DOORWAY_DEVICE_CODE_TTL", value_name = "DURATION")]
    pub device_code_ttl: Option<String>,
    /// Rotate signing keys this often (0 disables automatic rotation).
    #[arg(long, env = "DOORWAY_KEY_ROTATION", value_name = "DURATION")]
    pub key_rotation: Option<String>,
    /// How long a new key is published before it signs (covers JWKS caches).
    #[arg(long, env = "DOORWAY_KEY_PUBLISH_AHEAD", value_name = "DURATION")]
    pub key_publish_ahead: Option<String>,
    /// Prefix of issued access tokens.
    #[arg(long, env = "DOORWAY_TOKEN_PREFIX", value_name = "PREFIX")]
    pub token_prefix: Option<String>,
    /// The platform's name, shown on pages and buttons ("Sign in with <name>").
    #[arg(long, env = "DOORWAY_PLATFORM_NAME", value_name = "NAME")]
    pub platform_name: Option<String>,
    /// An SVG file: the platform's logo on "Sign in with" buttons (default: a built-in mark).
    #[arg(long, env = "DOORWAY_PLATFORM_LOGO", value_name = "FILE")]
    pub platform_logo: Option<PathBuf>,
    /// The accent colour of buttons and the built-in mark, as #rgb or #rrggbb.
    #[arg(long, env = "DOORWAY_ACCENT_COLOR", value_name = "COLOR")]
    pub accent_color: Option<String>,
    /// A directory of templates that replace the built-in ones of the same name (login.html,
    /// consent.html, …), read at start-up: pages can be rebranded without rebuilding.
    #[arg(long, env = "DOORWAY_TEMPLATES_DIR", value_name = "DIR")]
    pub templates_dir: Option<PathBuf>,
    /// Most database connections this node opens (PostgreSQL; SQLite: readers).
    #[arg(long, env = "DOORWAY_DB_MAX_CONNECTIONS", value_name = "N")]
    pub db_max_connections: Option<u32>,
    /// How long a request waits for a database connection before answering 503.
    #[arg(long, env = "DOORWAY_DB_ACQUIRE_TIMEOUT", value_name = "DURATION")]
    pub db_acquire_timeout: Option<String>,
    /// Serve Prometheus metrics at /metrics on this separate address (e.g. 127.0.0.1:9090);
    /// off unless set. Never the public listener: metrics reveal traffic and users' activity.
    #[arg(long, env = "DOORWAY_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Brute-force protection: password (and client secret) attempts allowed per account (per
    /// app and address) within --login-window; the next ones get 429 until the lockout ends.
    #[arg(long, env = "DOORWAY_LOGIN_MAX_ATTEMPTS", value_name = "N")]
    pub login_max_attempts: Option<u32>,
    /// The window over which attempts are counted.
    #[arg(long, env = "DOORWAY_LOGIN_WINDOW", value_name = "DURATION")]
    pub login_window: Option<String>,
    /// How long an account (address, app) is refused once its attempts are spent.
    #[arg(long, env = "DOORWAY_LOGIN_LOCKOUT", value_name = "DURATION")]
    pub login_lockout: Option<String>,
    /// One client address may make this many times --login-max-attempts (over all accounts).
    #[arg(long, env = "DOORWAY_LOGIN_IP_MULTIPLIER", value_name = "N")]
    pub login_ip_multiplier: Option<u32>,
    /// Security-log entries older than this are purged.
    #[arg(long, env = "DOORWAY_AUDIT_RETENTION", value_name = "DURATION")]
    pub audit_retention: Option<String>,
    /// Reverse proxies (addresses or CIDR ranges, repeatable or comma-separated) whose
    /// X-Forwarded-For is believed: the client address is the right-most one not among them.
    /// Unset: the TCP peer is the client and X-Forwarded-For is ignored.
    #[arg(long = "trusted-proxy", env = "DOORWAY_TRUSTED_PROXIES", value_delimiter = ',', value_name = "CIDR")]
    pub trusted_proxies: Vec<String>,
    /// The SMTP server that sends email (verification and password-reset links), in lettre's
    /// URL syntax: smtp://host:25, smtp://host:587?tls=required, smtps://user:pass@host:465.
    /// Unset: messages are written to the log (target "email") instead of being sent.
    #[arg(long, env = "DOORWAY_SMTP_URL", value_name = "URL")]
    pub smtp_url: Option<String>,
    /// The sender of Doorway's email, e.g. "Example <no-reply@example.com>" (default:
    /// "<platform name> <no-reply@issuer host>").
    #[arg(long, env = "DOORWAY_SMTP_FROM", value_name = "MAILBOX")]
    pub smtp_from: Option<String>,
    /// Log as JSON lines.
    #[arg(long, env = "DOORWAY_LOG_JSON")]
    pub log_json: bool,
    /// Create a demo user and app and serve a demo relying party at /demo.
    #[arg(long)]
    pub demo: bool,
}

/// An operator-declared product scope, shown on the consent screen with its description.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeDef {
    pub name: String,
    pub description: String,
    /// The claims a grant of this scope releases (`[[scopes]] claims = […]`), as published to
    /// developers by the admin API. Product scopes usually release none: they authorize calls
    /// to the platform's APIs.
    #[serde(default)]
    pub claims: Vec<String>,
}

impl ScopeDef {
    pub fn new(name: &str, description: &str, claims: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            claims: claims.iter().map(|c| (*c).to_owned()).collect(),
        }
    }
}

/// The optional TOML file: the same keys as the flags, with underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    issuer: Option<String>,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    code_ttl: Option<String>,
    access_token_ttl: Option<String>,
    session_ttl: Option<String>,
    refresh_idle_ttl: Option<String>,
    refresh_absolute_ttl: Option<String>,
    refresh_grace: Option<String>,
    device_code_ttl: Option<String>,
    key_rotation: Option<String>,
    key_publish_ahead: Option<String>,
    token_prefix: Option<String>,
    platform_name: Option<String>,
    platform_logo: Option<PathBuf>,
    accent_color: Option<String>,
    templates_dir: Option<PathBuf>,
    db_max_connections: Option<u32>,
    db_acquire_timeout: Option<String>,
    metrics_listen: Option<SocketAddr>,
    login_max_attempts: Option<u32>,
    login_window: Option<String>,
    login_lockout: Option<String>,
    login_ip_multiplier: Option<u32>,
    audit_retention: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    smtp_url: Option<String>,
    smtp_from: Option<String>,
    log_json: Option<bool>,
    #[serde(default)]
    scopes: Vec<ScopeDef>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub issuer: String,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub code_ttl: i64,
    pub access_token_ttl: i64,
    pub session_ttl: i64,
    pub refresh_idle_ttl: i64,
    pub refresh_absolute_ttl: i64,
    pub refresh_grace: i64,
    pub device_code_ttl: i64,
    /// Seconds between automatic key rotations; 0 = never.
    pub key_rotation: i64,
    pub key_publish_ahead: i64,
    pub token_prefix: String,
    pub platform_name: String,
    /// The platform logo's SVG text, when the operator gave one.
    pub platform_logo_svg: Option<String>,
    /// `#rrggbb` or `#rgb`.
    pub accent_color: String,
    pub extra_scopes: Vec<ScopeDef>,
    /// Templates overriding the built-in ones by file name.
    pub templates_dir: Option<PathBuf>,
    /// Database pool sizing and how long a request waits for a connection.
    pub db_max_connections: u32,
    pub db_acquire_timeout: i64,
    /// Where `/metrics` is served; `None`: nowhere.
    pub metrics_listen: Option<SocketAddr>,
    /// Brute-force protection (see `throttle`): attempts per account, or per app and address,
    /// in `login_window` seconds; then `login_lockout` seconds of 429. An address may make
    /// `login_ip_multiplier` times as many over all accounts.
    pub login_max_attempts: i64,
    pub login_window: i64,
    pub login_lockout: i64,
    pub login_ip_multiplier: i64,
    /// Seconds the security log is kept.
    pub audit_retention: i64,
    /// Proxies whose X-Forwarded-For names the client (see `throttle::client_ip`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Where email is sent (`None`: to the log); it may hold a password, so it is redacted.
    pub smtp_url: Option<SmtpUrl>,
    /// The sender mailbox; `None`: built from the platform name and the issuer's host.
    pub smtp_from: Option<String>,
    pub log_json: bool,
    pub demo: bool,
}

/// An SMTP URL, which may hold a user name and password: `Debug` never shows it.
#[derive(Clone)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    pub fn new(url: &str) -> Self {
        Self(url.trim().to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpUrl(<redacted>)")
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_ISSUER: &str = "http://localhost:8080";

/// Parses `60`, `60s`, `10m`, `8h`, `14d` into seconds.
pub fn parse_duration(raw: &str) -> anyhow::Result<i64> {
    let raw = raw.trim();
    let (number, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: i64 = number.parse().with_context(|| format!("'{raw}' is not a duration such as 60s, 10m or 8h"))?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => bail!("'{raw}' is not a duration such as 60s, 10m or 8h"),
    };
    if seconds <= 0 {
        bail!("'{raw}' must be a positive duration");
    }
    Ok(seconds)
}

/// Checks an issuer: an absolute http(s) URL with no query or fragment; the trailing slash is
/// dropped so endpoint URLs join cleanly.
pub fn parse_issuer(raw: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(raw).with_context(|| format!("issuer '{raw}' is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        bail!("issuer '{raw}' must be an http or https URL");
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        bail!("issuer '{raw}' must not have a query, fragment or user name");
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// Reads the platform logo: an SVG document (it is embedded in badges as an image, never run).
fn read_logo(path: Option<PathBuf>) -> anyhow::Result<Option<String>> {
    let Some(path) = path else { return Ok(None) };
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading the logo {}", path.display()))?;
    if !text.contains("<svg") || text.len() > 256 * 1024 {
        bail!("the platform logo {} must be an SVG file of at most 256 KiB", path.display());
    }
    Ok(Some(text))
}

/// The accent colour of doorway.css, used when none is configured.
pub const DEFAULT_ACCENT: &str = "#2f5bea";

/// `#rgb` or `#rrggbb`, lower-cased.
pub fn parse_color(raw: Option<&str>) -> anyhow::Result<String> {
    let Some(raw) = raw.map(str::trim) else { return Ok(DEFAULT_ACCENT.to_owned()) };
    let hex = raw.strip_prefix('#').unwrap_or_default();
    if !matches!(hex.len(), 3 | 6) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("the accent colour '{raw}' must look like #2f5bea or #25e");
    }
    Ok(raw.to_ascii_lowercase())
}

/// Trusted proxies: `10.0.0.0/8`, `::1`, `192.0.2.7` (a bare address is a one-address range).
pub fn parse_proxies(raw: Vec<String>) -> anyhow::Result<Vec<ipnet::IpNet>> {
    raw.iter()
        .map(|entry| entry.trim())
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| anyhow::anyhow!("trusted proxy '{entry}' is not an address or CIDR range"))
        })
        .collect()
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

impl Config {
    pub fn resolve(global: &GlobalArgs, serve: &ServeArgs) -> anyhow::Result<Self> {
        let file = match &global.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let data_dir = global.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("doorway-data"));
        let database_url = global
            .database
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("doorway.db").display()));
        let issuer = serve.issuer.clone().or(file.issuer).unwrap_or_else(|| DEFAULT_ISSUER.to_owned());
        let listen = match serve.listen.or(file.listen) {
            Some(addr) => addr,
            None => DEFAULT_LISTEN.parse().context("default listen address")?,
        };
        let duration = |flag: &Option<String>, file: Option<String>, default: i64| -> anyhow::Result<i64> {
            flag.clone().or(file).map_or(Ok(default), |raw| parse_duration(&raw))
        };
        let duration_or_zero = |flag: &Option<String>, file: Option<String>, default: i64| -> anyhow::Result<i64> {
            match flag.clone().or(file) {
                None => Ok(default),
                Some(raw) if raw.trim() == "0" => Ok(0),
                Some(raw) => parse_duration(&raw),
            }
        };
        let extra_scopes = file.scopes;
        for scope in &extra_scopes {
            doorway_core::types::Scope::parse(&scope.name)
                .map_err(|e| anyhow::anyhow!("scope '{}' in the configuration: {e}", scope.name))?;
        }
        Ok(Config {
            listen,
            issuer: parse_issuer(&issuer)?,
            database_url,
            data_dir,
            code_ttl: duration(&serve.code_ttl, file.code_ttl, 60)?,
            access_token_ttl: duration(&serve.access_token_ttl, file.access_token_ttl, 3600)?,
            session_ttl: duration(&serve.session_ttl, file.session_ttl, 14 * 86_400)?,
            refresh_idle_ttl: duration(&serve.refresh_idle_ttl, file.refresh_idle_ttl, 30 * 86_400)?,
            refresh_absolute_ttl: duration(&serve.refresh_absolute_ttl, file.refresh_absolute_ttl, 365 * 86_400)?,
            refresh_grace: duration_or_zero(&serve.refresh_grace, file.refresh_grace, 10)?,
            device_code_ttl: duration(&serve.device_code_ttl, file.device_code_ttl, 600)?,
            key_rotation: duration_or_zero(&serve.key_rotation, file.key_rotation, 90 * 86_400)?,
            key_publish_ahead: duration_or_zero(&serve.key_publish_ahead, file.key_publish_ahead, 600)?,
            token_prefix: serve.token_prefix.clone().or(file.token_prefix).unwrap_or_else(|| "dw_oauth_".to_owned()),
            platform_name: serve.platform_name.clone().or(file.platform_name).unwrap_or_else(|| "Doorway".to_owned()),
            platform_logo_svg: read_logo(serve.platform_logo.clone().or(file.platform_logo))?,
            accent_color: parse_color(serve.accent_color.clone().or(file.accent_color).as_deref())?,
            extra_scopes,
            templates_dir: serve.templates_dir.clone().or(file.templates_dir),
            db_max_connections: match serve.db_max_connections.or(file.db_max_connections).unwrap_or(8) {
                0 => bail!("db_max_connections must be at least 1"),
                n => n,
            },
            db_acquire_timeout: duration(&serve.db_acquire_timeout, file.db_acquire_timeout, 5)?,
            metrics_listen: serve.metrics_listen.or(file.metrics_listen),
            login_max_attempts: match serve.login_max_attempts.or(file.login_max_attempts).unwrap_or(10) {
                0 => bail!("login_max_attempts must be at least 1"),
                n => i64::from(n),
            },
            login_window: duration(&serve.login_window, file.login_window, 15 * 60)?,
            login_lockout: duration(&serve.login_lockout, file.login_lockout, 15 * 60)?,
            login_ip_multiplier: match serve.login_ip_multiplier.or(file.login_ip_multiplier).unwrap_or(10) {
                0 => bail!("login_ip_multiplier must be at least 1"),
                n => i64::from(n),
            },
            audit_retention: duration(&serve.audit_retention, file.audit_retention, 90 * 86_400)?,
            trusted_proxies: parse_proxies(if serve.trusted_proxies.is_empty() {
                file.trusted_proxies.unwrap_or_default()
            } else {
                serve.trusted_proxies.clone()
            })?,
            smtp_url: serve
                .smtp_url
                .clone()
                .or(file.smtp_url)
                .filter(|u| !u.trim().is_empty())
                .map(|u| SmtpUrl::new(&u)),
            smtp_from: serve.smtp_from.clone().or(file.smtp_from).filter(|f| !f.trim().is_empty()),
            log_json: serve.log_json || file.log_json.unwrap_or(false),
            demo: serve.demo,
        })
    }

    /// The store's pool settings.
    pub fn pool_options(&self) -> doorway_store::PoolOptions {
        doorway_store::PoolOptions {
            max_connections: self.db_max_connections,
            acquire_timeout: std::time::Duration::from_secs(self.db_acquire_timeout.unsigned_abs()),
        }
    }

    /// Whether cookies must be `Secure` (and `__Host-` prefixed).
    pub fn https(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_units() {
        assert_eq!(parse_duration("60").unwrap(), 60);
        assert_eq!(parse_duration("2m").unwrap(), 120);
        assert_eq!(parse_duration("8h").unwrap(), 28_800);
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("-1").is_err());
    }

    #[test]
    fn issuer_loses_its_trailing_slash_and_refuses_queries() {
        assert_eq!(parse_issuer("https://id.example/").unwrap(), "https://id.example");
        assert!(parse_issuer("https://id.example/?x=1").is_err());
        assert!(parse_issuer("ftp://id.example").is_err());
    }

    #[test]
    fn defaults_need_no_configuration() {
        let config =
            Config::resolve(&GlobalArgs { data_dir: None, database: None, config: None }, &ServeArgs::default())
                .unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.issuer, "http://localhost:8080");
        assert_eq!(config.database_url, "sqlite://doorway-data/doorway.db");
        assert_eq!(config.code_ttl, 60);
    }
}
