//! End-to-end test harness: starts the real `nexusd` (own data directory,
//! address and port range) and runs the real `nexus` CLI with its own HOME and
//! SSH key, against the real Docker engine, OpenSSH client and git. On a
//! failing test it prints the daemon's log; on drop it stops the daemon by pid
//! and removes the containers labelled with its daemon id.
//!
//! Run through `scripts/test.sh`, which builds the binaries and the static
//! agent and makes the images first.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The busybox test image (`scripts/images.sh`).
pub const BUSYBOX: &str = "nexus-test/busybox:latest";
/// The default Debian image (`scripts/images.sh`).
pub const DEBIAN: &str = "nexus/default:bookworm";

/// `target/<profile>/` of this build.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>
    exe.parent().and_then(Path::parent).expect("target dir").to_path_buf()
}

/// Path of a binary of this workspace, e.g. `nexusd`.
pub fn bin(name: &str) -> PathBuf {
    let p = target_dir().join(name);
    assert!(
        p.is_file(),
        "{} is not built: run scripts/test.sh (or cargo build) first",
        p.display()
    );
    p
}

/// The static agent.
pub fn agent_binary() -> PathBuf {
    let p = target_dir().join("../x86_64-unknown-linux-gnu/agent/nexus-agent");
    assert!(p.is_file(), "{} is not built: run scripts/setup.sh first", p.display());
    p
}

/// First port of the tests' port blocks: below Linux's ephemeral range
/// (32768–60999), so no outgoing connection of any process takes one.
const PORT_BASE: u16 = 20000;
/// Ports per block: a daemon's API port and its workspaces' 40, and room.
const BLOCK_PORTS: u16 = 48;
/// Blocks, 20000–31999.
const BLOCKS: u16 = 250;

/// A block of [`BLOCK_PORTS`] ports on 127.0.0.1 that no other test holds:
/// the one allocator of every port the tests use (API ports, workspace
/// port ranges, helpers' listeners). Test processes run side by side, so a
/// block is claimed with a lock on a file of `$TMPDIR/nexus-e2e-ports/`,
/// held as long as the block lives (the kernel drops it when the process
/// ends, even killed).
#[derive(Debug)]
pub struct PortBlock {
    /// Its first port.
    pub first: u16,
    _lock: std::fs::File,
}

impl PortBlock {
    /// Claims a free block. Panics when all are taken.
    pub fn take() -> PortBlock {
        let dir = std::env::temp_dir().join("nexus-e2e-ports");
        std::fs::create_dir_all(&dir).expect("the port lock directory");
        let start = (std::process::id() % BLOCKS as u32) as u16;
        for i in 0..BLOCKS {
            let b = (start + i) % BLOCKS;
            let Ok(lock) = std::fs::File::create(dir.join(format!("{b}.lock"))) else {
                continue;
            };
            if lock.try_lock().is_err() {
                continue;
            }
            let first = PORT_BASE + b * BLOCK_PORTS;
            // something outside the tests may hold a port of it
            if (first..first + BLOCK_PORTS).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
                return PortBlock { first, _lock: lock };
            }
        }
        panic!("all {BLOCKS} test port blocks from {PORT_BASE} are taken")
    }
}

/// A TCP port on 127.0.0.1 that no other test is given: the first of a
/// block this process keeps until it ends.
pub fn free_port() -> u16 {
    static HELD: std::sync::Mutex<Vec<PortBlock>> = std::sync::Mutex::new(Vec::new());
    let block = PortBlock::take();
    let port = block.first;
    HELD.lock().unwrap_or_else(|p| p.into_inner()).push(block);
    port
}

