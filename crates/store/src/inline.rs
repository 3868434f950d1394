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
//!
//! A reader waits for a lock only in rare moments (another process recovering the WAL index):
//! then, after [`BUSY_TIMEOUT`], the read is handed back to the caller, which runs it on sqlx,
//! whose connection thread may wait out the store's full busy timeout without holding the task.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::StoreError;

/// How long an inline read may wait for a lock before it is handed back to sqlx.
const BUSY_TIMEOUT: Duration = Duration::from_millis(20);

/// Connections to one database file, opened on first use; at most `keep` are kept idle.
#[derive(Debug)]
pub(crate) struct InlineReaders {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    keep: usize,
}

impl InlineReaders {
    pub(crate) fn new(path: PathBuf, keep: usize) -> Self {
        Self { path, idle: Mutex::default(), keep }
    }

    /// A connection that can only read: the writer opened the file and set WAL mode already.
    fn connect(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(conn)
    }

    /// Runs `read` on a pooled connection, on this thread; `None` when the database stayed
    /// busy past [`BUSY_TIMEOUT`]: the caller then reads through sqlx.
    pub(crate) fn read<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Option<crate::Result<T>> {
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let conn = match idle.map_or_else(|| self.connect(), Ok) {
            Ok(conn) => conn,
            Err(err) => return handed_back(err),
        };
        let result = read(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.keep {
            idle.push(conn);
        }
        match result {
            Ok(value) => Some(Ok(value)),
            Err(err) => handed_back(err),
        }
    }

    /// Closes the idle connections.
    pub(crate) fn close(&self) {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

/// A failed inline read: handed back (`None`) when the database was busy or locked, else the
/// error (a file that cannot be opened makes the caller answer 503, as sqlx's would).
fn handed_back<T>(err: rusqlite::Error) -> Option<crate::Result<T>> {
    match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => None,
        Some(ErrorCode::CannotOpen) => Some(Err(StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(err))))),
        _ => Some(Err(StoreError::Inline(err))),
    }
}
