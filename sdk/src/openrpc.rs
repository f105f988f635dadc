//! The API described once: every method with its parameter and result types,
//! a one-line summary and an example. `rpc.discover` returns [`document`], an
//! OpenRPC 1.2 document with JSON Schemas generated from the types
//! (schemars); `docs/protocol.md`'s method reference is [`markdown`]; a test
//! checks every example against the types, so the docs cannot drift.

use crate::methods as m;
use crate::team::*;
use crate::types::*;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// `{}`: the parameters of methods that take none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize, JsonSchema)]
pub struct NoParams {}

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;
type CheckFn = fn(&Value, &Value) -> Result<(), String>;

/// One method of the API.
#[derive(Debug, Clone, Copy)]
pub struct MethodSpec {
    /// The method name.
    pub name: &'static str,
    /// What it does, one sentence.
    pub summary: &'static str,
    /// For a subscription: its notification and unsubscribe methods.
    pub subscription: Option<(&'static str, &'static str)>,
    /// Example `params` (JSON).
    pub example_params: &'static str,
    /// Example `result`; for a subscription, an example notification's `result`.
    pub example_result: &'static str,
    params: SchemaFn,
    result: SchemaFn,
    check: CheckFn,
}

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// `v` parses as `T` and serializes back to the same JSON.
fn round_trip<T: Serialize + DeserializeOwned>(what: &str, v: &Value) -> Result<(), String> {
    let parsed: T = serde_json::from_value(v.clone()).map_err(|e| format!("{what} {v} does not parse: {e}"))?;
    let back = serde_json::to_value(&parsed).map_err(|e| e.to_string())?;
    if &back != v {
        return Err(format!(
            "{what} {v} comes back as {back}: a member is misspelt, or a default is spelt out"
        ));
    }
    Ok(())
}

fn check<P, R>(params: &Value, result: &Value) -> Result<(), String>
where
    P: Serialize + DeserializeOwned,
    R: Serialize + DeserializeOwned,
{
    round_trip::<P>("params", params)?;
    round_trip::<R>("result", result)
}

const fn call<P, R>(name: &'static str, summary: &'static str, params: &'static str, result: &'static str) -> MethodSpec
where
    P: JsonSchema + Serialize + DeserializeOwned,
    R: JsonSchema + Serialize + DeserializeOwned,
{
    MethodSpec {
        name,
        summary,
        subscription: None,
        example_params: params,
        example_result: result,
        params: schema::<P>,
        result: schema::<R>,
        check: check::<P, R>,
    }
}

