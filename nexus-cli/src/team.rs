//! Team mode's commands: `nexus auth`, `nexus user`, `nexus token`,
//! `nexus audit` and `workspace share|unshare|shares|leave`, and the
//! credentials file that keeps a session per daemon.
//!
//! Credentials live in `$XDG_CONFIG_HOME/nexus/credentials.json` (else
//! `~/.config/nexus/credentials.json`), mode 0600; a file others may read is
//! refused, not used.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use nexus_sdk::client::Client;
use nexus_sdk::team::{
    AuditListParams, LOGIN_NAMESPACE, LoginParams, Role, Scope, ShareParams, TokenCreateParams, UnshareParams,
    UserAddParams, UserKeyParams,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::output::emit;

/// `nexus auth …`
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Sign in to a team-mode daemon: your SSH key signs a challenge through
    /// ssh-agent, or `--password` reads a password from standard input. The
    /// session is kept per daemon in ~/.config/nexus/credentials.json (0600).
    Login(LoginArgs),
    /// Sign out: the session is revoked on the daemon and forgotten here.
    Logout,
    /// Who you are on the daemon, and its mode.
    Whoami(JsonFlag),
}

/// Flags of `auth login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Sign in with a password read from standard input (one line) instead of an SSH key.
    #[arg(long, requires = "user")]
    pub password: bool,
    /// Your name (with --password).
    #[arg(long)]
    pub user: Option<String>,
    /// The public key file of the agent's key to use [default: each of the agent's keys in turn].
    #[arg(long)]
    pub key: Option<PathBuf>,
}

/// `--json`.
#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `nexus user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a person (site admins).
    Add(UserAddArgs),
    /// List everyone (site admins).
    #[command(alias = "ls")]
    List(JsonFlag),
    /// Refuse a person's logins and tokens until resumed (site admins).
    Suspend(UserName),
    /// End a suspension (site admins).
    Resume(UserName),
    /// Remove a person, their keys, tokens and shares (site admins).
    #[command(alias = "remove")]
    Rm(UserName),
    /// Set a person's quota (site admins): workspaces in any state, CPUs and
    /// memory of running workspaces (0 clears one); without flags, show it
    /// and their usage.
    Quota(QuotaArgs),
    /// Which host-acting devcontainer.json properties and compose keys
    /// (initializeCommand, bind mounts outside the worktree, privileged,
    /// capAdd, …) a person's workspaces may use (site admins); replaces the list.
    Policy(PolicyArgs),
    /// Your SSH keys (site admins: anyone's with --user).
    #[command(subcommand)]
    Key(KeyCommand),
}

/// A person's name.
#[derive(Debug, Args)]
pub struct UserName {
    /// The person.
    pub name: String,
}

/// Flags of `user quota`.
#[derive(Debug, Args)]
pub struct QuotaArgs {
    /// The person.
    pub name: String,
    /// Workspaces in any state (0: no limit).
    #[arg(long)]
    pub workspaces: Option<u32>,
    /// CPUs of running workspaces (0: no limit).
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Memory of running workspaces, e.g. 16g (0: no limit).
    #[arg(long)]
    pub memory: Option<String>,
    /// Storage of worktrees, e.g. 50g (0: no limit).
    #[arg(long)]
    pub storage: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `user policy`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The person.
    pub name: String,
    /// A setting to allow; repeatable; none: allow none.
    #[arg(long = "allow", value_parser = clap::builder::PossibleValuesParser::new(nexus_sdk::team::HOST_PROPERTIES))]
    pub allow: Vec<String>,
}

/// Flags of `user add`.
#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// 2 to 32 of a-z, 0-9 and -.
    pub name: String,
    /// An SSH public key file; repeatable.
    #[arg(long = "key")]
    pub keys: Vec<PathBuf>,
    /// Make a site admin.
    #[arg(long)]
    pub admin: bool,
    /// Set a password read from standard input (one line).
    #[arg(long)]
    pub password_stdin: bool,
}

/// `user key …`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Add an SSH public key (a file, e.g. ~/.ssh/id_ed25519.pub).
    Add(KeyArgs),
    /// Remove a key: its file, or its SHA256: fingerprint.
    #[command(alias = "remove")]
    Rm(KeyArgs),
}

/// Flags of `user key add|rm`.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The public key file, or (rm) a SHA256: fingerprint.
    pub key: String,
    /// Whose key [default: yours].
    #[arg(long)]
    pub user: Option<String>,
}

