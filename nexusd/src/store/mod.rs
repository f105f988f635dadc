//! The daemon's state in SQLite: one row per workspace and per allocated port.
//! Every state change is written here before the side effect it describes;
//! `workspace::reconcile` settles rows against Docker and git at start-up.
//!
//! Schema changes are versioned migrations keyed by `PRAGMA user_version`.

use crate::error::WorkspaceError;
use nexus_sdk::WorkspaceState;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

pub mod checkpoints;
pub mod dashboard;
pub mod ports;
pub mod team;

/// What the store can fail with; it becomes a [`WorkspaceError`] of the
/// same meaning at the layer's edge.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A workspace has the name.
    #[error("a workspace named {0:?} exists already")]
    NameTaken(String),
    /// No workspace has the name.
    #[error("no workspace named {0:?}")]
    NotFound(String),
    /// No port of the range (inclusive) is free.
    #[error("no free port left in {0}-{1}")]
    PortsExhausted(u16, u16),
    /// The database's schema is newer than this daemon's.
    #[error("the state database is schema version {found}, newer than this nexusd knows ({known}): upgrade nexusd")]
    TooNew {
        /// The database's `user_version`.
        found: usize,
        /// The newest this daemon knows.
        known: usize,
    },
    /// Team mode: the change conflicts with what is stored (a taken name
    /// or key); the message names the field.
    #[error("{0}")]
    Conflict(String),
    /// Team mode: a quota would be passed.
    #[error(
        "over quota: {dimension}{of}: {used} used, {requested} requested, limit {limit}; remove or stop workspaces, or ask a site admin to raise it (nexus user quota, nexus org quota)"
    )]
    Quota {
        /// Empty for the person's own quota, ` of org NAME` for an organization's.
        of: String,
        /// `workspaces`, `cpus` or `memory`.
        dimension: &'static str,
        /// In use now (CPUs as decimals, memory in MiB).
        used: String,
        /// Asked for.
        requested: String,
        /// The limit.
        limit: String,
    },
    /// SQLite failed.
    #[error("state database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl From<StoreError> for WorkspaceError {
    fn from(e: StoreError) -> WorkspaceError {
        match e {
            StoreError::NameTaken(name) => WorkspaceError::NameTaken(name),
            StoreError::NotFound(name) => WorkspaceError::NotFound(name),
            StoreError::PortsExhausted(first, last) => WorkspaceError::PortsExhausted(first, last),
            StoreError::Conflict(m) => WorkspaceError::InvalidParams(m),
            e @ StoreError::Quota { .. } => WorkspaceError::QuotaExceeded(e.to_string()),
            e @ (StoreError::TooNew { .. } | StoreError::Sqlite(_)) => WorkspaceError::Internal(e.to_string()),
        }
    }
}

