//! Team mode's wire types: people, their keys and tokens, shares of a
//! workspace, the audit log, and the permission every method declares
//! ([`permission`]), which the daemon checks before a method runs.
//!
//! A daemon is in single-user mode (one bearer token, every method allowed)
//! until `nexusd admin init` turns it into team mode; `daemon.info` says
//! which ([`crate::DaemonInfo::mode`]).

use crate::methods as m;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether a daemon serves one person or many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One bearer token (the daemon's token file); every method allowed.
    #[default]
    Single,
    /// Accounts, tokens, shares and the audit log (`nexusd admin init`).
    Team,
}

/// What a caller needs to call a method, checked by the daemon before the
/// method runs. A workspace permission is about the workspace the
/// parameters name (`workspace`), or the one of the exec or tunnel
/// (`execId`, `tunnelId`); a caller who may not see that workspace gets
/// `not_found`, exactly as for a missing one, and one who may see it but not
/// do this gets `forbidden`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Permission {
    /// Anyone, signed in or not.
    Anonymous,
    /// Any signed-in person.
    Authenticated,
    /// A signed-in person whose token has the `workspace:create` scope.
    Create,
    /// Viewer of the workspace or more (a site admin sees every workspace).
    View,
    /// Editor of the workspace or more: a shell, exec, files, ports.
    Edit,
    /// Editor or more, or a site admin (who may stop any workspace).
    Stop,
    /// Owner by share or creator: may share (at most as editor) and configure.
    Share,
    /// The workspace's creator, or a site admin.
    Remove,
    /// A site admin.
    Admin,
}

