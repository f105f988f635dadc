//! The commands: each parses its flags, calls the daemon through the SDK
//! client and prints the result (a table or text, or JSON with `--json`).

use crate::connect::{Target, connect};
use crate::ssh;
use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use nexus_sdk::client::Client;
use nexus_sdk::{CreateParams, Event, EventsParams, ExecEvent, ExecParams, LogsParams, RemoveParams, Workspace};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

/// `nexus workspace …`
#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace: worktree .worktree/NAME on branch nexus/NAME, in a container.
    Create(CreateArgs),
    /// List workspaces.
    #[command(alias = "ls")]
    List(JsonArgs),
    /// Show one workspace.
    Show(NameJsonArgs),
    /// Open a login shell in the workspace, or run `-- CMD ARGS` there (over ssh).
    Ssh(SshArgs),
    /// Run `-- CMD ARGS` in the workspace through the daemon; prints its output, exits with its code.
    Exec(ExecArgs),
    /// Forward 127.0.0.1:LOCAL to port REMOTE in the workspace, through the daemon's API (until Ctrl-C).
    PortForward(PortForwardArgs),
    /// List the workspace's ports: listening, forwarded (host port), declared
    /// by devcontainer.json (forwardPorts, appPort) with their portsAttributes.
    Ports(NameJsonArgs),
    /// Start a stopped workspace (same container, same ports).
    Start(NameArg),
    /// Stop a workspace's container; files in it are kept.
    Stop(NameArg),
    /// Build the workspace's image again, without caches, from devcontainer.json at the tip of its
    /// branch (commit changes first), and replace its container; worktree, branch and ports stay.
    Rebuild(NameArg),
    /// Print the container's log.
    Logs(LogsArgs),
    /// Remove a workspace: container, worktree, ports and record (the branch stays).
    #[command(alias = "remove")]
    Rm(RmArgs),
}

/// Flags of `create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Workspace name: lowercase letters, digits and hyphens.
    pub name: String,
    /// Commit-ish the branch starts from [default: HEAD].
    #[arg(long)]
    pub from: Option<String>,
    /// Image to run instead of the one devcontainer.json or the default template gives.
    #[arg(long)]
    pub image: Option<String>,
    /// devcontainer.json to use, relative to the repository root
    /// (default: .devcontainer/devcontainer.json, then .devcontainer.json).
    #[arg(long, value_name = "PATH", conflicts_with = "template")]
    pub config: Option<String>,
    /// A built-in template to use instead of the repository's
    /// devcontainer.json (`nexus template list`).
    #[arg(long, value_name = "NAME")]
    pub template: Option<String>,
    /// Public key to authorize [default: every ~/.ssh/*.pub].
    #[arg(long)]
    pub ssh_key: Option<PathBuf>,
    /// Repository directory [default: the current directory].
    #[arg(long, short = 'C')]
    pub repo: Option<PathBuf>,
    /// Print the workspace as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// A `--json` flag.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A name and `--json`.