/// Waits until `ready` holds, checking every 20 ms, for at most `deadline`
/// (generous: this waits for a thing to happen, not for time to pass);
/// panics naming `what` when it never does.
pub fn wait_for(what: &str, deadline: Duration, mut ready: impl FnMut() -> bool) {
    let until = Instant::now() + deadline;
    while !ready() {
        assert!(
            Instant::now() < until,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Calls `f` up to `tries` times, `every` apart, until `done` holds of what
/// it gives; returns the last value (the caller asserts on it).
pub fn poll<T>(tries: usize, every: Duration, mut f: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let mut value = f();
    for _ in 1..tries {
        if done(&value) {
            break;
        }
        std::thread::sleep(every);
        value = f();
    }
    value
}

/// An HTTP/1.0 `GET path` of 127.0.0.1:`port`: the whole answer, headers too.
pub fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// The entry of `listed` (`ports.list`'s answer, as `nexus workspace ports
/// --json` prints it) for `port` of `host` (`None`: the container's own);
/// panics naming what is missing.
pub fn listed_port(listed: &serde_json::Value, host: Option<&str>, port: u16) -> serde_json::Value {
    listed
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|p| p["containerPort"] == port && p["host"].as_str() == host)
        })
        .cloned()
        .unwrap_or_else(|| panic!("no port {port} of {host:?} in {listed}"))
}

/// Runs `cmd`, returning its output; panics if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs `docker ARGS` and returns its standard output, asserting that it
/// succeeded: a docker CLI that fails must never read as "nothing there".
pub fn docker_ok(args: &[&str]) -> String {
    let o = run(Command::new("docker").args(args));
    assert!(o.status.success(), "docker {args:?}:\n{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `sh -c SCRIPT` in workspace `name` through the CLI (`workspace exec`),
/// asserting success; its stdout.
pub fn sh(d: &Daemon, repo: &Repo, name: &str, script: &str) -> String {
    d.cli_ok(repo.path(), &["workspace", "exec", name, "--", "sh", "-c", script])
}

/// Output as text, for messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs git in `dir`, asserting success; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let o = run(Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
            // the tests run as root, also on repositories of the non-root test user
            "-c",
            "safe.directory=*",
        ])
        .args(args)
        .current_dir(dir));
    assert!(o.status.success(), "git {args:?} in {}:\n{}", dir.display(), text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Writes `content` to `path` under `dir`, making its directories.
pub fn write_file(dir: &Path, path: &str, content: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, content).expect("write");
}

/// A git repository with one commit, in a temporary directory.
pub struct Repo {
    /// Keeps the directory.
    pub dir: tempfile::TempDir,
}

impl Repo {
    /// Makes the repository (`README.md` committed on `main`).
    pub fn new() -> Repo {
        let dir = tempfile::Builder::new()
            .prefix("nexus-repo-")
            .tempdir()
            .expect("tempdir");
        git(dir.path(), &["init", "-q"]);
        std::fs::write(dir.path().join("README.md"), "# test\n").expect("write");
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-qm", "initial"]);
        Repo { dir }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Whether branch `name` exists.
    pub fn has_branch(&self, name: &str) -> bool {
        !git(self.path(), &["branch", "--list", name]).trim().is_empty()
    }

    /// Writes `files` (path relative to the repository, contents) and commits them.
    pub fn commit(&self, files: &[(&str, &str)]) {
        for (path, text) in files {
            let full = self.path().join(path);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(full, text).expect("write");
        }
        git(self.path(), &["add", "-A"]);
        git(self.path(), &["commit", "-qm", "change"]);
    }

    /// The worktree path of workspace `name`.
    pub fn worktree(&self, name: &str) -> PathBuf {
        self.path().join(".worktree").join(name)
    }
}

impl Default for Repo {
    fn default() -> Self {
        Repo::new()
    }
}

/// The non-root user the daemon runs as in [`Daemon::start_as_user`]: name and UID (= GID).
pub const TEST_USER: (&str, u32) = ("nexus-e2e", 2345);

/// Makes [`TEST_USER`] (member of `docker`) unless it exists. Needs root.
pub fn ensure_test_user() {
    let (name, uid) = TEST_USER;
    if run(Command::new("id").arg(name)).status.success() {
        return;
    }
    let o = run(Command::new("groupadd").args(["-g", &uid.to_string(), name]));
    assert!(
        o.status.success() || text(&o).contains("already exists"),
        "groupadd:\n{}",
        text(&o)
    );
    let o = run(Command::new("useradd").args([
        "-M",
        "-u",
        &uid.to_string(),
        "-g",
        name,
        "-G",
        "docker",
        "-s",
        "/bin/sh",
        name,
    ]));
    assert!(
        o.status.success() || text(&o).contains("already exists"),
        "useradd:\n{}",
        text(&o)
    );
}

/// Gives `path` and everything under it to [`TEST_USER`].
pub fn chown_to_test_user(path: &Path) {
    let id = format!("{0}:{0}", TEST_USER.1);
    let o = run(Command::new("chown").args(["-R", &id]).arg(path));
    assert!(o.status.success(), "chown:\n{}", text(&o));
}

/// Makes an Ed25519 key pair without a passphrase at `path` (and `path.pub`).
pub fn keygen(path: &Path) {
    let o = run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path));
    assert!(o.status.success(), "ssh-keygen:\n{}", text(&o));
}