impl Permission {
    /// The token scope a call with this permission needs (`None`: any token).
    pub fn scope(self) -> Option<Scope> {
        match self {
            Permission::Anonymous | Permission::Authenticated => None,
            Permission::Create => Some(Scope::WorkspaceCreate),
            Permission::View => Some(Scope::WorkspaceRead),
            Permission::Edit | Permission::Stop | Permission::Remove => Some(Scope::WorkspaceWrite),
            Permission::Share => Some(Scope::WorkspaceShare),
            Permission::Admin => Some(Scope::Admin),
        }
    }
}

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Scope {
    /// See workspaces, their logs, ports and checkpoints.
    #[serde(rename = "workspace:read")]
    WorkspaceRead,
    /// Start, stop, exec, files, ports, checkpoints, remove.
    #[serde(rename = "workspace:write")]
    WorkspaceWrite,
    /// Create and fork workspaces.
    #[serde(rename = "workspace:create")]
    WorkspaceCreate,
    /// Share workspaces.
    #[serde(rename = "workspace:share")]
    WorkspaceShare,
    /// Manage people and read the audit log (site admins only).
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 5] = [
        Scope::WorkspaceRead,
        Scope::WorkspaceWrite,
        Scope::WorkspaceCreate,
        Scope::WorkspaceShare,
        Scope::Admin,
    ];

    /// The scope's wire name (`workspace:read`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::WorkspaceRead => "workspace:read",
            Scope::WorkspaceWrite => "workspace:write",
            Scope::WorkspaceCreate => "workspace:create",
            Scope::WorkspaceShare => "workspace:share",
            Scope::Admin => "admin",
        }
    }

    /// The scope named `s`.
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The permission method `method` declares; `None` for a method this table
/// does not know (the daemon refuses to serve such a method in team mode,
/// and a test fails when one exists).
pub fn permission(method: &str) -> Option<Permission> {
    use Permission::*;
    Some(match method {
        m::RPC_DISCOVER | m::DAEMON_INFO | m::AUTH_CHALLENGE | m::AUTH_LOGIN => Anonymous,
        m::TEMPLATE_LIST
        | m::WORKSPACE_LIST
        | m::EVENTS_SUBSCRIBE
        | m::EVENTS_UNSUBSCRIBE
        | m::AUTH_LOGOUT
        | m::AUTH_WHOAMI
        | m::AUTH_DASHBOARD_LINK
        | m::TRACE_SESSION
        | m::TOKEN_CREATE
        | m::TOKEN_LIST
        | m::TOKEN_REVOKE
        | m::USER_KEY_ADD
        | m::USER_KEY_REMOVE
        | m::WORKSPACE_ACCEPT
        | m::ORG_CREATE
        | m::ORG_LIST
        | m::ORG_SHOW
        | m::ORG_DELETE
        | m::ORG_SWITCH
        | m::ORG_INVITE
        | m::ORG_JOIN
        | m::ORG_MEMBERS_UPDATE
        | m::ORG_MEMBERS_REMOVE
        | m::ORG_LEAVE
        | m::ORG_POLICY
        | m::ORG_USAGE
        | m::TEAM_CREATE
        | m::TEAM_LIST
        | m::TEAM_ADD_MEMBER
        | m::TEAM_REMOVE_MEMBER
        | m::WORKSPACE_LOGS_UNSUBSCRIBE
        | m::WORKSPACE_STATS_UNSUBSCRIBE
        | m::EXEC_STREAM_UNSUBSCRIBE
        | m::FS_WATCH_UNSUBSCRIBE
        | m::TUNNEL_UNSUBSCRIBE => Authenticated,
        m::WORKSPACE_CREATE => Create,
        m::WORKSPACE_GET
        | m::WORKSPACE_LOGS
        | m::WORKSPACE_STATS
        | m::WORKSPACE_CHECKPOINT_LIST
        | m::PORTS_LIST
        | m::WORKSPACE_SESSIONS
        | m::WORKSPACE_LEAVE => View,
        m::WORKSPACE_START
        | m::WORKSPACE_REBUILD
        | m::WORKSPACE_CHECKPOINT_CREATE
        | m::WORKSPACE_CHECKPOINT_REMOVE
        | m::WORKSPACE_RESTORE
        | m::WORKSPACE_FORK
        | m::EXEC
        | m::EXEC_RUN
        | m::EXEC_STREAM
        | m::EXEC_WRITE
        | m::EXEC_CLOSE_STDIN
        | m::EXEC_RESIZE
        | m::EXEC_SIGNAL
        | m::EXEC_KILL
        | m::FS_READ_FILE
        | m::FS_WRITE_FILE
        | m::FS_EXISTS
        | m::FS_STAT
        | m::FS_READDIR
        | m::FS_MKDIR
        | m::FS_RM
        | m::FS_RENAME
        | m::FS_WATCH
        | m::HTTP_FS_READ
        | m::PORTS_FORWARD
        | m::PORTS_UNFORWARD
        | m::TUNNEL_OPEN
        | m::TUNNEL_WRITE
        | m::TUNNEL_CLOSE => Edit,
        m::WORKSPACE_STOP | m::WORKSPACE_IDLE | m::WORKSPACE_BREAK_GLASS => Stop,
        m::WORKSPACE_SHARE | m::WORKSPACE_UNSHARE | m::WORKSPACE_SHARES | m::WORKSPACE_SHARE_CODE => Share,
        m::WORKSPACE_REMOVE | m::WORKSPACE_TRANSFER => Remove,
        m::IMAGE_PRUNE
        | m::HTTP_METRICS
        | m::USER_ADD
        | m::USER_LIST
        | m::USER_SUSPEND
        | m::USER_RESUME
        | m::USER_REMOVE
        | m::USER_POLICY
        | m::USER_QUOTA
        | m::ORG_QUOTA
        | m::AUDIT_LIST
        | m::AUDIT_VERIFY => Admin,
        _ => return None,
    })
}

