//! `doorway serve`: logging, start-up, the first lines a newcomer reads.

use tracing_subscriber::EnvFilter;

use crate::config::{Config, GlobalArgs, ServeArgs};
use crate::startup::{Application, redact_url};

fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

pub async fn serve(global: &GlobalArgs, args: &ServeArgs) -> anyhow::Result<()> {
    let config = Config::resolve(global, args)?;
    init_logging(config.log_json);
    let issuer = config.issuer.clone();
    let database = redact_url(&config.database_url);
    let app = Application::build(config).await?;
    tracing::info!(%issuer, %database, port = app.port(), "Doorway is ready");
    println!("Doorway is running: issuer {issuer}");
    println!("  discovery: {issuer}/.well-known/openid-configuration");
    println!("  listening: {}", app.local_addr()?);
    if let Some(metrics) = app.metrics_addr() {
        println!("  metrics:   http://{metrics}/metrics");
    }
    if let Some(demo) = &app.state().demo {
        println!();
        println!("Demo: open {issuer}/demo and click \"Sign in with {}\"", app.state().config.platform_name);
        println!("  username: {}", demo.username);
        println!("  password: {}", demo.password);
        println!("  (new password at every start; the demo app is '{}')", demo.client_id);
    }
    app.run_until_stopped().await
}
