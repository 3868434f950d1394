//! Building and running the application: open the store, load keys, bind, serve.
//! Tests build it on port 0 against a fresh database, exactly as production starts.

use std::net::SocketAddr;
use std::time::Duration;

use doorway_core::jose::SigningAlg;
use doorway_core::oauth::refresh::RotationKey;

use anyhow::Context;
use doorway_core::oidc::discovery::ProviderMetadata;
use doorway_store::{PoolOptions, Store};
use tokio::net::TcpListener;

use crate::background;
use crate::config::Config;
use crate::keys::{Keys, master_key};
use crate::password::Passwords;
use crate::state::{AppState, Inner, ScopeRegistry, now};
use crate::ui::Ui;

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

/// Opens (creating and migrating) the database a configuration points at.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    if config.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    }
    Store::connect(&config.database_url, &PoolOptions::default())
        .await
        .with_context(|| format!("opening the database {}", redact_url(&config.database_url)))
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {} (is another server running there?)", config.listen))?;
        Self::build_on(config, listener).await
    }

    /// Builds on a listener the caller bound (tests bind port 0 first to learn their issuer).
    pub async fn build_on(config: Config, listener: TcpListener) -> anyhow::Result<Self> {
        let store = open_store(&config).await?;
        let master = master_key(&config.data_dir)?;
        let rotation = RotationKey::new(&master.derive("refresh-token-rotation"));
        let keys = Keys::load(&store, master, now()).await?;
        let local = listener.local_addr()?;
        let internal_base = format!("http://{}", loopback_for(local));
        let scopes = ScopeRegistry::new(&config.extra_scopes);
        let algorithms = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
        let discovery = serde_json::to_string(&ProviderMetadata::new(&config.issuer, scopes.names(), algorithms))?;
        let demo = if config.demo { Some(crate::http::demo::prepare(&store, &config).await?) } else { None };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let state = AppState::new(Inner {
            ui: Ui::new(&config)?,
            passwords: Passwords::new()?,
            config,
            store,
            keys,
            rotation,
            http,
            scopes,
            discovery,
            demo,
            internal_base,
        });
        Ok(Self { listener, state })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes (tests stop one node and start another on the same data).
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let workers = background::spawn(self.state.clone());
        let router = crate::http::router(self.state.clone());
        let served = axum::serve(self.listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(stop)
            .await;
        for worker in workers {
            worker.abort();
        }
        self.state.store.close().await;
        Ok(served?)
    }
}

fn loopback_for(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let ip = if addr.is_ipv4() { [127, 0, 0, 1].into() } else { std::net::Ipv6Addr::LOCALHOST.into() };
        SocketAddr::new(ip, addr.port())
    } else {
        addr
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
