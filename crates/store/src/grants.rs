//! Authorization codes, access tokens and refresh tokens. Single use is enforced by the
//! database: a code (or a refresh token) is consumed by one conditional UPDATE, so of two
//! parallel redemptions exactly one wins, on one node or many. Every token of a grant shares a
//! family id, so a replay revokes the grant whole.

use doorway_core::OAuthError;
use doorway_core::model::{AccessToken, AuthorizationCode, RefreshToken, User};
use doorway_core::types::ScopeSet;
use rusqlite::OptionalExtension;

use crate::pool::{Conn, SqliteConns};
use crate::users::{JOINED_USER_COLUMNS, JoinedUserRow, USER_COLUMNS, UserRow, user_at};
use crate::{Pool, Result, Store, StoreError, execute, on_pool, on_writer};

fn scope_of(raw: &str, what: &str) -> Result<ScopeSet> {
    ScopeSet::parse(raw).map_err(|e| StoreError::Corrupt(format!("{what} scope: {e}")))
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    code_hash: String,
    client_id: String,
    user_id: String,
    redirect_uri: String,
    redirect_uri_sent: bool,
    scope: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    auth_time: i64,
    created_at: i64,
    expires_at: i64,
    sid: Option<String>,
}

impl TryFrom<CodeRow> for AuthorizationCode {
    type Error = StoreError;
    fn try_from(r: CodeRow) -> Result<Self> {
        Ok(AuthorizationCode {
            scope: scope_of(&r.scope, "code")?,
            code_hash: r.code_hash,
            client_id: r.client_id,
            user_id: r.user_id,
            redirect_uri: r.redirect_uri,
            redirect_uri_sent: r.redirect_uri_sent,
            nonce: r.nonce,
            code_challenge: r.code_challenge,
            auth_time: r.auth_time,
            created_at: r.created_at,
            expires_at: r.expires_at,
            sid: r.sid,
        })
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    token_hash: String,
    client_id: String,
    user_id: Option<String>,
    scope: String,
    code_hash: Option<String>,
    family_id: Option<String>,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<TokenRow> for AccessToken {
    type Error = StoreError;
    fn try_from(r: TokenRow) -> Result<Self> {
        Ok(AccessToken {
            scope: scope_of(&r.scope, "token")?,
            token_hash: r.token_hash,
            client_id: r.client_id,
            user_id: r.user_id,
            code_hash: r.code_hash,
            family_id: r.family_id,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked: r.revoked_at.is_some(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    token_hash: String,
    family_id: String,
    client_id: String,
    user_id: String,
    scope: String,
    auth_time: i64,
    sid: Option<String>,
    created_at: i64,
    idle_expires_at: i64,
    absolute_expires_at: i64,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TryFrom<RefreshRow> for RefreshToken {
    type Error = StoreError;
    fn try_from(r: RefreshRow) -> Result<Self> {
        Ok(RefreshToken {
            scope: scope_of(&r.scope, "refresh token")?,
            token_hash: r.token_hash,
            family_id: r.family_id,
            client_id: r.client_id,
            user_id: r.user_id,
            auth_time: r.auth_time,
            sid: r.sid,
            created_at: r.created_at,
            idle_expires_at: r.idle_expires_at,
            absolute_expires_at: r.absolute_expires_at,
            rotated_at: r.rotated_at,
            revoked_at: r.revoked_at,
        })
    }
}

/// An access token to store, by hash.
#[derive(Debug, Clone)]
pub struct NewAccessToken {
    pub token_hash: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub scope: ScopeSet,
    pub expires_at: i64,
}

/// A refresh token to store, by hash. Its family is the grant's.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub token_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: ScopeSet,
    pub auth_time: i64,
    pub sid: Option<String>,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
}

/// What a grant yields: an access token, and maybe a refresh token.
#[derive(Debug, Clone)]
pub struct Issue {
    pub access: NewAccessToken,
    pub refresh: Option<NewRefreshToken>,
}

/// What became of a code redemption.
#[derive(Debug)]
pub enum RedeemOutcome {
    /// The code was fresh and passed the checks: the tokens are stored. With the code's user,
    /// if the account still exists (enabled or not).
    Issued(AuthorizationCode, Option<Box<User>>),
    /// The code was fresh but failed a check; it is consumed all the same.
    Rejected(OAuthError),
    /// No such code.
    NotFound,
    /// The code had been redeemed before: every token issued from it is now revoked.
    Replayed { client_id: String, revoked_tokens: u64 },
}

/// What became of a refresh.
#[derive(Debug)]
pub enum RefreshOutcome {
    /// The token was live: it is rotated out and its successor and the access token stored.
    /// With the grant's user, if the account still exists (enabled or not), read in the same
    /// transaction.
    Rotated(RefreshToken, Option<Box<User>>),
    /// The token was rotated within the grace window: the same successor stands, a new access
    /// token is stored. With the user, as for `Rotated`.
    Grace(RefreshToken, Option<Box<User>>),
    /// The token failed a check (client, scope); nothing changed.
    Rejected(OAuthError),
    /// Unknown, expired or revoked.
    Inactive,
    /// A rotated-out token presented again: its whole family is revoked.
    Reused { family_id: String, client_id: String, revoked_tokens: u64 },
}

/// What the SQLite fast path of a refresh did: all of it, or nothing (the token is not live).
#[allow(clippy::large_enum_variant, reason = "private, returned once per refresh and matched at once")]
enum FastRefresh<F> {
    Done(RefreshOutcome),
    NotLive(F),
}

/// The second round trip of SQLite's fast paths (code redemption, refresh): the access token,
/// the successor refresh token if there is one, `COMMIT`, and the grant's user, in one call to
/// the writer. `family` is the grant's; `code_hash` is set on tokens issued from a code.
async fn issue_and_commit_sqlite(
    conn: &mut Conn<'_>,
    issue: &Issue,
    family: &str,
    code_hash: Option<&str>,
    now: i64,
    user_id: &str,
) -> Result<Option<Box<User>>> {
    let successor = issue.refresh.as_ref();
    let insert_refresh = match successor {
        Some(_) => {
            "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, auth_time, sid, created_at, \
             idle_expires_at, absolute_expires_at) VALUES ($10, $5, $11, $12, $13, $14, $15, $6, $16, $17) \
             ON CONFLICT (token_hash) DO NOTHING;"
        }
        None => "",
    };
    let sql = format!(
        "INSERT INTO access_tokens (token_hash, client_id, user_id, scope, code_hash, family_id, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $8, $5, $6, $7); {insert_refresh} \
         COMMIT; SELECT {USER_COLUMNS} FROM users WHERE id = $9"
    );
    let access = &issue.access;
    let query = sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(sql))
        .bind(&access.token_hash)
        .bind(&access.client_id)
        .bind(&access.user_id)
        .bind(access.scope.to_string())
        .bind(family)
        .bind(now)
        .bind(access.expires_at)
        .bind(code_hash)
        .bind(user_id);
    let query = match successor {
        Some(r) => query
            .bind(&r.token_hash)
            .bind(&r.client_id)
            .bind(&r.user_id)
            .bind(r.scope.to_string())
            .bind(r.auth_time)
            .bind(&r.sid)
            .bind(r.idle_expires_at)
            .bind(r.absolute_expires_at),
        None => query,
    };
    let users = query.fetch_all(&mut **conn).await?;
    conn.discard_on_drop(false);
    Ok(users.into_iter().next().map(|u| Box::new(User::from(u))))
}

const CODE_COLUMNS: &str = "code_hash, client_id, user_id, redirect_uri, redirect_uri_sent, scope, nonce, \
     code_challenge, auth_time, created_at, expires_at, sid";
/// An access token's columns, of a table aliased `t`.
const TOKEN_COLUMNS_T: &str = "t.token_hash, t.client_id, t.user_id, t.scope, t.code_hash, t.family_id, \
     t.created_at, t.expires_at, t.revoked_at";
/// [`REFRESH_COLUMNS`] of a table aliased `t`.
const REFRESH_COLUMNS_T: &str = "t.token_hash, t.family_id, t.client_id, t.user_id, t.scope, t.auth_time, t.sid, \
     t.created_at, t.idle_expires_at, t.absolute_expires_at, t.rotated_at, t.revoked_at";
const REFRESH_COLUMNS: &str = "token_hash, family_id, client_id, user_id, scope, auth_time, sid, created_at, \
     idle_expires_at, absolute_expires_at, rotated_at, revoked_at";

pub(crate) const INSERT_ACCESS: &str = "INSERT INTO access_tokens (token_hash, client_id, user_id, scope, code_hash, \
     family_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
/// Idempotent: concurrent rotations of one parent insert the same successor once.
pub(crate) const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, \
     auth_time, sid, created_at, idle_expires_at, absolute_expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (token_hash) DO NOTHING";
const REVOKE_FAMILY_ACCESS: &str =
    "UPDATE access_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL";
const REVOKE_FAMILY_REFRESH: &str =
    "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL";
/// On PostgreSQL, locks a family's refresh tokens before revoking it: a refresh in flight holds
/// its parent's lock, so this waits for it to commit, and the UPDATEs that follow (each with a
/// fresh READ COMMITTED snapshot) see what it issued. SQLite runs one writer at a time already.
const LOCK_FAMILY: &str = "SELECT token_hash FROM refresh_tokens WHERE family_id = $1 FOR UPDATE";

/// Revokes a family inside a transaction; yields the number of tokens revoked.
macro_rules! revoke_family_in {
    ($store:expr, $tx:expr, $family:expr, $now:expr) => {{
        if $store.dialect() == "postgres" {
            let _: Vec<String> = sqlx::query_scalar(LOCK_FAMILY).bind($family).fetch_all(&mut *$tx).await?;
        }
        let access = sqlx::query(REVOKE_FAMILY_ACCESS).bind($now).bind($family).execute(&mut *$tx).await?;
        let refresh = sqlx::query(REVOKE_FAMILY_REFRESH).bind($now).bind($family).execute(&mut *$tx).await?;
        access.rows_affected() + refresh.rows_affected()
    }};
}

/// A code the consuming UPDATE did not match, inside the redemption's transaction: unknown
/// (or purged), or redeemed before — then everything issued from it is revoked.
macro_rules! code_not_consumed {
    ($store:expr, $tx:expr, $code_hash:expr, $now:expr) => {{
        let client: Option<String> =
            sqlx::query_scalar("SELECT client_id FROM authorization_codes WHERE code_hash = $1")
                .bind($code_hash)
                .fetch_optional(&mut *$tx)
                .await?;
        match client {
            None => RedeemOutcome::NotFound,
            Some(client_id) => {
                let revoked_tokens = revoke_family_in!($store, $tx, $code_hash, $now);
                RedeemOutcome::Replayed { client_id, revoked_tokens }
            }
        }
    }};
}

/// Binds and runs the inserts of an [`Issue`] inside a transaction.
macro_rules! insert_issue {
    ($tx:expr, $issue:expr, $family:expr, $code_hash:expr, $now:expr) => {{
        let issue = $issue;
        sqlx::query(INSERT_ACCESS)
            .bind(&issue.access.token_hash)
            .bind(&issue.access.client_id)
            .bind(&issue.access.user_id)
            .bind(issue.access.scope.to_string())
            .bind($code_hash)
            .bind($family)
            .bind($now)
            .bind(issue.access.expires_at)
            .execute(&mut *$tx)
            .await?;
        if let Some(refresh) = &issue.refresh {
            sqlx::query(INSERT_REFRESH)
                .bind(&refresh.token_hash)
                .bind($family)
                .bind(&refresh.client_id)
                .bind(&refresh.user_id)
                .bind(refresh.scope.to_string())
                .bind(refresh.auth_time)
                .bind(&refresh.sid)
                .bind($now)
                .bind(refresh.idle_expires_at)
                .bind(refresh.absolute_expires_at)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
/// Shared with the device grant, which issues the same tokens from a device code.
pub(crate) use insert_issue;

impl Store {
    pub async fn insert_code(&self, code: &AuthorizationCode) -> Result<()> {
        let sql = "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, redirect_uri_sent, \
                   scope, nonce, code_challenge, auth_time, created_at, expires_at, sid) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
        execute!(self, |pool| {
            sqlx::query(sql)
                .bind(&code.code_hash)
                .bind(&code.client_id)
                .bind(&code.user_id)
                .bind(&code.redirect_uri)
                .bind(code.redirect_uri_sent)
                .bind(code.scope.to_string())
                .bind(&code.nonce)
                .bind(&code.code_challenge)
                .bind(code.auth_time)
                .bind(code.created_at)
                .bind(code.expires_at)
                .bind(&code.sid)
                .execute(pool)
                .await
        })?;
        Ok(())
    }

    /// Consumes a code and, if `check` accepts it, stores what it yields, in one transaction:
    /// a concurrent replay waits for this commit and then revokes what it stored. The code's
    /// user (whatever their state) comes with an issue, read in the same transaction.
    pub async fn redeem_code<F>(&self, code_hash: &str, now: i64, check: F) -> Result<RedeemOutcome>
    where
        F: FnOnce(&AuthorizationCode) -> std::result::Result<Issue, OAuthError>,
    {
        if let Pool::Sqlite { writer, .. } = &self.pool {
            return self.redeem_code_sqlite(writer, code_hash, now, check).await;
        }
        let consume = format!(
            "UPDATE authorization_codes SET consumed_at = $1 WHERE code_hash = $2 AND consumed_at IS NULL \
             RETURNING {CODE_COLUMNS}"
        );
        let user_sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        on_writer!(self, |pool| {
            let mut tx = sqlx::Connection::begin(pool).await?;
            let row: Option<CodeRow> =
                sqlx::query_as(sqlx::AssertSqlSafe(consume)).bind(now).bind(code_hash).fetch_optional(&mut *tx).await?;
            let Some(row) = row else {
                let outcome = code_not_consumed!(self, tx, code_hash, now);
                tx.commit().await?;
                return Ok(outcome);
            };
            let code = AuthorizationCode::try_from(row)?;
            let issue = match check(&code) {
                Ok(issue) => issue,
                Err(err) => {
                    tx.commit().await?;
                    return Ok(RedeemOutcome::Rejected(err));
                }
            };
            insert_issue!(tx, &issue, code_hash, Some(code_hash), now);
            let user: Option<UserRow> =
                sqlx::query_as(sqlx::AssertSqlSafe(user_sql)).bind(&code.user_id).fetch_optional(&mut *tx).await?;
            tx.commit().await?;
            Ok(RedeemOutcome::Issued(code, user.map(|u| Box::new(User::from(u)))))
        })
    }

    /// [`Store::redeem_code`] on SQLite, in two round trips to the writer instead of seven:
    /// `BEGIN IMMEDIATE` with the consuming UPDATE, then the inserts, `COMMIT` and the user's
    /// row. The transaction is opened with plain SQL, so the connection is discarded (rolling
    /// it back) if anything stops this function between the two.
    async fn redeem_code_sqlite<F>(
        &self,
        writer: &SqliteConns,
        code_hash: &str,
        now: i64,
        check: F,
    ) -> Result<RedeemOutcome>
    where
        F: FnOnce(&AuthorizationCode) -> std::result::Result<Issue, OAuthError>,
    {
        let consume = format!(
            "BEGIN IMMEDIATE; UPDATE authorization_codes SET consumed_at = $1 WHERE code_hash = $2 \
             AND consumed_at IS NULL RETURNING {CODE_COLUMNS}"
        );
        let mut conn = writer.acquire().await?;
        conn.discard_on_drop(true);
        // fetch_all: every statement runs to completion before the next command.
        let rows: Vec<CodeRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(consume)).bind(now).bind(code_hash).fetch_all(&mut *conn).await?;
        let Some(row) = rows.into_iter().next() else {
            let outcome = code_not_consumed!(self, conn, code_hash, now);
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            conn.discard_on_drop(false);
            return Ok(outcome);
        };
        let code = AuthorizationCode::try_from(row)?;
        let issue = match check(&code) {
            Ok(issue) => issue,
            Err(err) => {
                sqlx::query("COMMIT").execute(&mut *conn).await?;
                conn.discard_on_drop(false);
                return Ok(RedeemOutcome::Rejected(err));
            }
        };
        let user = issue_and_commit_sqlite(&mut conn, &issue, code_hash, Some(code_hash), now, &code.user_id).await?;
        Ok(RedeemOutcome::Issued(code, user))
    }

    /// Rotates a refresh token (see [`RefreshOutcome`]). `check` validates the parent (client,
    /// scope) and builds the successor and the access token; `grace` is in seconds.
    pub async fn refresh<F>(&self, token_hash: &str, now: i64, grace: i64, check: F) -> Result<RefreshOutcome>
    where
        F: FnOnce(&RefreshToken) -> std::result::Result<Issue, OAuthError>,
    {
        let rotate = format!(
            "UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL \
             AND revoked_at IS NULL AND idle_expires_at > $3 AND absolute_expires_at > $4 RETURNING {REFRESH_COLUMNS}"
        );
        let select = format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE token_hash = $1");
        let user_sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let check = match &self.pool {
            Pool::Sqlite { writer, .. } => match self.refresh_sqlite(writer, token_hash, now, check).await? {
                FastRefresh::Done(outcome) => return Ok(outcome),
                // Not a live token: the rare cases (grace, reuse, expiry) take the path below.
                FastRefresh::NotLive(check) => check,
            },
            Pool::Postgres(_) => check,
        };
        on_writer!(self, |pool| {
            let mut tx = sqlx::Connection::begin(pool).await?;
            let rotated: Option<RefreshRow> = sqlx::query_as(sqlx::AssertSqlSafe(rotate))
                .bind(now)
                .bind(token_hash)
                .bind(now)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            let (parent, fresh) = match rotated {
                Some(row) => (RefreshToken::try_from(row)?, true),
                None => {
                    let row: Option<RefreshRow> =
                        sqlx::query_as(sqlx::AssertSqlSafe(select)).bind(token_hash).fetch_optional(&mut *tx).await?;
                    let Some(row) = row else {
                        tx.rollback().await?;
                        return Ok(RefreshOutcome::Inactive);
                    };
                    let parent = RefreshToken::try_from(row)?;
                    match parent.rotated_at {
                        _ if parent.revoked_at.is_some() => {
                            tx.rollback().await?;
                            return Ok(RefreshOutcome::Inactive);
                        }
                        Some(rotated) if now - rotated <= grace => (parent, false),
                        Some(_) => {
                            let family = parent.family_id.clone();
                            let revoked_tokens = revoke_family_in!(self, tx, &family, now);
                            tx.commit().await?;
                            return Ok(RefreshOutcome::Reused {
                                family_id: family,
                                client_id: parent.client_id,
                                revoked_tokens,
                            });
                        }
                        // Not rotated, yet the UPDATE matched nothing: expired.
                        None => {
                            tx.rollback().await?;
                            return Ok(RefreshOutcome::Inactive);
                        }
                    }
                }
            };
            let issue = match check(&parent) {
                Ok(issue) => issue,
                Err(err) => {
                    // A failed check changes nothing: the legitimate holder keeps its token.
                    tx.rollback().await?;
                    return Ok(RefreshOutcome::Rejected(err));
                }
            };
            if !fresh {
                // The successor of a rotation in grace must still be live.
                // Not revoked, and not rotated in turn: a stale token cannot walk forward through
                // successive grace windows to the live end of the lineage.
                let successor_live = match &issue.refresh {
                    Some(successor) => {
                        // On PostgreSQL, locked: a revocation in flight is waited for and seen.
                        let sql = if self.dialect() == "postgres" {
                            "SELECT token_hash FROM refresh_tokens WHERE token_hash = $1 \
                             AND revoked_at IS NULL AND rotated_at IS NULL FOR UPDATE"
                        } else {
                            "SELECT token_hash FROM refresh_tokens WHERE token_hash = $1 \
                             AND revoked_at IS NULL AND rotated_at IS NULL"
                        };
                        let live: Option<String> =
                            sqlx::query_scalar(sql).bind(&successor.token_hash).fetch_optional(&mut *tx).await?;
                        live.is_some()
                    }
                    None => false,
                };
                if !successor_live {
                    tx.rollback().await?;
                    return Ok(RefreshOutcome::Inactive);
                }
            }
            insert_issue!(tx, &issue, &parent.family_id, None::<String>, now);
            let user: Option<UserRow> =
                sqlx::query_as(sqlx::AssertSqlSafe(user_sql)).bind(&parent.user_id).fetch_optional(&mut *tx).await?;
            tx.commit().await?;
            let user = user.map(|u| Box::new(User::from(u)));
            Ok(if fresh { RefreshOutcome::Rotated(parent, user) } else { RefreshOutcome::Grace(parent, user) })
        })
    }

    /// [`Store::refresh`] of a live token on SQLite, in two round trips to the writer instead of
    /// five, and the user's row with them: `BEGIN IMMEDIATE` with the rotating UPDATE, then
    /// [`issue_and_commit_sqlite`]. A token
    /// the UPDATE does not match is handed back (rolled back, `check` unused) for the general
    /// path, which runs the same UPDATE again: a token never becomes live again, so it answers
    /// the same. As in [`Store::redeem_code`], the connection is discarded (rolling back) if
    /// anything stops this function between the two round trips.
    async fn refresh_sqlite<F>(
        &self,
        writer: &SqliteConns,
        token_hash: &str,
        now: i64,
        check: F,
    ) -> Result<FastRefresh<F>>
    where
        F: FnOnce(&RefreshToken) -> std::result::Result<Issue, OAuthError>,
    {
        let rotate = format!(
            "BEGIN IMMEDIATE; UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL \
             AND revoked_at IS NULL AND idle_expires_at > $1 AND absolute_expires_at > $1 RETURNING {REFRESH_COLUMNS}"
        );
        let mut conn = writer.acquire().await?;
        conn.discard_on_drop(true);
        // fetch_all: every statement runs to completion before the next command.
        let rows: Vec<RefreshRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(rotate)).bind(now).bind(token_hash).fetch_all(&mut *conn).await?;
        let Some(row) = rows.into_iter().next() else {
            sqlx::query("ROLLBACK").execute(&mut *conn).await?;
            conn.discard_on_drop(false);
            return Ok(FastRefresh::NotLive(check));
        };
        let parent = RefreshToken::try_from(row)?;
        let issue = match check(&parent) {
            Ok(issue) => issue,
            Err(err) => {
                // A failed check changes nothing: the legitimate holder keeps its token.
                sqlx::query("ROLLBACK").execute(&mut *conn).await?;
                conn.discard_on_drop(false);
                return Ok(FastRefresh::Done(RefreshOutcome::Rejected(err)));
            }
        };
        let user = issue_and_commit_sqlite(&mut conn, &issue, &parent.family_id, None, now, &parent.user_id).await?;
        Ok(FastRefresh::Done(RefreshOutcome::Rotated(parent, user)))
    }

    /// Stores an access token outside any grant family (client credentials).
    pub async fn insert_access_token(&self, token: &NewAccessToken, now: i64) -> Result<()> {
        execute!(self, |pool| {
            sqlx::query(INSERT_ACCESS)
                .bind(&token.token_hash)
                .bind(&token.client_id)
                .bind(&token.user_id)
                .bind(token.scope.to_string())
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(now)
                .bind(token.expires_at)
                .execute(pool)
                .await
        })?;
        Ok(())
    }

    pub async fn find_access_token(&self, token_hash: &str) -> Result<Option<AccessToken>> {
        Ok(self.find_access_token_with_user(token_hash).await?.map(|(token, _)| token))
    }

    /// An access token and, when it has one, its user (whatever their state), in one query:
    /// what userinfo and introspection need on every call.
    pub async fn find_access_token_with_user(&self, token_hash: &str) -> Result<Option<(AccessToken, Option<User>)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            token: TokenRow,
            #[sqlx(flatten)]
            user: JoinedUserRow,
        }
        let sql = format!(
            "SELECT {TOKEN_COLUMNS_T}, {JOINED_USER_COLUMNS} FROM access_tokens t \
             LEFT JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
        );
        if let Pool::Sqlite { inline, .. } = &self.pool
            && let Some(row) = inline.read(|conn| {
                let mut statement = conn.prepare_cached(&sql)?;
                statement
                    .query_row([token_hash], |row| {
                        let token = TokenRow {
                            token_hash: row.get(0)?,
                            client_id: row.get(1)?,
                            user_id: row.get(2)?,
                            scope: row.get(3)?,
                            code_hash: row.get(4)?,
                            family_id: row.get(5)?,
                            created_at: row.get(6)?,
                            expires_at: row.get(7)?,
                            revoked_at: row.get(8)?,
                        };
                        // LEFT JOIN: a token without a user (or whose user is gone) has no u.id.
                        let user = match row.get::<_, Option<String>>(9)? {
                            Some(_) => Some(user_at(row, 9)?),
                            None => None,
                        };
                        Ok((token, user))
                    })
                    .optional()
            })
        {
            return row?.map(|(token, user)| Ok((AccessToken::try_from(token)?, user))).transpose();
        }
        let row: Option<Row> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(pool)
            .await)?;
        row.map(|Row { token, user }| Ok((AccessToken::try_from(token)?, user.into_user()))).transpose()
    }

    pub async fn find_refresh_token(&self, token_hash: &str) -> Result<Option<RefreshToken>> {
        Ok(self.find_refresh_token_with_user(token_hash).await?.map(|(token, _)| token))
    }

    /// A refresh token and its user (absent only if the account is gone), in one query.
    pub async fn find_refresh_token_with_user(&self, token_hash: &str) -> Result<Option<(RefreshToken, Option<User>)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            token: RefreshRow,
            #[sqlx(flatten)]
            user: JoinedUserRow,
        }
        let sql = format!(
            "SELECT {REFRESH_COLUMNS_T}, {JOINED_USER_COLUMNS} FROM refresh_tokens t \
             LEFT JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
        );
        let row: Option<Row> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(pool)
            .await)?;
        row.map(|Row { token, user }| Ok((RefreshToken::try_from(token)?, user.into_user()))).transpose()
    }

    /// Revokes one access token.
    pub async fn revoke_access_token(&self, token_hash: &str, now: i64) -> Result<u64> {
        let sql = "UPDATE access_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL";
        Ok(execute!(self, |pool| sqlx::query(sql).bind(now).bind(token_hash).execute(pool).await)?)
    }

    /// Revokes every refresh and access token of a grant.
    pub async fn revoke_family(&self, family_id: &str, now: i64) -> Result<u64> {
        on_writer!(self, |pool| {
            let mut tx = sqlx::Connection::begin(pool).await?;
            let revoked = revoke_family_in!(self, tx, family_id, now);
            tx.commit().await?;
            Ok(revoked)
        })
    }

    /// Revokes every token of a user, or of a user for one app (password change, disable,
    /// revoking an app), and the grants not yet turned into tokens (unredeemed codes, approved
    /// device codes). One transaction, pending grants first: on PostgreSQL a redemption or a
    /// refresh in flight holds the rows touched first, so it is waited for, and the token
    /// UPDATEs that follow (fresh READ COMMITTED snapshots) see what it issued.
    pub async fn revoke_user_tokens(&self, user_id: &str, client_id: Option<&str>, now: i64) -> Result<u64> {
        let scoped = |base: &str| match client_id {
            Some(_) => format!("{base} AND client_id = $3"),
            None => base.to_owned(),
        };
        let pending = [
            scoped("UPDATE authorization_codes SET consumed_at = $1 WHERE user_id = $2 AND consumed_at IS NULL"),
            scoped(
                "UPDATE device_codes SET status = 'denied', last_polled_at = $1 WHERE user_id = $2 AND status = 'approved'",
            ),
        ];
        let lock =
            scoped("SELECT token_hash FROM refresh_tokens WHERE user_id = $1").replace("$3", "$2") + " FOR UPDATE";
        let tokens = [
            scoped("UPDATE access_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL"),
            scoped("UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL"),
        ];
        let postgres = self.dialect() == "postgres";
        on_writer!(self, |pool| {
            let mut tx = sqlx::Connection::begin(pool).await?;
            for sql in &pending {
                let query = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(now).bind(user_id);
                match client_id {
                    Some(id) => query.bind(id).execute(&mut *tx).await?,
                    None => query.execute(&mut *tx).await?,
                };
            }
            if postgres {
                let query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(lock.clone())).bind(user_id);
                match client_id {
                    Some(id) => query.bind(id).fetch_all(&mut *tx).await?,
                    None => query.fetch_all(&mut *tx).await?,
                };
            }
            let mut total = 0;
            for sql in &tokens {
                let query = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(now).bind(user_id);
                total += match client_id {
                    Some(id) => query.bind(id).execute(&mut *tx).await?,
                    None => query.execute(&mut *tx).await?,
                }
                .rows_affected();
            }
            tx.commit().await?;
            Ok(total)
        })
    }

    /// The client a code was issued to, whether or not it is still redeemable: lets a public
    /// client that sends no client_id be identified by its code.
    pub async fn code_client_id(&self, code_hash: &str) -> Result<Option<String>> {
        let sql = "SELECT client_id FROM authorization_codes WHERE code_hash = $1";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql).bind(code_hash).fetch_optional(pool).await)?)
    }
}
