//! Building and running the application: open the store, load keys, bind, serve.
//! Tests build it on port 0 against a fresh database, exactly as production starts.

use std::net::SocketAddr;
use std::time::Duration;

use doorway_core::jose::SigningAlg;
use doorway_core::oauth::refresh::RotationKey;

use anyhow::Context;
use doorway_core::oidc::discovery::ProviderMetadata;
use doorway_store::Store;
use tokio::net::TcpListener;

use crate::background;
use crate::config::Config;
use crate::keys::{Keys, master_key};
use crate::password::Passwords;
use crate::state::{AppState, Inner, ScopeRegistry, now};
use crate::ui::Ui;

pub struct Application {
    listener: TcpListener,
    /// `/metrics`, when `--metrics-listen` is set: never on the public listener.
    metrics: Option<TcpListener>,
    state: AppState,
}

/// After SIGTERM, in-flight requests get this long to finish before the process exits anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Opens (creating and migrating) the database a configuration points at.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    if config.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    }
    Store::connect(&config.database_url, &config.pool_options())
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
        let metrics = match config.metrics_listen {
            Some(addr) => {
                Some(TcpListener::bind(addr).await.with_context(|| format!("listening for metrics on {addr}"))?)
            }
            None => None,
        };
        if metrics.is_some() {
            crate::metrics::handle();
        }
        let store = open_store(&config).await?;
        let master = master_key(&config.data_dir)?;
        let rotation = RotationKey::new(&master.derive("refresh-token-rotation"));
        let access_token_handles =
            doorway_core::oauth::access_token::HandleKey::new(&master.derive("jwt-access-token-handle"));
        let keys = Keys::load(&store, master, now()).await?;
        let local = listener.local_addr()?;
        let internal_base = format!("http://{}", loopback_for(local));
        let scopes = ScopeRegistry::new(&config.extra_scopes);
        let algorithms = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
        let discovery = serde_json::to_string(&ProviderMetadata::new(&config.issuer, scopes.names(), algorithms))?;
        let demo = if config.demo { Some(crate::http::demo::prepare(&store, &config).await?) } else { None };
        let http = crate::state::OutboundHttp::default();
        let state = AppState::new(Inner {
            ui: Ui::new(&config)?,
            passwords: Passwords::new()?,
            mailer: crate::email::Mailer::from_config(&config)?,
            config,
            store,
            keys,
            rotation,
            access_token_handles,
            http,
            scopes,
            discovery,
            demo,
            internal_base,
        });
        Ok(Self { listener, metrics, state })
    }

    /// The address the public listener is bound to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Where `/metrics` is served, if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
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
        // One stop signal for both listeners.
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            stop.await;
            let _ = stopping.send(true);
        });
        let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        if let Some(listener) = self.metrics {
            let metrics = crate::http::ops::metrics_router(self.state.clone());
            let stop = until_stopped(stopped.clone());
            tokio::spawn(async move {
                if let Err(err) = axum::serve(listener, metrics).with_graceful_shutdown(stop).await {
                    tracing::error!(error = %err, "the metrics listener failed");
                }
            });
        }
        // Stop accepting at once, let in-flight requests finish, but not forever.
        let serving = axum::serve(self.listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(until_stopped(stopped.clone()))
            .into_future();
        let deadline = async {
            until_stopped(stopped).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        let served = tokio::select! {
            served = serving => served,
            () = deadline => {
                tracing::warn!("requests still running {} s after the stop signal; exiting anyway", SHUTDOWN_GRACE.as_secs());
                Ok(())
            }
        };
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
