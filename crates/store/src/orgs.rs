//! Organizations: the orgs themselves, their members and roles, pending invitations, and which
//! orgs a person lets each app see in detail (the per-consent org grant).
//!
//! Two rules live here so that no caller can forget them: an org and a user never share a name
//! (both are `<issuer>/<name>`), and an org never loses its last admin.

use doorway_core::model::Org;
use doorway_core::types::{OrgName, OrgRole};

use crate::{Result, Store, StoreError, execute, on_pool, on_writer};

/// How long an invitation waits for its invitee (14 days): after that it is hidden, cannot be
/// accepted, and is purged. Inviting the person again starts a new period.
pub const ORG_INVITATION_TTL: i64 = 14 * 86_400;

/// How long [`Store::any_org_members`] trusts what it read.
pub const ORG_PRESENCE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// A cached answer to "does any organization have a member?".
#[derive(Debug, Default)]
pub(crate) struct OrgPresence {
    known: std::sync::Mutex<Option<(std::time::Instant, bool)>>,
}

impl OrgPresence {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(std::time::Instant, bool)>> {
        self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self) -> Option<bool> {
        self.lock().filter(|(at, _)| at.elapsed() < ORG_PRESENCE_TTL).map(|(_, any)| any)
    }

    fn set(&self, any: bool) {
        *self.lock() = Some((std::time::Instant::now(), any));
    }

    /// A membership was just added through this store.
    pub(crate) fn member_added(&self) {
        self.set(true);
    }
}

const ORG_COLUMNS: &str = "o.id, o.sub, o.name, o.display_name, o.avatar_url, o.is_enterprise, o.created_at";

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: String,
    sub: String,
    name: String,
    display_name: Option<String>,
    avatar_url: Option<String>,
    is_enterprise: bool,
    created_at: i64,
}

impl From<OrgRow> for Org {
    fn from(r: OrgRow) -> Self {
        Org {
            id: r.id,
            sub: r.sub,
            name: r.name,
            display_name: r.display_name,
            avatar_url: r.avatar_url,
            is_enterprise: r.is_enterprise,
            created_at: r.created_at,
        }
    }
}

fn role(raw: &str) -> Result<OrgRole> {
    OrgRole::parse(raw).map_err(|_| StoreError::Corrupt(format!("org role '{raw}'")))
}

/// A new organization; its creator becomes its first admin.
#[derive(Debug)]
pub struct NewOrg {
    pub id: String,
    pub sub: String,
    pub name: OrgName,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
}

/// One of a person's organizations, with their role in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgMembership {
    pub org: Org,
    pub role: OrgRole,
}

/// A member of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgMember {
    pub user_id: String,
    pub username: String,
    pub name: Option<String>,
    pub role: OrgRole,
    pub joined_at: i64,
}

/// An invitation waiting for its invitee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgInvitation {
    pub org: Org,
    pub user_id: String,
    pub username: String,
    pub role: OrgRole,
    pub invited_at: i64,
    /// `invited_at` + [`ORG_INVITATION_TTL`].
    pub expires_at: i64,
}

/// What changing or removing a membership did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    Done,
    /// The person is not a member.
    NotMember,
    /// Refused: the person is the org's last admin.
    LastAdmin,
}

/// What inviting someone did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteOutcome {
    Invited,
    AlreadyMember,
    /// An invitation was already waiting; its role is now the one given.
    AlreadyInvited,
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    #[sqlx(flatten)]
    org: OrgRow,
    role: String,
}

#[derive(sqlx::FromRow)]
struct InvitationRow {
    #[sqlx(flatten)]
    org: OrgRow,
    user_id: String,
    username: String,
    role: String,
    invited_at: i64,
}

impl TryFrom<InvitationRow> for OrgInvitation {
    type Error = StoreError;
    fn try_from(r: InvitationRow) -> Result<Self> {
        Ok(OrgInvitation {
            role: role(&r.role)?,
            org: Org::from(r.org),
            user_id: r.user_id,
            username: r.username,
            invited_at: r.invited_at,
            expires_at: r.invited_at.saturating_add(ORG_INVITATION_TTL),
        })
    }
}

