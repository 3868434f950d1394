//! The hottest point reads on SQLite, run on the calling task instead of a connection thread.
//!
//! sqlx runs each SQLite connection on a thread of its own: a query is a message to that thread
//! and a message back, two context switches when they share a core, and for a read by primary
//! key the switches, futex wake-ups and channel work cost more than SQLite's own. The reads
//! every signed-in page and every bearer-token request make (the session with its user, the
//! access token with its user) run here instead, on a connection of the direct binding
//! (rusqlite) borrowed from a small pool, on the caller's thread. In WAL mode a reader never
//! waits for the writer, and a lookup by key takes microseconds, so the async worker is held no
//! longer than parsing the request held it. Writes, and every other read, stay on sqlx.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::StoreError;

/// Connections to one database file, opened on first use; at most `keep` are kept idle.
#[derive(Debug)]
pub(crate) struct InlineReaders {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    keep: usize,
}

impl InlineReaders {
    pub(crate) fn new(path: PathBuf, busy_timeout: Duration, keep: usize) -> Self {
        Self { path, busy_timeout, idle: Mutex::default(), keep }
    }

    /// A connection that can only read: the writer opened the file and set WAL mode already.
    fn connect(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(conn)
    }

    /// Runs `read` on a pooled connection, on this thread.
    pub(crate) fn read<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> crate::Result<T> {
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let result = read(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.keep {
            idle.push(conn);
        }
        Ok(result?)
    }

    /// Closes the idle connections.
    pub(crate) fn close(&self) {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            // Busy past the timeout, or the file cannot be opened: the caller answers 503.
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::CannotOpen) => {
                StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(err)))
            }
            _ => StoreError::Inline(err),
        }
    }
}
