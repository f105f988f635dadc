//! JSON-RPC method names, fixed here and documented in `docs/protocol.md`.
//!
//! Every method takes one JSON object as its `params` (by-name parameters,
//! JSON-RPC 2.0 section 4.2).

/// `workspace.create`: [`crate::CreateParams`] → [`crate::Workspace`].
pub const WORKSPACE_CREATE: &str = "workspace.create";
/// `workspace.list`: `{}` → `[Workspace]`.
pub const WORKSPACE_LIST: &str = "workspace.list";
/// `workspace.get`: [`crate::NameParams`] → [`crate::Workspace`].
pub const WORKSPACE_GET: &str = "workspace.get";
/// `workspace.start`: [`crate::NameParams`] → [`crate::Workspace`].
pub const WORKSPACE_START: &str = "workspace.start";
/// `workspace.rebuild`: [`crate::NameParams`] → [`crate::Workspace`].
pub const WORKSPACE_REBUILD: &str = "workspace.rebuild";
/// `workspace.stop`: [`crate::NameParams`] → [`crate::Workspace`].
pub const WORKSPACE_STOP: &str = "workspace.stop";
/// `workspace.remove`: [`crate::RemoveParams`] → `null`.
pub const WORKSPACE_REMOVE: &str = "workspace.remove";
/// `workspace.checkpoint.create`: [`crate::CheckpointCreateParams`] → [`crate::Checkpoint`].
pub const WORKSPACE_CHECKPOINT_CREATE: &str = "workspace.checkpoint.create";
/// `workspace.checkpoint.list`: [`crate::NameParams`] → `[Checkpoint]`.
pub const WORKSPACE_CHECKPOINT_LIST: &str = "workspace.checkpoint.list";
/// `workspace.checkpoint.remove`: [`crate::CheckpointParams`] → `null`.
pub const WORKSPACE_CHECKPOINT_REMOVE: &str = "workspace.checkpoint.remove";
/// `workspace.restore`: [`crate::CheckpointParams`] → [`crate::Checkpoint`]
/// (the one taken automatically before, which undoes the restore).
pub const WORKSPACE_RESTORE: &str = "workspace.restore";
/// `workspace.idle`: [`crate::IdleParams`] → [`crate::Workspace`]; sets when
/// it pauses and stops once idle.
pub const WORKSPACE_IDLE: &str = "workspace.idle";
/// `trace.session`: [`crate::TraceSessionParams`] → `null`; declares who
/// the calling connection is (Agent Trace attribution, docs/trace.md).
pub const TRACE_SESSION: &str = "trace.session";
/// `workspace.fork`: [`crate::ForkParams`] → [`crate::Workspace`] (the new one).
pub const WORKSPACE_FORK: &str = "workspace.fork";
/// `workspace.logs`: [`crate::LogsParams`] → [`crate::LogChunk`] notifications
/// (a subscription; without `follow` it ends after the last line).
pub const WORKSPACE_LOGS: &str = "workspace.logs";
/// Notification method of [`WORKSPACE_LOGS`].
pub const WORKSPACE_LOGS_NOTIFICATION: &str = "workspace.logs.chunk";
/// Unsubscribe method of [`WORKSPACE_LOGS`].
pub const WORKSPACE_LOGS_UNSUBSCRIBE: &str = "workspace.logs.unsubscribe";
/// `workspace.stats`: [`crate::StatsParams`] → [`crate::StatsSample`]
/// notifications (a subscription), about one a second while it runs.
pub const WORKSPACE_STATS: &str = "workspace.stats";
/// Notification method of [`WORKSPACE_STATS`].
pub const WORKSPACE_STATS_NOTIFICATION: &str = "workspace.stats.sample";
/// Unsubscribe method of [`WORKSPACE_STATS`].
pub const WORKSPACE_STATS_UNSUBSCRIBE: &str = "workspace.stats.unsubscribe";
/// `exec.run`: [`crate::ExecParams`] → [`crate::ExecResult`] (runs to completion).
pub const EXEC_RUN: &str = "exec.run";
/// `exec.stream`: [`crate::ExecParams`] → [`crate::ExecEvent`] notifications
/// (a subscription: output chunks in order, then exactly one `exit`).
pub const EXEC_STREAM: &str = "exec.stream";
/// Notification method of [`EXEC_STREAM`].
pub const EXEC_STREAM_NOTIFICATION: &str = "exec.stream.event";
/// Unsubscribe method of [`EXEC_STREAM`].
pub const EXEC_STREAM_UNSUBSCRIBE: &str = "exec.stream.unsubscribe";
/// `exec`: the first Nexus SDK's name of [`EXEC_RUN`], kept as an alias.
pub const EXEC: &str = "exec";
/// `exec.write`: [`crate::ExecWriteParams`] → `null`, once the bytes are
/// handed to the process's stdin (awaits room: backpressure for writers).
pub const EXEC_WRITE: &str = "exec.write";
/// `exec.closeStdin`: [`crate::ExecIdParams`] → `null` (the process reads end-of-file).
pub const EXEC_CLOSE_STDIN: &str = "exec.closeStdin";
/// `exec.resize`: [`crate::ExecResizeParams`] → `null` (the pty's new size).
pub const EXEC_RESIZE: &str = "exec.resize";
/// `exec.signal`: [`crate::ExecSignalParams`] → `null`.
pub const EXEC_SIGNAL: &str = "exec.signal";
/// `exec.kill`: [`crate::ExecIdParams`] → `null` (SIGKILL).
pub const EXEC_KILL: &str = "exec.kill";
/// `events.subscribe`: [`crate::EventsParams`] → [`crate::Event`] notifications.
pub const EVENTS_SUBSCRIBE: &str = "events.subscribe";
/// Notification method of [`EVENTS_SUBSCRIBE`].
pub const EVENTS_NOTIFICATION: &str = "events.event";
/// Unsubscribe method of [`EVENTS_SUBSCRIBE`].
pub const EVENTS_UNSUBSCRIBE: &str = "events.unsubscribe";
/// `fs.readFile`: [`crate::ReadFileParams`] → [`crate::ReadFileResult`].
pub const FS_READ_FILE: &str = "fs.readFile";
/// `fs.writeFile`: [`crate::WriteFileParams`] → `null`.
pub const FS_WRITE_FILE: &str = "fs.writeFile";
/// `fs.exists`: [`crate::PathParams`] → `bool`.
pub const FS_EXISTS: &str = "fs.exists";
/// `fs.stat`: [`crate::PathParams`] → [`crate::FileStat`].
pub const FS_STAT: &str = "fs.stat";
/// `fs.readdir`: [`crate::PathParams`] → `[FileStat]` (without `.` and `..`).
pub const FS_READDIR: &str = "fs.readdir";
/// `fs.mkdir`: [`crate::MkdirParams`] → `null`.
pub const FS_MKDIR: &str = "fs.mkdir";
/// `fs.rm`: [`crate::RmParams`] → `null`.
pub const FS_RM: &str = "fs.rm";
/// `fs.rename`: [`crate::RenameParams`] → `null`.
pub const FS_RENAME: &str = "fs.rename";
/// `fs.watch`: [`crate::WatchParams`] → [`crate::FsEvent`] notifications (a subscription).
pub const FS_WATCH: &str = "fs.watch";
/// Notification method of [`FS_WATCH`].
pub const FS_WATCH_NOTIFICATION: &str = "fs.watch.event";
/// Unsubscribe method of [`FS_WATCH`].
pub const FS_WATCH_UNSUBSCRIBE: &str = "fs.watch.unsubscribe";
/// `tunnel.open`: [`crate::TunnelParams`] → [`crate::TunnelEvent`]
/// notifications (a subscription carrying one TCP connection's bytes).
pub const TUNNEL_OPEN: &str = "tunnel.open";
/// Notification method of [`TUNNEL_OPEN`].
pub const TUNNEL_NOTIFICATION: &str = "tunnel.event";
/// Unsubscribe method of [`TUNNEL_OPEN`] (closes the connection).
pub const TUNNEL_UNSUBSCRIBE: &str = "tunnel.unsubscribe";
/// `tunnel.write`: [`crate::TunnelWriteParams`] → `null`, once the bytes are sent.
pub const TUNNEL_WRITE: &str = "tunnel.write";
/// `tunnel.close`: [`crate::TunnelIdParams`] → `null` (sends end-of-file;
/// `closed` follows when the remote end closes too).
pub const TUNNEL_CLOSE: &str = "tunnel.close";
/// `rpc.discover`: `{}` → the OpenRPC 1.2 document of this API.
pub const RPC_DISCOVER: &str = "rpc.discover";
/// `ports.list`: [`crate::PortsParams`] → `[PortInfo]`.
pub const PORTS_LIST: &str = "ports.list";
/// `ports.forward`: [`crate::ForwardParams`] → [`crate::PortInfo`].
pub const PORTS_FORWARD: &str = "ports.forward";
/// `ports.unforward`: [`crate::UnforwardParams`] → `null`.
pub const PORTS_UNFORWARD: &str = "ports.unforward";
/// `template.list`: `{}` → `[TemplateInfo]`, the built-in templates.
pub const TEMPLATE_LIST: &str = "template.list";
/// `daemon.info`: `{}` → [`crate::DaemonInfo`].
pub const DAEMON_INFO: &str = "daemon.info";
/// `image.prune`: [`crate::ImagePruneParams`] → [`crate::ImagePruneResult`].
pub const IMAGE_PRUNE: &str = "image.prune";

