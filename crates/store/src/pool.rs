//! A small pool of SQLite connections.
//!
//! sqlx runs each SQLite connection on its own thread and reaches it through channels, so every
//! command is a round trip between threads (two context switches when they share a core). Its
//! general-purpose pool adds two such round trips to every query: a ping when a connection is
//! acquired and another when it is released (to detect broken network connections and flush
//! cancelled work). Neither buys anything for a local file — a connection's commands run in
//! order, so a rollback queued by a cancelled transaction runs before the next user's first
//! statement — and together they tripled the cost of a single-query request. This pool hands out
//! connections and takes them back without talking to them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Up to `size` connections to one database, opened on first use.
#[derive(Debug)]
pub(crate) struct SqliteConns {
    options: SqliteConnectOptions,
    idle: Mutex<Vec<SqliteConnection>>,
    permits: Semaphore,
    size: usize,
    acquire_timeout: Duration,
}

/// A connection on loan; it goes back to the pool when dropped.
pub(crate) struct Conn<'a> {
    conn: Option<SqliteConnection>,
    pool: &'a SqliteConns,
    _permit: SemaphorePermit<'a>,
    discard: bool,
}

impl SqliteConns {
    /// Opens one connection at once (so a bad path or a locked file fails start-up, not the
    /// first request) and keeps it idle.
    pub(crate) async fn open(
        options: SqliteConnectOptions,
        size: u32,
        acquire_timeout: Duration,
    ) -> sqlx::Result<Arc<Self>> {
        let first = options.connect().await?;
        let size = usize::try_from(size.max(1)).unwrap_or(1);
        Ok(Arc::new(Self {
            options,
            idle: Mutex::new(vec![first]),
            permits: Semaphore::new(size),
            size,
            acquire_timeout,
        }))
    }

    /// Waits (up to the acquire timeout) for a connection; a timeout is `PoolTimedOut`, which
    /// the store reports as "unavailable".
    pub(crate) async fn acquire(&self) -> sqlx::Result<Conn<'_>> {
        let permit = match tokio::time::timeout(self.acquire_timeout, self.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(sqlx::Error::PoolClosed),
            Err(_) => return Err(sqlx::Error::PoolTimedOut),
        };
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.options.connect().await?,
        };
        Ok(Conn { conn: Some(conn), pool: self, _permit: permit, discard: false })
    }

    /// Connections open, on loan, and the most there may be (for metrics).
    pub(crate) fn usage(&self) -> (usize, usize, usize) {
        let in_use = self.size.saturating_sub(self.permits.available_permits());
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).len();
        (idle + in_use, in_use, self.size)
    }

    /// Closes the idle connections and refuses new loans.
    pub(crate) async fn close(&self) {
        self.permits.close();
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner));
        for conn in idle {
            let _ = conn.close().await;
        }
    }
}

impl Conn<'_> {
    /// While set, dropping the loan closes the connection instead of returning it: for a
    /// transaction opened with plain SQL (`BEGIN IMMEDIATE; …`), which sqlx does not track.
    /// Closing a SQLite connection rolls back what it left open, so an error or a cancelled
    /// request between `BEGIN` and `COMMIT` cannot leave a transaction to the next borrower.
    pub(crate) fn discard_on_drop(&mut self, discard: bool) {
        self.discard = discard;
    }
}

impl std::ops::Deref for Conn<'_> {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        // Present from construction until drop.
        self.conn.as_ref().unwrap_or_else(|| unreachable!("a loaned connection is present until dropped"))
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().unwrap_or_else(|| unreachable!("a loaned connection is present until dropped"))
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take().filter(|_| !self.discard) {
            self.pool.idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
        }
    }
}