const fn subscription<P, N>(
    (name, notification, unsubscribe): (&'static str, &'static str, &'static str),
    summary: &'static str,
    params: &'static str,
    item: &'static str,
) -> MethodSpec
where
    P: JsonSchema + Serialize + DeserializeOwned,
    N: JsonSchema + Serialize + DeserializeOwned,
{
    MethodSpec {
        subscription: Some((notification, unsubscribe)),
        ..call::<P, N>(name, summary, params, item)
    }
}

const WS: &str = r#"{"id":"3f9a0c1d2b4e5f60","name":"feat-x","state":"running","repository":"/home/ana/src/app","worktree":"/home/ana/src/app/.worktree/feat-x","branch":"nexus/feat-x","image":"nexus/default:bookworm","remoteUser":"dev","workspaceFolder":"/workspaces/app","sshHost":"127.0.0.1","sshPort":32800,"hostPublicKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8 nexus","createdAt":1795000000}"#;
const CHECKPOINT: &str = r#"{"name":"before-refactor","number":3,"commit":"5b1d3a0c9e8f7d6c5b4a39281706f5e4d3c2b1a0","createdAt":1795000000}"#;
const CHECKPOINT_LIST: &str = r#"[{"name":"1","number":1,"commit":"0c9e8f7d6c5b4a39281706f5e4d3c2b1a05b1d3a","createdAt":1794990000},{"name":"before-refactor","number":3,"commit":"5b1d3a0c9e8f7d6c5b4a39281706f5e4d3c2b1a0","createdAt":1795000000}]"#;
const NEW_TOKEN: &str = r#"{"token":"nxs_4fQ8xK2pL9mN3vB7cZ1aS6dF0gH5jT3A2b9c","info":{"id":7,"kind":"session","name":"login","scopes":["workspace:read","workspace:write","workspace:create","workspace:share"],"expiresAt":1795043200,"createdAt":1795000000},"user":"bo"}"#;
const USER: &str = r#"{"name":"bo","admin":false,"status":"active","hasPassword":false,"keys":[{"fingerprint":"SHA256:q1w2e3r4t5y6u7i8o9p0","publicKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOk bo@laptop"}],"allowed":["initializeCommand","capAdd"],"quota":{"workspaces":20,"cpus":8.0,"memory":17179869184},"usage":{"workspaces":2,"cpus":2.0,"memory":4294967296,"storage":734003200},"createdAt":1795000000}"#;
const USERS: &str = r#"[{"name":"ana","admin":true,"status":"active","hasPassword":false,"keys":[],"allowed":[],"quota":{},"usage":{"workspaces":0,"cpus":0.0,"memory":0,"storage":0},"createdAt":1795000000},{"name":"bo","admin":false,"status":"suspended","hasPassword":true,"keys":[],"allowed":[],"quota":{},"usage":{"workspaces":0,"cpus":0.0,"memory":0,"storage":0},"createdAt":1795000000}]"#;
const SHARE: &str =
    r#"{"user":"bo","permission":"editor","expiresAt":1795028800,"createdBy":"ana","createdAt":1795000000}"#;
const ORG: &str = r#"{"name":"acme","sharing":"org","role":"admin","current":true,"workspaces":3,"members":[],"createdAt":1795000000}"#;
const ORG_USAGE: &str = r#"{"org":"acme","quota":{"workspaces":50,"cpus":32.0,"memory":137438953472},"usage":{"workspaces":3,"cpus":3.0,"memory":6442450944,"storage":1101004800}}"#;
const STAT: &str = r#"{"name":"main.rs","type":"file","size":1834,"mode":420,"mtime":1795000000}"#;

/// Every method, in the order the docs list them.
pub const METHODS: &[MethodSpec] = &[
    call::<CreateParams, Workspace>(
        m::WORKSPACE_CREATE,
        "Creates a workspace: worktree, branch, container, agent; returns once SSH answers.",
        r#"{"name":"feat-x","repository":"/home/ana/src/app","authorizedKeys":["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOk ana@laptop"]}"#,
        WS,
    ),
    call::<NoParams, Vec<Workspace>>(m::WORKSPACE_LIST, "Lists every workspace.", "{}", WS_LIST),
    call::<NameParams, Workspace>(m::WORKSPACE_GET, "One workspace.", r#"{"workspace":"feat-x"}"#, WS),
    call::<NameParams, Workspace>(
        m::WORKSPACE_START,
        "Starts a stopped workspace (same container, same port).",
        r#"{"workspace":"feat-x"}"#,
        WS,
    ),
    call::<NameParams, Workspace>(
        m::WORKSPACE_REBUILD,
        "Builds a running or stopped workspace's image again (no cache) from devcontainer.json at the tip of its branch and replaces its container; worktree, branch, port and host key stay.",
        r#"{"workspace":"feat-x"}"#,
        WS,
    ),
    call::<NameParams, Workspace>(
        m::WORKSPACE_STOP,
        "Stops a workspace's container; its files stay.",
        r#"{"workspace":"feat-x"}"#,
        WS,
    ),
    call::<IdleParams, Workspace>(
        m::WORKSPACE_IDLE,
        "Sets when a workspace pauses (docker pause, memory kept) and stops once idle, from now on; an absent time is never. Idle: no channel of its SSH server moving data (keep-alives do not count) and its container under 5% of a core. A sleeping workspace wakes when a client sends the SSH banner to its port, or at an exec, fs or tunnel call. A zero is invalid_params.",
        r#"{"workspace":"feat-x","pauseAfterSeconds":600,"stopAfterSeconds":7200}"#,
        WS,
    ),
    call::<RemoveParams, ()>(
        m::WORKSPACE_REMOVE,
        "Removes container, worktree, port and record; the branch too with deleteBranch.",
        r#"{"workspace":"feat-x","force":false,"deleteBranch":true}"#,
        "null",
    ),
    call::<CheckpointCreateParams, Checkpoint>(
        m::WORKSPACE_CHECKPOINT_CREATE,
        "Records a running or stopped workspace's worktree exactly (HEAD, the index, modified, deleted and untracked files; not ignored ones) as a git checkpoint on a hidden ref, touching neither the worktree, its index nor its branch; with full, also the container's own files as an image (docker commit). A name the workspace has already is invalid_params.",
        r#"{"workspace":"feat-x","name":"before-refactor","full":false}"#,
        CHECKPOINT,
    ),
    call::<NameParams, Vec<Checkpoint>>(
        m::WORKSPACE_CHECKPOINT_LIST,
        "A workspace's checkpoints, oldest first.",
        r#"{"workspace":"feat-x"}"#,
        CHECKPOINT_LIST,
    ),
    call::<CheckpointParams, ()>(
        m::WORKSPACE_CHECKPOINT_REMOVE,
        "Removes a checkpoint and its ref (git's next gc frees its objects).",
        r#"{"workspace":"feat-x","checkpoint":"before-refactor"}"#,
        "null",
    ),
    call::<CheckpointParams, Checkpoint>(
        m::WORKSPACE_RESTORE,
        "Brings a running or stopped workspace's worktree back to a checkpoint: its branch to the checkpoint's HEAD, the index and every file as recorded, files recorded nowhere removed (ignored ones stay); a full checkpoint also replaces the container with one of its image (same SSH port and host key; the workspace is running after). A checkpoint of the state before (full when the restored one is) is taken first and returned: restoring it undoes the restore.",
        r#"{"workspace":"feat-x","checkpoint":"before-refactor"}"#,
        CHECKPOINT,
    ),
    call::<ForkParams, Workspace>(
        m::WORKSPACE_FORK,
        "Makes a new workspace from a checkpoint of another (a new checkpoint of its state now when none is named): branch nexus/<name> at the checkpoint's HEAD, the worktree's files and index as recorded (uncommitted changes included), the source's image and devcontainer.json, its own container and port; returns once SSH answers. Progress comes as events of the new name.",
        r#"{"workspace":"feat-x","checkpoint":"before-refactor","name":"feat-x-try2","authorizedKeys":["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOk ana@laptop"]}"#,
        WS,
    ),
    call::<TraceSessionParams, ()>(
        m::TRACE_SESSION,
        "Declares who the calling connection is, for the Agent Trace records (docs/trace.md): the files its exec and fs calls change are attributed to it, from a snapshot of the worktree before each call to one after, in the record written at each commit in the workspace. A connection that never calls it is a person (human). MCP servers call it for their client. A modelId over 250 characters or a conversationUrl that is not an absolute URL is invalid_params.",
        r#"{"type":"ai","modelId":"anthropic/claude-sonnet-4-5","conversationUrl":"https://claude.ai/chat/4f1c","tool":{"name":"claude-code","version":"2.0.14"}}"#,
        "null",
    ),
    subscription::<LogsParams, LogChunk>(
        (
            m::WORKSPACE_LOGS,
            m::WORKSPACE_LOGS_NOTIFICATION,
            m::WORKSPACE_LOGS_UNSUBSCRIBE,
        ),
        "The container's log; with follow, until the container stops (a last chunk has end: true).",
        r#"{"workspace":"feat-x","follow":true}"#,
        r#"{"stream":"stderr","text":"serving SSH on port 2222\n"}"#,
    ),
    subscription::<StatsParams, StatsSample>(
        (
            m::WORKSPACE_STATS,
            m::WORKSPACE_STATS_NOTIFICATION,
            m::WORKSPACE_STATS_UNSUBSCRIBE,
        ),
        "The running workspace's CPU, memory, network and disk use, about once a second, as `docker stats` computes it; with history, the last 15 minutes first. One Docker stats stream per running workspace feeds every subscriber.",
        r#"{"workspace":"feat-x","history":true}"#,
        r#"{"time":1795000000000,"cpuPercent":12.5,"memoryBytes":104857600,"memoryLimitBytes":8589934592,"networkRxPerSec":2048.0,"networkTxPerSec":512.0,"blockReadPerSec":0.0,"blockWritePerSec":4096.0}"#,
    ),
    call::<ExecParams, ExecResult>(
        m::EXEC_RUN,
        "Runs a command to its end (stdin closed); alias `exec`. At most 8 MiB of output.",
        r#"{"workspace":"feat-x","command":["cargo","test"],"env":{"RUST_LOG":"debug"},"cwd":"/workspaces/app","timeoutSecs":600}"#,
        r#"{"exitCode":0,"stdout":"test result: ok. 12 passed\n","stderr":""}"#,
    ),
    subscription::<ExecParams, ExecEvent>(
        (m::EXEC_STREAM, m::EXEC_STREAM_NOTIFICATION, m::EXEC_STREAM_UNSUBSCRIBE),
        "Runs a command on its own connection: started, output chunks in order, exactly one exit. Unsubscribing hangs it up (SIGHUP).",
        r#"{"workspace":"feat-x","command":["bash"],"stdin":true,"pty":{"cols":120,"rows":40}}"#,
        r#"{"type":"stdout","data":"dev@feat-x:/workspaces/app$ "}"#,
    ),
    call::<ExecWriteParams, ()>(
        m::EXEC_WRITE,
        "Writes to a streamed exec's stdin; answers once the bytes are sent (backpressure).",
        r#"{"execId":"9c1e44a0b7d2f310","data":"ls\n","encoding":"utf8"}"#,
        "null",
    ),
    call::<ExecIdParams, ()>(
        m::EXEC_CLOSE_STDIN,
        "Closes a streamed exec's stdin (the process reads end-of-file).",
        r#"{"execId":"9c1e44a0b7d2f310"}"#,
        "null",
    ),
    call::<ExecResizeParams, ()>(
        m::EXEC_RESIZE,
        "Resizes a streamed exec's pty.",
        r#"{"execId":"9c1e44a0b7d2f310","cols":160,"rows":48}"#,
        "null",
    ),
    call::<ExecSignalParams, ()>(
        m::EXEC_SIGNAL,
        "Sends a signal to a streamed exec's process group.",
        r#"{"execId":"9c1e44a0b7d2f310","signal":"INT"}"#,
        "null",
    ),
    call::<ExecIdParams, ()>(
        m::EXEC_KILL,
        "SIGKILL for a streamed exec.",
        r#"{"execId":"9c1e44a0b7d2f310"}"#,
        "null",
    ),
    call::<ReadFileParams, ReadFileResult>(
        m::FS_READ_FILE,
        "Reads a file (or a chunk of it, with offset and length), at most 8 MiB an answer.",
        r#"{"workspace":"feat-x","path":"src/main.rs","encoding":"utf8"}"#,
        r#"{"content":"fn main() {}\n","encoding":"utf8","size":13,"eof":true}"#,
    ),
    call::<WriteFileParams, ()>(
        m::FS_WRITE_FILE,
        "Writes a file: replaces it, appends, or writes at an offset.",
        r#"{"workspace":"feat-x","path":"notes.txt","content":"aGVsbG8K","encoding":"base64","append":false}"#,
        "null",
    ),
    call::<PathParams, bool>(
        m::FS_EXISTS,
        "Whether anything is at the path.",
        r#"{"workspace":"feat-x","path":"Cargo.toml"}"#,
        "true",
    ),
    call::<PathParams, FileStat>(
        m::FS_STAT,
        "A path's metadata (following symlinks).",
        r#"{"workspace":"feat-x","path":"src/main.rs"}"#,
        STAT,
    ),
    call::<PathParams, Vec<FileStat>>(
        m::FS_READDIR,
        "A directory's entries with type, size, mode and mtime.",
        r#"{"workspace":"feat-x","path":"src"}"#,
        STAT_LIST,
    ),
    call::<MkdirParams, ()>(
        m::FS_MKDIR,
        "Makes a directory (and its parents with recursive).",
        r#"{"workspace":"feat-x","path":"a/b/c","recursive":true}"#,
        "null",
    ),
    call::<RmParams, ()>(
        m::FS_RM,
        "Removes a file, or a directory with recursive.",
        r#"{"workspace":"feat-x","path":"target","recursive":true,"force":true}"#,
        "null",
    ),
    call::<RenameParams, ()>(
        m::FS_RENAME,
        "Renames a path; the target must not exist.",
        r#"{"workspace":"feat-x","from":"a.txt","to":"b.txt"}"#,
        "null",
    ),
    subscription::<WatchParams, FsEvent>(
        (m::FS_WATCH, m::FS_WATCH_NOTIFICATION, m::FS_WATCH_UNSUBSCRIBE),
        "Watches a path with inotify in the container: ready, then create/modify/delete; end when the path goes or the workspace stops.",
        r#"{"workspace":"feat-x","path":".","recursive":true}"#,
        r#"{"type":"modify","path":"/workspaces/app/src/main.rs"}"#,
    ),
    call::<PortsParams, Vec<PortInfo>>(
        m::PORTS_LIST,
        "Ports listening in the container, host forwards (to them, or with host to another host's port the container reaches), and the ports devcontainer.json declares with their portsAttributes label and protocol.",
        r#"{"workspace":"feat-x"}"#,
        r#"[{"containerPort":3000,"listening":true,"hostPort":32801},{"containerPort":5432,"host":"db","listening":false,"hostPort":32802,"declared":true,"label":"Database"}]"#,
    ),
    call::<ForwardParams, PortInfo>(
        m::PORTS_FORWARD,
        "Opens a host port on 127.0.0.1 (from the Nexus range) to a container port, or with host to a port of another host the container reaches (a compose service; devcontainer.json's forwardPorts \"db:5432\" is forwarded so while the workspace runs): those connections are made from inside the container.",
        r#"{"workspace":"feat-x","containerPort":3000}"#,
        r#"{"containerPort":3000,"listening":true,"hostPort":32801}"#,
    ),
    call::<UnforwardParams, ()>(
        m::PORTS_UNFORWARD,
        "Closes a host forward and frees its port.",
        r#"{"workspace":"feat-x","hostPort":32801}"#,
        "null",
    ),
    subscription::<TunnelParams, TunnelEvent>(
        (m::TUNNEL_OPEN, m::TUNNEL_NOTIFICATION, m::TUNNEL_UNSUBSCRIBE),
        "One TCP connection to a container port (the SSH server when port is absent) over this WebSocket: opened, data, closed.",
        r#"{"workspace":"feat-x"}"#,
        r#"{"type":"data","data":"U1NILTIuMC1OZXh1c0FnZW50XzAuMS4wDQo="}"#,
    ),
    call::<TunnelWriteParams, ()>(
        m::TUNNEL_WRITE,
        "Sends bytes into a tunnel; answers once they are sent.",
        r#"{"tunnelId":"51d0e2a7c3b94f86","data":"U1NILTIuMC1PcGVuU1NIXzkuMg0K"}"#,
        "null",
    ),
    call::<TunnelIdParams, ()>(
        m::TUNNEL_CLOSE,
        "Ends a tunnel's input; closed follows when the remote end closes.",
        r#"{"tunnelId":"51d0e2a7c3b94f86"}"#,
        "null",
    ),
    subscription::<EventsParams, Event>(
        (m::EVENTS_SUBSCRIBE, m::EVENTS_NOTIFICATION, m::EVENTS_UNSUBSCRIBE),
        "Workspace state changes, create/start/remove progress, ports opened and closed; for one workspace or all. Ports are watched only while a subscription covers the workspace: on subscribing, the ports listening then arrive as portOpened (within 2 s), and a listen() or close is seen within 2 s.",
        r#"{"workspace":"feat-x"}"#,
        r#"{"type":"state","workspace":"feat-x","state":"running"}"#,
    ),
    call::<NoParams, Vec<TemplateInfo>>(
        m::TEMPLATE_LIST,
        "The built-in templates workspace.create's template can name.",
        "{}",
        r#"[{"name":"python","description":"the default template with Python 3, pip and venv","image":"nexus/python:bookworm","devcontainerJson":"{\"image\": \"nexus/python:bookworm\"}"}]"#,
    ),
    call::<NoParams, DaemonInfo>(
        m::DAEMON_INFO,
        "The daemon's version, pid, SSH port range and mode (single or team).",
        "{}",
        r#"{"version":"0.1.0","pid":4242,"portRange":[32800,34999],"mode":"single","apiVersion":2,"apiMin":1}"#,
    ),
    call::<ImagePruneParams, ImagePruneResult>(
        m::IMAGE_PRUNE,
        "Removes images Nexus built that no container uses and no workspace names: template images a newer build replaced, devcontainer.json images of repositories gone from disk, and those beyond the newest few of each repository (nexusd --keep-images, default 3); with all, every such image. Never an image Nexus did not build, never forced. The daemon runs the same pass (all false) after each workspace.remove and workspace.rebuild, sparing images made in the last 10 minutes.",
        r#"{"all":false,"dryRun":true}"#,
        r#"{"images":[{"id":"sha256:5f2c…","tags":["nexus/devcontainer:8d41c0e2a9f3b7d1"],"sizeBytes":91750400,"reason":"old"}],"reclaimedBytes":91750400,"dryRun":true}"#,
    ),
    call::<NoParams, Challenge>(
        m::AUTH_CHALLENGE,
        "Team mode: a one-time challenge (60 s) for auth.login with an SSH key: sign it with ssh-keygen -Y sign -n nexus-login@nexus.dev, or through ssh-agent.",
        "{}",
        r#"{"challenge":"9f0c1d2b4e5f60a13f9a0c1d2b4e5f60a13f9a0c1d2b4e5f60a13f9a0c1d2b4e","namespace":"nexus-login@nexus.dev"}"#,
    ),
    call::<LoginParams, NewToken>(
        m::AUTH_LOGIN,
        "Team mode: a session token (nxs_…, 12 hours past its last use) for the person whose key signed the challenge, or whose name and password match. Five failures of one name or key in a minute are refused for the rest of it (rate_limited).",
        r#"{"challenge":"9f0c1d2b4e5f60a13f9a0c1d2b4e5f60a13f9a0c1d2b4e5f60a13f9a0c1d2b4e","signature":"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH…\n-----END SSH SIGNATURE-----"}"#,
        NEW_TOKEN,
    ),
    call::<NoParams, ()>(
        m::AUTH_LOGOUT,
        "Team mode: revokes the token of this call.",
        "{}",
        "null",
    ),
    call::<NoParams, WhoAmI>(
        m::AUTH_WHOAMI,
        "The daemon's mode and, in team mode, the caller and their token.",
        "{}",
        r#"{"mode":"team","user":{"name":"ana","admin":true,"status":"active","hasPassword":false,"keys":[],"allowed":[],"quota":{},"usage":{"workspaces":0,"cpus":0.0,"memory":0,"storage":0},"createdAt":1795000000}}"#,
    ),
    call::<NoParams, DashboardLink>(
        m::AUTH_DASHBOARD_LINK,
        "A one-time sign-in link of the web dashboard for the caller: opening it within 60 s sets an HttpOnly, SameSite=Strict session cookie (12 hours, renewed by use) and leads to the overview. The link holds a code, never the token; a code works once.",
        "{}",
        r#"{"path":"/login?code=5f0c…","expiresIn":60}"#,
    ),
    call::<UserAddParams, User>(
        m::USER_ADD,
        "Team mode, site admins: adds a person with SSH keys and optionally a password (argon2id).",
        r#"{"name":"bo","keys":["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOk bo@laptop"]}"#,
        USER,
    ),
    call::<NoParams, Vec<User>>(m::USER_LIST, "Team mode, site admins: everyone.", "{}", USERS),
    call::<UserParams, User>(
        m::USER_SUSPEND,
        "Team mode, site admins: refuses the person's tokens and logins until resumed.",
        r#"{"user":"bo"}"#,
        USER,
    ),
    call::<UserParams, User>(
        m::USER_RESUME,
        "Team mode, site admins: ends a suspension.",
        r#"{"user":"bo"}"#,
        USER,
    ),
    call::<UserParams, ()>(
        m::USER_REMOVE,
        "Team mode, site admins: removes a person with their keys, tokens and shares (refused while they created a workspace).",
        r#"{"user":"bo"}"#,
        "null",
    ),
    call::<UserQuotaParams, User>(
        m::USER_QUOTA,
        "Team mode, site admins: a person's quota — workspaces in any state, CPUs and memory of running workspaces (each container gets its share as Docker limits) — checked in the create's transaction, so concurrent creates cannot pass it; 0 clears a limit; lowering one evicts nothing. Answers the person with quota and usage.",
        r#"{"user":"bo","workspaces":20,"cpus":8.0,"memory":"16g"}"#,
        USER,
    ),
    call::<UserPolicyParams, User>(
        m::USER_POLICY,
        "Team mode, site admins: which host-acting devcontainer.json properties and compose keys (initializeCommand, bind mounts outside the worktree, privileged, capAdd, …) the person's workspaces may use; replaces the list. Without it each is refused at create with an error naming it.",
        r#"{"user":"bo","allow":["initializeCommand","capAdd"]}"#,
        USER,
    ),
    call::<UserKeyParams, User>(
        m::USER_KEY_ADD,
        "Team mode: adds an SSH key to yourself (site admins: to anyone); a key belongs to one person.",
        r#"{"key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOk bo@desktop"}"#,
        USER,
    ),
    call::<UserKeyParams, User>(
        m::USER_KEY_REMOVE,
        "Team mode: removes an SSH key (the key or its SHA256: fingerprint) of yourself (site admins: of anyone).",
        r#"{"key":"SHA256:q1w2e3r4t5y6u7i8o9p0"}"#,
        USER,
    ),
    call::<TokenCreateParams, NewToken>(
        m::TOKEN_CREATE,
        "Team mode: an API token (nxp_…) of the caller with scopes no higher than the caller's, optionally limited to workspaces and expiring; its secret is shown this once. API tokens cannot make tokens.",
        r#"{"name":"ci","scopes":["workspace:read","workspace:write"],"workspaces":["feat-x"],"expires":"30d"}"#,
        NEW_TOKEN,
    ),
    call::<NoParams, Vec<TokenInfo>>(
        m::TOKEN_LIST,
        "Team mode: the caller's tokens not revoked (never their secrets).",
        "{}",
        r#"[{"id":3,"kind":"api","name":"ci","scopes":["workspace:read","workspace:write"],"workspaces":["feat-x"],"expiresAt":1797592000,"createdAt":1795000000}]"#,
    ),
    call::<TokenIdParams, ()>(
        m::TOKEN_REVOKE,
        "Team mode: revokes one of the caller's tokens (site admins: anyone's); it is refused from its next call.",
        r#"{"id":3}"#,
        "null",
    ),
    call::<ShareParams, Share>(
        m::WORKSPACE_SHARE,
        "Team mode: shares a workspace with a person as viewer, editor or owner (a shared owner gives at most editor), optionally for a time; replaces their share.",
        r#"{"workspace":"feat-x","user":"bo","permission":"editor","expires":"8h"}"#,
        SHARE,
    ),
    call::<UnshareParams, ()>(
        m::WORKSPACE_UNSHARE,
        "Team mode: ends a person's share.",
        r#"{"workspace":"feat-x","user":"bo"}"#,
        "null",
    ),
    call::<NameParams, Vec<Share>>(
        m::WORKSPACE_SHARES,
        "Team mode: a workspace's shares in force.",
        r#"{"workspace":"feat-x"}"#,
        r#"[{"user":"bo","permission":"editor","expiresAt":1795028800,"createdBy":"ana","createdAt":1795000000}]"#,
    ),
    call::<ShareCodeParams, ShareCode>(
        m::WORKSPACE_SHARE_CODE,
        "Team mode: a share code (nxc_…, shown once; only its SHA-256 is kept) that anyone signed in may redeem with workspace.accept for a share as permission, until it expires (default 1h) or is used maxUses times.",
        r#"{"workspace":"feat-x","permission":"viewer","expires":"1h","maxUses":1}"#,
        r#"{"code":"nxc_7Hq2mK9pL4vB1cZ8aS3dF6gJ0tR5wY2x4e7d","workspace":"feat-x","permission":"viewer","expiresAt":1795003600,"maxUses":1}"#,
    ),
    call::<AcceptParams, Accepted>(
        m::WORKSPACE_ACCEPT,
        "Team mode: redeems a share code for the caller (a higher share they hold stays).",
        r#"{"code":"nxc_7Hq2mK9pL4vB1cZ8aS3dF6gJ0tR5wY2x4e7d"}"#,
        r#"{"workspace":"feat-x","permission":"viewer"}"#,
    ),
    call::<UnshareParams, ()>(
        m::WORKSPACE_TRANSFER,
        "Team mode, the creator or a site admin: makes another person the workspace's creator, within their quota; the old creator keeps nothing.",
        r#"{"workspace":"feat-x","user":"bo"}"#,
        "null",
    ),
    call::<OrgParams, Org>(
        m::ORG_CREATE,
        "Team mode: a new organization, the caller its admin. Names are [a-z0-9-]{2,32}, unique regardless of case.",
        r#"{"org":"acme"}"#,
        ORG,
    ),
    call::<NoParams, Vec<Org>>(
        m::ORG_LIST,
        "Team mode: the caller's organizations (a site admin: all).",
        "{}",
        r#"[{"name":"acme","sharing":"org","role":"admin","current":true,"workspaces":3,"members":[],"createdAt":1795000000}]"#,
    ),
    call::<OrgParams, Org>(
        m::ORG_SHOW,
        "Team mode, members: an organization with its members. Anyone else gets not_found, as for a missing one.",
        r#"{"org":"acme"}"#,
        r#"{"name":"acme","sharing":"org","role":"admin","current":true,"workspaces":3,"members":[{"user":"ana","role":"admin"},{"user":"bo","role":"member"}],"createdAt":1795000000}"#,
    ),
    call::<OrgParams, ()>(
        m::ORG_DELETE,
        "Team mode, org admins: deletes an organization without workspaces.",
        r#"{"org":"acme"}"#,
        "null",
    ),
    call::<OrgSwitchParams, ()>(
        m::ORG_SWITCH,
        "Team mode, members: the organization the caller's new workspaces belong to (absent: none).",
        r#"{"org":"acme"}"#,
        "null",
    ),
    call::<OrgInviteParams, OrgInvite>(
        m::ORG_INVITE,
        "Team mode, org admins: a single-use invitation code (shown once; only its SHA-256 kept) that expires (default 7d).",
        r#"{"org":"acme","role":"member","expires":"7d"}"#,
        r#"{"code":"nxc_7Hq2mK9pL4vB1cZ8aS3dF6gJ0tR5wY2x4e7d","org":"acme","role":"member","expiresAt":1795604800}"#,
    ),
    call::<AcceptParams, Org>(
        m::ORG_JOIN,
        "Team mode: joins the organization of an invitation code.",
        r#"{"code":"nxc_7Hq2mK9pL4vB1cZ8aS3dF6gJ0tR5wY2x4e7d"}"#,
        r#"{"name":"acme","sharing":"org","role":"member","current":false,"workspaces":3,"members":[],"createdAt":1795000000}"#,
    ),
    call::<OrgMemberParams, ()>(
        m::ORG_MEMBERS_UPDATE,
        "Team mode, org admins: changes a member's role (the last admin stays admin).",
        r#"{"org":"acme","user":"bo","role":"admin"}"#,
        "null",
    ),
    call::<OrgMemberParams, ()>(
        m::ORG_MEMBERS_REMOVE,
        "Team mode, org admins: removes a member; their shares of the org's workspaces end (SSH sessions close).",
        r#"{"org":"acme","user":"bo"}"#,
        "null",
    ),
    call::<OrgParams, ()>(
        m::ORG_LEAVE,
        "Team mode, members: leaves an organization; the caller's shares of its workspaces end.",
        r#"{"org":"acme"}"#,
        "null",
    ),
    call::<OrgPolicyParams, ()>(
        m::ORG_POLICY,
        "Team mode, org admins: who the org's workspaces may be shared with: none, org (members only) or any.",
        r#"{"org":"acme","sharing":"org"}"#,
        "null",
    ),
    call::<OrgQuotaParams, OrgUsage>(
        m::ORG_QUOTA,
        "Team mode, site admins: an organization's quota — workspaces in any state, CPUs and memory of running workspaces — checked with each creator's own in the create's transaction; 0 clears a limit; lowering one evicts nothing.",
        r#"{"org":"acme","workspaces":50,"cpus":32.0,"memory":"128g"}"#,
        ORG_USAGE,
    ),
    call::<OrgParams, OrgUsage>(
        m::ORG_USAGE,
        "Team mode, members: an organization's quota and what its workspaces use.",
        r#"{"org":"acme"}"#,
        ORG_USAGE,
    ),
    call::<TeamParams, ()>(
        m::TEAM_CREATE,
        "Team mode, org admins: a team of the organization; workspaces of the org are shared with it as @name.",
        r#"{"org":"acme","team":"backend"}"#,
        "null",
    ),
    call::<OrgParams, Vec<Team>>(
        m::TEAM_LIST,
        "Team mode, members: the organization's teams and their members.",
        r#"{"org":"acme"}"#,
        r#"[{"name":"backend","members":["bo","cy"]}]"#,
    ),
    call::<TeamMemberParams, ()>(
        m::TEAM_ADD_MEMBER,
        "Team mode, org admins: adds a member of the organization to a team; the team's shares reach them at once.",
        r#"{"org":"acme","team":"backend","user":"bo"}"#,
        "null",
    ),
    call::<TeamMemberParams, ()>(
        m::TEAM_REMOVE_MEMBER,
        "Team mode, org admins: removes a person from a team; the team's shares stop reaching them at once (their SSH sessions close).",
        r#"{"org":"acme","team":"backend","user":"bo"}"#,
        "null",
    ),
    call::<BreakGlassParams, Share>(
        m::WORKSPACE_BREAK_GLASS,
        "Team mode, site and org admins: a shell in a workspace they may otherwise only see and stop — an editor share of theirs for minutes (default 30, at most 240), with the reason, recorded in the audit log and shown in workspace.shares.",
        r#"{"workspace":"feat-x","reason":"incident 4711: the build cache is corrupt","minutes":30}"#,
        r#"{"user":"ana","permission":"editor","expiresAt":1795001800,"createdBy":"ana","createdAt":1795000000,"reason":"incident 4711: the build cache is corrupt"}"#,
    ),
    call::<NameParams, Vec<SshSession>>(
        m::WORKSPACE_SESSIONS,
        "Team mode: who is connected to a workspace over SSH, with which key, from where and since when.",
        r#"{"workspace":"feat-x"}"#,
        r#"[{"user":"bo","fingerprint":"SHA256:q1w2e3r4t5y6u7i8o9p0","peer":"127.0.0.1:51422","since":1795000000}]"#,
    ),
    call::<NameParams, ()>(
        m::WORKSPACE_LEAVE,
        "Team mode: ends the caller's own share of a workspace.",
        r#"{"workspace":"feat-x"}"#,
        "null",
    ),
    call::<AuditListParams, Vec<AuditEntry>>(
        m::AUDIT_LIST,
        "Team mode, site admins: audit rows, oldest first (the newest limit of them): every call that changes something with its outcome, every refusal, logins.",
        r#"{"workspace":"feat-x","limit":100}"#,
        r#"[{"seq":41,"at":1795000000123,"actor":"ana","action":"workspace.share","target":"feat-x","outcome":"ok","detail":"user=bo permission=editor"}]"#,
    ),
    call::<NoParams, AuditVerify>(
        m::AUDIT_VERIFY,
        "Team mode, site admins: recomputes the audit log's HMAC chain; firstBad names the first row that was changed.",
        "{}",
        r#"{"rows":41}"#,
    ),
    call::<NoParams, Value>(
        m::RPC_DISCOVER,
        "This API as an OpenRPC 1.2 document.",
        "{}",
        r#"{"openrpc":"1.2.6"}"#,
    ),
];

const WS_LIST: &str = r#"[{"id":"3f9a0c1d2b4e5f60","name":"feat-x","state":"stopped","repository":"/home/ana/src/app","worktree":"/home/ana/src/app/.worktree/feat-x","branch":"nexus/feat-x","image":"nexus/default:bookworm","remoteUser":"dev","workspaceFolder":"/workspaces/app","sshHost":"127.0.0.1","sshPort":32800,"hostPublicKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8 nexus","createdAt":1795000000}]"#;

const STAT_LIST: &str = r#"[{"name":"main.rs","type":"file","size":1834,"mode":420,"mtime":1795000000},{"name":"bin","type":"directory","size":4096,"mode":493,"mtime":1795000000}]"#;

/// The OpenRPC 1.2 document of the API (<https://spec.open-rpc.org>):
/// by-name parameters, one per member of the method's params type; schemas
/// under `components.schemas`; subscriptions marked with `x-subscription`
/// (their result is the subscription id; `x-subscription.item` is each
/// notification's `result`).
pub fn document() -> Value {
    let mut settings = schemars::generate::SchemaSettings::draft07();
    settings.definitions_path = "/components/schemas".into();
    let mut g = SchemaGenerator::new(settings);
    let mut methods = Vec::new();
    for spec in METHODS {
        let params_ref = (spec.params)(&mut g);
        let result = (spec.result)(&mut g);
        let mut method = json!({
            "name": spec.name,
            "summary": spec.summary,
            "paramStructure": "by-name",
            "params": by_name(&g, &params_ref),
            "x-params": params_ref,
            "x-permission": crate::team::permission(spec.name),
            "examples": [{
                "name": "example",
                "params": example_params(spec),
                "result": {"name": "result", "value": parse(spec.example_result)},
            }],
        });
        match spec.subscription {
            Some((notification, unsubscribe)) => {
                method["result"] = json!({"name": "subscription", "schema": {"type": "string"}});
                method["x-subscription"] = json!({
                    "notification": notification,
                    "unsubscribe": unsubscribe,
                    "item": result,
                });
            }
            None => method["result"] = json!({"name": "result", "schema": result}),
        }
        methods.push(method);
    }
    methods.push(json!({
        "name": m::EXEC,
        "summary": "The first Nexus SDK's name of exec.run (same params and result).",
        "paramStructure": "by-name",
        "params": methods.iter().find(|x| x["name"] == m::EXEC_RUN).map(|x| x["params"].clone()),
        "result": methods.iter().find(|x| x["name"] == m::EXEC_RUN).map(|x| x["result"].clone()),
        "x-permission": crate::team::permission(m::EXEC),
    }));
    let read_bytes = g.subschema_for::<ReadBytesParams>();
    let routes = json!([{
        "method": "GET",
        "path": m::HTTP_FS_READ,
        "summary": "A file's raw bytes as the HTTP body (no JSON, no base64, no size limit); errors are JSON-RPC error responses with a 4xx/5xx status.",
        "query": read_bytes,
        "responseHeaders": {"content-length": "bytes in the body", (m::HTTP_FILE_SIZE_HEADER): "the whole file's size, in bytes"},
        "x-permission": crate::team::permission(m::HTTP_FS_READ),
    }, {
        "method": "GET",
        "path": m::HTTP_METRICS,
        "summary": "The daemon's metrics, OpenMetrics text.",
        "x-permission": crate::team::permission(m::HTTP_METRICS),
    }]);
    let errors: Vec<Value> = crate::error::ALL_KINDS
        .iter()
        .map(|k| json!({"code": k.code(), "message": serde_json::to_value(k).unwrap_or_default()}))
        .collect();
    json!({
        "openrpc": "1.2.6",
        "info": {
            "title": "Nexus daemon API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "JSON-RPC 2.0 over WebSocket with a bearer token; see docs/protocol.md.",
        },
        "methods": methods,
        "components": {
            "schemas": g.definitions(),
            "x-errors": errors,
        },
        "x-http-routes": routes,
    })
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn example_params(spec: &MethodSpec) -> Vec<Value> {
    match parse(spec.example_params) {
        Value::Object(map) => map.into_iter().map(|(k, v)| json!({"name": k, "value": v})).collect(),
        _ => vec![],
    }
}

/// The ContentDescriptors of a params type's members (its schema is a `$ref`
/// into the generator's definitions).
fn by_name(g: &SchemaGenerator, params_ref: &Schema) -> Vec<Value> {
    let name = params_ref
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .unwrap_or_default();
    let Some(def) = g.definitions().get(name) else {
        return vec![];
    };
    let required: Vec<&str> = def["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    def["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(k, schema)| {
                    json!({
                        "name": k,
                        "required": required.contains(&k.as_str()),
                        "description": schema.get("description").cloned().unwrap_or(Value::Null),
                        "schema": schema,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Checks every example against its types: `Err` names the method and the mismatch.
pub fn check_examples() -> Result<(), String> {
    for spec in METHODS {
        if spec.name == m::RPC_DISCOVER {
            continue; // its result is a document, checked by its own test
        }
        (spec.check)(&parse(spec.example_params), &parse(spec.example_result))
            .map_err(|e| format!("{}: {e}", spec.name))?;
    }
    Ok(())
}

/// The method reference of `docs/protocol.md`, generated from [`METHODS`].
pub fn markdown() -> String {
    let mut out = String::new();
    for spec in METHODS {
        out.push_str(&format!("### `{}`\n\n{}\n\n", spec.name, spec.summary));
        if let Some((notification, unsubscribe)) = spec.subscription {
            out.push_str(&format!(
                "A subscription: the answer is its id; notifications come as `{notification}`; \
                 `{unsubscribe}` ends it.\n\n"
            ));
        }
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": spec.name, "params": parse(spec.example_params)});
        out.push_str(&format!(
            "```json\n{}\n```\n\n",
            serde_json::to_string(&request).unwrap_or_default()
        ));
        let answer = match spec.subscription {
            Some((notification, _)) => json!({"jsonrpc": "2.0", "method": notification,
                "params": {"subscription": "8147051927335562", "result": parse(spec.example_result)}}),
            None => json!({"jsonrpc": "2.0", "id": 1, "result": parse(spec.example_result)}),
        };
        let label = if spec.subscription.is_some() {
            "A notification"
        } else {
            "The answer"
        };
        out.push_str(&format!(
            "{label}:\n\n```json\n{}\n```\n\n",
            serde_json::to_string(&answer).unwrap_or_default()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_matches_its_types() {
        check_examples().unwrap_or_else(|e| panic!("{e}"));
    }

    /// Team mode serves no method without a declared permission.
    #[test]
    fn every_method_declares_a_permission() {
        for spec in METHODS {
            assert!(
                crate::team::permission(spec.name).is_some(),
                "{} declares no permission: add it to team::permission",
                spec.name
            );
            if let Some((_, unsubscribe)) = spec.subscription {
                assert!(crate::team::permission(unsubscribe).is_some(), "{unsubscribe}");
            }
        }
        for route in [m::HTTP_FS_READ, m::HTTP_METRICS, m::EXEC] {
            assert!(crate::team::permission(route).is_some(), "{route}");
        }
    }

    #[test]
    fn every_method_is_described_once() {
        let mut names: Vec<&str> = METHODS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "a method is described twice");
        let doc = document();
        for spec in METHODS {
            let method = doc["methods"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["name"] == spec.name))
                .unwrap_or_else(|| panic!("{} missing", spec.name));
            let schema = &method["result"]["schema"];
            assert!(schema.is_object() || schema.is_boolean(), "{}", spec.name);
        }
        // schema refs all resolve
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap_or_default();
            assert!(doc["components"]["schemas"][name].is_object(), "dangling $ref {name}");
        }
    }

    /// `sdk/openrpc.json` (what the TypeScript client's types are generated
    /// from) is [`document`]; `NEXUS_BLESS=1` rewrites it.
    #[test]
    fn openrpc_json_matches_the_types() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openrpc.json");
        let want = format!("{}\n", serde_json::to_string_pretty(&document()).expect("json"));
        let have = std::fs::read_to_string(path).unwrap_or_default();
        if have != want {
            if std::env::var_os("NEXUS_BLESS").is_some() {
                std::fs::write(path, want).expect("write");
            } else {
                panic!("sdk/openrpc.json differs from the types: run `NEXUS_BLESS=1 cargo test -p nexus-sdk`");
            }
        }
    }

    /// `docs/protocol.md` holds [`markdown`] between its markers; run with
    /// `NEXUS_BLESS=1` to rewrite it after changing the API.
    #[test]
    fn protocol_doc_matches_the_types() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md");
        let text = std::fs::read_to_string(path).expect("docs/protocol.md");
        let (begin, end) = ("<!-- methods:begin -->\n", "<!-- methods:end -->");
        let start = text.find(begin).expect("begin marker") + begin.len();
        let stop = text.find(end).expect("end marker");
        let want = markdown();
        if text[start..stop] != want {
            if std::env::var_os("NEXUS_BLESS").is_some() {
                let new = format!("{}{want}{}", &text[..start], &text[stop..]);
                std::fs::write(path, new).expect("write");
            } else {
                panic!(
                    "docs/protocol.md's method reference differs from the types: run `NEXUS_BLESS=1 cargo test -p nexus-sdk` and review the diff"
                );
            }
        }
    }
}