/// OpenSSH client options for the tests, without a key: no config file, no
/// prompts, no host-key checks, quiet, a connect timeout.
pub fn ssh_base_options() -> Vec<String> {
    [
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
    ]
    .into_iter()
    .chain([
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=10",
    ])
    .map(String::from)
    .collect()
}

/// A background process, killed by its pid on drop.
pub struct Background(pub Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real OpenSSH `ssh-agent` on a socket in `dir`, until the second value drops.
pub fn ssh_agent(dir: &Path) -> (PathBuf, Background) {
    let sock = dir.join("agent.sock");
    let agent = Background(
        Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(Stdio::null())
            .spawn()
            .expect("ssh-agent"),
    );
    wait_for("ssh-agent", Duration::from_secs(15), || sock.exists());
    (sock, agent)
}

/// A running `nexusd` and a HOME with an SSH key for the CLI.
pub struct Daemon {
    /// Data directory, HOME and log live here.
    pub root: tempfile::TempDir,
    /// `127.0.0.1:PORT` of the API.
    pub address: String,
    /// SSH port range.
    pub range: (u16, u16),
    child: Option<Child>,
    /// Holds the daemon's ports for as long as it lives.
    _ports: PortBlock,
    extra_env: Vec<(String, String)>,
    as_user: Option<u32>,
}

impl Daemon {
    /// Starts a daemon on a [`PortBlock`] of its own: the API on its first
    /// port, workspaces on the next 40.
    pub fn start() -> Daemon {
        Daemon::start_env(&[])
    }

    /// [`Daemon::start`] with extra environment.
    pub fn start_env(env: &[(&str, &str)]) -> Daemon {
        Daemon::launch(40, env, None)
    }

    /// [`Daemon::start`] handing out only `ports` workspace ports.
    pub fn start_ports(ports: u16) -> Daemon {
        Daemon::launch(ports, &[], None)
    }

    /// Starts a daemon running as [`TEST_USER`] (made if needed); its data
    /// directory and HOME belong to that user.
    pub fn start_as_user() -> Daemon {
        ensure_test_user();
        Daemon::launch(40, &[], Some(TEST_USER.1))
    }

    /// A temporary root with a HOME holding an SSH key, then the daemon on a
    /// port block: the API, then `ports` workspace ports.
    fn launch(ports: u16, env: &[(&str, &str)], as_user: Option<u32>) -> Daemon {
        assert!((1..BLOCK_PORTS).contains(&ports), "{ports} ports do not fit a block");
        let block = PortBlock::take();
        let (first, last) = (block.first + 1, block.first + ports);
        let root = tempfile::Builder::new()
            .prefix("nexus-e2e-")
            .tempdir()
            .expect("tempdir");
        let home = root.path().join("home");
        std::fs::create_dir_all(home.join(".ssh")).expect("home");
        keygen(&home.join(".ssh/id_ed25519"));
        if as_user.is_some() {
            std::fs::create_dir_all(root.path().join("data")).expect("data");
            chown_to_test_user(root.path());
        }
        let mut d = Daemon {
            root,
            address: format!("127.0.0.1:{}", block.first),
            range: (first, last),
            _ports: block,
            child: None,
            extra_env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            as_user,
        };
        d.spawn();
        d
    }

    /// The daemon's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// The CLI's HOME.
    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// The user's private key.
    pub fn key(&self) -> PathBuf {
        self.home().join(".ssh/id_ed25519")
    }

    fn log_path(&self) -> PathBuf {
        self.root.path().join("nexusd.log")
    }

    /// (Re)starts the process and waits until the API answers.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log");
        let mut cmd = match self.as_user {
            Some(uid) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={uid}"))
                    .arg("--init-groups")
                    .arg("--")
                    .arg(bin("nexusd"))
                    .env("HOME", self.home());
                c
            }
            None => Command::new(bin("nexusd")),
        };
        let child = cmd
            .arg("--listen")
            .arg(&self.address)
            .arg("--port-range")
            .arg(format!("{}-{}", self.range.0, self.range.1))
            .env("NEXUS_DATA_DIR", self.data_dir())
            .env("NEXUS_AGENT_BINARY", agent_binary())
            .env("RUST_LOG", "info,nexusd=debug")
            .envs(self.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start nexusd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.data_dir().join("token").is_file() && std::net::TcpStream::connect(&self.address).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("nexusd did not answer on {}:\n{}", self.address, self.log());
    }

    /// The pid of the daemon's SSH relay, while it runs (it outlives the
    /// daemon, as SSH must).
    pub fn relay_pid(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.data_dir().join("relay.lock"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        // only ours: a pid the kernel gave to another process since is not
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline);
        (cmdline.contains("--relay") && cmdline.contains(&*self.data_dir().to_string_lossy())).then_some(pid)
    }

    /// Ends the daemon's SSH relay, by its pid.
    pub fn end_relay(&self) {
        if let Some(pid) = self.relay_pid() {
            let _ = Command::new("kill").arg(pid.to_string()).output();
        }
    }

    /// Kills the daemon with SIGKILL (no clean-up of its own).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The bearer token.
    pub fn token(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("token"))
            .expect("token")
            .trim()
            .to_string()
    }

    /// The daemon id (value of its containers' `dev.nexus.daemon` label).
    pub fn daemon_id(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("daemon_id"))
            .expect("daemon id")
            .trim()
            .to_string()
    }

    /// A `nexus` command aimed at this daemon, with its own HOME.
    pub fn nexus(&self) -> Command {
        let mut c = Command::new(bin("nexus"));
        c.env("HOME", self.home())
            .env("NEXUS_HOST", &self.address)
            .env("NEXUS_DATA_DIR", self.data_dir())
            // nothing of the developer's own setup reaches the CLI under test
            .env_remove("NEXUS_TOKEN")
            .env_remove("NEXUS_CONTEXT")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .stdin(Stdio::null());
        c
    }

    /// Runs `nexus ARGS` in `dir`.
    pub fn cli(&self, dir: &Path, args: &[&str]) -> Output {
        run(self.nexus().args(args).current_dir(dir))
    }

    /// Runs `nexus ARGS` in `dir`, asserting success; returns stdout.
    pub fn cli_ok(&self, dir: &Path, args: &[&str]) -> String {
        let o = self.cli(dir, args);
        assert!(
            o.status.success(),
            "nexus {args:?}:\n{}\n--- daemon log\n{}",
            text(&o),
            self.log()
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Creates workspace `name` in `repo` from `image`; returns its JSON.
    pub fn create(&self, repo: &Repo, name: &str, image: &str) -> serde_json::Value {
        let out = self.cli_ok(repo.path(), &["workspace", "create", name, "--image", image, "--json"]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("create --json printed no JSON ({e}):\n{out}"))
    }

    /// The daemon's resident set size now, in KiB (`VmRSS` of /proc/PID/status).
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().expect("daemon runs").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// A raw WebSocket to the API with the token, for what the SDK will
    /// not send (bad JSON, a reader that stops reading).
    pub async fn raw_socket(
        &self,
    ) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("ws://{}", self.address).into_client_request().expect("request");
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {}", self.token()).parse().expect("header"),
        );
        // no client-side size limits: the daemon's are under test
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(None)
            .max_frame_size(None);
        tokio_tungstenite::connect_async_with_config(req, Some(config), false)
            .await
            .expect("websocket")
            .0
    }

    /// An SDK client.
    pub async fn client(&self) -> nexus_sdk::client::Client {
        nexus_sdk::client::Client::connect(&self.address, &self.token())
            .await
            .expect("connect")
    }

    /// Ids of containers this daemon made that still exist.
    pub fn containers(&self) -> Vec<String> {
        let o = run(Command::new("docker").args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=dev.nexus.daemon={}", self.daemon_id()),
        ]));
        // a docker CLI that fails lists nothing: that must not pass for "no containers"
        assert!(o.status.success(), "docker ps:\n{}", text(&o));
        String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect()
    }

    /// OpenSSH client options for the tests: [`ssh_base_options`] and the user's key.
    pub fn ssh_options(&self) -> Vec<String> {
        let mut o = ssh_base_options();
        o.push("-i".into());
        o.push(self.key().display().to_string());
        o
    }

    /// Real `ssh` to a workspace with [`Daemon::ssh_options`]:
    /// `ssh [OPTIONS] -p PORT USER@127.0.0.1`; the caller adds the remote command.
    pub fn ssh_command(&self, ws: &serde_json::Value, options: &[&str]) -> Command {
        let port = ws["sshPort"].as_u64().expect("sshPort").to_string();
        let user = ws["remoteUser"].as_str().expect("remoteUser");
        let mut c = Command::new("ssh");
        c.args(options)
            .args(self.ssh_options())
            .args(["-p", &port])
            .arg(format!("{user}@127.0.0.1"));
        c
    }

    /// Runs `command` in a workspace over real `ssh` (see [`Daemon::ssh_command`]).
    pub fn ssh(&self, ws: &serde_json::Value, command: &str) -> Output {
        run(self.ssh_command(ws, &[]).arg(command).stdin(Stdio::null()))
    }

    /// Asserts that workspace `name` left nothing: no record, no container,
    /// no worktree, and (unless `branch_kept`) no branch.
    pub fn assert_no_leftovers(&self, repo: &Repo, name: &str, branch_kept: bool) {
        let list = self.cli_ok(repo.path(), &["workspace", "list", "--json"]);
        let list: serde_json::Value = serde_json::from_str(&list).expect("list json");
        assert!(
            !list.as_array().expect("array").iter().any(|w| w["name"] == name),
            "a record of {name} is left: {list}"
        );
        let left: Vec<String> = self
            .containers()
            .into_iter()
            .filter(|id| {
                let o = run(Command::new("docker").args([
                    "inspect",
                    "-f",
                    "{{index .Config.Labels \"dev.nexus.name\"}}",
                    id,
                ]));
                String::from_utf8_lossy(&o.stdout).trim() == name
            })
            .collect();
        assert!(left.is_empty(), "containers of {name} are left: {left:?}");
        // relay socket directories: only those of workspaces still listed
        let ids: Vec<&str> = list
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|w| w["id"].as_str())
            .collect();
        if let Ok(dirs) = std::fs::read_dir(self.data_dir().join("run")) {
            for dir in dirs.flatten() {
                let dir = dir.file_name().to_string_lossy().into_owned();
                assert!(
                    ids.contains(&dir.as_str()),
                    "a relay socket directory of no workspace is left: {dir}"
                );
            }
        }
        assert!(!repo.worktree(name).exists(), "the worktree of {name} is left");
        let worktrees = git(repo.path(), &["worktree", "list", "--porcelain"]);
        assert!(
            !worktrees.contains(&format!(".worktree/{name}\n")),
            "git still lists the worktree:\n{worktrees}"
        );
        if !branch_kept {
            assert!(
                !repo.has_branch(&format!("nexus/{name}")),
                "branch nexus/{name} is left"
            );
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- nexusd log ({})\n{}", self.address, self.log());
            let relay_log = std::fs::read_to_string(self.data_dir().join("relay.log")).unwrap_or_default();
            eprintln!("--- relay log\n{relay_log}");
        }
        self.kill9();
        self.end_relay();
        if let Ok(id) = std::fs::read_to_string(self.data_dir().join("daemon_id")) {
            let o = Command::new("docker")
                .args([
                    "ps",
                    "-aq",
                    "--filter",
                    &format!("label=dev.nexus.daemon={}", id.trim()),
                ])
                .output();
            if let Ok(o) = o {
                let ids: Vec<String> = String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect();
                // the compose projects of those containers: their networks and
                // volumes carry the project's label, not the daemon's
                let mut projects = std::collections::BTreeSet::new();
                for id in &ids {
                    let label = Command::new("docker")
                        .args([
                            "inspect",
                            "-f",
                            "{{index .Config.Labels \"com.docker.compose.project\"}}",
                            id,
                        ])
                        .output();
                    if let Ok(l) = label {
                        let project = String::from_utf8_lossy(&l.stdout).trim().to_string();
                        if !project.is_empty() && project != "<no value>" {
                            projects.insert(project);
                        }
                    }
                }
                if !ids.is_empty() {
                    let _ = Command::new("docker").args(["rm", "-f", "-v"]).args(&ids).output();
                }
                for project in projects {
                    let filter = format!("label=com.docker.compose.project={project}");
                    for kind in ["network", "volume"] {
                        let listed = Command::new("docker")
                            .args([kind, "ls", "-q", "--filter", &filter])
                            .output();
                        if let Ok(l) = listed {
                            for name in String::from_utf8_lossy(&l.stdout).lines() {
                                let _ = Command::new("docker").args([kind, "rm", name]).output();
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A certificate authority and a certificate for `localhost` and 127.0.0.1
/// it signed, made with the `openssl` command in `dir`: (CA, cert, key).
pub fn make_certificates(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let openssl = |args: &[&str]| {
        let o = run(Command::new("openssl").current_dir(dir).args(args));
        assert!(o.status.success(), "openssl {args:?}: {}", text(&o));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=Nexus test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .expect("ext.cnf");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"))
}

/// stunnel in front of the daemon, as a TLS-terminating proxy would be;
/// killed when dropped.
pub struct TlsProxy {
    child: std::process::Child,
    /// The port it accepts TLS on (127.0.0.1).
    pub port: u16,
}

impl TlsProxy {
    pub fn start(dir: &Path, cert: &Path, key: &Path, upstream: &str) -> TlsProxy {
        let port = free_port();
        let conf = dir.join("stunnel.conf");
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\ndebug = 4\n[nexus]\naccept = 127.0.0.1:{port}\nconnect = {upstream}\ncert = {}\nkey = {}\n",
                cert.display(),
                key.display()
            ),
        )
        .expect("stunnel.conf");
        let child = Command::new("stunnel")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("stunnel (scripts/setup.sh --debug installs it)");
        let proxy = TlsProxy { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return proxy;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("stunnel did not listen on {port}");
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the dashboard's browser test `web/e2e/<script>` (Debian's chromium
/// through playwright-core) with `env`. Each `@@WHAT` line it prints goes
/// to `ask`, then the test reads `ok` on its stdin. Returns whether it
/// passed and its report (stdout, then stderr).
pub fn browser_test(script: &str, env: &[(&str, &std::ffi::OsStr)], mut ask: impl FnMut(&str)) -> (bool, String) {
    use std::io::{BufRead, Write};
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
    assert!(
        web.join("node_modules/playwright-core").is_dir() && web.join("dist/index.html").is_file(),
        "build the dashboard first: scripts/setup.sh --debug (npm ci and npm run build in web/)"
    );
    let mut child = Command::new("node")
        .args(["--test-reporter=spec", &format!("e2e/{script}")])
        .current_dir(&web)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .env("NEXUS_TEST_SCREENSHOTS", target_dir().join("../dashboard-screenshots"))
        .env_remove("NEXUS_TOKEN")
        .env_remove("NEXUS_CONTEXT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let mut report = String::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        eprintln!("browser test: {line}");
        match line.trim().strip_prefix("@@") {
            Some(what) => {
                ask(what);
                writeln!(stdin, "ok").expect("answer the browser test");
            }
            None => {
                report.push_str(&line);
                report.push('\n');
            }
        }
    }
    let status = child.wait().expect("node");
    report.push_str("--- stderr\n");
    report.push_str(&errors.join().unwrap_or_default());
    let passed = status.success() && report.contains('✔') && !report.contains('✖');
    (passed, report)
}