/// `Result` of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Migrations, in order; `user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    // 1: workspaces and their ports
    "CREATE TABLE workspaces (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        repository TEXT NOT NULL,
        git_common_dir TEXT NOT NULL,
        worktree TEXT NOT NULL,
        branch TEXT NOT NULL,
        branch_created INTEGER NOT NULL,
        image TEXT NOT NULL,
        remote_user TEXT NOT NULL,
        remote_user_uid INTEGER,
        remote_user_gid INTEGER,
        workspace_folder TEXT NOT NULL,
        ssh_port INTEGER NOT NULL,
        host_key TEXT NOT NULL,
        host_public_key TEXT NOT NULL,
        authorized_keys TEXT NOT NULL,
        container_id TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE ports (
        port INTEGER PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        purpose TEXT NOT NULL
    );",
    // 2: a remove records whether it deletes the branch, so a restart finishes it as asked
    "ALTER TABLE workspaces ADD COLUMN delete_branch INTEGER NOT NULL DEFAULT 0;",
    // 3: the devcontainer.json a workspace was made from (JSON, variables replaced)
    "ALTER TABLE workspaces ADD COLUMN devcontainer TEXT;",
    // 4: whether the SSH port is the relay's (`relay.rs`) rather than Docker's
    "ALTER TABLE workspaces ADD COLUMN ssh_relay INTEGER NOT NULL DEFAULT 0;",
    // 5: git checkpoints of a workspace's worktree (`checkpoints.rs`)
    "CREATE TABLE checkpoints (
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        n INTEGER NOT NULL,
        name TEXT NOT NULL,
        reference TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, n),
        UNIQUE (workspace_id, name)
    );",
    // 6: a full checkpoint's image (`docker commit` of the container)
    "ALTER TABLE checkpoints ADD COLUMN image TEXT;",
    // 7: team mode (`team.rs`): people, keys, tokens, shares, the audit log
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        status TEXT NOT NULL,
        is_admin INTEGER NOT NULL DEFAULT 0,
        password_hash TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE user_keys (
        fingerprint TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        public_key TEXT NOT NULL,
        added_at INTEGER NOT NULL
    );
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        sha256 BLOB NOT NULL UNIQUE,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        workspaces TEXT,
        expires_at INTEGER,
        last_used_at INTEGER,
        revoked INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    ALTER TABLE workspaces ADD COLUMN owner_id INTEGER REFERENCES users(id);
    CREATE TABLE shares (
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        permission TEXT NOT NULL,
        expires_at INTEGER,
        created_by INTEGER,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, user_id)
    );
    CREATE INDEX shares_by_user ON shares(user_id);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        mac TEXT NOT NULL
    );
    CREATE TABLE audit_anchor (id INTEGER PRIMARY KEY CHECK (id = 1), through INTEGER NOT NULL, mac TEXT NOT NULL);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        WHEN OLD.seq > COALESCE((SELECT through FROM audit_anchor WHERE id = 1), 0)
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
    // 8: host-acting devcontainer settings a site admin allows a person (space-separated)
    "ALTER TABLE users ADD COLUMN allowed TEXT NOT NULL DEFAULT '';",
    // 9: quotas of a person and the CPU and memory limits of each workspace's container
    "ALTER TABLE users ADD COLUMN quota_workspaces INTEGER;
    ALTER TABLE users ADD COLUMN quota_cpus INTEGER;
    ALTER TABLE users ADD COLUMN quota_memory INTEGER;
    ALTER TABLE workspaces ADD COLUMN limit_cpus INTEGER;
    ALTER TABLE workspaces ADD COLUMN limit_memory INTEGER;",
    // 10: share codes, by SHA-256 only
    "CREATE TABLE share_codes (
        sha256 BLOB PRIMARY KEY,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        permission TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        uses_left INTEGER,
        created_by INTEGER,
        created_at INTEGER NOT NULL
    );",
    // 11: organizations (`team.rs`): members with a role, invitations by SHA-256, sharing policy
    "CREATE TABLE orgs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        sharing TEXT NOT NULL DEFAULT 'any',
        created_at INTEGER NOT NULL
    );
    CREATE TABLE org_members (
        org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        PRIMARY KEY (org_id, user_id)
    );
    CREATE TABLE org_invites (
        sha256 BLOB PRIMARY KEY,
        org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        created_by INTEGER,
        created_at INTEGER NOT NULL
    );
    ALTER TABLE workspaces ADD COLUMN org_id INTEGER REFERENCES orgs(id);
    ALTER TABLE users ADD COLUMN current_org INTEGER REFERENCES orgs(id) ON DELETE SET NULL;",
    // 12: teams of an organization and shares with a team
    "CREATE TABLE teams (
        id INTEGER PRIMARY KEY,
        org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
        name TEXT NOT NULL COLLATE NOCASE,
        UNIQUE (org_id, name)
    );
    CREATE TABLE team_members (
        team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        PRIMARY KEY (team_id, user_id)
    );
    CREATE TABLE team_shares (
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
        permission TEXT NOT NULL,
        expires_at INTEGER,
        created_by INTEGER,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, team_id)
    );
    CREATE INDEX team_members_by_user ON team_members(user_id);",
    // 13: an organization's quota
    "ALTER TABLE orgs ADD COLUMN quota_workspaces INTEGER;
    ALTER TABLE orgs ADD COLUMN quota_cpus INTEGER;
    ALTER TABLE orgs ADD COLUMN quota_memory INTEGER;",
    // 14: why an admin's time-limited share (break-glass) was given
    "ALTER TABLE shares ADD COLUMN reason TEXT;",
    // 15: storage quotas and what each worktree was last measured at
    "ALTER TABLE users ADD COLUMN quota_storage INTEGER;
    ALTER TABLE orgs ADD COLUMN quota_storage INTEGER;
    ALTER TABLE workspaces ADD COLUMN storage_bytes INTEGER NOT NULL DEFAULT 0;",
    // 16: the version of the agent last injected into each workspace
    "ALTER TABLE workspaces ADD COLUMN agent_version TEXT;",
    // 17: idle pause and stop, and why a workspace is paused or stopped
    "ALTER TABLE workspaces ADD COLUMN idle_pause_secs INTEGER;
    ALTER TABLE workspaces ADD COLUMN idle_stop_secs INTEGER;
    ALTER TABLE workspaces ADD COLUMN state_reason TEXT;",
    // 18: Docker inside the workspace (`proxy` or `dind`)
    "ALTER TABLE workspaces ADD COLUMN docker TEXT;",
    // 19: the web dashboard's sessions of single-user mode, by SHA-256 only
    // (team mode's are person's tokens of kind `session`)
    "CREATE TABLE dashboard_sessions (
        sha256 BLOB PRIMARY KEY,
        expires_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    );",
];

