//! Authorization codes and access tokens. Single use is enforced by the database: a code is
//! consumed by one conditional UPDATE, so of two parallel redemptions exactly one wins.

use doorway_core::OAuthError;
use doorway_core::model::{AccessToken, AuthorizationCode};
use doorway_core::types::ScopeSet;

use crate::{Result, Store, StoreError, execute, on_pool};

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
}

impl TryFrom<CodeRow> for AuthorizationCode {
    type Error = StoreError;
    fn try_from(r: CodeRow) -> Result<Self> {
        Ok(AuthorizationCode {
            scope: ScopeSet::parse(&r.scope)
                .map_err(|e| StoreError::Corrupt(format!("code scope: {e}")))?,
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
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
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

/// What became of a redemption.
#[derive(Debug)]
pub enum RedeemOutcome {
    /// The code was fresh and passed the checks: the token is stored.
    Issued(AuthorizationCode),
    /// The code was fresh but failed a check; it is consumed all the same.
    Rejected(OAuthError),
    /// No such code.
    NotFound,
    /// The code had been redeemed before: every token issued from it is now revoked.
    Replayed {
        client_id: String,
        revoked_tokens: u64,
    },
}

const CODE_COLUMNS: &str = "code_hash, client_id, user_id, redirect_uri, redirect_uri_sent, scope, nonce, \
     code_challenge, auth_time, created_at, expires_at";

impl Store {
    pub async fn insert_code(&self, code: &AuthorizationCode) -> Result<()> {
        let sql = "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, redirect_uri_sent, \
                   scope, nonce, code_challenge, auth_time, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
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
                .execute(pool)
                .await
        })?;
        Ok(())
    }

    /// Consumes a code and, if `check` accepts it, stores the access token it yields, in one
    /// transaction: a concurrent replay waits for this commit and then revokes what it stored.
    pub async fn redeem_code<F>(&self, code_hash: &str, now: i64, check: F) -> Result<RedeemOutcome>
    where
        F: FnOnce(&AuthorizationCode) -> std::result::Result<NewAccessToken, OAuthError>,
    {
        let consume = format!(
            "UPDATE authorization_codes SET consumed_at = $1 WHERE code_hash = $2 AND consumed_at IS NULL \
             RETURNING {CODE_COLUMNS}"
        );
        let insert = "INSERT INTO access_tokens (token_hash, client_id, user_id, scope, code_hash, created_at, expires_at) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let replay_client = "SELECT client_id FROM authorization_codes WHERE code_hash = $1";
        let revoke =
            "UPDATE access_tokens SET revoked_at = $1 WHERE code_hash = $2 AND revoked_at IS NULL";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row: Option<CodeRow> = sqlx::query_as(sqlx::AssertSqlSafe(consume))
                .bind(now)
                .bind(code_hash)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else {
                let client: Option<String> = sqlx::query_scalar(replay_client)
                    .bind(code_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(client_id) = client else {
                    tx.rollback().await?;
                    return Ok(RedeemOutcome::NotFound);
                };
                let revoked = sqlx::query(revoke)
                    .bind(now)
                    .bind(code_hash)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(RedeemOutcome::Replayed {
                    client_id,
                    revoked_tokens: revoked.rows_affected(),
                });
            };
            let code = AuthorizationCode::try_from(row)?;
            let token = match check(&code) {
                Ok(token) => token,
                Err(err) => {
                    tx.commit().await?;
                    return Ok(RedeemOutcome::Rejected(err));
                }
            };
            sqlx::query(insert)
                .bind(&token.token_hash)
                .bind(&token.client_id)
                .bind(&token.user_id)
                .bind(token.scope.to_string())
                .bind(code_hash)
                .bind(now)
                .bind(token.expires_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(RedeemOutcome::Issued(code))
        })
    }

    pub async fn find_access_token(&self, token_hash: &str) -> Result<Option<AccessToken>> {
        let sql = "SELECT token_hash, client_id, user_id, scope, code_hash, created_at, expires_at, revoked_at \
                   FROM access_tokens WHERE token_hash = $1";
        let row: Option<TokenRow> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(token_hash)
            .fetch_optional(pool)
            .await)?;
        row.map(|r| {
            Ok(AccessToken {
                scope: ScopeSet::parse(&r.scope)
                    .map_err(|e| StoreError::Corrupt(format!("token scope: {e}")))?,
                token_hash: r.token_hash,
                client_id: r.client_id,
                user_id: r.user_id,
                code_hash: r.code_hash,
                created_at: r.created_at,
                expires_at: r.expires_at,
                revoked: r.revoked_at.is_some(),
            })
        })
        .transpose()
    }
}

impl Store {
    /// The client a code was issued to, whether or not it is still redeemable: lets a public
    /// client that sends no client_id be identified by its code.
    pub async fn code_client_id(&self, code_hash: &str) -> Result<Option<String>> {
        let sql = "SELECT client_id FROM authorization_codes WHERE code_hash = $1";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(code_hash)
            .fetch_optional(pool)
            .await)?)
    }
}
