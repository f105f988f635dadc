//! `nexus-agent --ports [--once]`: the TCP ports something in the container
//! listens on (state `0A`, LISTEN, in `/proc/net/tcp` and `/proc/net/tcp6`,
//! any address), as JSON lines on stdout: `{"type":"opened","port":N}` for
//! each port listening now, then, polling every second, `opened`/`closed` as
//! listeners come and go. With `--once` it exits after the first set. Ends
//! when stdout closes (the daemon stopped watching: SIGHUP, or EPIPE).

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

/// How often `/proc/net/tcp*` is read.
const POLL: Duration = Duration::from_secs(1);

/// Listening TCP ports in `/proc/net/tcp` text (state `0A`), any address.
pub fn listening_ports(proc_net_tcp: &str) -> BTreeSet<u16> {
    proc_net_tcp
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 4 || f[3] != "0A" {
                return None;
            }
            u16::from_str_radix(f[1].rsplit(':').next()?, 16).ok()
        })
        .collect()
}

/// The ports listening now; a missing `tcp6` (no IPv6) adds none.
fn now() -> std::io::Result<BTreeSet<u16>> {
    let mut ports = listening_ports(&std::fs::read_to_string("/proc/net/tcp")?);
    if let Ok(v6) = std::fs::read_to_string("/proc/net/tcp6") {
        ports.extend(listening_ports(&v6));
    }
    Ok(ports)
}

fn line(out: &mut impl Write, kind: &str, port: u16) -> std::io::Result<()> {
    writeln!(out, "{}", serde_json::json!({"type": kind, "port": port}))
}

/// Runs the watch; returns the exit code.
pub fn main(once: bool) -> std::process::ExitCode {
    match run(once) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nexus-agent: cannot read the listening ports: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(once: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut known = BTreeSet::new();
    loop {
        let ports = now()?;
        for p in ports.difference(&known) {
            line(&mut out, "opened", *p)?;
        }
        for p in known.difference(&ports) {
            line(&mut out, "closed", *p)?;
        }
        out.flush()?;
        if once {
            return Ok(());
        }
        known = ports;
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_listening_ports() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000:08AE 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n\
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1\n\
   2: 0100007F:1F90 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000     0        0 0 1\n\
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 0 0 0 0 0 0 0\n";
        assert_eq!(listening_ports(text).into_iter().collect::<Vec<_>>(), vec![2222, 8080]);
    }
}
