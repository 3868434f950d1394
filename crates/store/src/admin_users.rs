//! What the admin API needs of accounts beyond `users.rs`: a stable page-by-page listing and the
//! flags only an operator sets.

use doorway_core::model::User;

use crate::users::{USER_COLUMNS, UserRow};
use crate::{Result, Store, execute, on_pool};

/// Where a page of users starts: after this (created_at, id), in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCursor {
    pub created_at: i64,
    pub id: String,
}

/// Flags an operator may change; `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFlags {
    pub is_admin: Option<bool>,
    pub is_pro: Option<bool>,
    pub can_pay: Option<bool>,
    pub email_verified: Option<bool>,
}

impl Store {
    /// Up to `limit` users in creation order, after `after`. Keyset pagination: a page never
    /// repeats or skips a user because others were created meanwhile.
    pub async fn list_users_page(&self, after: Option<&UserCursor>, limit: i64) -> Result<Vec<User>> {
        let rows: Vec<UserRow> = match after {
            Some(cursor) => {
                let sql = format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE created_at > $1 OR (created_at = $2 AND id > $3) \
                     ORDER BY created_at, id LIMIT $4"
                );
                on_pool!(self, |pool| {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .bind(cursor.created_at)
                        .bind(cursor.created_at)
                        .bind(&cursor.id)
                        .bind(limit)
                        .fetch_all(pool)
                        .await
                })?
            }
            None => {
                let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id LIMIT $1");
                on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(pool).await)?
            }
        };
        Ok(rows.into_iter().map(User::from).collect())
    }

    /// Changes the flags given; false when there is no such user.
    pub async fn set_user_flags(&self, user_id: &str, flags: &UserFlags, now: i64) -> Result<bool> {
        let sql = "UPDATE users SET is_admin = COALESCE($1, is_admin), is_pro = COALESCE($2, is_pro), \
                   can_pay = COALESCE($3, can_pay), email_verified = COALESCE($4, email_verified), updated_at = $5 \
                   WHERE id = $6";
        let done = execute!(self, |pool| {
            sqlx::query(sql)
                .bind(flags.is_admin)
                .bind(flags.is_pro)
                .bind(flags.can_pay)
                .bind(flags.email_verified)
                .bind(now)
                .bind(user_id)
                .execute(pool)
                .await
        })?;
        Ok(done == 1)
    }
}