/// `nexus token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an API token (nxp_…), shown once.
    Create(TokenCreateArgs),
    /// Your tokens (never their secrets).
    #[command(alias = "ls")]
    List(JsonFlag),
    /// Revoke a token by id.
    Revoke(TokenId),
}

/// Flags of `token create`.
#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// A name to know it by.
    pub name: String,
    /// A scope (workspace:read, workspace:write, workspace:create,
    /// workspace:share, admin); repeatable.
    #[arg(long = "scope", required = true, value_parser = parse_scope)]
    pub scopes: Vec<Scope>,
    /// The only workspace it may act on; repeatable.
    #[arg(long = "workspace")]
    pub workspaces: Vec<String>,
    /// How long it lasts (e.g. 30d, 8h) [default: until revoked].
    #[arg(long)]
    pub expires: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    Scope::parse(s).ok_or_else(|| {
        format!("{s:?} is no scope: workspace:read, workspace:write, workspace:create, workspace:share or admin")
    })
}

/// A token id.
#[derive(Debug, Args)]
pub struct TokenId {
    /// The id `token list` shows.
    pub id: u64,
}

/// `nexus audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Audit rows, oldest first (site admins).
    #[command(alias = "ls")]
    List(AuditListArgs),
    /// Check the audit log's HMAC chain; names the first changed row (exit 1).
    Verify,
    /// Every row, for archiving.
    Export(AuditExportArgs),
}

/// Flags of `audit list`.
#[derive(Debug, Args)]
pub struct AuditListArgs {
    /// Rows about this workspace.
    #[arg(long)]
    pub workspace: Option<String>,
    /// Rows of this person.
    #[arg(long)]
    pub user: Option<String>,
    /// Rows at or after this time: seconds since the Unix epoch, or a duration ago (1h, 7d).
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many, the newest.
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `audit export`.
#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// The format: jsonl (one JSON row per line).
    #[arg(long, default_value = "jsonl", value_parser = ["jsonl"])]
    pub format: String,
}

/// Flags of `workspace share`.
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// The workspace.
    pub name: String,
    /// The person (not with --code).
    #[arg(required_unless_present = "code", conflicts_with = "code")]
    pub user: Option<String>,
    /// Make a share code anyone signed in may redeem (`workspace accept CODE`)
    /// instead; it expires after --expires (default 1h).
    #[arg(long)]
    pub code: bool,
    /// With --code: how many people may redeem it [default: any number].
    #[arg(long, requires = "code")]
    pub max_uses: Option<u32>,
    /// viewer, editor or owner.
    #[arg(long, value_parser = parse_role)]
    pub permission: Role,
    /// How long (e.g. 8h, 7d) [default: until unshared].
    #[arg(long)]
    pub expires: Option<String>,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("{s:?} is no permission: viewer, editor or owner"))
}

/// Flags of `workspace break-glass`.
#[derive(Debug, Args)]
pub struct BreakGlassArgs {
    /// The workspace.
    pub name: String,
    /// Why a shell is needed (shown to the owner, kept in the audit log).
    #[arg(long)]
    pub reason: String,
    /// For how long, in minutes (1 to 240).
    #[arg(long, default_value_t = 30)]
    pub minutes: u32,
}

/// `workspace accept CODE`.
#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// The share code (`nxc_…`).
    pub code: String,
}

/// Flags of `workspace unshare`.
#[derive(Debug, Args)]
pub struct UnshareArgs {
    /// The workspace.
    pub name: String,
    /// The person.
    pub user: String,
}

/// One daemon's saved session.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    token: String,
    user: String,
}

/// The credentials file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Credentials {
    #[serde(default)]
    daemons: BTreeMap<String, Saved>,
}

fn credentials_path() -> PathBuf {
    crate::context::path().with_file_name("credentials.json")
}

impl Credentials {
    fn load() -> anyhow::Result<Credentials> {
        let path = credentials_path();
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Credentials::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            anyhow::bail!(
                "{} may be read by others, so its sessions are not used: run `chmod 600 {}` and sign in again",
                path.display(),
                path.display()
            );
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is no credentials file: remove it and sign in again", path.display()))
    }

