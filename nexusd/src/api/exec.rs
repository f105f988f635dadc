//! `exec.*`: commands in a running workspace, through the agent's SSH
//! server. `exec.run` (alias `exec`) runs to the end; `exec.stream` is a
//! subscription steered by `exec.write`, `exec.closeStdin`, `exec.resize`,
//! `exec.signal` and `exec.kill`.

use super::error::{RpcResult, parse, to_rpc_error};
use super::{Ctx, Next, checked, next_output};
use crate::error::WorkspaceError;
use crate::workspace::{Control, Output};
use jsonrpsee::PendingSubscriptionSink;
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::types::Params;
use nexus_sdk::{
    Encoding, ExecEvent, ExecIdParams, ExecParams, ExecResizeParams, ExecResult, ExecSignalParams, ExecWriteParams,
    PtySize,
};
use tokio::sync::mpsc;

pub use crate::workspace::EXEC_FAILED;

/// Output chunks held between the channel and the subscriber: with the
/// channel's own buffer and the connection's, what a stalled subscriber
/// costs before the process is held back.
const STREAM_BUFFER: usize = 4;

/// `exec.run`: valid while the workspace runs. Collects all output.
pub async fn run(p: Params<'static>, ctx: Ctx) -> RpcResult<ExecResult> {
    let params: ExecParams = parse(&p)?;
    if params.stdin || params.pty.is_some() {
        return Err(to_rpc_error(&WorkspaceError::InvalidParams(
            "stdin and pty need exec.stream; exec.run closes stdin at once".into(),
        )));
    }
    let prepared = ctx.prepare_exec(&params)?;
    Ok(ctx.exec_to_end(&prepared).await?)
}

/// Turns output bytes into text chunks of one encoding; in `utf8`, a
/// character split between two chunks is held back until it is whole.
struct Chunker {
    encoding: Encoding,
    pending: Vec<u8>,
}

impl Chunker {
    fn text(&mut self, bytes: Vec<u8>) -> Option<String> {
        if self.encoding != Encoding::Utf8 {
            return Some(self.encoding.encode(&bytes));
        }
        self.pending.extend_from_slice(&bytes);
        let keep = incomplete_tail(&self.pending);
        let tail = self.pending.split_off(self.pending.len() - keep);
        let whole = std::mem::replace(&mut self.pending, tail);
        (!whole.is_empty()).then(|| String::from_utf8_lossy(&whole).into_owned())
    }

    fn rest(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        (!rest.is_empty()).then(|| self.encoding.encode(&rest))
    }
}

/// How many bytes at the end of `b` begin a UTF-8 sequence that is not
/// complete yet (0 to 3).
fn incomplete_tail(b: &[u8]) -> usize {
    for back in 1..=3.min(b.len()) {
        let byte = b[b.len() - back];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: look further back
        }
        let len = match byte {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => return 0,
        };
        return if len > back { back } else { 0 };
    }
    0
}

/// `exec.stream`: valid while the workspace runs. `started`, output chunks
/// in order, then exactly one `exit`. The process runs on a connection of
/// its own; a subscriber that stops reading holds its output back (bounded
/// buffers down to the process's pipe).
pub async fn stream(
    p: Params<'static>,
    pending: PendingSubscriptionSink,
    ctx: Ctx,
    _caller: crate::workspace::Caller,
) -> SubscriptionResult {
    let started = std::time::Instant::now();
    // refuse before accepting when the request or the workspace is wrong
    let checks = async {
        let params = parse::<ExecParams>(&p)?;
        let prepared = ctx.prepare_exec(&params)?;
        let opened = ctx.open_exec(&prepared.dedicated()).await?;
        Ok((params, opened))
    };
    let Some(((params, opened), pending)) = checked(pending, checks).await else {
        return Ok(());
    };
    let sink = pending.accept().await?;
    let (registration, controls) = ctx.channels.register(&params.workspace);
    let send = |ev: &ExecEvent| serde_json::value::to_raw_value(ev);
    sink.send(send(&ExecEvent::Started {
        exec_id: registration.id.clone(),
    })?)
    .await?;
    let (tx, mut rx) = mpsc::channel::<Output>(STREAM_BUFFER);
    let timeout = params.timeout_secs.map(std::time::Duration::from_secs);
    let run = tokio::spawn(async move { opened.drive(timeout, tx, controls).await });
    let [mut out, mut err] = [params.encoding; 2].map(|encoding| Chunker {
        encoding,
        pending: Vec::new(),
    });
    loop {
        let chunk = match next_output(&mut rx, &sink).await {
            Next::Output(chunk) => chunk,
            Next::Ended => break,
            // dropping the registration's sender hangs the process up
            Next::Unsubscribed => return Ok(()),
        };
        let ev = match chunk {
            Output::Stdout(b) => out.text(b).map(|data| ExecEvent::Stdout { data }),
            Output::Stderr(b) => err.text(b).map(|data| ExecEvent::Stderr { data }),
        };
        if let Some(ev) = ev {
            // an unsubscribed or gone client ends the loop; dropping `rx` closes the channel
            sink.send(send(&ev)?).await?;
        }
    }
    drop(registration);
    for ev in [
        out.rest().map(|data| ExecEvent::Stdout { data }),
        err.rest().map(|data| ExecEvent::Stderr { data }),
    ]
    .into_iter()
    .flatten()
    {
        sink.send(send(&ev)?).await?;
    }
    let exit_code = match run.await {
        Ok(Ok(Some(code))) => code,
        Ok(Ok(None)) => EXEC_FAILED,
        Ok(Err(e)) => {
            let data = format!("nexus: {e}\n");
            sink.send(send(&ExecEvent::Stderr { data })?).await?;
            EXEC_FAILED
        }
        Err(_) => EXEC_FAILED,
    };
    ctx.metrics.exec_seconds.observe(started.elapsed().as_secs_f64());
    sink.send(send(&ExecEvent::Exit { exit_code })?).await?;
    Ok(())
}