const INVITATIONS: &str = "SELECT o.id, o.sub, o.name, o.display_name, o.avatar_url, o.is_enterprise, o.created_at, \
     i.user_id, u.username, i.role, i.created_at AS invited_at \
     FROM org_invitations i JOIN orgs o ON o.id = i.org_id JOIN users u ON u.id = i.user_id";

/// Only when this holds does a change keep an admin: the member is not an admin, or another
/// admin remains. `org` is the placeholder of the org's id.
fn keeps_an_admin(org: &str) -> String {
    format!("(role <> 'admin' OR (SELECT COUNT(*) FROM org_members a WHERE a.org_id = {org} AND a.role = 'admin') > 1)")
}

impl Store {
    /// Creates an organization with `creator_id` as its admin. A name held by a user or another
    /// org (ignoring case) is `Conflict("name")`.
    pub async fn create_org(&self, new: &NewOrg, creator_id: &str, now: i64) -> Result<Org> {
        match self.insert_org(new, creator_id, now).await {
            Ok(()) => {}
            // The name's unique index, or a user holding it: the same answer to the caller.
            Err(StoreError::Conflict(_)) => return Err(StoreError::Conflict("name")),
            Err(err) => return Err(err),
        }
        self.find_org(&new.id).await?.ok_or_else(|| StoreError::Corrupt("org vanished after insert".into()))
    }

    async fn insert_org(&self, new: &NewOrg, creator_id: &str, now: i64) -> Result<()> {
        let insert = "INSERT INTO orgs (id, sub, name, name_canonical, display_name, avatar_url, is_enterprise, \
                      created_at, updated_at) SELECT $1, $2, $3, $4, $5, $6, FALSE, $7, $7 \
                      WHERE NOT EXISTS (SELECT 1 FROM users WHERE username_canonical = $4)";
        let member = "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, 'admin', $3)";
        on_writer!(self, |pool| {
            let mut tx = sqlx::Connection::begin(pool).await?;
            let done = sqlx::query(insert)
                .bind(&new.id)
                .bind(&new.sub)
                .bind(new.name.as_str())
                .bind(new.name.canonical())
                .bind(&new.display_name)
                .bind(&new.avatar_url)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() != 1 {
                tx.rollback().await?;
                return Err(StoreError::Conflict("name"));
            }
            sqlx::query(member).bind(&new.id).bind(creator_id).bind(now).execute(&mut *tx).await?;
            tx.commit().await?;
            self.org_presence.member_added();
            Ok(())
        })
    }

    pub async fn find_org(&self, id: &str) -> Result<Option<Org>> {
        self.find_org_where("o.id = $1", id.to_owned()).await
    }

    /// An organization by name, ignoring case.
    pub async fn find_org_by_name(&self, name: &str) -> Result<Option<Org>> {
        self.find_org_where("o.name_canonical = $1", name.to_ascii_lowercase()).await
    }

    /// An organization by the `sub` apps know it by.
    pub async fn find_org_by_sub(&self, sub: &str) -> Result<Option<Org>> {
        self.find_org_where("o.sub = $1", sub.to_owned()).await
    }

