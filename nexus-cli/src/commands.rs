//! The commands: each parses its flags, calls the daemon through the SDK
//! client and prints the result (a table or text, or JSON with `--json`).

use crate::args::*;
use crate::connect::{Target, connect};
use crate::output::{emit, print_checkpoints, print_ports, print_table, print_workspace, progress_printer};
use crate::ssh;
use crate::streams::{exec, port_forward, ssh_into, ssh_stdio};
use anyhow::Context;
use nexus_sdk::client::{Client, ClientError};
use nexus_sdk::{
    CheckpointCreateParams, CheckpointParams, CreateParams, EventsParams, ForkParams, LogsParams, RemoveParams,
};
use std::path::PathBuf;

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
    if let crate::Command::Completion(_)
    | crate::Command::Update(_)
    | crate::Command::Enforce(_)
    | crate::Command::Trace(_) = command
    {
        anyhow::bail!("`completion`, `update`, `enforce` and `trace` are answered before any daemon is reached");
    }
    if let crate::Command::Auth(crate::team::AuthCommand::Login(a)) = command {
        return crate::team::login(a, &target.address()?).await;
    }
    if let crate::Command::Mcp(a) = command {
        // the server owns its client for as long as the agent keeps it open
        return crate::mcp::serve(connect(&target).await?, a).await;
    }
    let client = connect(&target).await?;
    let result = match command {
        crate::Command::Auth(crate::team::AuthCommand::Login(_)) => unreachable!("handled above"),
        crate::Command::Auth(crate::team::AuthCommand::Logout) => {
            crate::team::logout(&client, &target.address()?).await
        }
        crate::Command::Auth(crate::team::AuthCommand::Whoami(a)) => crate::team::whoami(&client, a.json).await,
        crate::Command::User(c) => crate::team::user(c, &client).await,
        crate::Command::Token(c) => crate::team::token(c, &client).await,
        crate::Command::Audit(c) => crate::team::audit(c, &client).await,
        crate::Command::Org(c) => crate::team::org(c, &client).await,
        crate::Command::Team(c) => crate::team::team(c, &client).await,
        crate::Command::Context(_)
        | crate::Command::Completion(_)
        | crate::Command::Update(_)
        | crate::Command::Enforce(_)
        | crate::Command::Trace(_) => {
            unreachable!("handled above")
        }
        crate::Command::Image(ImageCommand::Prune(a)) => {
            let result = client
                .image_prune(&nexus_sdk::ImagePruneParams {
                    all: a.all,
                    dry_run: a.dry_run,
                })
                .await?;
            emit(a.json, &result, |r| {
                let verb = if r.dry_run { "would remove" } else { "removed" };
                for i in &r.images {
                    let name = i
                        .tags
                        .first()
                        .cloned()
                        .unwrap_or_else(|| i.id.chars().take(19).collect());
                    let reason = serde_json::to_value(i.reason)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    println!("{verb} {name} ({} MiB, {reason})", i.size_bytes >> 20);
                }
                println!("{verb} {} images, {} MiB", r.images.len(), r.reclaimed_bytes >> 20);
            })?;
            Ok(0)
        }
        crate::Command::Workspace(w) => workspace(w, &client, &target).await,
        crate::Command::Shadow(a) => crate::shadow::shadow(a, &client).await,
        crate::Command::Hydrate(a) => crate::shadow::hydrate(a, &client).await,
        crate::Command::Discard(a) => crate::shadow::discard(a, &client).await,
        crate::Command::Mcp(_) => unreachable!("handled above"),
        crate::Command::Dashboard(a) => dashboard(&client, &target.address()?, a.no_open).await,
        crate::Command::Daemon(DaemonCommand::Info(a)) => {
            let info = client.daemon_info().await?;
            emit(a.json, &info, |info| {
                println!(
                    "nexusd {} (pid {}), SSH ports {}-{}",
                    info.version, info.pid, info.port_range.0, info.port_range.1
                )
            })?;
            Ok(0)
        }
        crate::Command::Template(TemplateCommand::List(a)) => {
            let templates = client.template_list().await?;
            emit(a.json, &templates, |templates| {
                for t in templates {
                    println!("{:<10} {:<24} {}", t.name, t.image, t.description);
                }
            })?;
            Ok(0)
        }
        crate::Command::SshConfig(a) => {
            let list = client.list().await?;
            let ids = identities(a.ssh_key.as_deref())?;
            let proxy = (a.remote || !target.is_local()?)
                .then(|| proxy_command(&target))
                .transpose()?;
            // team mode: others' workspaces are `nexus-<owner>-<name>`
            let me = match client.daemon_info().await?.mode {
                nexus_sdk::team::Mode::Team => client.auth_whoami().await?.user.map(|u| u.name),
                nexus_sdk::team::Mode::Single => None,
            };
            ssh::write_nexus_files(&list, me.as_deref(), &ids, proxy.as_deref())?;
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
    };
    match result {
        Err(e) => Err(explain_older_daemon(&client, e).await),
        ok => ok,
    }
}