#[derive(Debug, Args)]
pub struct NameJsonArgs {
    /// Workspace name.
    pub name: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A name.
#[derive(Debug, Args)]
pub struct NameArg {
    /// Workspace name.
    pub name: String,
}

/// Flags of `ssh`.
#[derive(Debug, Args)]
pub struct SshArgs {
    /// Workspace name.
    pub name: String,
    /// Private key to use [default: ssh's own choice, plus keys beside ~/.ssh/*.pub].
    #[arg(long)]
    pub ssh_key: Option<PathBuf>,
    /// Connect stdin and stdout to the workspace's SSH server through the
    /// daemon's API, for ssh's `ProxyCommand` (what `ssh-config --remote` writes).
    #[arg(long)]
    pub stdio: bool,
    /// Command to run instead of a login shell (joined with spaces, as ssh does).
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// Flags of `port-forward`.
#[derive(Debug, Args)]
pub struct PortForwardArgs {
    /// Workspace name.
    pub name: String,
    /// LOCAL:REMOTE, e.g. 8080:3000 (LOCAL 0 picks a free port).
    pub ports: String,
}

/// `nexus context …`
#[derive(Debug, Subcommand)]
pub enum ContextCommand {
    /// Name a daemon: `nexus context add NAME ADDRESS --token TOKEN`
    /// (ADDRESS: host:port, ws://host:port or wss://host[:port]).
    Add(ContextAddArgs),
    /// Make NAME the current context (`local`: this machine's daemon).
    Use(ContextNameArg),
    /// List contexts; `*` marks the current one.
    #[command(alias = "ls")]
    List,
    /// Forget a context.
    #[command(alias = "remove")]
    Rm(ContextNameArg),
}

/// Flags of `context add`.
#[derive(Debug, Args)]
pub struct ContextAddArgs {
    /// The context's name.
    pub name: String,
    /// The daemon's address.
    pub address: String,
}

/// A context name.
#[derive(Debug, Args)]
pub struct ContextNameArg {
    /// The context's name.
    pub name: String,
}

/// Flags of `exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Workspace name.
    pub name: String,
    /// Working directory in the container [default: the workspace folder].
    #[arg(long, short = 'w')]
    pub workdir: Option<String>,
    /// KEY=VALUE to add to the environment (repeatable).
    #[arg(long, short = 'e')]
    pub env: Vec<String>,
    /// The user to run as [default: the workspace's remoteUser].
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// Pass this process's standard input to the command (as `docker exec -i`).
    #[arg(long, short = 'i')]
    pub interactive: bool,
    /// Program and arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Flags of `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Workspace name.
    pub name: String,
    /// Keep printing new output.
    #[arg(long, short = 'f')]
    pub follow: bool,
}

/// Flags of `rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Workspace name.
    pub name: String,
    /// Remove even with uncommitted changes or commits on no other branch.
    #[arg(long, short = 'f')]
    pub force: bool,
    /// Also delete the branch nexus/NAME.
    #[arg(long)]
    pub delete_branch: bool,
}

/// `nexus daemon …`
#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Print the daemon's version, pid and port range (starting it if needed).
    Info(JsonArgs),
}

/// `nexus template …`.
#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// List the built-in templates: name, image, description.
    List(JsonArgs),
}

/// Flags of `ssh-config`.
#[derive(Debug, Args)]
pub struct SshConfigArgs {
    /// Private key to name as IdentityFile [default: keys beside ~/.ssh/*.pub].
    #[arg(long)]
    pub ssh_key: Option<PathBuf>,
    /// Reach workspaces through the daemon's API (`ProxyCommand nexus
    /// workspace ssh --stdio`) instead of their ports; the default when the
    /// daemon is not on this machine.
    #[arg(long)]
    pub remote: bool,
}

/// `nexus context …`: local files only, no daemon.
fn context(cmd: ContextCommand, target: &Target) -> anyhow::Result<i32> {
    use crate::context::{Contexts, Entry, LOCAL};
    let mut all = Contexts::load()?;
    match cmd {
        ContextCommand::Add(a) => {
            if a.name == LOCAL {
                anyhow::bail!("{LOCAL:?} names this machine's daemon: pick another name");
            }
            let Some(token) = target.token.clone() else {
                anyhow::bail!("no token: pass --token TOKEN (the daemon's token file holds it)");
            };
            all.contexts.insert(a.name.clone(), Entry { host: a.address, token });
            all.save()?;
            println!("added context {} (use it with `nexus context use {}`)", a.name, a.name);
        }
        ContextCommand::Use(a) => {
            all.resolve(Some(&a.name))?;
            all.current = (a.name != LOCAL).then_some(a.name.clone());
            all.save()?;
            println!("using context {}", a.name);
        }
        ContextCommand::List => {
            let current = all.current.as_deref().unwrap_or(LOCAL);
            let mark = |n: &str| if n == current { "*" } else { " " };
            println!("{} {LOCAL:<16} {}", mark(LOCAL), nexus_sdk::local::address());
            for (name, e) in &all.contexts {
                println!("{} {name:<16} {}", mark(name), e.host);
            }
        }
        ContextCommand::Rm(a) => {
            if all.contexts.remove(&a.name).is_none() {
                anyhow::bail!("no context named {:?}: see `nexus context list`", a.name);
            }
            if all.current.as_deref() == Some(a.name.as_str()) {
                all.current = None;
            }
            all.save()?;
            println!("removed context {}", a.name);
        }
    }
    Ok(0)
}