/// A workspace row. Never sent on the wire: `api` converts it to
/// `nexus_sdk::Workspace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceRecord {
    /// 16 hex digits; the `dev.nexus.workspace` label value.
    pub id: String,
    /// The workspace name.
    pub name: String,
    /// Current state.
    pub state: WorkspaceState,
    /// Main working tree of the repository.
    pub repository: String,
    /// The repository's git common dir (`<repository>/.git`).
    pub git_common_dir: String,
    /// The worktree path.
    pub worktree: String,
    /// The worktree's branch.
    pub branch: String,
    /// Whether the create made the branch (so a rollback deletes it).
    pub branch_created: bool,
    /// The image.
    pub image: String,
    /// SSH and exec user.
    pub remote_user: String,
    /// UID and GID given to `remote_user` (devcontainer.json `updateRemoteUserUID`).
    pub remote_user_uid: Option<(u32, u32)>,
    /// Worktree mount point in the container.
    pub workspace_folder: String,
    /// Host port of the agent's SSH server.
    pub ssh_port: u16,
    /// Whether the relay (`crate::relay`) listens on `ssh_port` and hands
    /// clients to the agent's relay socket with their addresses; else
    /// Docker publishes the agent's port 2222 there (workspaces made before
    /// the relay).
    pub ssh_relay: bool,
    /// The host private key, OpenSSH PEM.
    pub host_key: String,
    /// The host public key, OpenSSH one-line format.
    pub host_public_key: String,
    /// authorized_keys contents.
    pub authorized_keys: String,
    /// Whether the remove in progress also deletes the branch.
    pub delete_branch: bool,
    /// Docker container id, once created.
    pub container_id: Option<String>,
    /// The devcontainer.json it was made from, as JSON with variables
    /// replaced (its hooks run again at start); `None` for an image or template.
    pub devcontainer: Option<String>,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    /// Team mode: the creator's user id (`None` in single-user mode).
    pub owner_id: Option<i64>,
    /// Team mode with a quota: the CPU limit of its container, in
    /// billionths of a CPU (Docker's `NanoCpus`), counted against the
    /// creator's quota while it runs.
    pub limit_cpus: Option<i64>,
    /// The same for memory, in bytes.
    pub limit_memory: Option<i64>,
    /// Team mode: the organization it belongs to (its creator's current
    /// org when it was made).
    pub org_id: Option<i64>,
    /// The version of the agent last injected (`nexus-agent --version`);
    /// `None` before it was first recorded.
    pub agent_version: Option<String>,
    /// Seconds idle before it pauses, when set for it.
    pub idle_pause_secs: Option<i64>,
    /// Seconds idle before it stops, when set for it.
    pub idle_stop_secs: Option<i64>,
    /// Why it is paused or stopped (`idle for 10m`, `stopped by request`).
    pub state_reason: Option<String>,
    /// Docker inside it, when it has it.
    pub docker: Option<nexus_sdk::DockerMode>,
}