/// Whether a call of `method` changes nothing (reads are not audited; every
/// other call is, with its outcome, and so is every refusal).
pub fn read_only(method: &str) -> bool {
    matches!(
        method,
        m::RPC_DISCOVER
            | m::DAEMON_INFO
            | m::AUTH_CHALLENGE
            | m::AUTH_WHOAMI
            | m::TEMPLATE_LIST
            | m::WORKSPACE_LIST
            | m::WORKSPACE_GET
            | m::WORKSPACE_LOGS
            | m::WORKSPACE_LOGS_UNSUBSCRIBE
            | m::WORKSPACE_STATS
            | m::WORKSPACE_STATS_UNSUBSCRIBE
            | m::WORKSPACE_CHECKPOINT_LIST
            | m::WORKSPACE_SHARES
            | m::WORKSPACE_SESSIONS
            | m::ORG_LIST
            | m::ORG_SHOW
            | m::TEAM_LIST
            | m::ORG_USAGE
            | m::EVENTS_SUBSCRIBE
            | m::EVENTS_UNSUBSCRIBE
            | m::PORTS_LIST
            | m::TOKEN_LIST
            | m::USER_LIST
            | m::AUDIT_LIST
            | m::AUDIT_VERIFY
            | m::FS_READ_FILE
            | m::HTTP_FS_READ
            | m::HTTP_METRICS
            | m::FS_EXISTS
            | m::FS_STAT
            | m::FS_READDIR
            | m::FS_WATCH
            | m::FS_WATCH_UNSUBSCRIBE
            | m::EXEC_STREAM_UNSUBSCRIBE
            | m::TUNNEL_UNSUBSCRIBE
    )
}

/// A person's role on one workspace, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May see it, its status and logs.
    Viewer,
    /// Viewer, and start, stop, ssh, exec, files, ports.
    Editor,
    /// Editor, and share (at most as editor).
    Owner,
}

impl Role {
    /// The role's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Owner => "owner",
        }
    }

    /// The role named `s`.
    pub fn parse(s: &str) -> Option<Role> {
        [Role::Viewer, Role::Editor, Role::Owner]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// Whether an account may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    /// Signs in and works.
    Active,
    /// Refused everywhere until resumed; its tokens stay, unusable.
    Suspended,
}

/// A person's SSH public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserKey {
    /// OpenSSH's SHA-256 fingerprint (`SHA256:…`, as `ssh-keygen -l` prints).
    pub fingerprint: String,
    /// The key in OpenSSH's one-line format.
    pub public_key: String,
}

/// A person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// `[a-z0-9-]{2,32}`, unique regardless of case.
    pub name: String,
    /// A site admin manages people, sees every workspace and the audit log.
    pub admin: bool,
    /// Whether the account may be used.
    pub status: UserStatus,
    /// Whether a password is set (it is never shown).
    pub has_password: bool,
    /// SSH keys; each belongs to this person only.
    pub keys: Vec<UserKey>,
    /// Host-acting settings their workspaces may use ([`HOST_PROPERTIES`]),
    /// as a site admin allowed them (`user.policy`).
    #[serde(default)]
    pub allowed: Vec<String>,
    /// Their quota.
    #[serde(default)]
    pub quota: UserQuota,
    /// What they use against it.
    #[serde(default)]
    pub usage: UserUsage,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

/// `auth.challenge`'s answer: what `auth.login` with an SSH key signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Challenge {
    /// 64 hex digits, usable once, for 60 seconds.
    pub challenge: String,
    /// The SSHSIG namespace to sign in (`ssh-keygen -Y sign -n`).
    pub namespace: String,
}

/// `auth.dashboardLink`'s answer: where a browser signs in to the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardLink {
    /// `/login?code=<64 hex digits>`, to join to the daemon's HTTP address
    /// (`http://127.0.0.1:PORT`). The code works once, within `expiresIn`
    /// seconds; opening it sets the dashboard's session cookie (HttpOnly,
    /// SameSite=Strict) and leads to `/`. The code is not a token: it
    /// signs in nothing else.
    pub path: String,
    /// Seconds the code stays usable (60).
    pub expires_in: u64,
}

/// The SSHSIG namespace of login signatures.
pub const LOGIN_NAMESPACE: &str = "nexus-login@nexus.dev";

/// Parameters of `auth.login`: an SSH signature of a challenge, or a name
/// and password.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginParams {
    /// `auth.challenge`'s challenge (with `signature`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    /// The challenge signed in [`LOGIN_NAMESPACE`] by one of the person's
    /// keys: an armored SSHSIG (`-----BEGIN SSH SIGNATURE-----`, as
    /// `ssh-keygen -Y sign` writes). The key that signed names the person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The person's name (with `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The person's password (with `user`), 1 to 1024 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// Whether a token is a login session or a named API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// `nxs_…`: made by `auth.login`, expires 12 hours after its last use.
    Session,
    /// `nxp_…`: made by `token.create`, with scopes, an optional workspace
    /// allow-list and an optional expiry; cannot make tokens.
    Api,
}

