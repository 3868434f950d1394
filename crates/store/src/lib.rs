//! Doorway's storage: one [`Store`] over SQLite (the embedded default) or PostgreSQL.
//!
//! Every query is written once, with `$N` placeholders that both dialects accept, and runs on
//! whichever pool the store holds. Numbered placeholders always appear in increasing order in
//! the SQL text: SQLite numbers them by first appearance.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use crate::inline::InlineReaders;
use crate::pool::SqliteConns;

mod admin_tokens;
mod admin_users;
mod apps;
mod attempts;
mod audit;
mod clients;
mod connected;
mod copy;
mod device;
mod email;
mod grants;
mod inline;
mod keys;
mod logout;
mod ops;
mod orgs;
mod passkeys;
mod pool;
mod purge;
mod reveals;
mod sessions;
mod totp;
mod user_sessions;
mod users;

pub use admin_tokens::{ADMIN_TOKEN_TOUCH_INTERVAL, AdminToken, NewAdminToken};
pub use admin_users::{UserCursor, UserFlags};
pub use apps::AppProfile;
pub use attempts::{AttemptPolicy, Reservation};
pub use audit::{AuditEntry, AuditQuery};
pub use clients::{CLIENT_CACHE_TTL, NewClient};
pub use connected::{ConnectedApp, RevokedGrant};
pub use copy::{CopyError, CopyReport};
pub use email::{EmailPurpose, EmailToken, NewEmail, OutboxEmail};
pub use grants::{Issue, NewAccessToken, NewRefreshToken, RedeemOutcome, RefreshOutcome};
pub use keys::StoredKey;
pub use logout::LogoutDelivery;
pub use ops::PoolStats;
pub use orgs::{InviteOutcome, MemberChange, NewOrg, ORG_INVITATION_TTL, OrgInvitation, OrgMember, OrgMembership};
pub use passkeys::{CeremonyPurpose, StoredPasskey, TakenCeremony};
pub use purge::Purged;
pub use reveals::SecretReveal;
pub use sessions::{ConsentState, Interaction};
pub use totp::{SecondFactorChallenge, TotpCredential};
pub use user_sessions::{SESSION_TOUCH_INTERVAL, SessionInfo};
pub use users::{NewUser, ProfileUpdate};

/// Runs `$body` with `$pool` bound to one connection (`&mut` a dialect's connection) for the
/// length of the body. A body that runs several statements reborrows it: `&mut *pool`.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite { readers, .. } => match readers.acquire().await {
                Ok(mut conn) => {
                    let $pool = &mut *conn;
                    $body
                }
                Err(err) => Err(err.into()),
            },
            $crate::Pool::Postgres(pg) => match pg.acquire().await {
                Ok(mut conn) => {
                    let $pool = &mut *conn;
                    $body
                }
                Err(err) => Err(err.into()),
            },
        }
    };
}
pub(crate) use on_pool;

/// Like [`on_pool!`], for work that writes: on SQLite it runs on the single writer connection
/// (SQLite has one writer at a time; queueing for it beats spinning on SQLITE_BUSY).
macro_rules! on_writer {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite { writer, .. } => match writer.acquire().await {
                Ok(mut conn) => {
                    let $pool = &mut *conn;
                    $body
                }
                Err(err) => Err(err.into()),
            },
            $crate::Pool::Postgres(pg) => match pg.acquire().await {
                Ok(mut conn) => {
                    let $pool = &mut *conn;
                    $body
                }
                Err(err) => Err(err.into()),
            },
        }
    };
}
pub(crate) use on_writer;

/// A writing statement (see [`on_writer!`]): yields the number of rows affected.
macro_rules! execute {
    ($store:expr, |$pool:ident| $body:expr) => {
        $crate::on_writer!($store, |$pool| $body.map(|done| done.rows_affected()))
    };
}
pub(crate) use execute;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the string names what was duplicated.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// The database cannot be reached or is overloaded: the caller answers 503.
    #[error("the database is unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("a stored record is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A read on SQLite's inline connections failed (see `inline`).
    #[error("database error: {0}")]
    Inline(rusqlite::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => Self::Unavailable(err),
            // PostgreSQL going away: connection exceptions (08…), the server shutting down or
            // terminating the backend (57P01–57P03), too many connections (53300).
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|code| code.starts_with("08") || code.starts_with("57P") || code == "53300") =>
            {
                Self::Unavailable(err)
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                let message = db.message();
                let what = ["username", "email", "client_id", "kid", "sub"]
                    .into_iter()
                    .find(|column| message.contains(column))
                    .unwrap_or("value");
                Self::Conflict(what)
            }
            _ => Self::Database(err),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    /// Readers, the one connection that writes, and the hottest point reads' own (`inline`).
    Sqlite {
        readers: Arc<SqliteConns>,
        writer: Arc<SqliteConns>,
        inline: Arc<InlineReaders>,
    },
    Postgres(PgPool),
}

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self { max_connections: 8, acquire_timeout: Duration::from_secs(5) }
    }
}

/// The database, whichever dialect. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
    clients: Arc<clients::ClientCache>,
    org_presence: Arc<orgs::OrgPresence>,
}

impl Store {
    /// Connects to `url` (`sqlite://path` or `postgres://…`) and applies pending migrations.
    pub async fn connect(url: &str, options: &PoolOptions) -> Result<Self> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url).map_err(StoreError::Database)?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            Store { pool: Pool::Postgres(pool), clients: Arc::default(), org_presence: Arc::default() }
        } else {
            // WAL lets readers proceed during a write; NORMAL is durable across application
            // crashes in WAL mode and costs a fraction of FULL's fsyncs.
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(StoreError::Database)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            let inline = Arc::new(InlineReaders::new(
                connect.get_filename().to_owned(),
                usize::try_from(options.max_connections).unwrap_or(8),
            ));
            let writer = SqliteConns::open(connect.clone(), 1, options.acquire_timeout).await?;
            let readers = SqliteConns::open(connect, options.max_connections, options.acquire_timeout).await?;
            Store {
                pool: Pool::Sqlite { readers, writer, inline },
                clients: Arc::default(),
                org_presence: Arc::default(),
            }
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations of this store's dialect.
    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite { writer, .. } => {
                let mut conn = writer.acquire().await?;
                sqlx::migrate!("./migrations/sqlite").run(&mut *conn).await?;
            }
            Pool::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub fn dialect(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite { .. } => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Whether the database answers (for readiness).
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite { readers, writer, inline } => {
                inline.close();
                readers.close().await;
                writer.close().await;
            }
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}