/// Runs a command; returns the exit code.
pub async fn run(command: crate::Command, target: Target) -> anyhow::Result<i32> {
    if let crate::Command::Context(c) = command {
        return context(c, &target);
    }
    let client = connect(&target).await?;
    match command {
        crate::Command::Context(_) => unreachable!("handled above"),
        crate::Command::Workspace(w) => workspace(w, &client, &target).await,
        crate::Command::Daemon(DaemonCommand::Info(a)) => {
            let info = client.daemon_info().await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                println!(
                    "nexusd {} (pid {}), SSH ports {}-{}",
                    info.version, info.pid, info.port_range.0, info.port_range.1
                );
            }
            Ok(0)
        }
        crate::Command::Template(TemplateCommand::List(a)) => {
            let templates = client.template_list().await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&templates)?);
            } else {
                for t in templates {
                    println!("{:<10} {:<24} {}", t.name, t.image, t.description);
                }
            }
            Ok(0)
        }
        crate::Command::SshConfig(a) => {
            let list = client.list().await?;
            let ids = identities(a.ssh_key.as_deref())?;
            let proxy = (a.remote || !target.is_local()?)
                .then(|| proxy_command(&target))
                .transpose()?;
            ssh::write_nexus_files(&list, &ids, proxy.as_deref())?;
            let changed = ssh::ensure_include()?;
            println!(
                "wrote {} ({} workspaces) and {}",
                ssh::config_path().display(),
                list.len(),
                ssh::known_hosts_path().display()
            );
            if changed {
                println!(
                    "added an Include of it at the top of {}",
                    ssh::ssh_dir().join("config").display()
                );
            }
            Ok(0)
        }
    }
}

/// `workspace ports` as a table: PORT (`3000`, or `db:5432` for another
/// host's), LISTENING, HOST (127.0.0.1:N), LABEL, PROTOCOL.
fn print_ports(ports: &[nexus_sdk::PortInfo]) {
    println!(
        "{:<14} {:<9} {:<16} {:<20} PROTOCOL",
        "PORT", "LISTENING", "HOST", "LABEL"
    );
    for p in ports {
        let port = match &p.host {
            Some(h) => format!("{h}:{}", p.container_port),
            None => p.container_port.to_string(),
        };
        let host = p
            .host_port
            .map(|h| format!("127.0.0.1:{h}"))
            .unwrap_or_else(|| "-".into());
        let label = match (&p.label, p.declared) {
            (Some(l), _) => l.clone(),
            (None, true) => "(declared)".into(),
            (None, false) => "-".into(),
        };
        println!(
            "{:<14} {:<9} {:<16} {:<20} {}",
            port,
            // whether another host listens is not known
            match (&p.host, p.listening) {
                (Some(_), _) => "-",
                (None, true) => "yes",
                (None, false) => "no",
            },
            host,
            label,
            p.protocol.as_deref().unwrap_or("-")
        );
    }
}

fn identities(explicit: Option<&std::path::Path>) -> anyhow::Result<Vec<PathBuf>> {
    Ok(ssh::user_keys(explicit)?
        .into_iter()
        .filter_map(|k| k.private)
        .collect())
}

async fn workspace(cmd: WorkspaceCommand, client: &Client, target: &Target) -> anyhow::Result<i32> {
    match cmd {
        WorkspaceCommand::Create(a) => create(a, client).await,
        WorkspaceCommand::List(a) => {
            let list = client.list().await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_table(&list);
            }
            Ok(0)
        }
        WorkspaceCommand::Show(a) => {
            let w = client.get(&a.name).await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&w)?);
            } else {
                print_workspace(&w);
            }
            Ok(0)
        }
        WorkspaceCommand::Ssh(a) if a.stdio => ssh_stdio(&a.name, client).await,
        WorkspaceCommand::Ssh(a) => ssh_into(a, client, target).await,
        WorkspaceCommand::PortForward(a) => port_forward(a, client).await,
        WorkspaceCommand::Ports(a) => {
            let ports = client.ports_list(&a.name).await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&ports)?);
            } else {
                print_ports(&ports);
            }
            Ok(0)
        }
        WorkspaceCommand::Exec(a) => exec(a, client).await,
        WorkspaceCommand::Start(a) => {
            let w = client.start(&a.name).await?;
            println!("workspace {} is {} (ssh 127.0.0.1:{})", w.name, w.state, w.ssh_port);
            Ok(0)
        }
        WorkspaceCommand::Rebuild(a) => {
            let w = with_progress(client, &a.name, client.rebuild(&a.name)).await?;
            println!(
                "workspace {} is {} (image {}, ssh 127.0.0.1:{})",
                w.name, w.state, w.image, w.ssh_port
            );
            Ok(0)
        }
        WorkspaceCommand::Stop(a) => {
            let w = client.stop(&a.name).await?;
            println!("workspace {} is {}", w.name, w.state);
            Ok(0)
        }
        WorkspaceCommand::Logs(a) => {
            let mut sub = client
                .logs(&LogsParams {
                    workspace: a.name,
                    follow: a.follow,
                })
                .await?;
            while let Some(chunk) = sub.next().await {
                let chunk = chunk.context("the log stream broke")?;
                if chunk.end {
                    break;
                }
                if chunk.stream == nexus_sdk::LogStream::Stderr {
                    eprint!("{}", chunk.text);
                } else {
                    print!("{}", chunk.text);
                }
            }
            Ok(0)
        }
        WorkspaceCommand::Rm(a) => {
            client
                .remove(&RemoveParams {
                    workspace: a.name.clone(),
                    force: a.force,
                    delete_branch: a.delete_branch,
                })
                .await?;
            let branch = if a.delete_branch { "deleted" } else { "kept" };
            println!("removed workspace {} (branch nexus/{} {branch})", a.name, a.name);
            Ok(0)
        }
    }
}

