//! Accounts.

use doorway_core::model::User;
use doorway_core::types::{Email, Username};

use crate::{Result, Store, execute, on_pool};

pub(crate) const USER_COLUMNS: &str = "id, sub, username, email, email_verified, name, avatar_url, website, \
     is_admin, is_pro, can_pay, disabled, created_at";

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: String,
    sub: String,
    username: String,
    email: String,
    email_verified: bool,
    name: Option<String>,
    avatar_url: Option<String>,
    website: Option<String>,
    is_admin: bool,
    is_pro: bool,
    can_pay: bool,
    disabled: bool,
    created_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            sub: r.sub,
            username: r.username,
            email: r.email,
            email_verified: r.email_verified,
            name: r.name,
            avatar_url: r.avatar_url,
            website: r.website,
            is_admin: r.is_admin,
            is_pro: r.is_pro,
            can_pay: r.can_pay,
            disabled: r.disabled,
            created_at: r.created_at,
        }
    }
}

/// A user read by the inline connections (`inline`): the [`USER_COLUMNS`] (or, through a join,
/// the same columns of `u`), in that order, from column `first` on.
pub(crate) fn user_at(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(first)?,
        sub: row.get(first + 1)?,
        username: row.get(first + 2)?,
        email: row.get(first + 3)?,
        email_verified: row.get(first + 4)?,
        name: row.get(first + 5)?,
        avatar_url: row.get(first + 6)?,
        website: row.get(first + 7)?,
        is_admin: row.get(first + 8)?,
        is_pro: row.get(first + 9)?,
        can_pay: row.get(first + 10)?,
        disabled: row.get(first + 11)?,
        created_at: row.get(first + 12)?,
    })
}

/// The user columns of a `LEFT JOIN users u`, each prefixed `u_`: absent when nothing joined.
pub(crate) const JOINED_USER_COLUMNS: &str = "u.id AS u_id, u.sub AS u_sub, u.username AS u_username, \
     u.email AS u_email, u.email_verified AS u_email_verified, u.name AS u_name, u.avatar_url AS u_avatar_url, \
     u.website AS u_website, u.is_admin AS u_is_admin, u.is_pro AS u_is_pro, u.can_pay AS u_can_pay, \
     u.disabled AS u_disabled, u.created_at AS u_created_at";

/// A user read through a `LEFT JOIN` (see [`JOINED_USER_COLUMNS`]).
#[derive(sqlx::FromRow)]
pub(crate) struct JoinedUserRow {
    u_id: Option<String>,
    u_sub: Option<String>,
    u_username: Option<String>,
    u_email: Option<String>,
    u_email_verified: Option<bool>,
    u_name: Option<String>,
    u_avatar_url: Option<String>,
    u_website: Option<String>,
    u_is_admin: Option<bool>,
    u_is_pro: Option<bool>,
    u_can_pay: Option<bool>,
    u_disabled: Option<bool>,
    u_created_at: Option<i64>,
}

impl JoinedUserRow {
    pub(crate) fn into_user(self) -> Option<User> {
        Some(User {
            id: self.u_id?,
            sub: self.u_sub?,
            username: self.u_username?,
            email: self.u_email?,
            email_verified: self.u_email_verified?,
            name: self.u_name,
            avatar_url: self.u_avatar_url,
            website: self.u_website,
            is_admin: self.u_is_admin?,
            is_pro: self.u_is_pro?,
            can_pay: self.u_can_pay?,
            disabled: self.u_disabled?,
            created_at: self.u_created_at?,
        })
    }
}

/// A new account. The password arrives already hashed (argon2id is the server's job).
#[derive(Debug)]
pub struct NewUser {
    pub id: String,
    pub sub: String,
    pub username: Username,
    pub email: Email,
    pub email_verified: bool,
    pub name: Option<String>,
    pub password_hash: String,
    pub is_admin: bool,
    pub is_pro: bool,
    pub can_pay: bool,
}

/// The profile fields a person edits.
#[derive(Debug, Default)]
pub struct ProfileUpdate {
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    pub website: Option<String>,
}

impl Store {
    pub async fn create_user(&self, user: NewUser, now: i64) -> Result<User> {
        let sql = "INSERT INTO users (id, sub, username, username_canonical, email, email_canonical, \
                   email_verified, name, password_hash, is_admin, is_pro, can_pay, disabled, created_at, updated_at) \
                   SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, FALSE, $13, $13 \
                   WHERE NOT EXISTS (SELECT 1 FROM orgs WHERE name_canonical = $4)";
        // Usernames and organization names share `/<name>`: a name an organization holds is taken.
        let inserted = execute!(self, |pool| {
            sqlx::query(sql)
                .bind(&user.id)
                .bind(&user.sub)
                .bind(user.username.as_str())
                .bind(user.username.canonical())
                .bind(user.email.as_str())
                .bind(user.email.as_str().to_ascii_lowercase())
                .bind(user.email_verified)
                .bind(&user.name)
                .bind(&user.password_hash)
                .bind(user.is_admin)
                .bind(user.is_pro)
                .bind(user.can_pay)
                .bind(now)
                .execute(pool)
                .await
        })?;
        if inserted == 0 {
            return Err(crate::StoreError::Conflict("username"));
        }
        self.find_user(&user.id).await?.ok_or_else(|| crate::StoreError::Corrupt("user vanished after insert".into()))
    }

    pub async fn find_user(&self, id: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row: Option<UserRow> =
            on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await)?;
        Ok(row.map(User::from))
    }

    /// Finds a user by username, ignoring case.
    pub async fn find_user_by_username(&self, username: &str) -> Result<Option<User>> {
        Ok(self.find_user_with_password(username).await?.map(|(user, _)| user))
    }

    /// The user and their password hash, for sign-in.
    pub async fn find_user_with_password(&self, username: &str) -> Result<Option<(User, String)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: UserRow,
            password_hash: String,
        }
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username_canonical = $1");
        let row: Option<Row> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(username.to_ascii_lowercase()).fetch_optional(pool).await
        })?;
        Ok(row.map(|r| (User::from(r.user), r.password_hash)))
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY created_at, username");
        let rows: Vec<UserRow> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    pub async fn set_password(&self, user_id: &str, password_hash: &str, now: i64) -> Result<bool> {
        let sql = "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3";
        let done = execute!(self, |pool| {
            sqlx::query(sql).bind(password_hash).bind(now).bind(user_id).execute(pool).await
        })?;
        Ok(done == 1)
    }

    /// Disables or re-enables an account. A disabled user cannot sign in, and no session or
    /// token of theirs is honoured; the caller also revokes their tokens and ends their sessions.
    pub async fn set_user_disabled(&self, user_id: &str, disabled: bool, now: i64) -> Result<bool> {
        let sql = "UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3";
        let done = execute!(self, |pool| sqlx::query(sql).bind(disabled).bind(now).bind(user_id).execute(pool).await)?;
        Ok(done == 1)
    }

    pub async fn update_profile(&self, user_id: &str, update: &ProfileUpdate, now: i64) -> Result<bool> {
        let sql = "UPDATE users SET name = $1, avatar_url = $2, website = $3, updated_at = $4 WHERE id = $5";
        let done = execute!(self, |pool| {
            sqlx::query(sql)
                .bind(&update.name)
                .bind(&update.avatar_url)
                .bind(&update.website)
                .bind(now)
                .bind(user_id)
                .execute(pool)
                .await
        })?;
        Ok(done == 1)
    }
}