/// A call the daemon did not know (`method_not_found`) from a daemon
/// older than this CLI: the error says so, and how to fix it.
async fn explain_older_daemon(client: &Client, e: anyhow::Error) -> anyhow::Error {
    let unknown = e
        .downcast_ref::<ClientError>()
        .is_some_and(|c| c.kind() == nexus_sdk::ErrorKind::MethodNotFound);
    if !unknown {
        return e;
    }
    match client.daemon_info().await {
        Ok(info) if info.api_version < nexus_sdk::API_VERSION => e.context(format!(
            "nexusd {} (API {}) is older than this nexus {} (API {}) and lacks this command: restart the daemon from this version (`nexus update install` updates and restarts both; or stop nexusd, pid {}, and run any nexus command)",
            info.version,
            info.api_version,
            env!("CARGO_PKG_VERSION"),
            nexus_sdk::API_VERSION,
            info.pid
        )),
        _ => e,
    }
}

pub fn identities(explicit: Option<&std::path::Path>) -> anyhow::Result<Vec<PathBuf>> {
    Ok(ssh::user_keys(explicit)?
        .into_iter()
        .filter_map(|k| k.private)
        .collect())
}

async fn workspace(cmd: WorkspaceCommand, client: &Client, target: &Target) -> anyhow::Result<i32> {
    match cmd {
        WorkspaceCommand::Create(a) => create(a, client).await,
        WorkspaceCommand::List(a) => {
            emit(a.json, &client.list().await?, |list| print_table(list))?;
            Ok(0)
        }
        WorkspaceCommand::Show(a) => {
            emit(a.json, &client.get(&a.name).await?, print_workspace)?;
            Ok(0)
        }
        WorkspaceCommand::Ssh(a) if a.stdio => ssh_stdio(&a.name, client).await,
        WorkspaceCommand::Ssh(a) => ssh_into(a, client, target).await,
        WorkspaceCommand::PortForward(a) => port_forward(a, client).await,
        WorkspaceCommand::Ports(a) => {
            emit(a.json, &client.ports_list(&a.name).await?, |ports| print_ports(ports))?;
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
        WorkspaceCommand::Checkpoint(c) => checkpoint(c, client).await,
        WorkspaceCommand::Fork(a) => fork(a, client).await,
        WorkspaceCommand::Share(a) => crate::team::share(a, client).await,
        WorkspaceCommand::Unshare(a) => crate::team::unshare(a, client).await,
        WorkspaceCommand::Shares(a) => crate::team::shares(&a.name, a.json, client).await,
        WorkspaceCommand::Accept(a) => {
            let s = client.accept(&a.code).await?;
            println!("you are now {} of {}", s.permission.as_str(), s.workspace);
            Ok(0)
        }
        WorkspaceCommand::Transfer(a) => {
            client
                .transfer(&nexus_sdk::team::UnshareParams {
                    workspace: a.name.clone(),
                    user: a.user.clone(),
                })
                .await?;
            println!("{} now belongs to {}", a.name, a.user);
            Ok(0)
        }
        WorkspaceCommand::BreakGlass(a) => {
            let s = client
                .break_glass(&nexus_sdk::team::BreakGlassParams {
                    workspace: a.name.clone(),
                    reason: a.reason,
                    minutes: Some(a.minutes),
                })
                .await?;
            println!(
                "you may use {} as editor until {} (Unix time); the owner sees why",
                a.name,
                s.expires_at.unwrap_or_default()
            );
            Ok(0)
        }
        WorkspaceCommand::Sessions(a) => {
            let sessions = client.ssh_sessions(&a.name).await?;
            crate::output::emit(a.json, &sessions, |sessions| {
                println!("{:<20} {:<52} {:<22} SINCE", "USER", "KEY", "FROM");
                for s in sessions {
                    println!("{:<20} {:<52} {:<22} {}", s.user, s.fingerprint, s.peer, s.since);
                }
            })?;
            Ok(0)
        }
        WorkspaceCommand::Leave(a) => {
            client.leave(&a.name).await?;
            println!("left {}", a.name);
            Ok(0)
        }
        WorkspaceCommand::Restore(a) => {
            let params = CheckpointParams {
                workspace: a.name.clone(),
                checkpoint: a.checkpoint.clone(),
            };
            let undo = client.restore(&params).await?;
            println!(
                "workspace {} is back at checkpoint {}; undo with `nexus workspace restore {} {}`",
                a.name, a.checkpoint, a.name, undo.name
            );
            Ok(0)
        }
        WorkspaceCommand::Idle(a) => {
            let w = client
                .set_idle(&nexus_sdk::IdleParams {
                    workspace: a.name,
                    pause_after_seconds: a.pause,
                    stop_after_seconds: a.stop,
                })
                .await?;
            emit(a.json, &w, |w| {
                let after = |verb: &str, s: Option<u64>| match s {
                    Some(s) => format!("{verb} after {} idle", nexus_sdk::IdleSettings::format_duration(s)),
                    None => format!("never {verb}"),
                };
                let idle = w.idle.unwrap_or_default();
                println!(
                    "workspace {} {}, {}",
                    w.name,
                    after("pauses", idle.pause_after_seconds),
                    after("stops", idle.stop_after_seconds)
                );
            })?;
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

/// Whether `--repo` names a git URL rather than a directory: a
/// `scheme://`, or scp-like `[user@]host:path` (no `/` before the first
/// `:`), and no such directory here.
fn is_url(repo: &str) -> bool {
    if std::path::Path::new(repo).exists() {
        return false;
    }
    repo.contains("://")
        || repo
            .split_once(':')
            .is_some_and(|(host, _)| !host.is_empty() && !host.contains('/'))
}

/// `dir` as an absolute path with symbolic links resolved.
fn absolute_dir(dir: &std::path::Path) -> anyhow::Result<String> {
    let abs = std::fs::canonicalize(dir).with_context(|| format!("no directory {}", dir.display()))?;
    Ok(abs.display().to_string())
}

async fn create(a: CreateArgs, client: &Client) -> anyhow::Result<i32> {
    let keys = ssh::user_keys(a.ssh_key.as_deref())?;
    let repository = match a.repo {
        // a URL is the daemon's to fetch; a directory is made absolute here
        Some(url) if is_url(&url) => url,
        Some(dir) => absolute_dir(std::path::Path::new(&dir))?,
        None => absolute_dir(&std::env::current_dir().context("cannot read the current directory")?)?,
    };
    let params = CreateParams {
        name: a.name.clone(),
        repository,
        from: a.from,
        image: a.image,
        config: a.config,
        template: a.template,
        authorized_keys: keys.iter().map(|k| k.public.clone()).collect(),
        idle: (a.idle_pause.is_some() || a.idle_stop.is_some()).then_some(nexus_sdk::IdleSettings {
            pause_after_seconds: a.idle_pause,
            stop_after_seconds: a.idle_stop,
        }),
        docker: a.docker,
    };
    let w = with_progress(client, &a.name, client.create(&params)).await?;
    emit(a.json, &w, |w| {
        print_workspace(w);
        println!("\nConnect:");
        println!("  nexus workspace ssh {}", w.name);
        println!("  ssh -p {} {}@{}", w.ssh_port, w.remote_user, w.ssh_host);
        println!("  ssh {}    (after `nexus ssh-config`)", ssh::alias(&w.name));
    })?;
    Ok(0)
}

/// `nexus workspace fork SOURCE[@CHECKPOINT] NEW`.
async fn fork(a: ForkArgs, client: &Client) -> anyhow::Result<i32> {
    let keys = ssh::user_keys(a.ssh_key.as_deref())?;
    let (source, checkpoint) = match a.source.split_once('@') {
        Some((s, c)) => (s.to_string(), Some(c.to_string())),
        None => (a.source.clone(), None),
    };
    let params = ForkParams {
        workspace: source,
        checkpoint,
        name: a.name.clone(),
        authorized_keys: keys.iter().map(|k| k.public.clone()).collect(),
    };
    let w = with_progress(client, &a.name, client.fork(&params)).await?;
    emit(a.json, &w, |w| {
        print_workspace(w);
        println!("\nforked from {}; connect: nexus workspace ssh {}", a.source, w.name);
    })?;
    Ok(0)
}

/// How to run this `nexus` against this daemon from ssh's `ProxyCommand`:
/// the binary's path and the global flags ([`ssh::proxy_line`] adds the rest).
pub fn proxy_command(target: &Target) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot find the nexus binary")?;
    let mut line = format!("\"{}\"", exe.display());
    for flag in target.flags()? {
        line.push_str(&format!(" \"{flag}\""));
    }
    Ok(line)
}

/// `nexus workspace checkpoint …`
async fn checkpoint(command: CheckpointCommand, client: &Client) -> anyhow::Result<i32> {
    match command {
        CheckpointCommand::Create(a) => {
            let params = CheckpointCreateParams {
                workspace: a.name.clone(),
                name: a.checkpoint,
                full: a.full,
            };
            let c = client.checkpoint_create(&params).await?;
            emit(a.json, &c, |c| {
                println!(
                    "checkpoint {} of workspace {} recorded (commit {})",
                    c.name, a.name, c.commit
                )
            })?;
        }
        CheckpointCommand::List(a) => {
            emit(a.json, &client.checkpoints(&a.name).await?, |list| {
                print_checkpoints(&a.name, list)
            })?;
        }
        CheckpointCommand::Rm(a) => {
            let params = CheckpointParams {
                workspace: a.name.clone(),
                checkpoint: a.checkpoint.clone(),
            };
            client.checkpoint_remove(&params).await?;
            println!("checkpoint {} of workspace {} removed", a.checkpoint, a.name);
        }
    }
    Ok(0)
}

/// `nexus dashboard`: a one-time sign-in link of the daemon at `address`
/// (`host:port`, `ws://…` or `wss://…`), printed, and opened with the
/// desktop's opener unless `no_open` or no desktop is there.
async fn dashboard(client: &Client, address: &str, no_open: bool) -> anyhow::Result<i32> {
    let link = client.auth_dashboard_link().await?;
    let base = if let Some(rest) = address.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = address.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        format!("http://{address}")
    };
    let url = format!("{}{}", base.trim_end_matches('/'), link.path);
    println!("{url}");
    eprintln!(
        "the link signs this browser in once, within {} s; run `nexus dashboard` again for another",
        link.expires_in
    );
    let desktop = cfg!(target_os = "macos")
        || std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if !no_open && desktop {
        let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
        let opened = std::process::Command::new(opener)
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if opened.is_err() {
            eprintln!("cannot run {opener}: open the link in a browser");
        }
    }
    Ok(0)
}