/// The name of state `s`, as the store and the wire spell it.
pub fn state_str(s: WorkspaceState) -> &'static str {
    match s {
        WorkspaceState::Creating => "creating",
        WorkspaceState::Running => "running",
        WorkspaceState::Stopped => "stopped",
        WorkspaceState::Removing => "removing",
        WorkspaceState::Paused => "paused",
    }
}

fn parse_state(s: &str) -> WorkspaceState {
    match s {
        "running" => WorkspaceState::Running,
        "stopped" => WorkspaceState::Stopped,
        "removing" => WorkspaceState::Removing,
        "paused" => WorkspaceState::Paused,
        _ => WorkspaceState::Creating,
    }
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<WorkspaceRecord> {
    let uid: Option<u32> = r.get("remote_user_uid")?;
    let gid: Option<u32> = r.get("remote_user_gid")?;
    Ok(WorkspaceRecord {
        id: r.get("id")?,
        name: r.get("name")?,
        state: parse_state(&r.get::<_, String>("state")?),
        repository: r.get("repository")?,
        git_common_dir: r.get("git_common_dir")?,
        worktree: r.get("worktree")?,
        branch: r.get("branch")?,
        branch_created: r.get("branch_created")?,
        image: r.get("image")?,
        remote_user: r.get("remote_user")?,
        remote_user_uid: uid.zip(gid),
        workspace_folder: r.get("workspace_folder")?,
        ssh_port: r.get("ssh_port")?,
        ssh_relay: r.get("ssh_relay")?,
        host_key: r.get("host_key")?,
        host_public_key: r.get("host_public_key")?,
        authorized_keys: r.get("authorized_keys")?,
        delete_branch: r.get("delete_branch")?,
        container_id: r.get("container_id")?,
        devcontainer: r.get("devcontainer")?,
        created_at: r.get("created_at")?,
        owner_id: r.get("owner_id")?,
        limit_cpus: r.get("limit_cpus")?,
        limit_memory: r.get("limit_memory")?,
        org_id: r.get("org_id")?,
        agent_version: r.get("agent_version")?,
        idle_pause_secs: r.get("idle_pause_secs")?,
        idle_stop_secs: r.get("idle_stop_secs")?,
        state_reason: r.get("state_reason")?,
        docker: r
            .get::<_, Option<String>>("docker")?
            .and_then(|d| nexus_sdk::DockerMode::parse(&d).ok()),
    })
}

impl WorkspaceRecord {
    /// When it pauses and stops once idle; `None` when it never does.
    pub fn idle(&self) -> Option<nexus_sdk::IdleSettings> {
        let secs = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
        let s = nexus_sdk::IdleSettings {
            pause_after_seconds: secs(self.idle_pause_secs),
            stop_after_seconds: secs(self.idle_stop_secs),
        };
        (s.pause_after_seconds.is_some() || s.stop_after_seconds.is_some()).then_some(s)
    }
}

/// The lowest port of `range` no row holds and `probe` accepts, read inside
/// the caller's write transaction. Errors: `PortsExhausted`.
fn pick_free(tx: &rusqlite::Transaction<'_>, range: (u16, u16), probe: impl Fn(u16) -> bool) -> Result<u16> {
    let taken: HashSet<u16> = {
        let mut stmt = tx.prepare("SELECT port FROM ports")?;
        let rows = stmt.query_map([], |r| r.get::<_, u16>(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    crate::store::ports::pick(range, &taken, probe).ok_or(StoreError::PortsExhausted(range.0, range.1))
}

/// The state database. One connection behind a mutex: every call is short.
pub struct Store {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        Store::init(conn)
    }

    /// An in-memory database, for tests.
    pub fn in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let version = usize::try_from(version).unwrap_or(0);
        if version > MIGRATIONS.len() {
            return Err(StoreError::TooNew {
                found: version,
                known: MIGRATIONS.len(),
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(Store { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Inserts `record` in state `creating` and allocates its SSH port in the
    /// same transaction; returns the port.
    ///
    /// Errors: `NameTaken`, `PortsExhausted`.
    pub fn insert_creating(
        &self,
        record: &WorkspaceRecord,
        range: (u16, u16),
        probe: impl Fn(u16) -> bool,
    ) -> Result<u16> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let exists: Option<String> = tx
            .query_row("SELECT id FROM workspaces WHERE name = ?1", [&record.name], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_some() {
            return Err(StoreError::NameTaken(record.name.clone()));
        }
        if let Some(owner) = record.owner_id {
            team::check_quota(
                &tx,
                owner,
                record.org_id,
                None,
                1,
                record.limit_cpus,
                record.limit_memory,
            )?;
        }
        let port = pick_free(&tx, range, probe)?;
        tx.execute(
            "INSERT INTO workspaces (id, name, state, repository, git_common_dir, worktree, branch,
                branch_created, image, remote_user, remote_user_uid, remote_user_gid, workspace_folder,
                ssh_port, host_key, host_public_key, authorized_keys, container_id, created_at, devcontainer,
                ssh_relay, owner_id, limit_cpus, limit_memory, org_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22,
                ?23, ?24, ?25)",
            params![
                record.id,
                record.name,
                state_str(WorkspaceState::Creating),
                record.repository,
                record.git_common_dir,
                record.worktree,
                record.branch,
                record.branch_created,
                record.image,
                record.remote_user,
                record.remote_user_uid.map(|u| u.0),
                record.remote_user_uid.map(|u| u.1),
                record.workspace_folder,
                port,
                record.host_key,
                record.host_public_key,
                record.authorized_keys,
                record.container_id,
                record.created_at,
                record.devcontainer,
                record.ssh_relay,
                record.owner_id,
                record.limit_cpus,
                record.limit_memory,
                record.org_id,
            ],
        )?;
        tx.execute(
            "INSERT INTO ports (port, workspace_id, purpose) VALUES (?1, ?2, 'ssh')",
            params![port, record.id],
        )?;
        tx.commit()?;
        Ok(port)
    }

    /// Moves workspace `id`'s SSH port to another free port of `range` (its
    /// current one counts as taken) in one write transaction, as
    /// `insert_creating` allocates; returns the new port. Errors:
    /// `PortsExhausted`.
    pub fn move_ssh_port(&self, id: &str, range: (u16, u16), probe: impl Fn(u16) -> bool) -> Result<u16> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let port = pick_free(&tx, range, probe)?;
        tx.execute(
            "UPDATE ports SET port = ?1 WHERE workspace_id = ?2 AND purpose = 'ssh'",
            params![port, id],
        )?;
        tx.execute("UPDATE workspaces SET ssh_port = ?1 WHERE id = ?2", params![port, id])?;
        tx.commit()?;
        Ok(port)
    }

    /// Allocates a port of `range` for workspace `id` and `purpose` (e.g.
    /// `forward:8080`) in one write transaction, as `insert_creating` does.
    /// Errors: `PortsExhausted`.
    pub fn allocate_port(
        &self,
        id: &str,
        purpose: &str,
        range: (u16, u16),
        probe: impl Fn(u16) -> bool,
    ) -> Result<u16> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let port = pick_free(&tx, range, probe)?;
        tx.execute(
            "INSERT INTO ports (port, workspace_id, purpose) VALUES (?1, ?2, ?3)",
            params![port, id, purpose],
        )?;
        tx.commit()?;
        Ok(port)
    }

    /// Releases one port of workspace `id`.
    pub fn release_port(&self, id: &str, port: u16) -> Result<()> {
        self.conn().execute(
            "DELETE FROM ports WHERE workspace_id = ?1 AND port = ?2",
            params![id, port],
        )?;
        Ok(())
    }

    /// Releases every port of `purpose_prefix` (all workspaces): the forwards
    /// a restarted daemon no longer serves.
    pub fn release_ports_like(&self, purpose_prefix: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM ports WHERE purpose LIKE ?1",
            [format!("{purpose_prefix}%")],
        )?;
        Ok(())
    }

    /// All workspaces, by name.
    pub fn list(&self) -> Result<Vec<WorkspaceRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT * FROM workspaces ORDER BY name")?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The workspace named `name`. Errors: `NotFound`.
    pub fn get(&self, name: &str) -> Result<WorkspaceRecord> {
        let conn = self.conn();
        conn.query_row("SELECT * FROM workspaces WHERE name = ?1", [name], from_row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound(name.to_string()))
    }

    /// Sets a workspace's state.
    pub fn set_state(&self, id: &str, state: WorkspaceState) -> Result<()> {
        self.set_state_because(id, state, None)
    }

    /// Sets a workspace's state and why it is in it (`None`: no reason to give).
    pub fn set_state_because(&self, id: &str, state: WorkspaceState, reason: Option<&str>) -> Result<()> {
        self.conn().execute(
            "UPDATE workspaces SET state = ?1, state_reason = ?2 WHERE id = ?3",
            params![state_str(state), reason, id],
        )?;
        Ok(())
    }

    /// Sets when a workspace pauses and stops once idle (seconds; `None`: the daemon's default).
    pub fn set_idle(&self, id: &str, pause_secs: Option<i64>, stop_secs: Option<i64>) -> Result<()> {
        self.conn().execute(
            "UPDATE workspaces SET idle_pause_secs = ?1, idle_stop_secs = ?2 WHERE id = ?3",
            params![pause_secs, stop_secs, id],
        )?;
        Ok(())
    }

    /// Records the Docker inside a workspace.
    pub fn set_docker(&self, id: &str, docker: Option<nexus_sdk::DockerMode>) -> Result<()> {
        self.conn().execute(
            "UPDATE workspaces SET docker = ?1 WHERE id = ?2",
            params![docker.map(|d| d.as_str()), id],
        )?;
        Ok(())
    }

    /// Marks a workspace `removing`, recording whether the branch goes too.
    pub fn set_removing(&self, id: &str, delete_branch: bool) -> Result<()> {
        self.conn().execute(
            "UPDATE workspaces SET state = ?1, delete_branch = ?2 WHERE id = ?3",
            params![state_str(WorkspaceState::Removing), delete_branch, id],
        )?;
        Ok(())
    }

    /// Records what the image and devcontainer.json decide of a workspace:
    /// its image, remote user (and the UID/GID it takes), workspace folder
    /// and merged configuration, as `record` has them.
    pub fn set_image(&self, record: &WorkspaceRecord) -> Result<()> {
        self.conn().execute(
            "UPDATE workspaces SET image = ?1, remote_user = ?2, remote_user_uid = ?3, remote_user_gid = ?4,
                workspace_folder = ?5, devcontainer = ?6 WHERE id = ?7",
            params![
                record.image,
                record.remote_user,
                record.remote_user_uid.map(|u| u.0),
                record.remote_user_uid.map(|u| u.1),
                record.workspace_folder,
                record.devcontainer,
                record.id,
            ],
        )?;
        Ok(())
    }

    /// Records the container id.
    pub fn set_container(&self, id: &str, container_id: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE workspaces SET container_id = ?1 WHERE id = ?2",
            params![container_id, id],
        )?;
        Ok(())
    }

    /// Records the version of the agent just injected into workspace `id`.
    pub fn set_agent_version(&self, id: &str, version: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE workspaces SET agent_version = ?1 WHERE id = ?2",
            params![version, id],
        )?;
        Ok(())
    }

    /// Deletes a workspace and, by cascade, its ports.
    pub fn delete(&self, id: &str) -> Result<()> {
        self.conn().execute("DELETE FROM workspaces WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Ports held by records, for leak checks.
    pub fn ports(&self) -> Result<Vec<u16>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT port FROM ports ORDER BY port")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// The container name of a workspace.
pub fn container_name(r: &WorkspaceRecord) -> String {
    format!("nexus-{}-{}", r.name, &r.id[..8.min(r.id.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, name: &str) -> WorkspaceRecord {
        WorkspaceRecord {
            id: id.into(),
            name: name.into(),
            state: WorkspaceState::Creating,
            repository: "/r".into(),
            git_common_dir: "/r/.git".into(),
            worktree: format!("/r/.worktree/{name}"),
            branch: format!("nexus/{name}"),
            branch_created: true,
            image: "img".into(),
            remote_user: "dev".into(),
            remote_user_uid: Some((1000, 1000)),
            workspace_folder: "/workspaces/r".into(),
            ssh_port: 0,
            ssh_relay: true,
            host_key: "k".into(),
            host_public_key: "p".into(),
            authorized_keys: "a".into(),
            delete_branch: false,
            container_id: None,
            devcontainer: Some("{\"image\":\"x\"}".into()),
            created_at: 1,
            owner_id: None,
            limit_cpus: None,
            limit_memory: None,
            org_id: None,
            agent_version: None,
            idle_pause_secs: None,
            idle_stop_secs: None,
            state_reason: None,
            docker: None,
        }
    }

    #[test]
    fn insert_allocates_distinct_ports_and_rejects_duplicate_names() {
        let store = Store::in_memory().expect("open");
        let p1 = store
            .insert_creating(&record("a1", "a"), (40000, 40002), |_| true)
            .expect("a");
        let p2 = store
            .insert_creating(&record("b1", "b"), (40000, 40002), |_| true)
            .expect("b");
        assert_ne!(p1, p2);
        let dup = store.insert_creating(&record("c1", "a"), (40000, 40002), |_| true);
        assert!(matches!(dup, Err(StoreError::NameTaken(_))));
        let got = store.get("a").expect("get");
        assert_eq!(got.ssh_port, p1);
        assert_eq!(got.remote_user_uid, Some((1000, 1000)));
    }

    #[test]
    fn range_exhaustion_leaves_no_record() {
        let store = Store::in_memory().expect("open");
        store
            .insert_creating(&record("a1", "a"), (40000, 40000), |_| true)
            .expect("a");
        let full = store.insert_creating(&record("b1", "b"), (40000, 40000), |_| true);
        assert!(matches!(full, Err(StoreError::PortsExhausted(40000, 40000))));
        assert!(matches!(store.get("b"), Err(StoreError::NotFound(_))));
    }

    #[test]
    fn delete_releases_ports() {
        let store = Store::in_memory().expect("open");
        store
            .insert_creating(&record("a1", "a"), (40000, 40005), |_| true)
            .expect("a");
        store.set_state("a1", WorkspaceState::Running).expect("state");
        assert_eq!(store.get("a").expect("get").state, WorkspaceState::Running);
        store.set_removing("a1", true).expect("removing");
        let got = store.get("a").expect("get");
        assert_eq!((got.state, got.delete_branch), (WorkspaceState::Removing, true));
        store.delete("a1").expect("delete");
        assert!(store.ports().expect("ports").is_empty());
    }

    #[test]
    fn reopening_keeps_rows_and_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        Store::open(&path)
            .expect("open")
            .insert_creating(&record("a1", "a"), (40000, 40005), |_| true)
            .expect("a");
        let again = Store::open(&path).expect("reopen");
        assert_eq!(again.list().expect("list").len(), 1);
    }
}