/// A token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    /// The token's id (for `token.revoke`).
    pub id: u64,
    /// Session or API token.
    pub kind: TokenKind,
    /// Its name (`login` for sessions).
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// The only workspaces it may act on; absent: all its owner may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspaces: Option<Vec<String>>,
    /// Seconds since the Unix epoch after which it is refused; absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

/// `auth.login`'s and `token.create`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewToken {
    /// The secret (`nxs_…` or `nxp_…`, 40 characters), shown this once:
    /// the daemon keeps only its SHA-256.
    pub token: String,
    /// The token.
    pub info: TokenInfo,
    /// Its owner.
    pub user: String,
}

/// `auth.whoami`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    /// The daemon's mode.
    pub mode: Mode,
    /// The person (team mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// The token of this call (team mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenInfo>,
}

/// Parameters of `user.add`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAddParams {
    /// `[a-z0-9-]{2,32}`; refused when it differs from a taken one only in case.
    pub name: String,
    /// SSH public keys, OpenSSH one-line format.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// Make a site admin.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
    /// A password (1 to 1024 bytes), stored as an argon2id hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// Parameters naming a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserParams {
    /// The person's name.
    pub user: String,
}

/// The settings of a devcontainer.json or compose file that act on the
/// host, which team mode refuses unless a site admin allows them for the
/// workspace's creator: devcontainer.json properties, then compose keys.
pub const HOST_PROPERTIES: &[&str] = &[
    "initializeCommand",
    "mounts",
    "workspaceMount",
    "privileged",
    "capAdd",
    "securityOpt",
    "runArgs",
    "cap_add",
    "security_opt",
    "volumes",
    "devices",
    "pid",
    "ipc",
    "network_mode",
    "userns_mode",
    "cgroup_parent",
];

/// A person's quota; an absent member is no limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserQuota {
    /// Workspaces, in any state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspaces: Option<u32>,
    /// CPUs of running workspaces (each container is limited to its share).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Memory of running workspaces, in bytes (each container is limited to its share).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// Storage of worktrees, in bytes: a create is refused once the
    /// measured total reaches it (a bind-mounted worktree cannot be capped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<u64>,
}

/// What a person uses against their quota.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserUsage {
    /// Workspaces, in any state.
    pub workspaces: u32,
    /// CPU limits of running workspaces.
    pub cpus: f64,
    /// Memory limits of running workspaces, in bytes.
    pub memory: u64,
    /// Worktrees as last measured (after create, at start and stop), in bytes.
    #[serde(default)]
    pub storage: u64,
}

/// Parameters of `user.quota`: each given member replaces the limit (0:
/// no limit); absent members stay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserQuotaParams {
    /// The person.
    pub user: String,
    /// Workspaces in any state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspaces: Option<u32>,
    /// CPUs of running workspaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Memory of running workspaces, Docker's notation (`8g`, `512m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Storage of worktrees, the same notation (`50g`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
}

/// Parameters of `user.policy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPolicyParams {
    /// The person.
    pub user: String,
    /// The host-acting settings their workspaces may use (each one of
    /// [`HOST_PROPERTIES`]); replaces what was allowed before; empty: none.
    pub allow: Vec<String>,
}

/// Parameters of `user.key.add` and `user.key.remove`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserKeyParams {
    /// Whose key; absent: the caller's own (another's needs a site admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `user.key.add`: the public key (OpenSSH one-line format);
    /// `user.key.remove`: that or its `SHA256:` fingerprint.
    pub key: String,
}

/// Parameters of `token.create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenCreateParams {
    /// A name to know it by, 1 to 64 characters.
    pub name: String,
    /// What it may do; none of them above the caller's own.
    pub scopes: Vec<Scope>,
    /// The only workspaces it may act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspaces: Option<Vec<String>>,
    /// How long it lasts: a number and `m`, `h` or `d` (at most 365d);
    /// absent: until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// Parameters of `token.revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenIdParams {
    /// The token's id (`token.list`).
    pub id: u64,
}