/// Shows progress events: a spinner on a terminal, plain lines otherwise.
fn progress_printer() -> impl FnMut(Option<&Event>) {
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b.enable_steady_tick(Duration::from_millis(80));
        Some(b)
    } else {
        None
    };
    move |ev| match (ev, &bar) {
        (Some(Event::Progress { step, message, .. }), Some(b)) => b.set_message(format!("{step}: {message}")),
        (Some(Event::Progress { step, message, .. }), None) => eprintln!("==> {step}: {message}"),
        (None, Some(b)) => b.finish_and_clear(),
        _ => {}
    }
}

/// Awaits `call` on workspace `name`, printing its progress events meanwhile.
async fn with_progress<T>(
    client: &Client,
    name: &str,
    call: impl std::future::Future<Output = Result<T, nexus_sdk::client::ClientError>>,
) -> anyhow::Result<T> {
    let mut events = client
        .events(&EventsParams {
            workspace: Some(name.to_string()),
        })
        .await?;
    let mut show = progress_printer();
    tokio::pin!(call);
    let answer = loop {
        tokio::select! {
            r = &mut call => break r,
            Some(Ok(ev)) = events.next() => show(Some(&ev)),
        }
    };
    show(None);
    Ok(answer?)
}

async fn create(a: CreateArgs, client: &Client) -> anyhow::Result<i32> {
    let keys = ssh::user_keys(a.ssh_key.as_deref())?;
    let repo = match a.repo {
        Some(p) => p,
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let repo = std::fs::canonicalize(&repo).with_context(|| format!("no directory {}", repo.display()))?;
    let params = CreateParams {
        name: a.name.clone(),
        repository: repo.display().to_string(),
        from: a.from,
        image: a.image,
        config: a.config,
        template: a.template,
        authorized_keys: keys.iter().map(|k| k.public.clone()).collect(),
    };
    let w = with_progress(client, &a.name, client.create(&params)).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&w)?);
    } else {
        print_workspace(&w);
        println!("\nConnect:");
        println!("  nexus workspace ssh {}", w.name);
        println!("  ssh -p {} {}@{}", w.ssh_port, w.remote_user, w.ssh_host);
        println!("  ssh {}    (after `nexus ssh-config`)", ssh::alias(&w.name));
    }
    Ok(0)
}

fn print_workspace(w: &Workspace) {
    println!("workspace {} is {}", w.name, w.state);
    println!("  branch     {}", w.branch);
    println!("  worktree   {}", w.worktree);
    println!("  folder     {}", w.workspace_folder);
    println!("  image      {}", w.image);
    println!("  ssh        {}:{} (user {})", w.ssh_host, w.ssh_port, w.remote_user);
}

fn print_table(list: &[Workspace]) {
    if list.is_empty() {
        println!("no workspaces: create one with `nexus workspace create NAME` in a git repository");
        return;
    }
    let width = list.iter().map(|w| w.name.len()).max().unwrap_or(4).max(4);
    println!("{:width$}  {:8}  {:6}  {:30}  IMAGE", "NAME", "STATE", "SSH", "BRANCH");
    for w in list {
        println!(
            "{:width$}  {:8}  {:6}  {:30}  {}",
            w.name,
            w.state.to_string(),
            w.ssh_port,
            w.branch,
            w.image
        );
    }
}