    fn save(&self) -> anyhow::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = credentials_path();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(serde_json::to_string_pretty(self)?.as_bytes())?;
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

/// The session saved for daemon `address`, if any.
///
/// Errors: a credentials file others may read, or one that does not parse.
pub fn saved_token(address: &str) -> anyhow::Result<Option<String>> {
    Ok(Credentials::load()?.daemons.get(address).map(|s| s.token.clone()))
}

fn read_line_stdin(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .with_context(|| format!("cannot read the {what} from standard input"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Signs `challenge` in [`LOGIN_NAMESPACE`] with the agent's key
/// `key`; returns the armored SSHSIG.
async fn sign_with_agent(
    agent: &mut russh::keys::agent::client::AgentClient<tokio::net::UnixStream>,
    key: &russh::keys::PublicKey,
    challenge: &str,
) -> anyhow::Result<String> {
    use russh::keys::ssh_key::{HashAlg, LineEnding, SshSig};
    let data = SshSig::signed_data(LOGIN_NAMESPACE, HashAlg::Sha512, challenge.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot frame the challenge: {e}"))?;
    let signature = agent
        .sign_request_signature(key, None, &data)
        .await
        .map_err(|e| anyhow::anyhow!("ssh-agent would not sign with {}: {e}", key.algorithm()))?;
    let sig = SshSig::new(key.key_data().clone(), LOGIN_NAMESPACE, HashAlg::Sha512, signature)
        .map_err(|e| anyhow::anyhow!("cannot build the signature: {e}"))?;
    sig.to_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("cannot armor the signature: {e}"))
}

/// `nexus auth login`.
pub async fn login(a: LoginArgs, address: &str) -> anyhow::Result<i32> {
    let client = Client::connect(address, "").await?;
    let made = if a.password {
        let password = read_line_stdin("password")?;
        client
            .auth_login(&LoginParams {
                user: a.user.clone(),
                password: Some(password),
                ..Default::default()
            })
            .await?
    } else {
        let mut agent = russh::keys::agent::client::AgentClient::connect_env()
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot reach ssh-agent ({e}): start one and `ssh-add` your key, or use --password")
            })?;
        let wanted = a
            .key
            .as_ref()
            .map(|path| {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                russh::keys::PublicKey::from_openssh(text.trim())
                    .map_err(|e| anyhow::anyhow!("{} is no SSH public key: {e}", path.display()))
            })
            .transpose()?;
        let identities = agent
            .request_identities()
            .await
            .map_err(|e| anyhow::anyhow!("ssh-agent would not list its keys: {e}"))?;
        let keys: Vec<russh::keys::PublicKey> = identities
            .iter()
            .map(|i| i.public_key().into_owned())
            .filter(|k| wanted.as_ref().is_none_or(|w| w.key_data() == k.key_data()))
            .collect();
        if keys.is_empty() {
            anyhow::bail!(
                "ssh-agent holds {}: `ssh-add` the key the daemon knows, or use --password",
                if wanted.is_some() { "not that key" } else { "no key" }
            );
        }
        let mut last = None;
        let mut made = None;
        for key in &keys {
            let challenge = client.auth_challenge().await?;
            let signature = sign_with_agent(&mut agent, key, &challenge.challenge).await?;
            match client
                .auth_login(&LoginParams {
                    challenge: Some(challenge.challenge),
                    signature: Some(signature),
                    ..Default::default()
                })
                .await
            {
                Ok(t) => {
                    made = Some(t);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        match (made, last) {
            (Some(t), _) => t,
            (None, Some(e)) => return Err(e.into()),
            (None, None) => unreachable!("at least one key was tried"),
        }
    };
    let mut creds = Credentials::load().unwrap_or_default();
    creds.daemons.insert(
        address.to_string(),
        Saved {
            token: made.token.clone(),
            user: made.user.clone(),
        },
    );
    creds.save()?;
    println!(
        "signed in to {address} as {} (the session lasts 12 hours past its last use)",
        made.user
    );
    Ok(0)
}

/// `nexus auth logout`.
pub async fn logout(client: &Client, address: &str) -> anyhow::Result<i32> {
    client.auth_logout().await?;
    let mut creds = Credentials::load()?;
    creds.daemons.remove(address);
    creds.save()?;
    println!("signed out of {address}");
    Ok(0)
}

/// `nexus auth whoami`.
pub async fn whoami(client: &Client, json: bool) -> anyhow::Result<i32> {
    let me = client.auth_whoami().await?;
    emit(json, &me, |me| match &me.user {
        Some(u) => println!(
            "{}{} on a team-mode daemon; token {}",
            u.name,
            if u.admin { " (site admin)" } else { "" },
            me.token
                .as_ref()
                .map(|t| format!(
                    "{} {:?} ({})",
                    t.id,
                    t.name,
                    if t.kind == nexus_sdk::team::TokenKind::Session {
                        "session"
                    } else {
                        "API token"
                    }
                ))
                .unwrap_or_default()
        ),
        None => println!("the daemon's own token, single-user mode"),
    })?;
    Ok(0)
}

fn key_lines(paths: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(p).with_context(|| format!("--key {}: cannot read it", p.display()))?;
        out.extend(text.lines().filter(|l| !l.trim().is_empty()).map(str::to_string));
    }
    Ok(out)
}

fn print_user(u: &nexus_sdk::team::User) {
    println!(
        "{:<20} {:<6} {:<10} {}",
        u.name,
        if u.admin { "admin" } else { "-" },
        serde_json::to_value(u.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        u.keys
            .iter()
            .map(|k| k.fingerprint.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// `nexus user …`.
pub async fn user(c: UserCommand, client: &Client) -> anyhow::Result<i32> {
    match c {
        UserCommand::Add(a) => {
            let password = if a.password_stdin {
                Some(read_line_stdin("password")?)
            } else {
                None
            };
            let u = client
                .user_add(&UserAddParams {
                    name: a.name,
                    keys: key_lines(&a.keys)?,
                    admin: a.admin,
                    password,
                })
                .await?;
            println!("added {} ({} keys)", u.name, u.keys.len());
        }
        UserCommand::List(a) => {
            let users = client.user_list().await?;
            emit(a.json, &users, |users| {
                println!("{:<20} {:<6} {:<10} KEYS", "NAME", "ADMIN", "STATUS");
                users.iter().for_each(print_user);
            })?;
        }
        UserCommand::Suspend(a) => {
            client.user_suspend(&a.name, true).await?;
            println!("suspended {}: their logins and tokens are refused", a.name);
        }
        UserCommand::Resume(a) => {
            client.user_suspend(&a.name, false).await?;
            println!("resumed {}", a.name);
        }
        UserCommand::Rm(a) => {
            client.user_remove(&a.name).await?;
            println!("removed {}", a.name);
        }
        UserCommand::Quota(a) => {
            let u = client
                .user_quota(&nexus_sdk::team::UserQuotaParams {
                    user: a.name,
                    workspaces: a.workspaces,
                    cpus: a.cpus,
                    memory: a.memory,
                    storage: a.storage,
                })
                .await?;
            emit(a.json, &u, |u| {
                let limit = |v: Option<String>| v.unwrap_or_else(|| "no limit".into());
                println!(
                    "{}: workspaces {} of {}, CPUs {:.2} of {}, memory {} MiB of {}, storage {} MiB of {}",
                    u.name,
                    u.usage.workspaces,
                    limit(u.quota.workspaces.map(|w| w.to_string())),
                    u.usage.cpus,
                    limit(u.quota.cpus.map(|c| format!("{c:.2}"))),
                    u.usage.memory >> 20,
                    limit(u.quota.memory.map(|m| format!("{} MiB", m >> 20))),
                    u.usage.storage >> 20,
                    limit(u.quota.storage.map(|m| format!("{} MiB", m >> 20)))
                );
            })?;
        }
        UserCommand::Policy(a) => {
            let u = client
                .user_policy(&nexus_sdk::team::UserPolicyParams {
                    user: a.name,
                    allow: a.allow,
                })
                .await?;
            match u.allowed.is_empty() {
                true => println!("{}'s workspaces may use no host-acting setting", u.name),
                false => println!("{}'s workspaces may use {}", u.name, u.allowed.join(", ")),
            }
        }
        UserCommand::Key(k) => {
            let (a, add) = match k {
                KeyCommand::Add(a) => (a, true),
                KeyCommand::Rm(a) => (a, false),
            };
            let key = if add || !a.key.starts_with("SHA256:") {
                std::fs::read_to_string(&a.key)
                    .with_context(|| format!("cannot read the key file {}", a.key))?
                    .trim()
                    .to_string()
            } else {
                a.key.clone()
            };
            let u = client.user_key(&UserKeyParams { user: a.user, key }, add).await?;
            println!("{} has {} keys", u.name, u.keys.len());
        }
    }
    Ok(0)
}

/// `nexus token …`.
pub async fn token(c: TokenCommand, client: &Client) -> anyhow::Result<i32> {
    match c {
        TokenCommand::Create(a) => {
            let t = client
                .token_create(&TokenCreateParams {
                    name: a.name,
                    scopes: a.scopes,
                    workspaces: (!a.workspaces.is_empty()).then_some(a.workspaces),
                    expires: a.expires,
                })
                .await?;
            emit(a.json, &t, |t| {
                println!("{}", t.token);
                eprintln!(
                    "token {} ({:?}): copy it now, it is not shown again",
                    t.info.id, t.info.name
                );
            })?;
        }
        TokenCommand::List(a) => {
            let tokens = client.token_list().await?;
            emit(a.json, &tokens, |tokens| {
                println!("{:<6} {:<8} {:<20} {:<12} SCOPES", "ID", "KIND", "NAME", "EXPIRES");
                for t in tokens {
                    println!(
                        "{:<6} {:<8} {:<20} {:<12} {}",
                        t.id,
                        serde_json::to_value(t.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        t.name,
                        t.expires_at.map(|e| e.to_string()).unwrap_or_else(|| "never".into()),
                        t.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
                    );
                }
            })?;
        }
        TokenCommand::Revoke(a) => {
            client.token_revoke(a.id).await?;
            println!("revoked token {}", a.id);
        }
    }
    Ok(0)
}

/// `nexus workspace share`.
pub async fn share(a: ShareArgs, client: &Client) -> anyhow::Result<i32> {
    let Some(user) = a.user else {
        let c = client
            .share_code(&nexus_sdk::team::ShareCodeParams {
                workspace: a.name.clone(),
                permission: a.permission,
                expires: a.expires,
                max_uses: a.max_uses,
            })
            .await?;
        println!("{}", c.code);
        eprintln!(
            "a share code of {} as {}, until {} (Unix time){}: redeemed with `nexus workspace accept CODE`; it is not shown again",
            c.workspace,
            c.permission.as_str(),
            c.expires_at,
            c.max_uses.map(|m| format!(", {m} uses")).unwrap_or_default()
        );
        return Ok(0);
    };
    let s = client
        .share(&ShareParams {
            workspace: a.name.clone(),
            user,
            permission: a.permission,
            expires: a.expires,
        })
        .await?;
    println!(
        "shared {} with {} as {}{}",
        a.name,
        s.user,
        s.permission.as_str(),
        s.expires_at
            .map(|e| format!(" until {e} (Unix time)"))
            .unwrap_or_default()
    );
    Ok(0)
}

/// `nexus workspace unshare`.
pub async fn unshare(a: UnshareArgs, client: &Client) -> anyhow::Result<i32> {
    client
        .unshare(&UnshareParams {
            workspace: a.name.clone(),
            user: a.user.clone(),
        })
        .await?;
    println!("{} no longer shares {}", a.user, a.name);
    Ok(0)
}

/// `nexus workspace shares`.
pub async fn shares(name: &str, json: bool, client: &Client) -> anyhow::Result<i32> {
    let shares = client.shares(name).await?;
    emit(json, &shares, |shares| {
        println!("{:<20} {:<8} {:<12} {:<20} REASON", "USER", "ROLE", "EXPIRES", "BY");
        for s in shares {
            println!(
                "{:<20} {:<8} {:<12} {:<20} {}",
                s.user,
                s.permission.as_str(),
                s.expires_at.map(|e| e.to_string()).unwrap_or_else(|| "never".into()),
                s.created_by,
                s.reason.as_deref().unwrap_or("")
            );
        }
    })?;
    Ok(0)
}

fn since(text: &str) -> anyhow::Result<u64> {
    if let Ok(n) = text.parse::<u64>() {
        return Ok(n);
    }
    let ago = nexus_sdk::team::parse_duration(text).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(now.saturating_sub(ago))
}

/// `nexus audit …`.
pub async fn audit(c: AuditCommand, client: &Client) -> anyhow::Result<i32> {
    match c {
        AuditCommand::List(a) => {
            let rows = client
                .audit_list(&AuditListParams {
                    workspace: a.workspace,
                    user: a.user,
                    since: a.since.as_deref().map(since).transpose()?,
                    limit: Some(a.limit),
                })
                .await?;
            emit(a.json, &rows, |rows| {
                for r in rows {
                    println!(
                        "{:>6} {} {:<12} {:<26} {:<16} {:<24} {}",
                        r.seq, r.at, r.actor, r.action, r.target, r.outcome, r.detail
                    );
                }
            })?;
            Ok(0)
        }
        AuditCommand::Verify => {
            let v = client.audit_verify().await?;
            match v.first_bad {
                None => {
                    println!("the audit log's {} rows verify", v.rows);
                    Ok(0)
                }
                Some(seq) => {
                    println!("audit row {seq} does not verify: it (or the chain before it) was changed");
                    Ok(1)
                }
            }
        }
        AuditCommand::Export(_) => {
            let rows = client
                .audit_list(&AuditListParams {
                    limit: Some(u32::MAX),
                    ..Default::default()
                })
                .await?;
            for r in rows {
                println!("{}", serde_json::to_string(&r)?);
            }
            Ok(0)
        }
    }
}

/// `nexus org …`
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Make an organization; you are its admin.
    Create(OrgName),
    /// Your organizations (site admins: all).
    #[command(alias = "ls")]
    List(JsonFlag),
    /// Make an organization your current one: your new workspaces go there
    /// (`--none`: none).
    Switch(OrgSwitchArgs),
    /// An organization, its policy and members.
    Show(OrgShowArgs),
    /// Delete an organization that has no workspaces (org admins).
    Delete(OrgName),
    /// A single-use invitation code (org admins); redeemed with `org join CODE`.
    Invite(OrgInviteArgs),
    /// Join an organization with an invitation code.
    Join(AcceptArgs),
    /// An organization's members; `update USER --role R` or `remove USER` (org admins).
    Members(OrgMembersArgs),
    /// Leave an organization; your shares of its workspaces end.
    Leave(OrgName),
    /// Who the organization's workspaces may be shared with (org admins).
    Policy(OrgPolicyArgs),
    /// Set an organization's quota (site admins; 0 clears one).
    Quota(OrgQuotaArgs),
    /// An organization's quota and what its workspaces use.
    Usage(OrgShowArgs),
}

/// Flags of `org quota`.
#[derive(Debug, Args)]
pub struct OrgQuotaArgs {
    /// The organization.
    pub org: String,
    /// Workspaces in any state (0: no limit).
    #[arg(long)]
    pub workspaces: Option<u32>,
    /// CPUs of running workspaces (0: no limit).
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Memory of running workspaces, e.g. 64g (0: no limit).
    #[arg(long)]
    pub memory: Option<String>,
    /// Storage of worktrees, e.g. 500g (0: no limit).
    #[arg(long)]
    pub storage: Option<String>,
}

fn print_org_usage(u: &nexus_sdk::team::OrgUsage) {
    let limit = |v: Option<String>| v.unwrap_or_else(|| "no limit".into());
    println!(
        "{}: workspaces {} of {}, CPUs {:.2} of {}, memory {} MiB of {}, storage {} MiB of {}",
        u.org,
        u.usage.workspaces,
        limit(u.quota.workspaces.map(|w| w.to_string())),
        u.usage.cpus,
        limit(u.quota.cpus.map(|c| format!("{c:.2}"))),
        u.usage.memory >> 20,
        limit(u.quota.memory.map(|m| format!("{} MiB", m >> 20))),
        u.usage.storage >> 20,
        limit(u.quota.storage.map(|m| format!("{} MiB", m >> 20)))
    );
}

/// An organization's name.
#[derive(Debug, Args)]
pub struct OrgName {
    /// The organization.
    pub org: String,
}

/// Flags of `org switch`.
#[derive(Debug, Args)]
pub struct OrgSwitchArgs {
    /// The organization.
    #[arg(required_unless_present = "none")]
    pub org: Option<String>,
    /// No organization: new workspaces are yours alone.
    #[arg(long, conflicts_with = "org")]
    pub none: bool,
}

/// Flags of `org show`.
#[derive(Debug, Args)]
pub struct OrgShowArgs {
    /// The organization.
    pub org: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `org invite`.
#[derive(Debug, Args)]
pub struct OrgInviteArgs {
    /// The organization.
    pub org: String,
    /// admin or member.
    #[arg(long, default_value = "member", value_parser = parse_org_role)]
    pub role: nexus_sdk::team::OrgRole,
    /// How long it may be redeemed (e.g. 7d) [default: 7d].
    #[arg(long)]
    pub expires: Option<String>,
}

fn parse_org_role(s: &str) -> Result<nexus_sdk::team::OrgRole, String> {
    match s {
        "admin" => Ok(nexus_sdk::team::OrgRole::Admin),
        "member" => Ok(nexus_sdk::team::OrgRole::Member),
        _ => Err(format!("{s:?} is no org role: admin or member")),
    }
}

/// Flags of `org members`.
#[derive(Debug, Args)]
pub struct OrgMembersArgs {
    /// The organization.
    pub org: String,
    /// Change a member (org admins); without it, list them.
    #[command(subcommand)]
    pub action: Option<MembersAction>,
}

/// `org members ORG update|remove`.
#[derive(Debug, Subcommand)]
pub enum MembersAction {
    /// Change a member's role.
    Update {
        /// The member.
        user: String,
        /// admin or member.
        #[arg(long, value_parser = parse_org_role)]
        role: nexus_sdk::team::OrgRole,
    },
    /// Remove a member; their shares of the org's workspaces end.
    Remove {
        /// The member.
        user: String,
    },
}

/// Flags of `org policy`.
#[derive(Debug, Args)]
pub struct OrgPolicyArgs {
    /// The organization.
    pub org: String,
    /// none, org (members only) or any.
    #[arg(long, value_parser = parse_sharing)]
    pub sharing: nexus_sdk::team::Sharing,
}

fn parse_sharing(s: &str) -> Result<nexus_sdk::team::Sharing, String> {
    match s {
        "none" => Ok(nexus_sdk::team::Sharing::None),
        "org" => Ok(nexus_sdk::team::Sharing::Org),
        "any" => Ok(nexus_sdk::team::Sharing::Any),
        _ => Err(format!("{s:?} is no sharing policy: none, org or any")),
    }
}

fn org_role_text(r: Option<nexus_sdk::team::OrgRole>) -> &'static str {
    match r {
        Some(nexus_sdk::team::OrgRole::Admin) => "admin",
        Some(nexus_sdk::team::OrgRole::Member) => "member",
        None => "-",
    }
}

/// `nexus org …`.
pub async fn org(c: OrgCommand, client: &Client) -> anyhow::Result<i32> {
    match c {
        OrgCommand::Create(a) => {
            client.org_create(&a.org).await?;
            println!(
                "made {}; you are its admin (`nexus org switch {}` to create workspaces in it)",
                a.org, a.org
            );
        }
        OrgCommand::List(a) => {
            let orgs = client.org_list().await?;
            emit(a.json, &orgs, |orgs| {
                println!("{:<2}{:<24} {:<8} {:<8} WORKSPACES", "", "NAME", "ROLE", "SHARING");
                for o in orgs {
                    println!(
                        "{:<2}{:<24} {:<8} {:<8} {}",
                        if o.current { "*" } else { "" },
                        o.name,
                        org_role_text(o.role),
                        o.sharing.as_str(),
                        o.workspaces
                    );
                }
            })?;
        }
        OrgCommand::Switch(a) => {
            client.org_switch(a.org.as_deref()).await?;
            match a.org {
                Some(o) => println!("new workspaces go to {o}"),
                None => println!("new workspaces belong to no organization"),
            }
        }
        OrgCommand::Show(a) => {
            let o = client.org_show(&a.org).await?;
            emit(a.json, &o, |o| {
                println!(
                    "{}: sharing {}, {} workspaces",
                    o.name,
                    o.sharing.as_str(),
                    o.workspaces
                );
                for m in &o.members {
                    println!("  {:<24} {}", m.user, org_role_text(Some(m.role)));
                }
            })?;
        }
        OrgCommand::Delete(a) => {
            client.org_delete(&a.org).await?;
            println!("deleted {}", a.org);
        }
        OrgCommand::Invite(a) => {
            let i = client
                .org_invite(&nexus_sdk::team::OrgInviteParams {
                    org: a.org,
                    role: a.role,
                    expires: a.expires,
                })
                .await?;
            println!("{}", i.code);
            eprintln!(
                "an invitation to {} as {}, single use, until {} (Unix time): redeemed with `nexus org join CODE`",
                i.org,
                org_role_text(Some(i.role)),
                i.expires_at
            );
        }
        OrgCommand::Join(a) => {
            let o = client.org_join(&a.code).await?;
            println!("you joined {} as {}", o.name, org_role_text(o.role));
        }
        OrgCommand::Members(a) => match a.action {
            None => {
                let o = client.org_show(&a.org).await?;
                for m in &o.members {
                    println!("{:<24} {}", m.user, org_role_text(Some(m.role)));
                }
            }
            Some(MembersAction::Update { user, role }) => {
                client
                    .org_member(&nexus_sdk::team::OrgMemberParams {
                        org: a.org.clone(),
                        user: user.clone(),
                        role: Some(role),
                    })
                    .await?;
                println!("{user} is {} of {}", org_role_text(Some(role)), a.org);
            }
            Some(MembersAction::Remove { user }) => {
                client
                    .org_member(&nexus_sdk::team::OrgMemberParams {
                        org: a.org.clone(),
                        user: user.clone(),
                        role: None,
                    })
                    .await?;
                println!("removed {user} from {}", a.org);
            }
        },
        OrgCommand::Leave(a) => {
            client.org_leave(&a.org).await?;
            println!("you left {}", a.org);
        }
        OrgCommand::Quota(a) => {
            let u = client
                .org_quota(&nexus_sdk::team::OrgQuotaParams {
                    org: a.org,
                    workspaces: a.workspaces,
                    cpus: a.cpus,
                    memory: a.memory,
                    storage: a.storage,
                })
                .await?;
            print_org_usage(&u);
        }
        OrgCommand::Usage(a) => {
            let u = client.org_usage(&a.org).await?;
            emit(a.json, &u, print_org_usage)?;
        }
        OrgCommand::Policy(a) => {
            client
                .org_policy(&nexus_sdk::team::OrgPolicyParams {
                    org: a.org.clone(),
                    sharing: a.sharing,
                })
                .await?;
            println!(
                "{}'s workspaces may be shared with {}",
                a.org,
                match a.sharing {
                    nexus_sdk::team::Sharing::None => "nobody",
                    nexus_sdk::team::Sharing::Org => "its members",
                    nexus_sdk::team::Sharing::Any => "anyone",
                }
            );
        }
    }
    Ok(0)
}

/// `nexus team …`
#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Make a team in an organization (org admins); share with it as `@NAME`.
    Create(TeamArgs),
    /// An organization's teams and their members.
    #[command(alias = "ls")]
    List(OrgName),
    /// Add a member of the organization to a team (org admins).
    AddMember(TeamMemberArgs),
    /// Remove a person from a team (org admins).
    RemoveMember(TeamMemberArgs),
}

/// `team create ORG TEAM`.
#[derive(Debug, Args)]
pub struct TeamArgs {
    /// The organization.
    pub org: String,
    /// The team: 2 to 32 of a-z, 0-9 and -.
    pub team: String,
}

/// `team add-member|remove-member ORG TEAM USER`.
#[derive(Debug, Args)]
pub struct TeamMemberArgs {
    /// The organization.
    pub org: String,
    /// The team.
    pub team: String,
    /// The person.
    pub user: String,
}

/// `nexus team …`.
pub async fn team(c: TeamCommand, client: &Client) -> anyhow::Result<i32> {
    match c {
        TeamCommand::Create(a) => {
            client
                .team_create(&nexus_sdk::team::TeamParams {
                    org: a.org.clone(),
                    team: a.team.clone(),
                })
                .await?;
            println!("made team {} in {} (share with it as @{})", a.team, a.org, a.team);
        }
        TeamCommand::List(a) => {
            for t in client.team_list(&a.org).await? {
                println!("{:<24} {}", t.name, t.members.join(" "));
            }
        }
        TeamCommand::AddMember(a) => {
            client
                .team_member(
                    &nexus_sdk::team::TeamMemberParams {
                        org: a.org,
                        team: a.team.clone(),
                        user: a.user.clone(),
                    },
                    true,
                )
                .await?;
            println!("{} is in team {}", a.user, a.team);
        }
        TeamCommand::RemoveMember(a) => {
            client
                .team_member(
                    &nexus_sdk::team::TeamMemberParams {
                        org: a.org,
                        team: a.team.clone(),
                        user: a.user.clone(),
                    },
                    false,
                )
                .await?;
            println!("{} left team {}", a.user, a.team);
        }
    }
    Ok(0)
}