/// Parameters of `workspace.share`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShareParams {
    /// The workspace.
    pub workspace: String,
    /// The person to share with (not yourself, not the creator).
    pub user: String,
    /// Their role; a shared owner may give at most `editor`.
    pub permission: Role,
    /// How long the share lasts: a number and `m`, `h` or `d` (at most
    /// 365d); absent: until unshared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// Parameters of `workspace.shareCode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShareCodeParams {
    /// The workspace.
    pub workspace: String,
    /// The role the code gives; a shared owner may give at most `editor`.
    pub permission: Role,
    /// How long the code may be redeemed: a number and `m`, `h` or `d` (at
    /// most 365d); default 1h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// How many people may redeem it; absent: any number until it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
}

/// `workspace.shareCode`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShareCode {
    /// The code (`nxc_…`, 40 characters), shown this once: the daemon keeps
    /// only its SHA-256. Redeemed with `workspace.accept`.
    pub code: String,
    /// The workspace.
    pub workspace: String,
    /// The role it gives.
    pub permission: Role,
    /// Seconds since the Unix epoch after which it is refused.
    pub expires_at: u64,
    /// How many may redeem it, if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
}

/// Parameters of `workspace.accept`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptParams {
    /// The share code.
    pub code: String,
}

/// `workspace.accept`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    /// The workspace now shared with the caller.
    pub workspace: String,
    /// The caller's role on it (a higher one they held stays).
    pub permission: Role,
}

/// Parameters of `workspace.unshare`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnshareParams {
    /// The workspace.
    pub workspace: String,
    /// The person whose share ends.
    pub user: String,
}

/// One share of a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Share {
    /// The person it is shared with.
    pub user: String,
    /// Their role.
    pub permission: Role,
    /// Seconds since the Unix epoch when it ends; absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// Who shared it.
    pub created_by: String,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    /// Why: an admin's break-glass shell (`workspace.breakGlass`), shown to the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Parameters of `workspace.breakGlass`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BreakGlassParams {
    /// The workspace.
    pub workspace: String,
    /// Why a shell is needed (5 to 500 characters); recorded in the audit
    /// log and shown in `workspace.shares`.
    pub reason: String,
    /// For how long, in minutes (1 to 240, default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<u32>,
}

/// Parameters of `audit.list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditListParams {
    /// Only rows about this workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Only rows of this actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Only rows at or after this time, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    /// At most this many rows, newest last (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Its place in the log, from 1, never reused.
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub at: u64,
    /// Who: a person's name, `-` for an anonymous caller, `nexusd` for the daemon.
    pub actor: String,
    /// What: a method name (`workspace.remove`), or `daemon.start`.
    pub action: String,
    /// The workspace or person acted on, or empty.
    pub target: String,
    /// `ok`, `denied` or an error kind (`not_found`, `invalid_params`, …).
    pub outcome: String,
    /// More, never a secret: the key fingerprint of an SSH login, a share's role.
    pub detail: String,
}

/// A person's role in an organization.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrgRole {
    /// Manages members, invitations and policy; sees, stops and removes
    /// the org's workspaces (no shell).
    Admin,
    /// Creates workspaces in the org.
    #[default]
    Member,
}

/// Who an organization's workspaces may be shared with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sharing {
    /// Nobody.
    None,
    /// Members of the organization only.
    Org,
    /// Anyone on the daemon.
    #[default]
    Any,
}

impl Sharing {
    /// The policy's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Sharing::None => "none",
            Sharing::Org => "org",
            Sharing::Any => "any",
        }
    }
}

/// A member of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgMember {
    /// The person.
    pub user: String,
    /// Their role.
    pub role: OrgRole,
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Org {
    /// `[a-z0-9-]{2,32}`, unique regardless of case.
    pub name: String,
    /// Who its workspaces may be shared with.
    pub sharing: Sharing,
    /// The caller's role in it (absent for a site admin who is no member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<OrgRole>,
    /// Whether it is the caller's current organization (where their new
    /// workspaces go).
    pub current: bool,
    /// Its workspaces.
    pub workspaces: u32,
    /// Its members (`org.show`; empty in `org.list`).
    #[serde(default)]
    pub members: Vec<OrgMember>,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

/// Parameters naming an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgParams {
    /// The organization.
    pub org: String,
}