/// `auth.challenge`: `{}` → [`crate::team::Challenge`] (team mode).
pub const AUTH_CHALLENGE: &str = "auth.challenge";
/// `auth.login`: [`crate::team::LoginParams`] → [`crate::team::NewToken`], a session.
pub const AUTH_LOGIN: &str = "auth.login";
/// `auth.logout`: `{}` → `null`; revokes the calling token.
pub const AUTH_LOGOUT: &str = "auth.logout";
/// `auth.whoami`: `{}` → [`crate::team::WhoAmI`].
pub const AUTH_WHOAMI: &str = "auth.whoami";
/// `auth.dashboardLink`: `{}` → [`crate::team::DashboardLink`], a one-time
/// sign-in link of the web dashboard for the caller.
pub const AUTH_DASHBOARD_LINK: &str = "auth.dashboardLink";
/// `user.add`: [`crate::team::UserAddParams`] → [`crate::team::User`].
pub const USER_ADD: &str = "user.add";
/// `user.list`: `{}` → `[User]`.
pub const USER_LIST: &str = "user.list";
/// `user.suspend`: [`crate::team::UserParams`] → [`crate::team::User`].
pub const USER_SUSPEND: &str = "user.suspend";
/// `user.resume`: [`crate::team::UserParams`] → [`crate::team::User`].
pub const USER_RESUME: &str = "user.resume";
/// `user.remove`: [`crate::team::UserParams`] → `null`.
pub const USER_REMOVE: &str = "user.remove";
/// `user.quota`: [`crate::team::UserQuotaParams`] → [`crate::team::User`].
pub const USER_QUOTA: &str = "user.quota";
/// `user.policy`: [`crate::team::UserPolicyParams`] → [`crate::team::User`].
pub const USER_POLICY: &str = "user.policy";
/// `user.key.add`: [`crate::team::UserKeyParams`] → [`crate::team::User`].
pub const USER_KEY_ADD: &str = "user.key.add";
/// `user.key.remove`: [`crate::team::UserKeyParams`] → [`crate::team::User`].
pub const USER_KEY_REMOVE: &str = "user.key.remove";
/// `token.create`: [`crate::team::TokenCreateParams`] → [`crate::team::NewToken`].
pub const TOKEN_CREATE: &str = "token.create";
/// `token.list`: `{}` → `[TokenInfo]`, the caller's tokens.
pub const TOKEN_LIST: &str = "token.list";
/// `token.revoke`: [`crate::team::TokenIdParams`] → `null`.
pub const TOKEN_REVOKE: &str = "token.revoke";
/// `workspace.share`: [`crate::team::ShareParams`] → [`crate::team::Share`].
pub const WORKSPACE_SHARE: &str = "workspace.share";
/// `workspace.unshare`: [`crate::team::UnshareParams`] → `null`.
pub const WORKSPACE_UNSHARE: &str = "workspace.unshare";
/// `workspace.shares`: [`crate::NameParams`] → `[Share]`.
pub const WORKSPACE_SHARES: &str = "workspace.shares";
/// `workspace.shareCode`: [`crate::team::ShareCodeParams`] → [`crate::team::ShareCode`].
pub const WORKSPACE_SHARE_CODE: &str = "workspace.shareCode";
/// `workspace.accept`: [`crate::team::AcceptParams`] → [`crate::team::Accepted`].
pub const WORKSPACE_ACCEPT: &str = "workspace.accept";
/// `workspace.transfer`: [`crate::team::UnshareParams`] (workspace, user) → `null`.
pub const WORKSPACE_TRANSFER: &str = "workspace.transfer";
/// `org.create`: [`crate::team::OrgParams`] → [`crate::team::Org`].
pub const ORG_CREATE: &str = "org.create";
/// `org.list`: `{}` → `[Org]`.
pub const ORG_LIST: &str = "org.list";
/// `org.show`: [`crate::team::OrgParams`] → [`crate::team::Org`] with members.
pub const ORG_SHOW: &str = "org.show";
/// `org.delete`: [`crate::team::OrgParams`] → `null`.
pub const ORG_DELETE: &str = "org.delete";
/// `org.switch`: [`crate::team::OrgSwitchParams`] → `null`.
pub const ORG_SWITCH: &str = "org.switch";
/// `org.invite`: [`crate::team::OrgInviteParams`] → [`crate::team::OrgInvite`].
pub const ORG_INVITE: &str = "org.invite";
/// `org.join`: [`crate::team::AcceptParams`] → [`crate::team::Org`].
pub const ORG_JOIN: &str = "org.join";
/// `org.members.update`: [`crate::team::OrgMemberParams`] → `null`.
pub const ORG_MEMBERS_UPDATE: &str = "org.members.update";
/// `org.members.remove`: [`crate::team::OrgMemberParams`] → `null`.
pub const ORG_MEMBERS_REMOVE: &str = "org.members.remove";
/// `org.leave`: [`crate::team::OrgParams`] → `null`.
pub const ORG_LEAVE: &str = "org.leave";
/// `org.policy`: [`crate::team::OrgPolicyParams`] → `null`.
pub const ORG_POLICY: &str = "org.policy";
/// `team.create`: [`crate::team::TeamParams`] → `null`.
pub const TEAM_CREATE: &str = "team.create";
/// `team.list`: [`crate::team::OrgParams`] → `[Team]`.
pub const TEAM_LIST: &str = "team.list";
/// `team.addMember`: [`crate::team::TeamMemberParams`] → `null`.
pub const TEAM_ADD_MEMBER: &str = "team.addMember";
/// `team.removeMember`: [`crate::team::TeamMemberParams`] → `null`.
pub const TEAM_REMOVE_MEMBER: &str = "team.removeMember";
/// `org.quota`: [`crate::team::OrgQuotaParams`] → [`crate::team::OrgUsage`].
pub const ORG_QUOTA: &str = "org.quota";
/// `org.usage`: [`crate::team::OrgParams`] → [`crate::team::OrgUsage`].
pub const ORG_USAGE: &str = "org.usage";
/// `workspace.breakGlass`: [`crate::team::BreakGlassParams`] → [`crate::team::Share`].
pub const WORKSPACE_BREAK_GLASS: &str = "workspace.breakGlass";
/// `workspace.sessions`: [`crate::NameParams`] → `[SshSession]`.
pub const WORKSPACE_SESSIONS: &str = "workspace.sessions";
/// `workspace.leave`: [`crate::NameParams`] → `null`; ends the caller's own share.
pub const WORKSPACE_LEAVE: &str = "workspace.leave";
/// `audit.list`: [`crate::team::AuditListParams`] → `[AuditEntry]`.
pub const AUDIT_LIST: &str = "audit.list";
/// `audit.verify`: `{}` → [`crate::team::AuditVerify`].
pub const AUDIT_VERIFY: &str = "audit.verify";

/// `GET /fs/read?workspace=W&path=P[&offset=N][&length=N]`: not a JSON-RPC
/// method but a plain HTTP route on the same port and token, for reading
/// large files fast. The answer's body is the file's raw bytes (no JSON, no
/// base64, no size limit: it streams), `length` bytes from `offset` (the rest
/// of the file when absent); its `Content-Length` is that count and the
/// `X-Nexus-File-Size` header the whole file's size. Query values are
/// percent-encoded (`application/x-www-form-urlencoded`). A failure is an
/// HTTP 4xx/5xx whose body is a JSON-RPC error response (`code`, `message`,
/// `data.kind`) as `fs.readFile` would return it.
pub const HTTP_FS_READ: &str = "/fs/read";
/// The header of [`HTTP_FS_READ`] answers carrying the file's whole size, in bytes.
pub const HTTP_FILE_SIZE_HEADER: &str = "x-nexus-file-size";
/// `GET /metrics`: the daemon's metrics in the OpenMetrics text format
/// (team mode: site admins only).
pub const HTTP_METRICS: &str = "/metrics";
