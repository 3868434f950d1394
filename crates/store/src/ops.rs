//! What operators ask of the database while Doorway runs: is it reachable and fully migrated
//! (readiness), and how busy is the pool (metrics). Neither waits longer than the pool's
//! acquire timeout, and neither changes anything.

use std::collections::BTreeSet;

use crate::{Pool, Result, Store, on_pool};

/// Connections of the pool: open, on loan, and the most there may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub open: u64,
    pub in_use: u64,
    pub max: u64,
}

impl Store {
    /// The migrations this binary knows that the database has not applied (empty when ready).
    /// A database that cannot be reached, or was never migrated, is an error.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>> {
        let known: Vec<i64> = match &self.pool {
            Pool::Sqlite { .. } => sqlx::migrate!("./migrations/sqlite").iter().map(|m| m.version).collect(),
            Pool::Postgres(_) => sqlx::migrate!("./migrations/postgres").iter().map(|m| m.version).collect(),
        };
        let sql = "SELECT version FROM _sqlx_migrations WHERE success";
        let applied: Vec<i64> = on_pool!(self, |pool| sqlx::query_scalar(sql).fetch_all(pool).await)?;
        let applied: BTreeSet<i64> = applied.into_iter().collect();
        Ok(known.into_iter().filter(|v| !applied.contains(v)).collect())
    }

    /// The pool's connections now (for the metrics endpoint; takes no connection).
    pub fn pool_stats(&self) -> PoolStats {
        match &self.pool {
            Pool::Sqlite { readers, writer, .. } => {
                let (r_open, r_used, r_max) = readers.usage();
                let (w_open, w_used, w_max) = writer.usage();
                PoolStats {
                    open: (r_open + w_open) as u64,
                    in_use: (r_used + w_used) as u64,
                    max: (r_max + w_max) as u64,
                }
            }
            Pool::Postgres(pool) => {
                let open = u64::from(pool.size());
                let idle = pool.num_idle() as u64;
                PoolStats {
                    open,
                    in_use: open.saturating_sub(idle),
                    max: u64::from(pool.options().get_max_connections()),
                }
            }
        }
    }
}