async fn ssh_into(a: SshArgs, client: &Client, target: &Target) -> anyhow::Result<i32> {
    let w = client.get(&a.name).await?;
    if w.state != nexus_sdk::WorkspaceState::Running {
        anyhow::bail!(
            "workspace {} is {}: start it with `nexus workspace start {}`",
            w.name,
            w.state,
            w.name
        );
    }
    // pin this workspace's host key (the other entries stay as they are)
    let mut known = std::fs::read_to_string(ssh::known_hosts_path()).unwrap_or_default();
    let line = ssh::known_hosts_line(&w);
    if !known.lines().any(|l| l == line) {
        let prefix = format!("{} ", ssh::alias(&w.name));
        known = known
            .lines()
            .filter(|l| !l.starts_with(&prefix))
            .map(|l| format!("{l}\n"))
            .collect();
        known.push_str(&line);
        known.push('\n');
        std::fs::create_dir_all(ssh::nexus_dir())?;
        std::fs::write(ssh::known_hosts_path(), known)?;
    }
    let mut cmd = std::process::Command::new("ssh");
    if !target.is_local()? {
        let proxy = ssh::proxy_line(&proxy_command(target)?, &w.name);
        cmd.arg("-o").arg(format!("ProxyCommand={proxy}"));
    }
    cmd.args(["-p", &w.ssh_port.to_string()])
        .arg("-o")
        .arg(format!("HostKeyAlias={}", ssh::alias(&w.name)))
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", ssh::known_hosts_path().display()))
        .args(["-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR"]);
    let ids = match &a.ssh_key {
        Some(k) => vec![k.clone()],
        None => identities(None).unwrap_or_default(),
    };
    for id in ids {
        cmd.arg("-i").arg(id);
    }
    if a.command.is_empty() && std::io::stdin().is_terminal() {
        cmd.arg("-t");
    }
    cmd.arg(format!("{}@{}", w.remote_user, w.ssh_host));
    if !a.command.is_empty() {
        cmd.arg("--").args(&a.command);
    }
    use std::os::unix::process::CommandExt;
    let err = cmd.exec();
    Err(anyhow::Error::new(err).context("cannot run ssh: install the OpenSSH client"))
}

/// Where [`pump`] sends what it reads.
enum Feed<'a> {
    /// An exec's stdin.
    Exec(&'a str),
    /// A tunnel.
    Tunnel(&'a str),
}

/// Sends everything `input` gives to an exec or a tunnel, then its end.
async fn pump(client: &Client, mut input: impl tokio::io::AsyncRead + Unpin, into: Feed<'_>) -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf).await.context("reading input")?;
        if n == 0 {
            break;
        }
        match into {
            Feed::Exec(id) => client.exec_write(id, &buf[..n]).await?,
            Feed::Tunnel(id) => client.tunnel_write(id, &buf[..n]).await?,
        }
    }
    match into {
        Feed::Exec(id) => client.exec_close_stdin(id).await?,
        Feed::Tunnel(id) => client.tunnel_close(id).await?,
    }
    Ok(())
}

/// Opens a tunnel to `port` (the SSH server when `None`) and carries bytes
/// between it and `input`/`output` until the remote end closes.
async fn tunnel(
    client: &Client,
    workspace: &str,
    port: Option<u16>,
    input: impl tokio::io::AsyncRead + Unpin,
    mut output: impl tokio::io::AsyncWrite + Unpin,
) -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let params = nexus_sdk::TunnelParams {
        workspace: workspace.to_string(),
        port,
    };
    let mut sub = client.tunnel_open(&params).await?;
    let id = match sub.next().await {
        Some(Ok(nexus_sdk::TunnelEvent::Opened { tunnel_id })) => tunnel_id,
        other => anyhow::bail!("the daemon did not open the tunnel: {other:?}"),
    };
    let carry_out = async {
        while let Some(ev) = sub.next().await {
            match ev.context("the tunnel broke")? {
                nexus_sdk::TunnelEvent::Data { data } => {
                    let bytes = nexus_sdk::Encoding::Base64.decode(&data).map_err(anyhow::Error::msg)?;
                    output.write_all(&bytes).await?;
                    output.flush().await?;
                }
                nexus_sdk::TunnelEvent::Closed => break,
                nexus_sdk::TunnelEvent::Opened { .. } => {}
            }
        }
        anyhow::Ok(())
    };
    let carry_in = pump(client, input, Feed::Tunnel(&id));
    tokio::pin!(carry_in, carry_out);
    tokio::select! {
        r = &mut carry_out => r,
        // input ended: the output runs on until the remote end closes
        r = &mut carry_in => match r {
            Ok(()) => carry_out.await,
            Err(e) => Err(e),
        },
    }
}

