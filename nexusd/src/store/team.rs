//! Team mode's rows: the mode itself, people and their keys, tokens (by
//! SHA-256 only), shares of workspaces, and the audit log, whose triggers
//! refuse every UPDATE and every DELETE of a row not yet pruned.

use super::{Result, Store, StoreError};
use rusqlite::{OptionalExtension, params};

/// A person's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Row id.
    pub id: i64,
    /// The name as given (unique regardless of case).
    pub name: String,
    /// A site admin.
    pub admin: bool,
    /// `active` or `suspended`.
    pub suspended: bool,
    /// argon2id PHC string, if a password is set.
    pub password_hash: Option<String>,
    /// Host-acting settings allowed (`nexus_sdk::team::HOST_PROPERTIES`).
    pub allowed: Vec<String>,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
}

/// A token's row (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Row id.
    pub id: i64,
    /// The owner.
    pub user_id: i64,
    /// `session` or `api`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Space-separated scope names.
    pub scopes: String,
    /// Newline-separated workspace names, if limited to them.
    pub workspaces: Option<String>,
    /// Seconds since the Unix epoch after which it is refused.
    pub expires_at: Option<i64>,
    /// Seconds since the Unix epoch of its last use.
    pub last_used_at: Option<i64>,
    /// Revoked.
    pub revoked: bool,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
}

/// A share's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRecord {
    /// The person shared with.
    pub user: String,
    /// `viewer`, `editor` or `owner`.
    pub permission: String,
    /// Seconds since the Unix epoch when it ends.
    pub expires_at: Option<i64>,
    /// Who shared it.
    pub created_by: String,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    /// Why, for an admin's break-glass share.
    pub reason: Option<String>,
}

/// An audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Place in the log.
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// How it ended.
    pub outcome: String,
    /// More.
    pub detail: String,
    /// The chained HMAC.
    pub mac: String,
}

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: r.get("id")?,
        name: r.get("name")?,
        admin: r.get("is_admin")?,
        suspended: r.get::<_, String>("status")? == "suspended",
        password_hash: r.get("password_hash")?,
        allowed: r
            .get::<_, String>("allowed")?
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        created_at: r.get("created_at")?,
    })
}

fn token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        id: r.get("id")?,
        user_id: r.get("user_id")?,
        kind: r.get("kind")?,
        name: r.get("name")?,
        scopes: r.get("scopes")?,
        workspaces: r.get("workspaces")?,
        expires_at: r.get("expires_at")?,
        last_used_at: r.get("last_used_at")?,
        revoked: r.get("revoked")?,
        created_at: r.get("created_at")?,
    })
}

fn audit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: r.get("seq")?,
        at: r.get("at")?,
        actor: r.get("actor")?,
        action: r.get("action")?,
        target: r.get("target")?,
        outcome: r.get("outcome")?,
        detail: r.get("detail")?,
        mac: r.get("mac")?,
    })
}

/// An organization's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRecord {
    /// Row id.
    pub id: i64,
    /// Its name (unique regardless of case).
    pub name: String,
    /// Sharing policy of its workspaces: `none`, `org` or `any`.
    pub sharing: String,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
}

fn org_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OrgRecord> {
    Ok(OrgRecord {
        id: r.get("id")?,
        name: r.get("name")?,
        sharing: r.get("sharing")?,
        created_at: r.get("created_at")?,
    })
}

/// The order of roles, lowest first (an unknown one lowest).
fn rank(permission: &str) -> usize {
    ["viewer", "editor", "owner"]
        .iter()
        .position(|x| *x == permission)
        .unwrap_or(0)
}

/// A share code's row: workspace id, permission, expiry, uses left, who made it.
type CodeRow = (String, String, i64, Option<i64>, Option<i64>);

/// What `audit.list` selects.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Rows whose target is this.
    pub target: Option<String>,
    /// Rows whose actor is this.
    pub actor: Option<String>,
    /// Rows at or after this, milliseconds since the Unix epoch.
    pub since_ms: Option<i64>,
    /// At most this many, the newest.
    pub limit: u32,
}

impl Store {
    /// Whether the daemon is in team mode.
    pub fn team_mode(&self) -> Result<bool> {
        let v: Option<String> = self
            .conn()
            .query_row("SELECT value FROM settings WHERE key = 'mode'", [], |r| r.get(0))
            .optional()?;
        Ok(v.as_deref() == Some("team"))
    }