    async fn find_org_where(&self, condition: &str, value: String) -> Result<Option<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs o WHERE {condition}");
        let row: Option<OrgRow> =
            on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(value).fetch_optional(pool).await)?;
        Ok(row.map(Org::from))
    }

    /// Every organization, by name.
    pub async fn list_orgs(&self) -> Result<Vec<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs o ORDER BY o.name_canonical");
        let rows: Vec<OrgRow> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(Org::from).collect())
    }

    /// Changes an organization's display name and avatar (`None`: none, a generated picture).
    pub async fn update_org_profile(
        &self,
        org_id: &str,
        display_name: Option<&str>,
        avatar_url: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let sql = "UPDATE orgs SET display_name = $1, avatar_url = $2, updated_at = $3 WHERE id = $4";
        let done = execute!(self, |pool| {
            sqlx::query(sql).bind(display_name).bind(avatar_url).bind(now).bind(org_id).execute(pool).await
        })?;
        Ok(done == 1)
    }

    /// Deletes an organization with its memberships, invitations and app grants.
    pub async fn delete_org(&self, id: &str) -> Result<bool> {
        let done = execute!(self, |pool| sqlx::query("DELETE FROM orgs WHERE id = $1").bind(id).execute(pool).await)?;
        Ok(done == 1)
    }

    /// The organizations `user_id` belongs to, by name.
    pub async fn user_orgs(&self, user_id: &str) -> Result<Vec<OrgMembership>> {
        let sql = format!(
            "SELECT {ORG_COLUMNS}, m.role FROM org_members m JOIN orgs o ON o.id = m.org_id \
             WHERE m.user_id = $1 ORDER BY o.name_canonical"
        );
        let rows: Vec<MembershipRow> =
            on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_all(pool).await)?;
        rows.into_iter().map(|r| Ok(OrgMembership { role: role(&r.role)?, org: Org::from(r.org) })).collect()
    }

    /// The members of an organization: admins first, then by username.
    pub async fn org_members(&self, org_id: &str) -> Result<Vec<OrgMember>> {
        let sql = "SELECT m.user_id, u.username, u.name, m.role, m.created_at FROM org_members m \
                   JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 \
                   ORDER BY CASE m.role WHEN 'admin' THEN 0 ELSE 1 END, u.username_canonical";
        let rows: Vec<(String, String, Option<String>, String, i64)> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(org_id).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|(user_id, username, name, r, joined_at)| {
                Ok(OrgMember { user_id, username, name, role: role(&r)?, joined_at })
            })
            .collect()
    }

    /// `user_id`'s role in the organization, if a member.
    pub async fn org_role(&self, org_id: &str, user_id: &str) -> Result<Option<OrgRole>> {
        let sql = "SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2";
        let found: Option<String> =
            on_pool!(self, |pool| sqlx::query_scalar(sql).bind(org_id).bind(user_id).fetch_optional(pool).await)?;
        found.as_deref().map(role).transpose()
    }

    /// Whether `user_id` belongs to the organization named `name` (ignoring case).
    pub async fn is_member_of_org_named(&self, user_id: &str, name: &str) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM org_members m JOIN orgs o ON o.id = m.org_id \
                   WHERE o.name_canonical = $1 AND m.user_id = $2";
        let count: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar(sql).bind(name.to_ascii_lowercase()).bind(user_id).fetch_one(pool).await
        })?;
        Ok(count > 0)
    }

    /// Adds a member directly, without an invitation: for operators (admin API, CLI) only. An
    /// existing member keeps their role; false then. Any pending invitation is consumed.
    pub async fn add_org_member(&self, org_id: &str, user_id: &str, role: OrgRole, now: i64) -> Result<bool> {
        let insert = "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
                      ON CONFLICT (org_id, user_id) DO NOTHING";
        let added = execute!(self, |pool| {
            sqlx::query(insert).bind(org_id).bind(user_id).bind(role.as_str()).bind(now).execute(pool).await
        })?;
        self.org_presence.member_added();
        self.delete_org_invitation(org_id, user_id).await?;
        Ok(added == 1)
    }

    /// Invites `user_id` with `role`. Nothing changes for a member; a waiting (or expired)
    /// invitation gets the new role and a new validity period.
    pub async fn invite_to_org(
        &self,
        org_id: &str,
        user_id: &str,
        role: OrgRole,
        invited_by: &str,
        now: i64,
    ) -> Result<InviteOutcome> {
        if self.org_role(org_id, user_id).await?.is_some() {
            return Ok(InviteOutcome::AlreadyMember);
        }
        let update = "UPDATE org_invitations SET role = $1, invited_by = $2, created_at = $3 \
                      WHERE org_id = $4 AND user_id = $5";
        let updated = execute!(self, |pool| {
            sqlx::query(update)
                .bind(role.as_str())
                .bind(invited_by)
                .bind(now)
                .bind(org_id)
                .bind(user_id)
                .execute(pool)
                .await
        })?;
        if updated == 1 {
            return Ok(InviteOutcome::AlreadyInvited);
        }
        let insert = "INSERT INTO org_invitations (org_id, user_id, role, invited_by, created_at) \
                      VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, user_id) DO NOTHING";
        execute!(self, |pool| {
            sqlx::query(insert)
                .bind(org_id)
                .bind(user_id)
                .bind(role.as_str())
                .bind(invited_by)
                .bind(now)
                .execute(pool)
                .await
        })?;
        Ok(InviteOutcome::Invited)
    }

    /// The invitations waiting for `user_id` that have not expired at `now`.
    pub async fn user_org_invitations(&self, user_id: &str, now: i64) -> Result<Vec<OrgInvitation>> {
        let sql = format!("{INVITATIONS} WHERE i.user_id = $1 AND i.created_at > $2 ORDER BY o.name_canonical");
        let rows: Vec<InvitationRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id).bind(now - ORG_INVITATION_TTL).fetch_all(pool).await
        })?;
        rows.into_iter().map(OrgInvitation::try_from).collect()
    }

    /// The invitations an organization sent that wait for an answer and have not expired at `now`.
    pub async fn org_invitations(&self, org_id: &str, now: i64) -> Result<Vec<OrgInvitation>> {
        let sql = format!("{INVITATIONS} WHERE i.org_id = $1 AND i.created_at > $2 ORDER BY u.username_canonical");
        let rows: Vec<InvitationRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(org_id).bind(now - ORG_INVITATION_TTL).fetch_all(pool).await
        })?;
        rows.into_iter().map(OrgInvitation::try_from).collect()
    }

    /// Whether `user_id` holds an invitation to `org_id` that has expired at `now` (and is not
    /// purged yet): the answer to an accept that found nothing to accept.
    pub async fn org_invitation_expired(&self, org_id: &str, user_id: &str, now: i64) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM org_invitations WHERE org_id = $1 AND user_id = $2 AND created_at <= $3";
        let count: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar(sql).bind(org_id).bind(user_id).bind(now - ORG_INVITATION_TTL).fetch_one(pool).await
        })?;
        Ok(count > 0)
    }

    /// The invitee accepts: the invitation becomes a membership with its role, in one
    /// transaction. False when there was no invitation, or it had expired.
    pub async fn accept_org_invitation(&self, org_id: &str, user_id: &str, now: i64) -> Result<bool> {
        let take = "DELETE FROM org_invitations WHERE org_id = $1 AND user_id = $2 AND created_at > $3 RETURNING role";
        let insert = "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
                      ON CONFLICT (org_id, user_id) DO NOTHING";
        on_writer!(self, |pool| {
            let mut tx = sqlx::Connection::begin(pool).await?;
            let taken: Option<String> = sqlx::query_scalar(take)
                .bind(org_id)
                .bind(user_id)
                .bind(now - ORG_INVITATION_TTL)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(taken) = taken else {
                tx.rollback().await?;
                return Ok(false);
            };
            sqlx::query(insert).bind(org_id).bind(user_id).bind(taken).bind(now).execute(&mut *tx).await?;
            tx.commit().await?;
            self.org_presence.member_added();
            Ok(true)
        })
    }

    /// Declined by the invitee or withdrawn by an admin. False when there was none.
    pub async fn delete_org_invitation(&self, org_id: &str, user_id: &str) -> Result<bool> {
        let done = execute!(self, |pool| {
            sqlx::query("DELETE FROM org_invitations WHERE org_id = $1 AND user_id = $2")
                .bind(org_id)
                .bind(user_id)
                .execute(pool)
                .await
        })?;
        Ok(done == 1)
    }

    /// Changes a member's role; demoting the last admin is refused.
    pub async fn set_org_member_role(&self, org_id: &str, user_id: &str, new_role: OrgRole) -> Result<MemberChange> {
        let sql = format!(
            "UPDATE org_members SET role = $1 WHERE org_id = $2 AND user_id = $3 AND ($1 = 'admin' OR {})",
            keeps_an_admin("$2")
        );
        let done = execute!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(new_role.as_str()).bind(org_id).bind(user_id).execute(pool).await
        })?;
        self.member_change(org_id, user_id, done).await
    }

    /// Removes a member (an admin removing them, or leaving); the last admin cannot go. Their
    /// org grants to apps go with the membership.
    pub async fn remove_org_member(&self, org_id: &str, user_id: &str) -> Result<MemberChange> {
        let sql = format!("DELETE FROM org_members WHERE org_id = $1 AND user_id = $2 AND {}", keeps_an_admin("$1"));
        let done = execute!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org_id).bind(user_id).execute(pool).await
        })?;
        if done == 1 {
            execute!(self, |pool| {
                sqlx::query("DELETE FROM consent_orgs WHERE org_id = $1 AND user_id = $2")
                    .bind(org_id)
                    .bind(user_id)
                    .execute(pool)
                    .await
            })?;
        }
        self.member_change(org_id, user_id, done).await
    }

    async fn member_change(&self, org_id: &str, user_id: &str, done: u64) -> Result<MemberChange> {
        if done == 1 {
            return Ok(MemberChange::Done);
        }
        Ok(match self.org_role(org_id, user_id).await? {
            Some(_) => MemberChange::LastAdmin,
            None => MemberChange::NotMember,
        })
    }

    /// Whether any organization has a member, as of at most [`ORG_PRESENCE_TTL`] ago: an
    /// installation without organizations (or before the first) skips the `orgs` claim's query
    /// on every token and userinfo answer. A membership added here is seen at once.
    pub async fn any_org_members(&self) -> Result<bool> {
        if let Some(known) = self.org_presence.get() {
            return Ok(known);
        }
        let any: bool = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM org_members)").fetch_one(pool).await
        })?;
        self.org_presence.set(any);
        Ok(any)
    }

    /// For the `orgs` claim, in one query: every organization of `user_id`, their role, and
    /// whether they let app `client_id` see it in detail.
    pub async fn orgs_for_claim(&self, user_id: &str, client_id: &str) -> Result<Vec<(OrgMembership, bool)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            membership: MembershipRow,
            granted: bool,
        }
        let sql = format!(
            "SELECT {ORG_COLUMNS}, m.role, EXISTS (SELECT 1 FROM consent_orgs g WHERE g.user_id = $1 \
             AND g.client_id = $2 AND g.org_id = m.org_id) AS granted \
             FROM org_members m JOIN orgs o ON o.id = m.org_id WHERE m.user_id = $3 ORDER BY o.name_canonical"
        );
        let rows: Vec<Row> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id).bind(client_id).bind(user_id).fetch_all(pool).await
        })?;
        rows.into_iter()
            .map(|r| {
                let membership = OrgMembership { role: role(&r.membership.role)?, org: Org::from(r.membership.org) };
                Ok((membership, r.granted))
            })
            .collect()
    }

    /// The ids of the organizations `user_id` lets app `client_id` see in detail (members only).
    pub async fn org_grants(&self, user_id: &str, client_id: &str) -> Result<Vec<String>> {
        let sql = "SELECT g.org_id FROM consent_orgs g JOIN org_members m ON m.org_id = g.org_id \
                   AND m.user_id = g.user_id WHERE g.user_id = $1 AND g.client_id = $2 ORDER BY g.org_id";
        let ids: Vec<String> =
            on_pool!(self, |pool| sqlx::query_scalar(sql).bind(user_id).bind(client_id).fetch_all(pool).await)?;
        Ok(ids)
    }

    /// Replaces the organizations `user_id` lets app `client_id` see. Needs the consent to exist
    /// (the grant belongs to it); ids of orgs the person is not a member of are ignored.
    pub async fn set_org_grants(&self, user_id: &str, client_id: &str, org_ids: &[String], now: i64) -> Result<()> {
        let clear = "DELETE FROM consent_orgs WHERE user_id = $1 AND client_id = $2";
        let insert = "INSERT INTO consent_orgs (user_id, client_id, org_id, created_at) \
                      SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM org_members m \
                      WHERE m.org_id = $3 AND m.user_id = $1) ON CONFLICT (user_id, client_id, org_id) DO NOTHING";
        on_writer!(self, |pool| {
            let mut tx = sqlx::Connection::begin(pool).await?;
            sqlx::query(clear).bind(user_id).bind(client_id).execute(&mut *tx).await?;
            for org_id in org_ids {
                sqlx::query(insert).bind(user_id).bind(client_id).bind(org_id).bind(now).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }
}
