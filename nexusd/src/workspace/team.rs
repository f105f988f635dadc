//! Team mode: who a caller is ([`Manager::authenticate`]), what they may do
//! ([`Manager::authorize`], one function for every method, from the
//! permission each method declares in `nexus_sdk::team::permission`), logins,
//! people, tokens, shares and the audit log.
//!
//! A workspace a caller may not see is answered as a missing one
//! (`not_found`); one they see but may not act on as `forbidden`. Secrets
//! (passwords, tokens, challenges' signatures) never reach an error, a log
//! line or the audit log.

use super::{Manager, now};
use crate::credentials::{self, AuditFields};
use crate::error::{Result, WorkspaceError};
use crate::store::WorkspaceRecord;
use crate::store::team::{AuditFilter, TokenRecord, UserRecord};
use nexus_sdk::team::{
    AuditEntry, AuditListParams, AuditVerify, Challenge, LOGIN_NAMESPACE, LoginParams, Mode, NewToken, Permission,
    Role, Scope, Share, ShareParams, TokenCreateParams, TokenInfo, TokenKind, User, UserAddParams, UserKey, UserStatus,
    WhoAmI,
};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A session lasts this long after its last use.
const SESSION_IDLE: i64 = 12 * 3600;
/// A challenge is good this long.
const CHALLENGE_TTL: Duration = Duration::from_secs(60);
/// Failed logins of one name or key allowed per [`FAILURE_WINDOW`].
const MAX_FAILURES: u32 = 5;
/// The window failed logins are counted in.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Audit rows are kept this long by default.
pub const AUDIT_RETENTION_DAYS: i64 = 90;

/// Team mode's state of a running daemon.
pub struct Team {
    /// The audit chain's HMAC key (`DATA_DIR/audit.key`, 0600, outside the database).
    audit_key: Vec<u8>,
    /// Open challenges and when they were made.
    challenges: Mutex<HashMap<String, Instant>>,
    /// Failed logins by name or key fingerprint: count and window start.
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Team {
    /// Team mode with the audit key of `data_dir` (made when missing).
    pub fn open(data_dir: &std::path::Path) -> Result<Team> {
        Ok(Team {
            audit_key: audit_key(data_dir)?,
            challenges: Mutex::default(),
            failures: Mutex::default(),
        })
    }
}

/// The audit key of `data_dir`, made (32 random bytes, hex, 0600) when missing.
pub fn audit_key(data_dir: &std::path::Path) -> Result<Vec<u8>> {
    let path = data_dir.join("audit.key");
    match std::fs::read_to_string(&path) {
        Ok(k) if !k.trim().is_empty() => Ok(k.trim().as_bytes().to_vec()),
        _ => {
            let k = crate::keys::random_hex(32);
            crate::keys::write_private(&path, k.as_bytes())?;
            Ok(k.into_bytes())
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Single-user mode: the daemon's own token; everything is allowed.
    Local,
    /// Team mode, no token.
    Anonymous,
    /// Team mode: a person's token.
    Person(Session),
}

impl Caller {
    /// The name the audit log gives this caller.
    pub fn actor(&self) -> &str {
        match self {
            Caller::Local => "local",
            Caller::Anonymous => "-",
            Caller::Person(s) => &s.user,
        }
    }

    /// The person's id, in team mode.
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Caller::Person(s) => Some(s.user_id),
            _ => None,
        }
    }
}

/// A person's checked token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The token's row.
    pub token_id: i64,
    /// Session or API token.
    pub kind: TokenKind,
    /// The person.
    pub user_id: i64,
    /// Their name.
    pub user: String,
    /// A site admin.
    pub admin: bool,
    /// What the token may do (never above the person's role).
    pub scopes: Vec<Scope>,
    /// The only workspaces it may act on.
    pub workspaces: Option<Vec<String>>,
}

/// How a person stands to one workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Its creator.
    Creator,
    /// Shared with them.
    Shared(Role),
    /// A site admin who is neither: sees, stops and removes; no shell.
    Admin,
}

fn scopes_of(text: &str) -> Vec<Scope> {
    text.split_whitespace().filter_map(Scope::parse).collect()
}

/// What a session (a sign-in) may do: everything a person may, and
/// `admin` for a site admin.
fn session_scopes(user: &UserRecord) -> Vec<Scope> {
    let mut scopes = vec![
        Scope::WorkspaceRead,
        Scope::WorkspaceWrite,
        Scope::WorkspaceCreate,
        Scope::WorkspaceShare,
    ];
    if user.admin {
        scopes.push(Scope::Admin);
    }
    scopes
}