async fn control(ctx: &Ctx, id: &str, c: Control) -> RpcResult<()> {
    Ok(ctx.channels.send("exec", id, c).await?)
}

/// `exec.write`: returns once the bytes are sent to the process.
pub async fn write(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: ExecWriteParams = parse(&p)?;
    let bytes = params
        .encoding
        .decode(&params.data)
        .map_err(|e| to_rpc_error(&WorkspaceError::InvalidParams(format!("data is {e}"))))?;
    Ok(ctx.channels.write("exec", &params.exec_id, bytes).await?)
}

/// `exec.closeStdin`.
pub async fn close_stdin(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: ExecIdParams = parse(&p)?;
    control(&ctx, &params.exec_id, Control::Eof).await
}

/// `exec.resize`.
pub async fn resize(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: ExecResizeParams = parse(&p)?;
    if params.cols == 0 || params.rows == 0 || params.cols > 10_000 || params.rows > 10_000 {
        return Err(to_rpc_error(&WorkspaceError::InvalidParams(
            "cols and rows must be 1 to 10000".into(),
        )));
    }
    let size = PtySize {
        cols: params.cols,
        rows: params.rows,
    };
    control(&ctx, &params.exec_id, Control::Resize(size)).await
}

/// The SSH signal (RFC 4254 section 6.10) named `name` (`TERM`, `SIGTERM`),
/// from the table every Nexus crate shares ([`nexus_sdk::Signal`]).
fn signal(name: &str) -> Option<russh::Sig> {
    // russh puts the same name on the wire for a named variant and a custom one
    nexus_sdk::Signal::from_name(name).map(|s| russh::Sig::Custom(s.name().to_string()))
}

/// `exec.signal`.
pub async fn send_signal(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: ExecSignalParams = parse(&p)?;
    let sig = signal(&params.signal).ok_or_else(|| {
        to_rpc_error(&WorkspaceError::InvalidParams(format!(
            "{:?} is no signal name: use one of {}",
            params.signal,
            nexus_sdk::Signal::names()
        )))
    })?;
    control(&ctx, &params.exec_id, Control::Signal(sig)).await
}

/// `exec.kill`: SIGKILL.
pub async fn kill(p: Params<'static>, ctx: Ctx) -> RpcResult<()> {
    let params: ExecIdParams = parse(&p)?;
    control(&ctx, &params.exec_id, Control::Signal(russh::Sig::KILL)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_split_between_chunks_is_kept_whole() {
        let mut c = Chunker {
            encoding: Encoding::Utf8,
            pending: Vec::new(),
        };
        let bytes = "aé€😀".as_bytes();
        let mut text = String::new();
        for b in bytes {
            text.push_str(&c.text(vec![*b]).unwrap_or_default());
        }
        assert_eq!(text, "aé€😀");
        assert_eq!(c.rest(), None);
        assert_eq!(c.text(vec![0xE2, 0x82]), None);
        assert_eq!(c.rest().as_deref(), Some("\u{FFFD}"));
    }

    #[test]
    fn signal_names() {
        assert!(matches!(signal("TERM"), Some(russh::Sig::Custom(n)) if n == "TERM"));
        assert!(matches!(signal("SIGINT"), Some(russh::Sig::Custom(n)) if n == "INT"));
        assert!(matches!(signal("USR2"), Some(russh::Sig::Custom(n)) if n == "USR2"));
        assert!(signal("NOPE").is_none());
    }
}