/// Parameters of `org.switch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgSwitchParams {
    /// The organization new workspaces go to; absent: none (personal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

/// Parameters of `org.invite`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgInviteParams {
    /// The organization.
    pub org: String,
    /// The role the invitation gives.
    #[serde(default)]
    pub role: OrgRole,
    /// How long it may be redeemed (default 7d, at most 365d).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// `org.invite`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgInvite {
    /// The invitation code (`nxc_…`, single use), shown this once.
    pub code: String,
    /// The organization.
    pub org: String,
    /// The role it gives.
    pub role: OrgRole,
    /// Seconds since the Unix epoch after which it is refused.
    pub expires_at: u64,
}

/// Parameters of `org.members.update` and `org.members.remove`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgMemberParams {
    /// The organization.
    pub org: String,
    /// The member.
    pub user: String,
    /// Their new role (`org.members.update`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<OrgRole>,
}

/// Parameters of `org.quota`: each given member replaces the limit (0: no
/// limit); absent members stay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgQuotaParams {
    /// The organization.
    pub org: String,
    /// Workspaces of the org, in any state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspaces: Option<u32>,
    /// CPUs of the org's running workspaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Memory of the org's running workspaces, Docker's notation (`64g`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Storage of the org's worktrees, the same notation (`500g`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
}

/// An organization's quota and what its workspaces use (`org.usage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgUsage {
    /// The organization.
    pub org: String,
    /// Its quota.
    pub quota: UserQuota,
    /// What its workspaces use.
    pub usage: UserUsage,
}

/// Parameters of `org.policy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgPolicyParams {
    /// The organization.
    pub org: String,
    /// Who its workspaces may be shared with.
    pub sharing: Sharing,
}

/// A team of an organization (share with it as `@name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Team {
    /// `[a-z0-9-]{2,32}`, unique in its organization.
    pub name: String,
    /// Its members' names.
    pub members: Vec<String>,
}

/// Parameters of `team.create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeamParams {
    /// The organization.
    pub org: String,
    /// The team.
    pub team: String,
}

/// Parameters of `team.addMember` and `team.removeMember`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeamMemberParams {
    /// The organization.
    pub org: String,
    /// The team.
    pub team: String,
    /// The person (a member of the organization).
    pub user: String,
}

/// One SSH connection of a person to a workspace (`workspace.sessions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SshSession {
    /// The person.
    pub user: String,
    /// The SHA-256 fingerprint of the key they signed in with.
    pub fingerprint: String,
    /// The client's address and port.
    pub peer: String,
    /// Seconds since the Unix epoch when the connection opened its first channel.
    pub since: u64,
}

/// `audit.verify`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditVerify {
    /// Rows checked.
    pub rows: u64,
    /// The first row whose chained HMAC does not match (it or one before it
    /// was changed), absent when every row matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_bad: Option<u64>,
}

/// How long, from a CLI duration: a whole number and `m`, `h` or `d`, at
/// most 365 days; in seconds. The error says what is wrong with `text`.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.len().saturating_sub(1));
    let per = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?} is no duration: give a number and m, h or d, e.g. 8h")),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is no duration: give a whole number and m, h or d, e.g. 8h"))?;
    if n == 0 {
        return Err(format!("{text:?} is in the past: give a positive duration, e.g. 8h"));
    }
    let secs = n.saturating_mul(per);
    if secs > 365 * 86_400 {
        return Err(format!("{text:?} is longer than the maximum, 365d"));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_refuse() {
        assert_eq!(parse_duration("8h"), Ok(8 * 3600));
        assert_eq!(parse_duration("30d"), Ok(30 * 86_400));
        assert!(parse_duration("0h").expect_err("refused").contains("past"));
        assert!(parse_duration("-1h").is_err());
        assert!(parse_duration("366d").expect_err("refused").contains("maximum"));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn scopes_and_roles_round_trip() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).expect("ok"), s.as_str());
        }
        assert_eq!(Role::parse("editor"), Some(Role::Editor));
        assert_eq!(Role::parse("admin"), None);
        assert!(Role::Viewer < Role::Editor && Role::Editor < Role::Owner);
    }
}
