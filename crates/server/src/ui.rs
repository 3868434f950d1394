//! Server-rendered pages (minijinja, templates compiled into the binary). Autoescaping is on
//! for every `.html` template, so names chosen by apps and users are always escaped.

use std::sync::OnceLock;

use minijinja::{Environment, Value, context};

use crate::config::Config;

pub struct Ui {
    env: Environment<'static>,
}

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("form_post.html", include_str!("../templates/form_post.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("signup.html", include_str!("../templates/signup.html")),
    ("consent.html", include_str!("../templates/consent.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("account.html", include_str!("../templates/account.html")),
    ("account_email.html", include_str!("../templates/account_email.html")),
    ("email_verify.html", include_str!("../templates/email_verify.html")),
    ("password_forgot.html", include_str!("../templates/password_forgot.html")),
    ("password_reset.html", include_str!("../templates/password_reset.html")),
    ("profile.html", include_str!("../templates/profile.html")),
    ("logout.html", include_str!("../templates/logout.html")),
    ("end_session.html", include_str!("../templates/end_session.html")),
    ("signed_out.html", include_str!("../templates/signed_out.html")),
    ("demo.html", include_str!("../templates/demo.html")),
    ("demo_result.html", include_str!("../templates/demo_result.html")),
    ("device.html", include_str!("../templates/device.html")),
    ("device_confirm.html", include_str!("../templates/device_confirm.html")),
    ("device_done.html", include_str!("../templates/device_done.html")),
    ("console_list.html", include_str!("../templates/console_list.html")),
    ("console_form.html", include_str!("../templates/console_form.html")),
    ("console_app.html", include_str!("../templates/console_app.html")),
    ("console_hosted.html", include_str!("../templates/console_hosted.html")),
    ("docs_sign_in.html", include_str!("../templates/docs_sign_in.html")),
    ("settings_nav.html", include_str!("../templates/settings_nav.html")),
    ("settings_connected.html", include_str!("../templates/settings_connected.html")),
    ("settings_sessions.html", include_str!("../templates/settings_sessions.html")),
    ("settings_passkeys.html", include_str!("../templates/settings_passkeys.html")),
    ("settings_security_log.html", include_str!("../templates/settings_security_log.html")),
    ("settings_two_factor.html", include_str!("../templates/settings_two_factor.html")),
    ("login_two_factor.html", include_str!("../templates/login_two_factor.html")),
    ("orgs_new.html", include_str!("../templates/orgs_new.html")),
    ("orgs_profile.html", include_str!("../templates/orgs_profile.html")),
    ("orgs_settings.html", include_str!("../templates/orgs_settings.html")),
    ("orgs_manage.html", include_str!("../templates/orgs_manage.html")),
    ("orgs_restricted.html", include_str!("../templates/orgs_restricted.html")),
];

impl Ui {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        // Built-in templates compile on first use: a server that only answers the protocol
        // endpoints never loads the template parser (start-up time and resident memory).
        env.set_loader(builtin);
        if let Some(dir) = &config.templates_dir {
            load_overrides(&mut env, dir)?;
        }
        env.add_global("platform", config.platform_name.clone());
        env.add_global("issuer", config.issuer.clone());
        env.add_global("demo_enabled", config.demo);
        // Passkeys need a domain-name issuer (WebAuthn RP ID); on an IP address their UI is hidden.
        env.add_global("passkeys_enabled", crate::webauthn::available(config));
        // Error pages are rendered where no state is at hand; they use this environment.
        let _ = ERROR_ENV.set(env.clone());
        Ok(Self { env })
    }

    /// Renders `name` with `ctx`. A failure is a bug in a template: it is logged and the caller
    /// answers with a plain error page.
    pub fn render(&self, name: &str, ctx: Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }
}

/// The source of a built-in template (the loader of the environment).
fn builtin(name: &str) -> Result<Option<String>, minijinja::Error> {
    Ok(TEMPLATES.iter().find(|(builtin, _)| *builtin == name).map(|(_, source)| (*source).to_owned()))
}

/// Replaces built-in templates with the `.html` files of `dir` that have the same name; other
/// `.html` files there are added (partials an override includes). Read once, at start-up: a
/// template that does not parse stops the server with its file name, never a broken page later.
fn load_overrides(env: &mut Environment<'static>, dir: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("reading the templates directory {}", dir.display()))?;
    let mut loaded = Vec::new();
    for entry in entries {
        let path = entry.with_context(|| format!("reading the templates directory {}", dir.display()))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
        if !path.is_file() || !name.ends_with(".html") {
            continue;
        }
        let source = std::fs::read_to_string(&path).with_context(|| format!("reading template {}", path.display()))?;
        env.add_template_owned(name.clone(), source).with_context(|| format!("template {}", path.display()))?;
        loaded.push(name);
    }
    loaded.sort();
    let (overridden, added): (Vec<&String>, Vec<&String>) =
        loaded.iter().partition(|name| TEMPLATES.iter().any(|(builtin, _)| builtin == name));
    tracing::info!(dir = %dir.display(), ?overridden, ?added, "templates loaded from the templates directory");
    Ok(())
}

/// A serialisable value for a template context.
pub fn ser<T: serde::Serialize>(value: T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

static ERROR_ENV: OnceLock<Environment<'static>> = OnceLock::new();

/// Renders the error page; never fails (falls back to plain text).
pub fn render_error_page(title: &str, message: &str) -> String {
    let rendered = match ERROR_ENV.get() {
        Some(env) => env.get_template("error.html").and_then(|t| t.render(context! { title, message })),
        None => Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, "no templates yet")),
    };
    rendered.unwrap_or_else(|err| {
        tracing::error!(error = %err, "the error page failed to render");
        let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        format!("<!doctype html><title>{0}</title><h1>{0}</h1><p>{1}</p>", escape(title), escape(message))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_template_compiles() {
        let mut env = Environment::new();
        env.set_loader(builtin);
        for (name, _) in TEMPLATES {
            env.get_template(name).unwrap_or_else(|err| panic!("{name}: {err}"));
        }
        assert!(env.get_template("no-such.html").is_err());
    }
}
