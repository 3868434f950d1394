//! Device authorization codes (RFC 8628). The device code is stored hashed; the user code,
//! which people type, is unique among live codes.

use doorway_core::model::{DeviceCode, DeviceStatus};
use doorway_core::types::ScopeSet;

use crate::grants::{INSERT_ACCESS, INSERT_REFRESH, insert_issue};
use crate::{Issue, Result, Store, StoreError, execute, on_pool, on_writer};

#[derive(sqlx::FromRow)]
struct DeviceRow {
    device_code_hash: String,
    user_code: String,
    client_id: String,
    scope: String,
    status: String,
    user_id: Option<String>,
    auth_time: Option<i64>,
    sid: Option<String>,
    interval_secs: i64,
    last_polled_at: Option<i64>,
    created_at: i64,
    expires_at: i64,
}

impl TryFrom<DeviceRow> for DeviceCode {
    type Error = StoreError;
    fn try_from(r: DeviceRow) -> Result<Self> {
        Ok(DeviceCode {
            scope: ScopeSet::parse(&r.scope).map_err(|e| StoreError::Corrupt(format!("device scope: {e}")))?,
            status: DeviceStatus::parse(&r.status).ok_or_else(|| StoreError::Corrupt("device status".into()))?,
            device_code_hash: r.device_code_hash,
            user_code: r.user_code,
            client_id: r.client_id,
            user_id: r.user_id,
            auth_time: r.auth_time,
            sid: r.sid,
            interval_secs: r.interval_secs,
            last_polled_at: r.last_polled_at,
            created_at: r.created_at,
            expires_at: r.expires_at,
        })
    }
}

const DEVICE_COLUMNS: &str = "device_code_hash, user_code, client_id, scope, status, user_id, auth_time, sid, \
     interval_secs, last_polled_at, created_at, expires_at";

impl Store {
    /// Stores a new device authorization. A user code collision is a `Conflict("user_code")`:
    /// the caller draws another.
    pub async fn insert_device_code(&self, code: &DeviceCode) -> Result<()> {
        // An expired code no longer reserves its user code.
        execute!(self, |pool| {
            sqlx::query("DELETE FROM device_codes WHERE user_code = $1 AND expires_at <= $2")
                .bind(&code.user_code)
                .bind(code.created_at)
                .execute(pool)
                .await
        })?;
        let sql = format!(
            "INSERT INTO device_codes ({DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        );
        let done = execute!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(&code.device_code_hash)
                .bind(&code.user_code)
                .bind(&code.client_id)
                .bind(code.scope.to_string())
                .bind(code.status.as_str())
                .bind(&code.user_id)
                .bind(code.auth_time)
                .bind(&code.sid)
                .bind(code.interval_secs)
                .bind(code.last_polled_at)
                .bind(code.created_at)
                .bind(code.expires_at)
                .execute(pool)
                .await
        });
        match done.map_err(StoreError::from) {
            Err(StoreError::Conflict(_)) => Err(StoreError::Conflict("user_code")),
            other => other.map(|_| ()),
        }
    }

    pub async fn find_device_code_by_user_code(&self, user_code: &str) -> Result<Option<DeviceCode>> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM device_codes WHERE user_code = $1");
        let row: Option<DeviceRow> =
            on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_code).fetch_optional(pool).await)?;
        row.map(DeviceCode::try_from).transpose()
    }

    pub async fn find_device_code(&self, device_code_hash: &str) -> Result<Option<DeviceCode>> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM device_codes WHERE device_code_hash = $1");
        let row: Option<DeviceRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(device_code_hash).fetch_optional(pool).await
        })?;
        row.map(DeviceCode::try_from).transpose()
    }

    /// The person's answer on the device page: only a pending, unexpired code changes.
    pub async fn decide_device_code(
        &self,
        user_code: &str,
        approve: bool,
        user_id: &str,
        auth_time: i64,
        sid: &str,
        now: i64,
    ) -> Result<bool> {
        let status = if approve { DeviceStatus::Approved } else { DeviceStatus::Denied };
        let sql = "UPDATE device_codes SET status = $1, user_id = $2, auth_time = $3, sid = $4 \
                   WHERE user_code = $5 AND status = 'pending' AND expires_at > $6";
        let done = execute!(self, |pool| {
            sqlx::query(sql)
                .bind(status.as_str())
                .bind(user_id)
                .bind(auth_time)
                .bind(sid)
                .bind(user_code)
                .bind(now)
                .execute(pool)
                .await
        })?;
        Ok(done == 1)
    }

    /// Records a poll; `interval_secs` is the (possibly increased) interval.
    pub async fn record_device_poll(&self, device_code_hash: &str, now: i64, interval_secs: i64) -> Result<()> {
        let sql = "UPDATE device_codes SET last_polled_at = $1, interval_secs = $2 WHERE device_code_hash = $3";
        execute!(self, |pool| {
            sqlx::query(sql).bind(now).bind(interval_secs).bind(device_code_hash).execute(pool).await
        })?;
        Ok(())
    }

    /// Consumes an approved, unexpired code and stores the tokens it yields, in one
    /// transaction: of parallel polls exactly one gets `true` (the conditional UPDATE decides),
    /// and a code is never consumed without its tokens. The tokens' family is the code's hash.
    pub async fn redeem_device_code(&self, device_code_hash: &str, issue: &Issue, now: i64) -> Result<bool> {
        let consume = "UPDATE device_codes SET status = 'consumed' \
                       WHERE device_code_hash = $1 AND status = 'approved' AND expires_at > $2";
        on_writer!(self, |pool| {
            let mut tx = sqlx::Connection::begin(pool).await?;
            let done = sqlx::query(consume).bind(device_code_hash).bind(now).execute(&mut *tx).await?;
            if done.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            insert_issue!(tx, issue, device_code_hash, None::<String>, now);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Records a wrong user code entered by `user_id`, and forgets that person's misses from
    /// before `forget_before`.
    pub async fn record_device_code_miss(&self, user_id: &str, now: i64, forget_before: i64) -> Result<()> {
        execute!(self, |pool| {
            sqlx::query("DELETE FROM device_code_misses WHERE user_id = $1 AND missed_at < $2")
                .bind(user_id)
                .bind(forget_before)
                .execute(pool)
                .await
        })?;
        execute!(self, |pool| {
            sqlx::query("INSERT INTO device_code_misses (user_id, missed_at) VALUES ($1, $2)")
                .bind(user_id)
                .bind(now)
                .execute(pool)
                .await
        })?;
        Ok(())
    }

    /// How many wrong user codes `user_id` entered since `since`.
    pub async fn count_device_code_misses(&self, user_id: &str, since: i64) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM device_code_misses WHERE user_id = $1 AND missed_at >= $2";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql).bind(user_id).bind(since).fetch_one(pool).await)?)
    }
}
