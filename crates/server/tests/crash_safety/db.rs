//! The database read directly after a restart (the schema is crates/store/migrations): what the
//! HTTP surface cannot show, such as how many refresh tokens of a family are live.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

pub enum Db {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

macro_rules! on_db {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Pg($pool) => $body,
        }
    };
}

/// One refresh token of a family.
#[derive(Debug, sqlx::FromRow)]
pub struct TokenRow {
    pub token_hash: String,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl TokenRow {
    pub fn live(&self) -> bool {
        self.rotated_at.is_none() && self.revoked_at.is_none()
    }
}

/// Families with more than one live (neither rotated nor revoked) refresh token.
const DOUBLE_LIVE: &str = "SELECT COUNT(*) FROM (SELECT family_id FROM refresh_tokens \
     WHERE revoked_at IS NULL AND rotated_at IS NULL GROUP BY family_id HAVING COUNT(*) > 1) AS doubled";
const FAMILY: &str = "SELECT token_hash, rotated_at, revoked_at FROM refresh_tokens \
     WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)";

impl Db {
    pub async fn connect(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            // Never creates: the server must have left a database behind.
            let options = SqliteConnectOptions::from_str(url).unwrap().create_if_missing(false);
            Db::Sqlite(SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap())
        } else {
            Db::Pg(sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await.unwrap())
        }
    }

    pub async fn families_with_two_live_tokens(&self) -> i64 {
        on_db!(self, |pool| sqlx::query_scalar(DOUBLE_LIVE).fetch_one(pool).await.unwrap())
    }

    /// Every refresh token of the family `token_hash` belongs to.
    pub async fn family_of(&self, token_hash: &str) -> Vec<TokenRow> {
        on_db!(self, |pool| sqlx::query_as(FAMILY).bind(token_hash).fetch_all(pool).await.unwrap())
    }

    /// SQLite's own check of the file (`["ok"]` when sound); PostgreSQL has none to run.
    pub async fn integrity_check(&self) -> Option<Vec<String>> {
        match self {
            Db::Sqlite(pool) => Some(sqlx::query_scalar("PRAGMA integrity_check").fetch_all(pool).await.unwrap()),
            Db::Pg(_) => None,
        }
    }

    /// PostgreSQL's `synchronous_commit` (for the test output); `None` on SQLite.
    pub async fn synchronous_commit(&self) -> Option<String> {
        match self {
            Db::Sqlite(_) => None,
            Db::Pg(pool) => Some(sqlx::query_scalar("SHOW synchronous_commit").fetch_one(pool).await.unwrap()),
        }
    }

    pub async fn close(self) {
        on_db!(self, |pool| pool.close().await);
    }
}