    /// Turns team mode on: adds the first admin with `keys` (fingerprint,
    /// line), gives it every workspace without an owner and stores the
    /// single-user token's `digest` as its API token `legacy`, in one
    /// transaction. Returns the admin's id.
    ///
    /// Errors: `Conflict` when team mode is on already.
    pub fn init_team(&self, admin: &str, keys: &[(String, String)], token_digest: &[u8], now: i64) -> Result<i64> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let on: Option<String> = tx
            .query_row("SELECT value FROM settings WHERE key = 'mode'", [], |r| r.get(0))
            .optional()?;
        if on.as_deref() == Some("team") {
            return Err(StoreError::Conflict("this daemon is in team mode already".into()));
        }
        tx.execute(
            "INSERT INTO users (name, status, is_admin, created_at) VALUES (?1, 'active', 1, ?2)",
            params![admin, now],
        )?;
        let id = tx.last_insert_rowid();
        for (fp, line) in keys {
            tx.execute(
                "INSERT INTO user_keys (fingerprint, user_id, public_key, added_at) VALUES (?1, ?2, ?3, ?4)",
                params![fp, id, line, now],
            )?;
        }
        tx.execute(
            "INSERT INTO tokens (user_id, kind, sha256, name, scopes, created_at) VALUES (?1, 'api', ?2, 'legacy', ?3, ?4)",
            params![id, token_digest, ALL_SCOPES, now],
        )?;
        tx.execute("UPDATE workspaces SET owner_id = ?1 WHERE owner_id IS NULL", [id])?;
        tx.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES ('mode', 'team')",
            [],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Adds a person with `keys` (fingerprint, line).
    ///
    /// Errors: `Conflict` naming the taken name (in any case) or key.
    pub fn add_user(
        &self,
        name: &str,
        admin: bool,
        password_hash: Option<&str>,
        keys: &[(String, String)],
        now: i64,
    ) -> Result<UserRecord> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let taken: Option<String> = tx
            .query_row("SELECT name FROM users WHERE name = ?1", [name], |r| r.get(0))
            .optional()?;
        if let Some(t) = taken {
            return Err(StoreError::Conflict(format!(
                "name: {name:?} is taken (by {t:?}; names differ in more than case)"
            )));
        }
        for (fp, _) in keys {
            key_free(&tx, fp)?;
        }
        tx.execute(
            "INSERT INTO users (name, status, is_admin, password_hash, created_at) VALUES (?1, 'active', ?2, ?3, ?4)",
            params![name, admin, password_hash, now],
        )?;
        let id = tx.last_insert_rowid();
        for (fp, line) in keys {
            tx.execute(
                "INSERT INTO user_keys (fingerprint, user_id, public_key, added_at) VALUES (?1, ?2, ?3, ?4)",
                params![fp, id, line, now],
            )?;
        }
        let user = tx.query_row("SELECT * FROM users WHERE id = ?1", [id], user_from_row)?;
        tx.commit()?;
        Ok(user)
    }

    /// The person named `name` (any case).
    pub fn user(&self, name: &str) -> Result<Option<UserRecord>> {
        Ok(self
            .conn()
            .query_row("SELECT * FROM users WHERE name = ?1", [name], user_from_row)
            .optional()?)
    }

    /// The person of row `id`.
    pub fn user_by_id(&self, id: i64) -> Result<Option<UserRecord>> {
        Ok(self
            .conn()
            .query_row("SELECT * FROM users WHERE id = ?1", [id], user_from_row)
            .optional()?)
    }

    /// The person whose key has `fingerprint`.
    pub fn user_by_key(&self, fingerprint: &str) -> Result<Option<UserRecord>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT users.* FROM users JOIN user_keys ON user_keys.user_id = users.id WHERE fingerprint = ?1",
                [fingerprint],
                user_from_row,
            )
            .optional()?)
    }

    /// Everyone, by name.
    pub fn users(&self) -> Result<Vec<UserRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT * FROM users ORDER BY name")?;
        let rows = stmt.query_map([], user_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A person's keys (fingerprint, line), oldest first.
    pub fn user_keys(&self, user_id: i64) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT fingerprint, public_key FROM user_keys WHERE user_id = ?1 ORDER BY added_at, rowid")?;
        let rows = stmt.query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds a key to a person. Errors: `Conflict` when someone has it.
    pub fn add_key(&self, user_id: i64, fingerprint: &str, line: &str, now: i64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        key_free(&tx, fingerprint)?;
        tx.execute(
            "INSERT INTO user_keys (fingerprint, user_id, public_key, added_at) VALUES (?1, ?2, ?3, ?4)",
            params![fingerprint, user_id, line, now],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Removes a person's key; whether it had it.
    pub fn remove_key(&self, user_id: i64, fingerprint: &str) -> Result<bool> {
        Ok(self.conn().execute(
            "DELETE FROM user_keys WHERE user_id = ?1 AND fingerprint = ?2",
            params![user_id, fingerprint],
        )? > 0)
    }

    /// Sets the host-acting settings a person's workspaces may use.
    pub fn set_allowed(&self, user_id: i64, allowed: &[String]) -> Result<()> {
        self.conn().execute(
            "UPDATE users SET allowed = ?2 WHERE id = ?1",
            params![user_id, allowed.join(" ")],
        )?;
        Ok(())
    }

    /// A person's or organization's quota.
    pub fn quota(&self, scope: QuotaScope) -> Result<QuotaRecord> {
        Ok(quota_of(&self.conn(), scope)?)
    }

    /// What a person or organization uses against its quota.
    pub fn usage(&self, scope: QuotaScope) -> Result<UsageRecord> {
        Ok(usage_of(&self.conn(), scope, None)?)
    }

    /// Records what workspace `id`'s worktree measured, in bytes.
    pub fn set_storage(&self, workspace_id: &str, bytes: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE workspaces SET storage_bytes = ?2 WHERE id = ?1",
            params![workspace_id, bytes],
        )?;
        Ok(())
    }

    /// Sets a person's or organization's quota (lowering it evicts nothing).
    pub fn set_quota(&self, scope: QuotaScope, q: QuotaRecord) -> Result<()> {
        let (table, _, id) = scope.table();
        self.conn().execute(
            &format!(
                "UPDATE {table} SET quota_workspaces = ?2, quota_cpus = ?3, quota_memory = ?4, quota_storage = ?5
                 WHERE id = ?1"
            ),
            params![id, q.workspaces, q.cpus, q.memory, q.storage],
        )?;
        Ok(())
    }

    /// Refuses starting workspace `r` when its CPU and memory would pass
    /// its creator's quota (checked in one write transaction).
    pub fn check_start_quota(&self, r: &super::WorkspaceRecord) -> Result<()> {
        let Some(owner) = r.owner_id else { return Ok(()) };
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        check_quota(&tx, owner, r.org_id, Some(&r.id), 0, r.limit_cpus, r.limit_memory)
    }

    /// Suspends or resumes a person.
    pub fn set_suspended(&self, user_id: i64, suspended: bool) -> Result<()> {
        self.conn().execute(
            "UPDATE users SET status = ?2 WHERE id = ?1",
            params![user_id, if suspended { "suspended" } else { "active" }],
        )?;
        Ok(())
    }

    /// Removes a person, their keys, tokens and shares.
    ///
    /// Errors: `Conflict` while they own a workspace.
    pub fn remove_user(&self, user_id: i64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let owned: Vec<String> = {
            let mut stmt = tx.prepare("SELECT name FROM workspaces WHERE owner_id = ?1 ORDER BY name")?;
            let rows = stmt.query_map([user_id], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        if !owned.is_empty() {
            return Err(StoreError::Conflict(format!(
                "user: still creator of {}; remove those workspaces first",
                owned.join(", ")
            )));
        }
        tx.execute("DELETE FROM users WHERE id = ?1", [user_id])?;
        tx.commit()?;
        Ok(())
    }

    /// Stores a token by its SHA-256; returns its id.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_token(
        &self,
        user_id: i64,
        kind: &str,
        digest: &[u8],
        name: &str,
        scopes: &str,
        workspaces: Option<&str>,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<TokenRecord> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO tokens (user_id, kind, sha256, name, scopes, workspaces, expires_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![user_id, kind, digest, name, scopes, workspaces, expires_at, now],
        )?;
        let id = conn.last_insert_rowid();
        Ok(conn.query_row("SELECT * FROM tokens WHERE id = ?1", [id], token_from_row)?)
    }

    /// The token whose SHA-256 is `digest` (the lookup is by an index on a
    /// hash, so its time does not depend on how much of a guess matches).
    pub fn token_by_digest(&self, digest: &[u8]) -> Result<Option<TokenRecord>> {
        Ok(self
            .conn()
            .query_row("SELECT * FROM tokens WHERE sha256 = ?1", [digest], token_from_row)
            .optional()?)
    }

    /// The token of row `id`.
    pub fn token(&self, id: i64) -> Result<Option<TokenRecord>> {
        Ok(self
            .conn()
            .query_row("SELECT * FROM tokens WHERE id = ?1", [id], token_from_row)
            .optional()?)
    }

    /// Records a use: last use now, and a session's new expiry.
    pub fn touch_token(&self, id: i64, now: i64, expires_at: Option<i64>) -> Result<()> {
        self.conn().execute(
            "UPDATE tokens SET last_used_at = ?2, expires_at = COALESCE(?3, expires_at) WHERE id = ?1",
            params![id, now, expires_at],
        )?;
        Ok(())
    }

    /// Revokes a token.
    pub fn revoke_token(&self, id: i64) -> Result<()> {
        self.conn()
            .execute("UPDATE tokens SET revoked = 1 WHERE id = ?1", [id])?;
        Ok(())
    }

    /// A person's tokens not revoked, newest first.
    pub fn tokens_of(&self, user_id: i64) -> Result<Vec<TokenRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT * FROM tokens WHERE user_id = ?1 AND revoked = 0 ORDER BY id DESC")?;
        let rows = stmt.query_map([user_id], token_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The creator of workspace `id`.
    pub fn owner_of(&self, workspace_id: &str) -> Result<Option<i64>> {
        Ok(self
            .conn()
            .query_row("SELECT owner_id FROM workspaces WHERE id = ?1", [workspace_id], |r| {
                r.get(0)
            })
            .optional()?
            .flatten())
    }

    /// Sets the creator of workspace `id`.
    pub fn set_owner(&self, workspace_id: &str, user_id: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE workspaces SET owner_id = ?2 WHERE id = ?1",
            params![workspace_id, user_id],
        )?;
        Ok(())
    }

    /// A person's share of workspace `id` still in force at `now`.
    /// (Their own, or the highest of their teams'.)
    pub fn share_of(&self, workspace_id: &str, user_id: i64, now: i64) -> Result<Option<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT permission FROM shares WHERE workspace_id = ?1 AND user_id = ?2
                 AND (expires_at IS NULL OR expires_at > ?3)
             UNION ALL
             SELECT ts.permission FROM team_shares ts JOIN team_members tm ON tm.team_id = ts.team_id
             WHERE ts.workspace_id = ?1 AND tm.user_id = ?2 AND (ts.expires_at IS NULL OR ts.expires_at > ?3)",
        )?;
        let rows = stmt.query_map(params![workspace_id, user_id, now], |r| r.get::<_, String>(0))?;
        let all: Vec<String> = rows.collect::<rusqlite::Result<_>>()?;
        Ok(all.into_iter().max_by_key(|p| rank(p)))
    }

    /// Every (workspace id, permission) shared with a person, in force at `now`.
    pub fn shares_with(&self, user_id: i64, now: i64) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT workspace_id, permission FROM shares WHERE user_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)
             UNION ALL
             SELECT ts.workspace_id, ts.permission FROM team_shares ts JOIN team_members tm ON tm.team_id = ts.team_id
             WHERE tm.user_id = ?1 AND (ts.expires_at IS NULL OR ts.expires_at > ?2)",
        )?;
        let rows = stmt.query_map(params![user_id, now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Shares workspace `id` with a person (replacing their share).
    pub fn put_share(
        &self,
        workspace_id: &str,
        user_id: i64,
        permission: &str,
        expires_at: Option<i64>,
        by: i64,
        now: i64,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO shares (workspace_id, user_id, permission, expires_at, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![workspace_id, user_id, permission, expires_at, by, now],
        )?;
        Ok(())
    }

    /// Gives admin `user_id` a break-glass share of workspace `id`: editor
    /// until `expires_at`, with `reason` (replacing any share of theirs).
    pub fn put_break_glass(
        &self,
        workspace_id: &str,
        user_id: i64,
        expires_at: i64,
        reason: &str,
        now: i64,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO shares (workspace_id, user_id, permission, expires_at, created_by, created_at, reason)
             VALUES (?1, ?2, 'editor', ?3, ?2, ?4, ?5)",
            params![workspace_id, user_id, expires_at, now, reason],
        )?;
        Ok(())
    }

    /// Ends a person's share of workspace `id`; whether there was one.
    pub fn delete_share(&self, workspace_id: &str, user_id: i64) -> Result<bool> {
        Ok(self.conn().execute(
            "DELETE FROM shares WHERE workspace_id = ?1 AND user_id = ?2",
            params![workspace_id, user_id],
        )? > 0)
    }

    /// Makes organization `name` with `admin` as its admin.
    ///
    /// Errors: `Conflict` when the name is taken (in any case).
    pub fn add_org(&self, name: &str, admin: i64, now: i64) -> Result<OrgRecord> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if tx
            .query_row("SELECT 1 FROM orgs WHERE name = ?1", [name], |_| Ok(()))
            .optional()?
            .is_some()
        {
            return Err(StoreError::Conflict(format!(
                "name: an organization {name:?} exists already"
            )));
        }
        tx.execute(
            "INSERT INTO orgs (name, created_at) VALUES (?1, ?2)",
            params![name, now],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO org_members (org_id, user_id, role) VALUES (?1, ?2, 'admin')",
            params![id, admin],
        )?;
        let org = tx.query_row("SELECT * FROM orgs WHERE id = ?1", [id], org_from_row)?;
        tx.commit()?;
        Ok(org)
    }

    /// The organization named `name` (any case).
    pub fn org(&self, name: &str) -> Result<Option<OrgRecord>> {
        Ok(self
            .conn()
            .query_row("SELECT * FROM orgs WHERE name = ?1", [name], org_from_row)
            .optional()?)
    }

    /// The organization of row `id`.
    pub fn org_by_id(&self, id: i64) -> Result<Option<OrgRecord>> {
        Ok(self
            .conn()
            .query_row("SELECT * FROM orgs WHERE id = ?1", [id], org_from_row)
            .optional()?)
    }

    /// Organizations, by name: all, or those `user_id` is a member of.
    pub fn orgs(&self, user_id: Option<i64>) -> Result<Vec<OrgRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT * FROM orgs WHERE ?1 IS NULL OR id IN (SELECT org_id FROM org_members WHERE user_id = ?1)
             ORDER BY name",
        )?;
        let rows = stmt.query_map([user_id], org_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A person's role in an organization (`admin`, `member`), if any.
    pub fn org_role(&self, org_id: i64, user_id: i64) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT role FROM org_members WHERE org_id = ?1 AND user_id = ?2",
                params![org_id, user_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// An organization's members (name, role), by name.
    pub fn org_members(&self, org_id: i64) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT u.name, m.role FROM org_members m JOIN users u ON u.id = m.user_id WHERE m.org_id = ?1 ORDER BY u.name",
        )?;
        let rows = stmt.query_map([org_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Sets a person's role in an organization (adding them).
    pub fn put_org_member(&self, org_id: i64, user_id: i64, role: &str) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO org_members (org_id, user_id, role) VALUES (?1, ?2, ?3)",
            params![org_id, user_id, role],
        )?;
        Ok(())
    }

    /// Takes a person out of an organization in one transaction: their
    /// membership, their current-org choice, and their shares of its
    /// workspaces. Returns the workspace ids whose shares ended.
    ///
    /// Errors: `Conflict` when they are its last admin.
    pub fn remove_org_member(&self, org_id: i64, user_id: i64) -> Result<Vec<String>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let admins: i64 = tx.query_row(
            "SELECT COUNT(*) FROM org_members WHERE org_id = ?1 AND role = 'admin' AND user_id != ?2",
            params![org_id, user_id],
            |r| r.get(0),
        )?;
        let role: Option<String> = tx
            .query_row(
                "SELECT role FROM org_members WHERE org_id = ?1 AND user_id = ?2",
                params![org_id, user_id],
                |r| r.get(0),
            )
            .optional()?;
        if role.as_deref() == Some("admin") && admins == 0 {
            return Err(StoreError::Conflict(
                "user: the organization's last admin cannot leave; make another member admin first".into(),
            ));
        }
        let voided: Vec<String> = {
            let mut stmt = tx.prepare(
                "SELECT workspace_id FROM shares WHERE user_id = ?1
                 AND workspace_id IN (SELECT id FROM workspaces WHERE org_id = ?2)",
            )?;
            let rows = stmt.query_map(params![user_id, org_id], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        tx.execute(
            "DELETE FROM shares WHERE user_id = ?1 AND workspace_id IN (SELECT id FROM workspaces WHERE org_id = ?2)",
            params![user_id, org_id],
        )?;
        tx.execute(
            "DELETE FROM team_members WHERE user_id = ?1 AND team_id IN (SELECT id FROM teams WHERE org_id = ?2)",
            params![user_id, org_id],
        )?;
        tx.execute(
            "DELETE FROM org_members WHERE org_id = ?1 AND user_id = ?2",
            params![org_id, user_id],
        )?;
        tx.execute(
            "UPDATE users SET current_org = NULL WHERE id = ?1 AND current_org = ?2",
            params![user_id, org_id],
        )?;
        tx.commit()?;
        Ok(voided)
    }

    /// Sets an organization's sharing policy.
    pub fn set_org_sharing(&self, org_id: i64, sharing: &str) -> Result<()> {
        self.conn()
            .execute("UPDATE orgs SET sharing = ?2 WHERE id = ?1", params![org_id, sharing])?;
        Ok(())
    }

    /// Deletes an organization. Errors: `Conflict` while it has workspaces.
    pub fn delete_org(&self, org_id: i64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let n: i64 = tx.query_row("SELECT COUNT(*) FROM workspaces WHERE org_id = ?1", [org_id], |r| {
            r.get(0)
        })?;
        if n > 0 {
            return Err(StoreError::Conflict(format!(
                "org: it still has {n} workspaces; remove them first"
            )));
        }
        tx.execute("UPDATE users SET current_org = NULL WHERE current_org = ?1", [org_id])?;
        tx.execute("DELETE FROM orgs WHERE id = ?1", [org_id])?;
        tx.commit()?;
        Ok(())
    }

    /// A person's current organization (new workspaces go there).
    pub fn current_org(&self, user_id: i64) -> Result<Option<i64>> {
        Ok(self
            .conn()
            .query_row("SELECT current_org FROM users WHERE id = ?1", [user_id], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// Sets (or clears) a person's current organization.
    pub fn set_current_org(&self, user_id: i64, org_id: Option<i64>) -> Result<()> {
        self.conn().execute(
            "UPDATE users SET current_org = ?2 WHERE id = ?1",
            params![user_id, org_id],
        )?;
        Ok(())
    }

    /// Stores an organization invitation by its SHA-256.
    pub fn put_org_invite(
        &self,
        digest: &[u8],
        org_id: i64,
        role: &str,
        expires_at: i64,
        by: i64,
        now: i64,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO org_invites (sha256, org_id, role, expires_at, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![digest, org_id, role, expires_at, by, now],
        )?;
        Ok(())
    }

    /// Redeems an invitation (single use) for person `user_id`: the org
    /// joined, or `None` for one unknown or expired.
    pub fn redeem_org_invite(&self, digest: &[u8], user_id: i64, now: i64) -> Result<Option<OrgRecord>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let row: Option<(i64, String, i64)> = tx
            .query_row(
                "SELECT org_id, role, expires_at FROM org_invites WHERE sha256 = ?1",
                [digest],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        tx.execute("DELETE FROM org_invites WHERE sha256 = ?1", [digest])?;
        let Some((org, role, _)) = row.filter(|r| r.2 > now) else {
            tx.commit()?;
            return Ok(None);
        };
        tx.execute(
            "INSERT OR IGNORE INTO org_members (org_id, user_id, role) VALUES (?1, ?2, ?3)",
            params![org, user_id, role],
        )?;
        let o = tx.query_row("SELECT * FROM orgs WHERE id = ?1", [org], org_from_row)?;
        tx.commit()?;
        Ok(Some(o))
    }

    /// Makes team `name` in organization `org_id`. Errors: `Conflict`
    /// when the org has a team of that name.
    pub fn add_team(&self, org_id: i64, name: &str) -> Result<()> {
        let conn = self.conn();
        let taken: bool = conn
            .query_row(
                "SELECT 1 FROM teams WHERE org_id = ?1 AND name = ?2",
                params![org_id, name],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if taken {
            return Err(StoreError::Conflict(format!(
                "team: the organization has a team {name:?} already"
            )));
        }
        conn.execute(
            "INSERT INTO teams (org_id, name) VALUES (?1, ?2)",
            params![org_id, name],
        )?;
        Ok(())
    }

    /// The id of team `name` of organization `org_id`.
    pub fn team_id(&self, org_id: i64, name: &str) -> Result<Option<i64>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id FROM teams WHERE org_id = ?1 AND name = ?2",
                params![org_id, name],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// An organization's teams with their members' names, by name.
    pub fn teams(&self, org_id: i64) -> Result<Vec<(String, Vec<String>)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT t.name, u.name FROM teams t LEFT JOIN team_members m ON m.team_id = t.id
             LEFT JOIN users u ON u.id = m.user_id WHERE t.org_id = ?1 ORDER BY t.name, u.name",
        )?;
        let rows = stmt.query_map([org_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for row in rows {
            let (team, user) = row?;
            if out.last().is_none_or(|(t, _)| *t != team) {
                out.push((team, Vec::new()));
            }
            if let (Some(u), Some(last)) = (user, out.last_mut()) {
                last.1.push(u);
            }
        }
        Ok(out)
    }

    /// Adds (`add`) or removes a person of a team; whether anything changed.
    pub fn set_team_member(&self, team_id: i64, user_id: i64, add: bool) -> Result<bool> {
        let sql = if add {
            "INSERT OR IGNORE INTO team_members (team_id, user_id) VALUES (?1, ?2)"
        } else {
            "DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2"
        };
        Ok(self.conn().execute(sql, params![team_id, user_id])? > 0)
    }

    /// The people of a team.
    pub fn team_users(&self, team_id: i64) -> Result<Vec<UserRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT users.* FROM users JOIN team_members m ON m.user_id = users.id WHERE m.team_id = ?1 ORDER BY name",
        )?;
        let rows = stmt.query_map([team_id], user_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Shares workspace `id` with a team (replacing its share).
    pub fn put_team_share(
        &self,
        workspace_id: &str,
        team_id: i64,
        permission: &str,
        expires_at: Option<i64>,
        by: i64,
        now: i64,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO team_shares (workspace_id, team_id, permission, expires_at, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![workspace_id, team_id, permission, expires_at, by, now],
        )?;
        Ok(())
    }

    /// Ends a team's share of workspace `id`; whether there was one.
    pub fn delete_team_share(&self, workspace_id: &str, team_id: i64) -> Result<bool> {
        Ok(self.conn().execute(
            "DELETE FROM team_shares WHERE workspace_id = ?1 AND team_id = ?2",
            params![workspace_id, team_id],
        )? > 0)
    }

    /// Workspaces of an organization.
    pub fn org_workspaces(&self, org_id: i64) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT COUNT(*) FROM workspaces WHERE org_id = ?1", [org_id], |r| {
                r.get(0)
            })?)
    }

    /// Stores a share code of workspace `id` by its SHA-256.
    #[allow(clippy::too_many_arguments)]
    pub fn put_share_code(
        &self,
        digest: &[u8],
        workspace_id: &str,
        permission: &str,
        expires_at: i64,
        uses: Option<i64>,
        by: i64,
        now: i64,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO share_codes (sha256, workspace_id, permission, expires_at, uses_left, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![digest, workspace_id, permission, expires_at, uses, by, now],
        )?;
        Ok(())
    }

    /// Redeems the share code whose SHA-256 is `digest` for person
    /// `user_id` in one write transaction: its workspace id and
    /// permission, one use fewer (a code out of uses is deleted); `None`
    /// for a code unknown, expired or used up; permission `creator`, and
    /// nothing used, when the person created the workspace. The share
    /// itself is written in the same transaction (never lowering a higher one).
    pub fn redeem_share_code(&self, digest: &[u8], user_id: i64, now: i64) -> Result<Option<(String, String)>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let row: Option<CodeRow> = tx
            .query_row(
                "SELECT workspace_id, permission, expires_at, uses_left, created_by FROM share_codes WHERE sha256 = ?1",
                [digest],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((workspace, permission, expires, uses, by)) = row else {
            return Ok(None);
        };
        if expires <= now || uses.is_some_and(|u| u <= 0) {
            tx.execute("DELETE FROM share_codes WHERE sha256 = ?1", [digest])?;
            tx.commit()?;
            return Ok(None);
        }
        let owner: Option<i64> = tx
            .query_row("SELECT owner_id FROM workspaces WHERE id = ?1", [&workspace], |r| {
                r.get(0)
            })
            .optional()?
            .flatten();
        if owner == Some(user_id) {
            // the creator needs no share: nothing used up
            return Ok(Some((workspace, "creator".into())));
        }
        match uses {
            Some(1) => tx.execute("DELETE FROM share_codes WHERE sha256 = ?1", [digest])?,
            Some(_) => tx.execute(
                "UPDATE share_codes SET uses_left = uses_left - 1 WHERE sha256 = ?1",
                [digest],
            )?,
            None => 0,
        };
        let rank = |p: &str| ["viewer", "editor", "owner"].iter().position(|x| *x == p).unwrap_or(0);
        let held: Option<String> = tx
            .query_row(
                "SELECT permission FROM shares WHERE workspace_id = ?1 AND user_id = ?2
                 AND (expires_at IS NULL OR expires_at > ?3)",
                params![workspace, user_id, now],
                |r| r.get(0),
            )
            .optional()?;
        if held.as_deref().is_none_or(|h| rank(h) < rank(&permission)) {
            tx.execute(
                "INSERT OR REPLACE INTO shares (workspace_id, user_id, permission, expires_at, created_by, created_at)
                 VALUES (?1, ?2, ?3, NULL, ?4, ?5)",
                params![workspace, user_id, permission, by, now],
            )?;
        }
        tx.commit()?;
        Ok(Some((
            workspace,
            held.filter(|h| rank(h) >= rank(&permission)).unwrap_or(permission),
        )))
    }

    /// Gives workspace `id` to person `to`, within their workspace quota
    /// (and, when it runs, their CPU and memory quota).
    pub fn transfer(&self, r: &super::WorkspaceRecord, to: i64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let running = r.state == nexus_sdk::WorkspaceState::Running;
        check_quota(
            &tx,
            to,
            None,
            Some(&r.id),
            1,
            r.limit_cpus.filter(|_| running),
            r.limit_memory.filter(|_| running),
        )?;
        tx.execute("UPDATE workspaces SET owner_id = ?2 WHERE id = ?1", params![r.id, to])?;
        tx.execute(
            "DELETE FROM shares WHERE workspace_id = ?1 AND user_id = ?2",
            params![r.id, to],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Workspace `id`'s shares in force at `now`, by person.
    pub fn shares_of(&self, workspace_id: &str, now: i64) -> Result<Vec<ShareRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT u.name AS user, s.permission, s.expires_at, COALESCE(b.name, '-') AS created_by, s.created_at,
                s.reason
             FROM shares s JOIN users u ON u.id = s.user_id LEFT JOIN users b ON b.id = s.created_by
             WHERE s.workspace_id = ?1 AND (s.expires_at IS NULL OR s.expires_at > ?2)
             UNION ALL
             SELECT '@' || t.name AS user, s.permission, s.expires_at, COALESCE(b.name, '-') AS created_by, s.created_at,
                NULL AS reason
             FROM team_shares s JOIN teams t ON t.id = s.team_id LEFT JOIN users b ON b.id = s.created_by
             WHERE s.workspace_id = ?1 AND (s.expires_at IS NULL OR s.expires_at > ?2) ORDER BY user",
        )?;
        let rows = stmt.query_map(params![workspace_id, now], |r| {
            Ok(ShareRecord {
                user: r.get("user")?,
                permission: r.get("permission")?,
                expires_at: r.get("expires_at")?,
                created_by: r.get("created_by")?,
                created_at: r.get("created_at")?,
                reason: r.get("reason")?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Appends an audit row, its MAC made by `mac(seq, previous mac)` inside
    /// the same transaction, so rows chain in order.
    #[allow(clippy::too_many_arguments)]
    pub fn append_audit(
        &self,
        at: i64,
        actor: &str,
        action: &str,
        target: &str,
        outcome: &str,
        detail: &str,
        mac: impl FnOnce(i64, &str) -> String,
    ) -> Result<i64> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let last: Option<(i64, String)> = tx
            .query_row("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let (seq, previous) = match last {
            Some((s, m)) => (s + 1, m),
            None => {
                let anchor: Option<(i64, String)> = tx
                    .query_row("SELECT through, mac FROM audit_anchor WHERE id = 1", [], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                anchor.map_or((1, String::new()), |(t, m)| (t + 1, m))
            }
        };
        let m = mac(seq, &previous);
        tx.execute(
            "INSERT INTO audit (seq, at, actor, action, target, outcome, detail, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![seq, at, actor, action, target, outcome, detail, m],
        )?;
        tx.commit()?;
        Ok(seq)
    }

    /// Audit rows matching `filter`, oldest first.
    pub fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT * FROM (SELECT * FROM audit WHERE (?1 IS NULL OR target = ?1) AND (?2 IS NULL OR actor = ?2)
             AND (?3 IS NULL OR at >= ?3) ORDER BY seq DESC LIMIT ?4) ORDER BY seq",
        )?;
        let rows = stmt.query_map(
            params![filter.target, filter.actor, filter.since_ms, filter.limit],
            audit_from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every audit row in order, with the MAC the chain starts from (the
    /// last pruned row's, or empty).
    pub fn audit_chain(&self) -> Result<(String, Vec<AuditRecord>)> {
        let conn = self.conn();
        let start: Option<String> = conn
            .query_row("SELECT mac FROM audit_anchor WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        let mut stmt = conn.prepare("SELECT * FROM audit ORDER BY seq")?;
        let rows = stmt.query_map([], audit_from_row)?;
        Ok((start.unwrap_or_default(), rows.collect::<rusqlite::Result<_>>()?))
    }

    /// Removes audit rows older than `before_ms`, keeping the chain
    /// verifiable: the last removed row's seq and MAC become the anchor the
    /// rest is checked from. Returns how many went.
    pub fn prune_audit(&self, before_ms: i64) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, mac FROM audit WHERE at < ?1 ORDER BY seq DESC LIMIT 1",
                [before_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((through, mac)) = last else {
            return Ok(0);
        };
        tx.execute(
            "INSERT OR REPLACE INTO audit_anchor (id, through, mac) VALUES (1, ?1, ?2)",
            params![through, mac],
        )?;
        let n = tx.execute("DELETE FROM audit WHERE seq <= ?1", [through])?;
        tx.commit()?;
        Ok(n)
    }
}

/// A person's quota: `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaRecord {
    /// Workspaces in any state.
    pub workspaces: Option<i64>,
    /// CPUs of running workspaces, in billionths.
    pub cpus: Option<i64>,
    /// Memory of running workspaces, in bytes.
    pub memory: Option<i64>,
    /// Storage of worktrees as last measured, in bytes.
    pub storage: Option<i64>,
}

/// What a person uses against their quota.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageRecord {
    /// Workspaces in any state.
    pub workspaces: i64,
    /// CPU limits of running (and creating) workspaces, in billionths.
    pub cpus: i64,
    /// Memory limits of running (and creating) workspaces, in bytes.
    pub memory: i64,
    /// Worktrees as last measured, in bytes.
    pub storage: i64,
}

/// Whose quota: a person's or an organization's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaScope {
    /// A person (by row id): the workspaces they created.
    User(i64),
    /// An organization (by row id): the workspaces that belong to it.
    Org(i64),
}

impl QuotaScope {
    fn table(self) -> (&'static str, &'static str, i64) {
        match self {
            QuotaScope::User(id) => ("users", "owner_id", id),
            QuotaScope::Org(id) => ("orgs", "org_id", id),
        }
    }
}

fn quota_of(tx: &rusqlite::Connection, scope: QuotaScope) -> rusqlite::Result<QuotaRecord> {
    let (table, _, id) = scope.table();
    tx.query_row(
        &format!("SELECT quota_workspaces, quota_cpus, quota_memory, quota_storage FROM {table} WHERE id = ?1"),
        [id],
        |r| {
            Ok(QuotaRecord {
                workspaces: r.get(0)?,
                cpus: r.get(1)?,
                memory: r.get(2)?,
                storage: r.get(3)?,
            })
        },
    )
    .optional()
    .map(Option::unwrap_or_default)
}

fn usage_of(tx: &rusqlite::Connection, scope: QuotaScope, except: Option<&str>) -> rusqlite::Result<UsageRecord> {
    let (_, column, id) = scope.table();
    tx.query_row(
        &format!(
            "SELECT COUNT(*),
                COALESCE(SUM(CASE WHEN state IN ('running', 'creating') THEN limit_cpus END), 0),
                COALESCE(SUM(CASE WHEN state IN ('running', 'creating') THEN limit_memory END), 0),
                COALESCE(SUM(storage_bytes), 0)
             FROM workspaces WHERE {column} = ?1 AND (?2 IS NULL OR id != ?2)"
        ),
        params![id, except],
        |r| {
            Ok(UsageRecord {
                workspaces: r.get(0)?,
                cpus: r.get(1)?,
                memory: r.get(2)?,
                storage: r.get(3)?,
            })
        },
    )
}

/// Refuses, inside the caller's write transaction, what would pass a
/// quota of `owner` or of `org`: `workspaces` more workspaces, and a
/// workspace (not `except`, which is being started) running with `cpus`
/// and `memory`.
pub(super) fn check_quota(
    tx: &rusqlite::Connection,
    owner: i64,
    org: Option<i64>,
    except: Option<&str>,
    workspaces: i64,
    cpus: Option<i64>,
    memory: Option<i64>,
) -> Result<()> {
    for scope in std::iter::once(QuotaScope::User(owner)).chain(org.map(QuotaScope::Org)) {
        check_scope(tx, scope, except, workspaces, cpus, memory)?;
    }
    Ok(())
}

fn check_scope(
    tx: &rusqlite::Connection,
    scope: QuotaScope,
    except: Option<&str>,
    workspaces: i64,
    cpus: Option<i64>,
    memory: Option<i64>,
) -> Result<()> {
    let q = quota_of(tx, scope)?;
    let used = usage_of(tx, scope, except)?;
    let of = match scope {
        QuotaScope::User(_) => String::new(),
        QuotaScope::Org(id) => {
            let name: String = tx.query_row("SELECT name FROM orgs WHERE id = ?1", [id], |r| r.get(0))?;
            format!(" of org {name}")
        }
    };
    let cpu = |n: i64| format!("{:.2}", n as f64 / 1e9);
    let mib = |n: i64| format!("{} MiB", n >> 20);
    if let Some(limit) = q.workspaces
        && used.workspaces + workspaces > limit
    {
        return Err(StoreError::Quota {
            of: of.clone(),
            dimension: "workspaces",
            used: used.workspaces.to_string(),
            requested: workspaces.to_string(),
            limit: limit.to_string(),
        });
    }
    if let (Some(limit), Some(asked)) = (q.cpus, cpus)
        && used.cpus + asked > limit
    {
        return Err(StoreError::Quota {
            of: of.clone(),
            dimension: "cpus",
            used: cpu(used.cpus),
            requested: cpu(asked),
            limit: cpu(limit),
        });
    }
    if let (Some(limit), Some(asked)) = (q.memory, memory)
        && used.memory + asked > limit
    {
        return Err(StoreError::Quota {
            of: of.clone(),
            dimension: "memory",
            used: mib(used.memory),
            requested: mib(asked),
            limit: mib(limit),
        });
    }
    // storage cannot be capped (a bind-mounted worktree): a new workspace is
    // refused once the last measurements reach the limit
    if let Some(limit) = q.storage
        && workspaces > 0
        && used.storage >= limit
    {
        return Err(StoreError::Quota {
            of,
            dimension: "storage",
            used: mib(used.storage),
            requested: "a new worktree".into(),
            limit: mib(limit),
        });
    }
    Ok(())
}

/// Every scope, as the legacy token holds them.
const ALL_SCOPES: &str = "workspace:read workspace:write workspace:create workspace:share admin";

fn key_free(tx: &rusqlite::Transaction<'_>, fingerprint: &str) -> Result<()> {
    let holder: Option<String> = tx
        .query_row(
            "SELECT users.name FROM user_keys JOIN users ON users.id = user_keys.user_id WHERE fingerprint = ?1",
            [fingerprint],
            |r| r.get(0),
        )
        .optional()?;
    match holder {
        Some(_) => Err(StoreError::Conflict(format!(
            "key: {fingerprint} belongs to someone already; a key belongs to one person"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_regardless_of_case_and_keys_belong_to_one_person() {
        let s = Store::in_memory().expect("ok");
        let key = ("SHA256:abc".to_string(), "ssh-ed25519 AAAA a".to_string());
        s.add_user("ana", false, None, std::slice::from_ref(&key), 1)
            .expect("ok");
        let e = s.add_user("ANA", false, None, &[], 1).expect_err("refused");
        assert!(e.to_string().contains("taken"), "{e}");
        let e = s
            .add_user("bo", false, None, std::slice::from_ref(&key), 1)
            .expect_err("refused");
        assert!(e.to_string().contains("belongs"), "{e}");
        assert!(s.user("bo").expect("ok").is_none(), "a refused add writes nothing");
        assert_eq!(s.user_by_key("SHA256:abc").expect("ok").expect("ok").name, "ana");
    }

    #[test]
    fn audit_rows_cannot_be_changed_or_deleted_but_can_be_pruned() {
        let s = Store::in_memory().expect("ok");
        for i in 0..3 {
            s.append_audit(i * 1000, "ana", "x", "", "ok", "", |seq, prev| format!("{prev}{seq}"))
                .expect("ok");
        }
        let conn = s.conn();
        assert!(conn.execute("UPDATE audit SET actor = 'bo' WHERE seq = 2", []).is_err());
        assert!(conn.execute("DELETE FROM audit WHERE seq = 3", []).is_err());
        drop(conn);
        assert_eq!(s.prune_audit(1500).expect("ok"), 2);
        let (start, rows) = s.audit_chain().expect("ok");
        assert_eq!(start, "12");
        assert_eq!(rows.len(), 1);
        let seq = s
            .append_audit(5000, "ana", "y", "", "ok", "", |seq, prev| format!("{prev}{seq}"))
            .expect("ok");
        assert_eq!(seq, 4);
    }
}