/// `workspace ssh --stdio`: stdin and stdout to the workspace's SSH server.
async fn ssh_stdio(name: &str, client: &Client) -> anyhow::Result<i32> {
    tunnel(client, name, None, tokio::io::stdin(), tokio::io::stdout()).await?;
    Ok(0)
}

/// `workspace port-forward NAME LOCAL:REMOTE`: one tunnel per accepted connection.
async fn port_forward(a: PortForwardArgs, client: &Client) -> anyhow::Result<i32> {
    use futures::StreamExt;
    let (local, remote) = a
        .ports
        .split_once(':')
        .and_then(|(l, r)| Some((l.parse::<u16>().ok()?, r.parse::<u16>().ok().filter(|p| *p > 0)?)))
        .with_context(|| {
            format!(
                "{:?}: expected LOCAL:REMOTE, two port numbers (e.g. 8080:3000)",
                a.ports
            )
        })?;
    client.get(&a.name).await?; // an unknown workspace fails here, not per connection
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", local))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{local}: pick another LOCAL port"))?;
    let bound = listener.local_addr()?;
    println!("forwarding {bound} to port {remote} in workspace {}", a.name);
    let mut open = futures::stream::FuturesUnordered::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (socket, _) = accepted?;
                let name = a.name.clone();
                open.push(async move {
                    let (rd, wr) = socket.into_split();
                    if let Err(e) = tunnel(client, &name, Some(remote), rd, wr).await {
                        eprintln!("connection to port {remote}: {e:#}");
                    }
                });
            }
            Some(()) = open.next(), if !open.is_empty() => {}
            _ = tokio::signal::ctrl_c() => return Ok(0),
        }
    }
}

/// How to run this `nexus` against this daemon from ssh's `ProxyCommand`:
/// the binary's path and the global flags ([`ssh::proxy_line`] adds the rest).
fn proxy_command(target: &Target) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot find the nexus binary")?;
    let mut line = format!("\"{}\"", exe.display());
    for flag in target.flags()? {
        line.push_str(&format!(" \"{flag}\""));
    }
    Ok(line)
}

async fn exec(a: ExecArgs, client: &Client) -> anyhow::Result<i32> {
    let mut env = std::collections::BTreeMap::new();
    for kv in &a.env {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--env {kv:?}: expected KEY=VALUE"))?;
        env.insert(k.to_string(), v.to_string());
    }
    let params = ExecParams {
        workspace: a.name,
        command: a.command,
        env,
        cwd: a.workdir,
        user: a.user,
        stdin: a.interactive,
        encoding: nexus_sdk::Encoding::Base64,
        ..Default::default()
    };
    let mut sub = client.exec_stream(&params).await?;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr());
    let decode = |data: &str| nexus_sdk::Encoding::Base64.decode(data).map_err(anyhow::Error::msg);
    let mut stdin_pump = None;
    loop {
        let next = match stdin_pump.as_mut() {
            Some(pump) => tokio::select! {
                ev = sub.next() => ev,
                done = pump => {
                    let _: anyhow::Result<()> = done;
                    stdin_pump = None;
                    continue;
                }
            },
            None => sub.next().await,
        };
        let Some(ev) = next else { break };
        match ev.context("the exec stream broke")? {
            ExecEvent::Started { exec_id } if a.interactive => {
                stdin_pump = Some(Box::pin(async move {
                    pump(client, tokio::io::stdin(), Feed::Exec(&exec_id)).await
                }));
            }
            ExecEvent::Started { .. } => {}
            ExecEvent::Stdout { data } => {
                out.write_all(&decode(&data)?)?;
                out.flush()?;
            }
            ExecEvent::Stderr { data } => err.write_all(&decode(&data)?)?,
            ExecEvent::Exit { exit_code } => return Ok(exit_code),
        }
    }
    anyhow::bail!("the daemon ended the exec without an exit code")
}