fn scopes_text(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

fn token_info(t: &TokenRecord) -> TokenInfo {
    TokenInfo {
        id: t.id as u64,
        kind: if t.kind == "session" {
            TokenKind::Session
        } else {
            TokenKind::Api
        },
        name: t.name.clone(),
        scopes: scopes_of(&t.scopes),
        workspaces: t.workspaces.as_ref().map(|w| w.lines().map(str::to_string).collect()),
        expires_at: t.expires_at.map(|e| e as u64),
        created_at: t.created_at as u64,
    }
}

/// Checks a person's or organization's name: `[a-z0-9-]{2,32}`; `field`
/// names it in the error.
pub(super) fn check_name(field: &str, name: &str) -> Result<()> {
    let ok = (2..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(WorkspaceError::InvalidParams(format!(
            "{field}: {name:?} is not 2 to 32 of a-z, 0-9 and -"
        )))
    }
}

/// Checks a person's name.
fn check_user_name(name: &str) -> Result<()> {
    check_name("name", name)
}

/// Sets the limits given (0: no limit) of quota `q`.
///
/// Errors: `InvalidParams` naming a value that is no number of CPUs or no size.
pub(super) fn set_limits(
    q: &mut crate::store::team::QuotaRecord,
    workspaces: Option<u32>,
    cpus: Option<f64>,
    memory: Option<&str>,
    storage: Option<&str>,
) -> Result<()> {
    let size = |field: &str, text: &str| {
        nexus_devcontainer::container_options::parse_bytes(text)
            .map(|b| (b > 0).then_some(b as i64))
            .ok_or_else(|| WorkspaceError::InvalidParams(format!("{field}: {text:?} is not a size such as 8g or 512m")))
    };
    if let Some(w) = workspaces {
        q.workspaces = (w > 0).then_some(i64::from(w));
    }
    if let Some(c) = cpus {
        if !(c.is_finite() && c >= 0.0) {
            return Err(WorkspaceError::InvalidParams(format!(
                "cpus: {c} is not a number of CPUs"
            )));
        }
        q.cpus = (c > 0.0).then_some((c * 1e9) as i64);
    }
    if let Some(m) = memory {
        q.memory = size("memory", m)?;
    }
    if let Some(m) = storage {
        q.storage = size("storage", m)?;
    }
    Ok(())
}

/// The wire form of a quota.
pub(super) fn quota_wire(q: crate::store::team::QuotaRecord) -> nexus_sdk::team::UserQuota {
    nexus_sdk::team::UserQuota {
        workspaces: q.workspaces.map(|w| w as u32),
        cpus: q.cpus.map(|c| c as f64 / 1e9),
        memory: q.memory.map(|m| m as u64),
        storage: q.storage.map(|m| m as u64),
    }
}

/// The wire form of a usage.
pub(super) fn usage_wire(u: crate::store::team::UsageRecord) -> nexus_sdk::team::UserUsage {
    nexus_sdk::team::UserUsage {
        workspaces: u.workspaces as u32,
        cpus: u.cpus as f64 / 1e9,
        memory: u.memory as u64,
        storage: u.storage as u64,
    }
}

/// Refuses a share above editor by anyone but the creator (`creator`:
/// whether the caller created the workspace).
fn share_cap(creator: bool, permission: Role) -> Result<()> {
    if !creator && permission > Role::Editor {
        return Err(WorkspaceError::Forbidden(
            "permission: a shared owner may share as viewer or editor only".into(),
        ));
    }
    Ok(())
}

/// How long a share or token lasts, in seconds, from `expires` (`8h`,
/// `30d`; absent: until ended). Errors: `InvalidParams` naming `expires`.
fn parse_expiry(expires: Option<&str>) -> Result<Option<i64>> {
    expires
        .map(|e| nexus_sdk::team::parse_duration(e).map(|d| d as i64))
        .transpose()
        .map_err(|m| WorkspaceError::InvalidParams(format!("expires: {m}")))
}

fn unknown_user(name: &str) -> WorkspaceError {
    WorkspaceError::InvalidParams(format!("user: no person named {name:?} (nexus user list shows them)"))
}

impl Manager {
    /// Single-user or team mode.
    pub fn mode(&self) -> Mode {
        if self.team.is_some() { Mode::Team } else { Mode::Single }
    }

    fn team(&self) -> Result<&Team> {
        self.team.as_ref().ok_or_else(|| {
            WorkspaceError::InvalidParams(
                "this daemon is in single-user mode: turn on team mode with `nexusd admin init` while it is stopped"
                    .into(),
            )
        })
    }

    /// Who presents bearer token `bearer` in team mode: anonymous without
    /// one; checked against revocation, expiry and the person's status on
    /// every call. A session's expiry slides with use.
    ///
    /// Errors: `Unauthorized` for a malformed, unknown, revoked or expired
    /// token or a suspended person (the message says what to do).
    pub fn authenticate(&self, bearer: Option<&str>) -> Result<Caller> {
        if self.team.is_none() {
            return Ok(Caller::Local);
        }
        let Some(token) = bearer else {
            return Ok(Caller::Anonymous);
        };
        let legacy = token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit());
        if !legacy {
            credentials::parse_token(token)
                .map_err(|m| WorkspaceError::Unauthorized(format!("{m}: sign in again with `nexus auth login`")))?;
        }
        let refused = || {
            WorkspaceError::Unauthorized(
                "the token is unknown, revoked or expired: sign in again with `nexus auth login`".into(),
            )
        };
        let t = self
            .store
            .token_by_digest(&credentials::digest(token))?
            .ok_or_else(refused)?;
        let now = now();
        if t.revoked || t.expires_at.is_some_and(|e| e <= now) {
            return Err(refused());
        }
        let user = self.store.user_by_id(t.user_id)?.ok_or_else(refused)?;
        if user.suspended {
            return Err(WorkspaceError::Unauthorized(format!(
                "{} is suspended: ask a site admin to resume the account",
                user.name
            )));
        }
        if t.kind == "session" && t.last_used_at.is_none_or(|l| now - l >= 60) {
            self.store.touch_token(t.id, now, Some(now + SESSION_IDLE))?;
        }
        let mut scopes = scopes_of(&t.scopes);
        if !user.admin {
            scopes.retain(|s| *s != Scope::Admin);
        }
        Ok(Caller::Person(Session {
            token_id: t.id,
            kind: if t.kind == "session" {
                TokenKind::Session
            } else {
                TokenKind::Api
            },
            user_id: user.id,
            user: user.name,
            admin: user.admin,
            scopes,
            workspaces: t.workspaces.map(|w| w.lines().map(str::to_string).collect()),
        }))
    }

    fn access(&self, r: &WorkspaceRecord, s: &Session) -> Result<Option<Access>> {
        if r.owner_id == Some(s.user_id) {
            return Ok(Some(Access::Creator));
        }
        if let Some(p) = self.store.share_of(&r.id, s.user_id, now())? {
            return Ok(Role::parse(&p).map(Access::Shared));
        }
        Ok((s.admin || self.org_admin_of(r, s.user_id)?).then_some(Access::Admin))
    }

    /// Whether `caller` may call `method` on `workspace` (the one the
    /// parameters name, if any).
    ///
    /// Errors: `Unauthorized` (team mode, no token, a method that needs
    /// one); `NotFound` for a workspace the caller may not see (exactly as
    /// for a missing one); `Forbidden` naming the permission; a method with
    /// no declared permission is `Forbidden` too.
    pub fn authorize(&self, caller: &Caller, method: &str, workspace: Option<&str>) -> Result<()> {
        let s = match caller {
            Caller::Local => return Ok(()),
            Caller::Anonymous => {
                return match nexus_sdk::team::permission(method) {
                    Some(Permission::Anonymous) => Ok(()),
                    _ => Err(WorkspaceError::Unauthorized(
                        "sign in first: `nexus auth login` (or send a token as `Authorization: Bearer …`)".into(),
                    )),
                };
            }
            Caller::Person(s) => s,
        };
        let Some(permission) = nexus_sdk::team::permission(method) else {
            return Err(WorkspaceError::Forbidden(format!(
                "{method} declares no permission, so nobody may call it in team mode"
            )));
        };
        if permission == Permission::Admin && !s.admin {
            return Err(WorkspaceError::Forbidden(format!("{method} is for site admins")));
        }
        if let Some(scope) = permission.scope()
            && !s.scopes.contains(&scope)
        {
            return Err(WorkspaceError::Forbidden(format!(
                "{method} needs a token with scope {}: this one has {}",
                scope.as_str(),
                if s.scopes.is_empty() {
                    "none".to_string()
                } else {
                    scopes_text(&s.scopes)
                }
            )));
        }
        let needs_workspace = matches!(
            permission,
            Permission::View | Permission::Edit | Permission::Stop | Permission::Share | Permission::Remove
        );
        match permission {
            Permission::Anonymous | Permission::Authenticated => return Ok(()),
            Permission::Admin => {
                return if s.admin {
                    Ok(())
                } else {
                    Err(WorkspaceError::Forbidden(format!("{method} is for site admins")))
                };
            }
            Permission::Create => {
                return Ok(());
            }
            _ => {}
        }
        debug_assert!(needs_workspace);
        let name = workspace.ok_or_else(|| WorkspaceError::InvalidParams("workspace: missing".into()))?;
        if s.workspaces.as_ref().is_some_and(|w| !w.iter().any(|x| x == name)) {
            return Err(WorkspaceError::NotFound(name.to_string()));
        }
        let r = self.store.get(name)?;
        let access = self
            .access(&r, s)?
            .ok_or_else(|| WorkspaceError::NotFound(name.to_string()))?;
        let allowed = match (permission, access) {
            (_, Access::Creator) => true,
            (Permission::View, _) => true,
            (Permission::Stop | Permission::Remove, Access::Admin) => true,
            (Permission::Edit | Permission::Stop, Access::Shared(role)) => role >= Role::Editor,
            (Permission::Share, Access::Shared(role)) => role >= Role::Owner,
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            let need = match permission {
                Permission::Edit => "editor or more",
                Permission::Stop => "editor or more (or a site admin)",
                Permission::Share => "owner",
                Permission::Remove => "its creator (or a site admin)",
                _ => "more",
            };
            let have = match access {
                Access::Shared(role) => role.as_str(),
                Access::Admin => "site admin without a share",
                Access::Creator => "creator",
            };
            Err(WorkspaceError::Forbidden(format!(
                "{method} on {name} needs {need}; you are {have}"
            )))
        }
    }

    /// Whether `caller` may still call `method` on `workspace`: their token
    /// not revoked or expired, their account not suspended, and
    /// [`Manager::authorize`] still passing (a share may have ended). For
    /// subscriptions, which outlive the call that opened them.
    pub fn still_allowed(&self, caller: &Caller, method: &str, workspace: Option<&str>) -> bool {
        let Caller::Person(s) = caller else { return true };
        let token_ok = self
            .store
            .token(s.token_id)
            .ok()
            .flatten()
            .is_some_and(|t| !t.revoked && t.expires_at.is_none_or(|e| e > now()));
        let user_ok = self
            .store
            .user_by_id(s.user_id)
            .ok()
            .flatten()
            .is_some_and(|u| !u.suspended);
        token_ok && user_ok && self.authorize(caller, method, workspace).is_ok()
    }

    /// The records `caller` may see, of `records`.
    pub fn visible(&self, caller: &Caller, records: Vec<WorkspaceRecord>) -> Result<Vec<WorkspaceRecord>> {
        let s = match caller {
            Caller::Local => return Ok(records),
            Caller::Anonymous => return Ok(Vec::new()),
            Caller::Person(s) => s,
        };
        if !s.scopes.contains(&Scope::WorkspaceRead) {
            return Ok(Vec::new());
        }
        let shared: std::collections::HashSet<String> = self
            .store
            .shares_with(s.user_id, now())?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        Ok(records
            .into_iter()
            .filter(|r| {
                s.admin
                    || r.owner_id == Some(s.user_id)
                    || shared.contains(&r.id)
                    || self.org_admin_of(r, s.user_id).unwrap_or(false)
            })
            .filter(|r| s.workspaces.as_ref().is_none_or(|w| w.contains(&r.name)))
            .collect())
    }

    /// Whether `caller` may see workspace `name` (events of others are not sent).
    pub fn may_see(&self, caller: &Caller, name: &str) -> bool {
        match caller {
            Caller::Local => true,
            Caller::Anonymous => false,
            Caller::Person(_) => self
                .authorize(caller, nexus_sdk::methods::WORKSPACE_GET, Some(name))
                .is_ok(),
        }
    }

    /// Writes one audit row (team mode; nothing in single-user mode). A
    /// failure to write is logged, never the caller's error.
    pub fn audit(&self, actor: &str, action: &str, target: &str, outcome: &str, detail: &str) {
        let Some(team) = &self.team else { return };
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let key = &team.audit_key;
        let written = self
            .store
            .append_audit(at, actor, action, target, outcome, detail, |seq, previous| {
                credentials::audit_mac(
                    key,
                    previous,
                    &AuditFields {
                        seq: seq as u64,
                        at: at as u64,
                        actor,
                        action,
                        target,
                        outcome,
                        detail,
                    },
                )
            });
        if let Err(e) = written {
            tracing::error!("cannot write the audit log: {e}");
        }
    }

    /// Turns the SSH session events the agents appended since the last
    /// pass (`ssh-events.jsonl` in each relay socket directory) into audit
    /// rows `ssh.open`/`ssh.close` with the person, workspace, key and
    /// client address. How far each file was read is kept beside it
    /// (`ssh-events.read`), so a restarted daemon neither repeats nor
    /// misses rows.
    pub fn audit_ssh_events(&self) {
        if self.team.is_none() {
            return;
        }
        for r in self.store.list().unwrap_or_default() {
            let dir = crate::relay::socket_dir(&self.config.data_dir, &r.id);
            let Ok(text) = std::fs::read(dir.join("ssh-events.jsonl")) else {
                continue;
            };
            let done: usize = std::fs::read_to_string(dir.join("ssh-events.read"))
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            if done >= text.len() {
                continue;
            }
            // whole lines only: the agent may be writing the last one
            let Some(end) = text[done..].iter().rposition(|b| *b == b'\n').map(|i| done + i + 1) else {
                continue;
            };
            for line in text[done..end].split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
                    continue;
                };
                let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
                let action = if field("event") == "close" {
                    "ssh.close"
                } else {
                    "ssh.open"
                };
                let detail = format!("key={} from={}", field("fingerprint"), field("peer"));
                self.audit(&field("user"), action, &r.name, "ok", &detail);
            }
            if let Err(e) = std::fs::write(dir.join("ssh-events.read"), end.to_string()) {
                tracing::error!(workspace = %r.name, "cannot record how far the SSH events were read: {e}");
            }
        }
    }

    /// `auth.challenge`: a one-time challenge for a key login.
    pub fn challenge(&self) -> Result<Challenge> {
        let team = self.team()?;
        let challenge = crate::keys::random_hex(32);
        let mut open = team.challenges.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, made| made.elapsed() < CHALLENGE_TTL);
        if open.len() >= 10_000 {
            return Err(WorkspaceError::RateLimited(
                "too many open login challenges: try again in a minute".into(),
            ));
        }
        open.insert(challenge.clone(), Instant::now());
        Ok(Challenge {
            challenge,
            namespace: LOGIN_NAMESPACE.into(),
        })
    }

    fn limited(&self, team: &Team, who: &str) -> Result<()> {
        let failures = team.failures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((n, since)) = failures.get(who)
            && *n >= MAX_FAILURES
            && since.elapsed() < FAILURE_WINDOW
        {
            let wait = FAILURE_WINDOW.saturating_sub(since.elapsed()).as_secs() + 1;
            return Err(WorkspaceError::RateLimited(format!(
                "too many failed logins: try again in {wait} s"
            )));
        }
        Ok(())
    }

    fn failed(&self, team: &Team, who: &str) {
        let mut failures = team.failures.lock().unwrap_or_else(|p| p.into_inner());
        let entry = failures.entry(who.to_string()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= FAILURE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    /// `auth.login`: a session for the person whose key signed the
    /// challenge, or whose name and password match. Returns the session
    /// and who it is (for the audit log, even when it fails).
    ///
    /// Errors: `InvalidParams` for missing fields; `Unauthorized` for a bad
    /// signature, an unknown key, a wrong name or password, or a suspended
    /// person; `RateLimited` after 5 failures of one name or key in a minute.
    pub fn login(&self, p: LoginParams) -> (String, Result<NewToken>) {
        let team = match self.team() {
            Ok(t) => t,
            Err(e) => return (String::new(), Err(e)),
        };
        let refused = || WorkspaceError::Unauthorized("wrong name, password or key".into());
        let (who, user) = match (&p.challenge, &p.signature, &p.user, &p.password) {
            (Some(challenge), Some(signature), None, None) => {
                let fresh = team
                    .challenges
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(challenge)
                    .is_some_and(|made| made.elapsed() < CHALLENGE_TTL);
                if !fresh {
                    return (
                        "-".into(),
                        Err(WorkspaceError::Unauthorized(
                            "challenge: unknown, used or older than 60 s; ask auth.challenge for a new one".into(),
                        )),
                    );
                }
                let fingerprint = match credentials::verify_login(challenge, signature) {
                    Ok(f) => f,
                    Err(m) => return ("-".into(), Err(WorkspaceError::Unauthorized(m))),
                };
                if let Err(e) = self.limited(team, &fingerprint) {
                    return (fingerprint, Err(e));
                }
                match self.store.user_by_key(&fingerprint) {
                    Ok(Some(u)) => (u.name.clone(), u),
                    Ok(None) => {
                        self.failed(team, &fingerprint);
                        return (
                            format!("- key {fingerprint}"),
                            Err(WorkspaceError::Unauthorized(format!(
                                "the key {fingerprint} belongs to nobody here: ask a site admin to add it (nexus user key add)"
                            ))),
                        );
                    }
                    Err(e) => return ("-".into(), Err(e.into())),
                }
            }
            (None, None, Some(name), Some(password)) => {
                if let Err(m) = credentials::check_password(password) {
                    return ("-".into(), Err(WorkspaceError::InvalidParams(m)));
                }
                let who = name.to_ascii_lowercase();
                if let Err(e) = self.limited(team, &who) {
                    return (who, Err(e));
                }
                let user = match self.store.user(name) {
                    Ok(u) => u,
                    Err(e) => return (who, Err(e.into())),
                };
                let hash = user
                    .as_ref()
                    .and_then(|u| u.password_hash.clone())
                    .unwrap_or_else(|| credentials::decoy_hash().to_string());
                let matches = credentials::verify_password(password, &hash);
                match user {
                    Some(u) if matches && u.password_hash.is_some() => (u.name.clone(), u),
                    _ => {
                        self.failed(team, &who);
                        return (who, Err(refused()));
                    }
                }
            }
            _ => {
                return (
                    "-".into(),
                    Err(WorkspaceError::InvalidParams(
                        "give either challenge and signature, or user and password".into(),
                    )),
                );
            }
        };
        if user.suspended {
            return (
                who,
                Err(WorkspaceError::Unauthorized(format!(
                    "{} is suspended: ask a site admin to resume the account",
                    user.name
                ))),
            );
        }
        let made = self.issue_session(&user, "login");
        (who, made)
    }

    /// A session token of `user` (a sign-in), named `name`.
    pub(super) fn issue_session(&self, user: &UserRecord, name: &str) -> Result<NewToken> {
        self.issue(
            user,
            TokenKind::Session,
            name,
            &session_scopes(user),
            None,
            Some(SESSION_IDLE),
        )
    }

    pub(super) fn issue(
        &self,
        user: &UserRecord,
        kind: TokenKind,
        name: &str,
        scopes: &[Scope],
        workspaces: Option<&[String]>,
        lasts: Option<i64>,
    ) -> Result<NewToken> {
        let secret = credentials::new_token(kind);
        let now = now();
        let t = self.store.insert_token(
            user.id,
            if kind == TokenKind::Session { "session" } else { "api" },
            &credentials::digest(&secret),
            name,
            &scopes_text(scopes),
            workspaces.map(|w| w.join("\n")).as_deref(),
            lasts.map(|l| now + l),
            now,
        )?;
        Ok(NewToken {
            token: secret,
            info: token_info(&t),
            user: user.name.clone(),
        })
    }

    fn person(&self, caller: &Caller) -> Result<Session> {
        self.team()?;
        match caller {
            Caller::Person(s) => Ok(s.clone()),
            _ => Err(WorkspaceError::Unauthorized("sign in first: `nexus auth login`".into())),
        }
    }

    /// `auth.logout`: revokes the calling token.
    pub fn logout(&self, caller: &Caller) -> Result<()> {
        let s = self.person(caller)?;
        Ok(self.store.revoke_token(s.token_id)?)
    }

    /// `auth.whoami`.
    pub fn whoami(&self, caller: &Caller) -> Result<WhoAmI> {
        match caller {
            Caller::Person(s) => {
                let user = self
                    .store
                    .user_by_id(s.user_id)?
                    .map(|u| self.user_wire(&u))
                    .transpose()?;
                let token = self.store.token(s.token_id)?.map(|t| token_info(&t));
                Ok(WhoAmI {
                    mode: Mode::Team,
                    user,
                    token,
                })
            }
            _ => Ok(WhoAmI {
                mode: self.mode(),
                user: None,
                token: None,
            }),
        }
    }

    fn user_wire(&self, u: &UserRecord) -> Result<User> {
        Ok(User {
            name: u.name.clone(),
            admin: u.admin,
            status: if u.suspended {
                UserStatus::Suspended
            } else {
                UserStatus::Active
            },
            has_password: u.password_hash.is_some(),
            keys: self
                .store
                .user_keys(u.id)?
                .into_iter()
                .map(|(fingerprint, public_key)| UserKey {
                    fingerprint,
                    public_key,
                })
                .collect(),
            allowed: u.allowed.clone(),
            quota: quota_wire(self.store.quota(crate::store::team::QuotaScope::User(u.id))?),
            usage: usage_wire(self.store.usage(crate::store::team::QuotaScope::User(u.id))?),
            created_at: u.created_at as u64,
        })
    }

    /// `user.policy` (site admins). Errors: `InvalidParams` naming an
    /// unknown person or setting.
    pub fn user_policy(&self, name: &str, allow: &[String]) -> Result<User> {
        self.team()?;
        let u = self.named(name)?;
        if let Some(bad) = allow
            .iter()
            .find(|a| !nexus_sdk::team::HOST_PROPERTIES.contains(&a.as_str()))
        {
            return Err(WorkspaceError::InvalidParams(format!(
                "allow: {bad:?} is not a host-acting setting; those are {}",
                nexus_sdk::team::HOST_PROPERTIES.join(", ")
            )));
        }
        let mut allow = allow.to_vec();
        allow.sort();
        allow.dedup();
        self.store.set_allowed(u.id, &allow)?;
        self.user_wire(&self.named(name)?)
    }

    /// Refuses, in team mode, the first of `effects` the workspace creator
    /// `owner_id` is not allowed; nothing in single-user mode.
    ///
    /// Errors: `InvalidConfig` naming the property, what it does, and how a
    /// site admin allows it.
    pub(super) fn check_host_effects(
        &self,
        owner_id: Option<i64>,
        effects: &[nexus_devcontainer::container_options::HostEffect],
    ) -> Result<()> {
        if self.team.is_none() || effects.is_empty() {
            return Ok(());
        }
        let owner = match owner_id {
            Some(id) => self.store.user_by_id(id)?,
            None => None,
        };
        let allowed = owner.as_ref().map(|u| u.allowed.clone()).unwrap_or_default();
        match effects.iter().find(|e| !allowed.iter().any(|a| a == e.property)) {
            None => Ok(()),
            Some(e) => Err(WorkspaceError::InvalidConfig(format!(
                "{} acts on the server ({}), which team mode refuses: remove it, or ask a site admin to allow it for you (nexus user policy {} --allow {})",
                e.property,
                e.detail,
                owner.as_ref().map(|u| u.name.as_str()).unwrap_or("NAME"),
                e.property
            ))),
        }
    }

    fn named(&self, name: &str) -> Result<UserRecord> {
        self.store.user(name)?.ok_or_else(|| unknown_user(name))
    }

    /// `user.add` (site admins).
    ///
    /// Errors: `InvalidParams` naming the field: a bad name, one taken in
    /// any case, a key that is no key or belongs to someone, a bad password.
    pub fn user_add(&self, p: UserAddParams) -> Result<User> {
        self.team()?;
        check_user_name(&p.name)?;
        let keys = p
            .keys
            .iter()
            .map(|k| credentials::public_key(k).map_err(WorkspaceError::InvalidParams))
            .collect::<Result<Vec<_>>>()?;
        let hash = p
            .password
            .as_deref()
            .map(|pw| credentials::hash_password(pw).map_err(WorkspaceError::InvalidParams))
            .transpose()?;
        let u = self.store.add_user(&p.name, p.admin, hash.as_deref(), &keys, now())?;
        self.user_wire(&u)
    }

    /// `user.list` (site admins).
    pub fn user_list(&self) -> Result<Vec<User>> {
        self.team()?;
        self.store.users()?.iter().map(|u| self.user_wire(u)).collect()
    }

    /// `user.suspend` / `user.resume` (site admins): a suspended person's
    /// tokens are refused at their next call.
    pub fn user_suspend(&self, caller: &Caller, name: &str, suspended: bool) -> Result<User> {
        self.team()?;
        let u = self.named(name)?;
        if suspended && caller.user_id() == Some(u.id) {
            return Err(WorkspaceError::InvalidParams(
                "user: you cannot suspend yourself; ask another site admin".into(),
            ));
        }
        self.store.set_suspended(u.id, suspended)?;
        self.write_all_access();
        self.user_wire(&self.named(name)?)
    }

    /// `user.remove` (site admins). Errors: `InvalidParams` while they
    /// created a workspace, or for yourself.
    pub fn user_remove(&self, caller: &Caller, name: &str) -> Result<()> {
        self.team()?;
        let u = self.named(name)?;
        if caller.user_id() == Some(u.id) {
            return Err(WorkspaceError::InvalidParams(
                "user: you cannot remove yourself; ask another site admin".into(),
            ));
        }
        self.store.remove_user(u.id)?;
        self.write_all_access();
        Ok(())
    }

    fn key_owner(&self, caller: &Caller, user: Option<&str>) -> Result<UserRecord> {
        let s = self.person(caller)?;
        match user {
            Some(name) if !name.eq_ignore_ascii_case(&s.user) => {
                if !s.admin {
                    return Err(WorkspaceError::Forbidden(
                        "only site admins manage other people's keys".into(),
                    ));
                }
                self.named(name)
            }
            _ => self.named(&s.user),
        }
    }

    /// `user.key.add`: a key for yourself, or (site admins) for anyone.
    pub fn user_key_add(&self, caller: &Caller, user: Option<&str>, key: &str) -> Result<User> {
        let u = self.key_owner(caller, user)?;
        let (fp, line) = credentials::public_key(key).map_err(WorkspaceError::InvalidParams)?;
        self.store.add_key(u.id, &fp, &line, now())?;
        self.write_all_access();
        self.user_wire(&u)
    }

    /// `user.key.remove`: by key or fingerprint.
    pub fn user_key_remove(&self, caller: &Caller, user: Option<&str>, key: &str) -> Result<User> {
        let u = self.key_owner(caller, user)?;
        let fp = if key.trim().starts_with("SHA256:") {
            key.trim().to_string()
        } else {
            credentials::public_key(key).map_err(WorkspaceError::InvalidParams)?.0
        };
        if !self.store.remove_key(u.id, &fp)? {
            return Err(WorkspaceError::InvalidParams(format!(
                "key: {} has no key {fp}",
                u.name
            )));
        }
        self.write_all_access();
        self.user_wire(&u)
    }

    /// `token.create`: an API token of the caller, with at most the
    /// caller's scopes. Errors: `Forbidden` for an API token (tokens cannot
    /// make tokens) or a scope above the caller's; `InvalidParams` for a bad
    /// name, expiry or workspace.
    pub fn token_create(&self, caller: &Caller, p: TokenCreateParams) -> Result<NewToken> {
        let s = self.person(caller)?;
        if s.kind == TokenKind::Api {
            return Err(WorkspaceError::Forbidden(
                "an API token cannot make tokens: sign in with `nexus auth login`".into(),
            ));
        }
        if p.name.trim().is_empty() || p.name.len() > 64 {
            return Err(WorkspaceError::InvalidParams("name: give 1 to 64 characters".into()));
        }
        if p.scopes.is_empty() {
            return Err(WorkspaceError::InvalidParams(
                "scopes: give at least one (workspace:read, workspace:write, workspace:create, workspace:share, admin)"
                    .into(),
            ));
        }
        if let Some(above) = p.scopes.iter().find(|x| !s.scopes.contains(x)) {
            return Err(WorkspaceError::Forbidden(format!(
                "scopes: {} is above what you may do",
                above.as_str()
            )));
        }
        let lasts = parse_expiry(p.expires.as_deref())?;
        if let Some(w) = &p.workspaces {
            for name in w {
                self.authorize(caller, nexus_sdk::methods::WORKSPACE_GET, Some(name))
                    .map_err(|_| {
                        WorkspaceError::InvalidParams(format!("workspaces: no workspace {name:?} you may see"))
                    })?;
            }
        }
        let user = self.named(&s.user)?;
        let mut scopes = p.scopes.clone();
        scopes.sort();
        scopes.dedup();
        self.issue(
            &user,
            TokenKind::Api,
            p.name.trim(),
            &scopes,
            p.workspaces.as_deref(),
            lasts,
        )
    }

    /// `token.list`: the caller's tokens.
    pub fn token_list(&self, caller: &Caller) -> Result<Vec<TokenInfo>> {
        let s = self.person(caller)?;
        Ok(self.store.tokens_of(s.user_id)?.iter().map(token_info).collect())
    }

    /// `token.revoke`: one of the caller's tokens (site admins: anyone's).
    pub fn token_revoke(&self, caller: &Caller, id: u64) -> Result<()> {
        let s = self.person(caller)?;
        let t = self
            .store
            .token(id as i64)?
            .filter(|t| s.admin || t.user_id == s.user_id)
            .ok_or_else(|| WorkspaceError::InvalidParams(format!("id: you have no token {id}")))?;
        Ok(self.store.revoke_token(t.id)?)
    }

    /// `workspace.share`. Errors: `InvalidParams` for an unknown person,
    /// yourself or the creator, or a bad expiry; `Forbidden` when a shared
    /// owner gives more than editor.
    pub fn share(&self, caller: &Caller, p: &ShareParams) -> Result<Share> {
        let s = self.person(caller)?;
        let r = self.store.get(&p.workspace)?;
        if let Some(team) = p.user.strip_prefix('@') {
            return self.share_with_team(&s, &r, team, p);
        }
        let grantee = self.named(&p.user)?;
        if grantee.id == s.user_id {
            return Err(WorkspaceError::InvalidParams(
                "user: you cannot share with yourself".into(),
            ));
        }
        if r.owner_id == Some(grantee.id) {
            return Err(WorkspaceError::InvalidParams(format!(
                "user: {} created {}; creators need no share",
                grantee.name, r.name
            )));
        }
        self.check_sharing(&r, Some(grantee.id))?;
        share_cap(r.owner_id == Some(s.user_id), p.permission)?;
        let lasts = parse_expiry(p.expires.as_deref())?;
        let now = now();
        self.store.put_share(
            &r.id,
            grantee.id,
            p.permission.as_str(),
            lasts.map(|l| now + l),
            s.user_id,
            now,
        )?;
        self.write_access(&r)?;
        Ok(Share {
            user: grantee.name,
            permission: p.permission,
            expires_at: lasts.map(|l| (now + l) as u64),
            created_by: s.user,
            created_at: now as u64,
            reason: None,
        })
    }

    /// `workspace.shareCode`: a code (`nxc_…`, shown once, only its
    /// SHA-256 kept) anyone signed in may redeem with `workspace.accept` for
    /// a share as `permission`, until it expires (default 1h) or is used
    /// `max_uses` times. Errors as `workspace.share`'s.
    pub fn share_code(
        &self,
        caller: &Caller,
        p: &nexus_sdk::team::ShareCodeParams,
    ) -> Result<nexus_sdk::team::ShareCode> {
        let s = self.person(caller)?;
        let r = self.store.get(&p.workspace)?;
        self.check_sharing(&r, None)?;
        share_cap(r.owner_id == Some(s.user_id), p.permission)?;
        let lasts = nexus_sdk::team::parse_duration(p.expires.as_deref().unwrap_or("1h"))
            .map_err(|m| WorkspaceError::InvalidParams(format!("expires: {m}")))? as i64;
        if p.max_uses == Some(0) {
            return Err(WorkspaceError::InvalidParams("maxUses: give at least 1".into()));
        }
        let code = credentials::new_share_code();
        let now = now();
        self.store.put_share_code(
            &credentials::digest(&code),
            &r.id,
            p.permission.as_str(),
            now + lasts,
            p.max_uses.map(i64::from),
            s.user_id,
            now,
        )?;
        Ok(nexus_sdk::team::ShareCode {
            code,
            workspace: r.name,
            permission: p.permission,
            expires_at: (now + lasts) as u64,
            max_uses: p.max_uses,
        })
    }

    /// `workspace.accept`: redeems a share code for the caller.
    ///
    /// Errors: `InvalidParams` for a malformed, unknown, expired or used-up
    /// code (one message for all, so codes cannot be probed), or for the
    /// workspace's creator.
    pub fn accept(&self, caller: &Caller, code: &str) -> Result<nexus_sdk::team::Accepted> {
        let s = self.person(caller)?;
        let refused = || {
            WorkspaceError::InvalidParams(
                "code: unknown, expired or used up: ask for a new one (nexus workspace share WS --code)".into(),
            )
        };
        if !credentials::is_share_code(code) {
            return Err(refused());
        }
        let now = now();
        let (workspace_id, permission) = self
            .store
            .redeem_share_code(&credentials::digest(code), s.user_id, now)?
            .ok_or_else(refused)?;
        let r = self
            .store
            .list()?
            .into_iter()
            .find(|r| r.id == workspace_id)
            .ok_or_else(refused)?;
        if permission == "creator" {
            return Err(WorkspaceError::InvalidParams(format!(
                "code: you created {}; creators need no share",
                r.name
            )));
        }
        // the org's policy may admit its members only
        if let Err(e) = self.check_sharing(&r, Some(s.user_id)) {
            self.store.delete_share(&r.id, s.user_id)?;
            return Err(e);
        }
        self.write_access(&r)?;
        Ok(nexus_sdk::team::Accepted {
            workspace: r.name,
            permission: Role::parse(&permission).unwrap_or(Role::Viewer),
        })
    }

    /// `workspace.transfer`: makes `user` the workspace's creator (within
    /// their quota); their share, if any, ends, and the old creator keeps
    /// nothing. Errors: `InvalidParams` for an unknown person or the
    /// creator themself; `QuotaExceeded`.
    pub fn transfer(&self, workspace: &str, user: &str) -> Result<()> {
        self.team()?;
        let r = self.store.get(workspace)?;
        let to = self.named(user)?;
        if r.owner_id == Some(to.id) {
            return Err(WorkspaceError::InvalidParams(format!(
                "user: {} created {workspace} already",
                to.name
            )));
        }
        self.store.transfer(&r, to.id)?;
        self.write_access(&self.store.get(workspace)?)
    }

    /// The id of team `name` of workspace `r`'s organization.
    ///
    /// Errors: `InvalidParams` when the workspace belongs to no
    /// organization or its organization has no such team.
    pub(super) fn team_of(&self, r: &WorkspaceRecord, name: &str) -> Result<i64> {
        let org = r.org_id.ok_or_else(|| {
            WorkspaceError::InvalidParams(format!(
                "user: @{name}: {} belongs to no organization, so it has no teams to share with",
                r.name
            ))
        })?;
        self.store
            .team_id(org, name)?
            .ok_or_else(|| WorkspaceError::InvalidParams(format!("user: its organization has no team {name:?}")))
    }

    fn share_with_team(&self, s: &Session, r: &WorkspaceRecord, team: &str, p: &ShareParams) -> Result<Share> {
        let id = self.team_of(r, team)?;
        self.check_sharing(r, None)?;
        share_cap(r.owner_id == Some(s.user_id), p.permission)?;
        let lasts = parse_expiry(p.expires.as_deref())?;
        let now = now();
        self.store
            .put_team_share(&r.id, id, p.permission.as_str(), lasts.map(|l| now + l), s.user_id, now)?;
        self.write_access(r)?;
        Ok(Share {
            user: format!("@{team}"),
            permission: p.permission,
            expires_at: lasts.map(|l| (now + l) as u64),
            created_by: s.user.clone(),
            created_at: now as u64,
            reason: None,
        })
    }

    /// `workspace.breakGlass`: a site or org admin without a share gets a
    /// time-limited editor share with a reason, shown to the owner in
    /// `workspace.shares` and kept in the audit log.
    ///
    /// Errors: `InvalidParams` for a reason that is too short or long or
    /// minutes out of range; `Forbidden` for anyone who is no admin of it
    /// (editors have a shell already).
    pub fn break_glass(&self, caller: &Caller, p: &nexus_sdk::team::BreakGlassParams) -> Result<Share> {
        let s = self.person(caller)?;
        let r = self.store.get(&p.workspace)?;
        if self.access(&r, &s)? != Some(Access::Admin) {
            return Err(WorkspaceError::Forbidden(
                "workspace.breakGlass is for site and org admins without a share: you can reach it already".into(),
            ));
        }
        let reason = p.reason.trim();
        if !(5..=500).contains(&reason.chars().count()) {
            return Err(WorkspaceError::InvalidParams(
                "reason: say why a shell is needed, in 5 to 500 characters".into(),
            ));
        }
        let minutes = p.minutes.unwrap_or(30);
        if !(1..=240).contains(&minutes) {
            return Err(WorkspaceError::InvalidParams("minutes: give 1 to 240".into()));
        }
        let now = now();
        let until = now + i64::from(minutes) * 60;
        self.store.put_break_glass(&r.id, s.user_id, until, reason, now)?;
        self.write_access(&r)?;
        Ok(Share {
            user: s.user.clone(),
            permission: Role::Editor,
            expires_at: Some(until as u64),
            created_by: s.user,
            created_at: now as u64,
            reason: Some(reason.to_string()),
        })
    }

    /// `workspace.unshare`. Errors: `InvalidParams` for an unknown person
    /// or one with no share.
    pub fn unshare(&self, workspace: &str, user: &str) -> Result<()> {
        self.team()?;
        let r = self.store.get(workspace)?;
        if let Some(team) = user.strip_prefix('@') {
            let id = self.team_of(&r, team)?;
            if !self.store.delete_team_share(&r.id, id)? {
                return Err(WorkspaceError::InvalidParams(format!(
                    "user: team {team} has no share of {workspace}"
                )));
            }
            return self.write_access(&r);
        }
        let u = self.named(user)?;
        if !self.store.delete_share(&r.id, u.id)? {
            return Err(WorkspaceError::InvalidParams(format!(
                "user: {} has no share of {workspace}",
                u.name
            )));
        }
        self.write_access(&r)
    }

    /// `workspace.leave`: ends the caller's own share.
    pub fn leave(&self, caller: &Caller, workspace: &str) -> Result<()> {
        let s = self.person(caller)?;
        let r = self.store.get(workspace)?;
        if !self.store.delete_share(&r.id, s.user_id)? {
            return Err(WorkspaceError::InvalidParams(format!(
                "workspace: {workspace} is not shared with you (creators remove it instead)"
            )));
        }
        self.write_access(&r)
    }

    /// `workspace.shares`.
    pub fn shares(&self, workspace: &str) -> Result<Vec<Share>> {
        self.team()?;
        let r = self.store.get(workspace)?;
        Ok(self
            .store
            .shares_of(&r.id, now())?
            .into_iter()
            .map(|x| Share {
                user: x.user,
                permission: Role::parse(&x.permission).unwrap_or(Role::Viewer),
                expires_at: x.expires_at.map(|e| e as u64),
                created_by: x.created_by,
                created_at: x.created_at as u64,
                reason: x.reason,
            })
            .collect())
    }

    /// Writes workspace `r`'s access list (team mode): `access.json` in its
    /// relay socket directory, which the agent reads at each login and
    /// watches (`nexusd/agent/src/access.rs`): the keys of its creator and
    /// of each editor or shared owner whose share is in force, with the
    /// person's name, role and when the access ends; suspended people are
    /// left out. Nothing without team mode or without that directory
    /// (workspaces made before the relay).
    pub(super) fn write_access(&self, r: &WorkspaceRecord) -> Result<()> {
        if self.team.is_none() {
            return Ok(());
        }
        let dir = crate::relay::socket_dir(&self.config.data_dir, &r.id);
        if !dir.is_dir() {
            return Ok(());
        }
        let mut entries = Vec::new();
        let mut add = |u: &UserRecord, role: &str, expires: Option<i64>| -> Result<()> {
            if u.suspended {
                return Ok(());
            }
            for (_, key) in self.store.user_keys(u.id)? {
                entries.push(serde_json::json!({
                    "key": key,
                    "user": u.name,
                    "role": role,
                    "expiresAt": expires,
                    "email": format!("{}@nexus", u.name),
                }));
            }
            Ok(())
        };
        if let Some(creator) = r.owner_id.map(|id| self.store.user_by_id(id)).transpose()?.flatten() {
            add(&creator, "creator", None)?;
        }
        for s in self.store.shares_of(&r.id, now())? {
            if Role::parse(&s.permission).is_none_or(|role| role < Role::Editor) {
                continue;
            }
            let people = match s.user.strip_prefix('@') {
                // a team's share reaches each of its members
                Some(team) => match r.org_id.map(|org| self.store.team_id(org, team)).transpose()?.flatten() {
                    Some(id) => self.store.team_users(id)?,
                    None => Vec::new(),
                },
                None => self.store.user(&s.user)?.into_iter().collect(),
            };
            for u in &people {
                add(u, &s.permission, s.expires_at)?;
            }
        }
        let text = serde_json::json!({ "entries": entries }).to_string();
        crate::keys::write_private(&dir.join("access.json"), text.as_bytes())
    }

    /// [`Manager::write_access`] of every workspace (a person's keys or
    /// status changed); a failure is logged, not returned.
    fn write_all_access(&self) {
        for r in self.store.list().unwrap_or_default() {
            if let Err(e) = self.write_access(&r) {
                tracing::error!(workspace = %r.name, "cannot write the access list: {e}");
            }
        }
    }

    /// `workspace.sessions`: who is connected over SSH (team mode: people
    /// from the access list), with which key, from where, since when.
    pub fn ssh_sessions(&self, workspace: &str) -> Result<Vec<nexus_sdk::team::SshSession>> {
        self.team()?;
        let r = self.store.get(workspace)?;
        let path = crate::relay::socket_dir(&self.config.data_dir, &r.id).join("sessions.json");
        Ok(std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default())
    }

    /// The CPU (billionths) and memory (bytes) limits of a new workspace
    /// of `owner_id`, when their quota limits them: devcontainer.json's
    /// `runArgs` `--cpus`/`--memory`, else its `hostRequirements`, else 1
    /// CPU and 2 GiB. `None` for a dimension without a quota.
    pub(super) fn container_limits(
        &self,
        owner_id: Option<i64>,
        org_id: Option<i64>,
        loaded: Option<&nexus_devcontainer::config::Loaded>,
    ) -> Result<(Option<i64>, Option<i64>)> {
        let (Some(_), Some(owner)) = (&self.team, owner_id) else {
            return Ok((None, None));
        };
        // a dimension is limited when the person's or the org's quota limits it
        let mine = self.store.quota(crate::store::team::QuotaScope::User(owner))?;
        let org = match org_id {
            Some(id) => self.store.quota(crate::store::team::QuotaScope::Org(id))?,
            None => Default::default(),
        };
        let q = crate::store::team::QuotaRecord {
            workspaces: mine.workspaces.or(org.workspaces),
            cpus: mine.cpus.or(org.cpus),
            memory: mine.memory.or(org.memory),
            storage: mine.storage.or(org.storage),
        };
        let options = match loaded {
            Some(l) => nexus_devcontainer::container_options::run_options(&l.path, &l.config)?,
            None => Default::default(),
        };
        let wanted = loaded
            .and_then(|l| l.config.host_requirements.clone())
            .unwrap_or_default();
        let cpus = q.cpus.map(|_| {
            options
                .nano_cpus
                .or(wanted.cpus.map(|c| i64::from(c) * 1_000_000_000))
                .unwrap_or(1_000_000_000)
        });
        let memory = q.memory.map(|_| {
            options
                .memory
                .or(wanted
                    .memory
                    .as_deref()
                    .and_then(nexus_devcontainer::container_options::parse_bytes)
                    .map(|b| b as i64))
                .unwrap_or(2 << 30)
        });
        Ok((cpus, memory))
    }

    /// `user.quota` (site admins): sets what is given (0: no limit) and
    /// answers the person with their quota and usage. Lowering a limit
    /// evicts nothing. Errors: `InvalidParams` naming a bad value.
    pub fn user_quota(&self, p: &nexus_sdk::team::UserQuotaParams) -> Result<User> {
        self.team()?;
        let u = self.named(&p.user)?;
        let mut q = self.store.quota(crate::store::team::QuotaScope::User(u.id))?;
        set_limits(&mut q, p.workspaces, p.cpus, p.memory.as_deref(), p.storage.as_deref())?;
        self.store.set_quota(crate::store::team::QuotaScope::User(u.id), q)?;
        self.user_wire(&self.named(&p.user)?)
    }

    /// Measures workspace `r`'s worktree (team mode): the bytes of its
    /// files, recorded for the storage quotas. Docker cannot cap a
    /// bind-mounted directory, so it is measured after a create and at each
    /// start and stop. A failure is logged, not returned.
    pub(super) async fn measure_storage(&self, r: &WorkspaceRecord) {
        if self.team.is_none() {
            return;
        }
        let root = std::path::PathBuf::from(&r.worktree);
        let bytes = tokio::task::spawn_blocking(move || {
            fn walk(dir: &std::path::Path) -> u64 {
                let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
                entries
                    .flatten()
                    .map(|e| match e.file_type() {
                        Ok(t) if t.is_dir() => walk(&e.path()),
                        Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
                        _ => 0,
                    })
                    .sum()
            }
            walk(&root)
        })
        .await
        .unwrap_or(0);
        if let Err(e) = self.store.set_storage(&r.id, bytes as i64) {
            tracing::error!(workspace = %r.name, "cannot record the worktree's size: {e}");
        }
    }

    /// The creator's name of a record, in team mode.
    pub fn owner_name(&self, r: &WorkspaceRecord) -> Option<String> {
        self.team.as_ref()?;
        let id = r.owner_id?;
        self.store.user_by_id(id).ok().flatten().map(|u| u.name)
    }

    /// `audit.list` (site admins).
    pub fn audit_list(&self, p: &AuditListParams) -> Result<Vec<AuditEntry>> {
        self.team()?;
        let rows = self.store.audit(&AuditFilter {
            target: p.workspace.clone(),
            actor: p.user.clone(),
            since_ms: p.since.map(|s| (s as i64).saturating_mul(1000)),
            limit: p.limit.unwrap_or(1000).min(100_000),
        })?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                seq: r.seq as u64,
                at: r.at as u64,
                actor: r.actor,
                action: r.action,
                target: r.target,
                outcome: r.outcome,
                detail: r.detail,
            })
            .collect())
    }

    /// `audit.verify` (site admins): recomputes the chain; the first row
    /// whose MAC differs is named.
    pub fn audit_verify(&self) -> Result<AuditVerify> {
        let team = self.team()?;
        let (mut previous, rows) = self.store.audit_chain()?;
        let mut first_bad = None;
        for r in &rows {
            let want = credentials::audit_mac(
                &team.audit_key,
                &previous,
                &AuditFields {
                    seq: r.seq as u64,
                    at: r.at as u64,
                    actor: &r.actor,
                    action: &r.action,
                    target: &r.target,
                    outcome: &r.outcome,
                    detail: &r.detail,
                },
            );
            if !bool::from(subtle::ConstantTimeEq::ct_eq(want.as_bytes(), r.mac.as_bytes())) {
                first_bad = Some(r.seq as u64);
                break;
            }
            previous = r.mac.clone();
        }
        Ok(AuditVerify {
            rows: rows.len() as u64,
            first_bad,
        })
    }

    /// Removes audit rows older than the retention (days), keeping the
    /// chain verifiable.
    pub fn audit_prune(&self, days: i64) -> Result<usize> {
        self.team()?;
        let cutoff = (now() - days * 86_400).saturating_mul(1000);
        Ok(self.store.prune_audit(cutoff)?)
    }
}

/// `nexusd admin init`: turns the store of `data_dir` into team mode with
/// first admin `name` holding `keys` (OpenSSH lines); the single-user token
/// `token` becomes the admin's API token and every workspace the admin's.
///
/// Errors: `InvalidParams` for a bad name or key, or team mode on already.
pub fn init(
    store: &crate::store::Store,
    data_dir: &std::path::Path,
    name: &str,
    keys: &[String],
    token: &str,
) -> Result<()> {
    check_user_name(name)?;
    if keys.is_empty() {
        return Err(WorkspaceError::InvalidParams(
            "--key: give the admin's SSH public key (e.g. ~/.ssh/id_ed25519.pub)".into(),
        ));
    }
    let keys = keys
        .iter()
        .map(|k| credentials::public_key(k).map_err(WorkspaceError::InvalidParams))
        .collect::<Result<Vec<_>>>()?;
    audit_key(data_dir)?;
    store.init_team(name, &keys, &credentials::digest(token), now())?;
    Ok(())
}
