//! Commands that carry bytes: `workspace ssh` (OpenSSH, or `--stdio` as a
//! ProxyCommand over the API), `port-forward` and `exec`, whose stdin,
//! stdout and stderr travel over `exec.*` and `tunnel.*`.

use crate::args::{ExecArgs, PortForwardArgs, SshArgs};
use crate::commands::{identities, proxy_command};
use crate::connect::Target;
use crate::ssh;
use anyhow::Context;
use nexus_sdk::client::Client;
use nexus_sdk::{ExecEvent, ExecParams};
use std::io::{IsTerminal, Write};

pub async fn ssh_into(a: SshArgs, client: &Client, target: &Target) -> anyhow::Result<i32> {
    let w = client.get(&a.name).await?;
    let asleep = w.state == nexus_sdk::WorkspaceState::Paused
        || (w.state == nexus_sdk::WorkspaceState::Stopped
            && w.state_reason.as_deref().is_some_and(|r| r.starts_with("idle")));
    if w.state != nexus_sdk::WorkspaceState::Running && !asleep {
        anyhow::bail!(
            "workspace {} is {}: start it with `nexus workspace start {}`",
            w.name,
            w.state,
            w.name
        );
    }
    ssh::pin_host_key(&w)?;
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
pub async fn ssh_stdio(name: &str, client: &Client) -> anyhow::Result<i32> {
    tunnel(client, name, None, tokio::io::stdin(), tokio::io::stdout()).await?;
    Ok(0)
}

/// `workspace port-forward NAME LOCAL:REMOTE`: one tunnel per accepted connection.
pub async fn port_forward(a: PortForwardArgs, client: &Client) -> anyhow::Result<i32> {
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

pub async fn exec(a: ExecArgs, client: &Client) -> anyhow::Result<i32> {
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
