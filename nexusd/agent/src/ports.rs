//! `nexus-agent --ports [--once]`: the TCP ports something in the container
//! listens on (any address, IPv4 and IPv6), as JSON lines on stdout:
//! `{"type":"opened","port":N}` for each port listening now, then
//! `opened`/`closed` as listeners come and go. With `--once` it exits after
//! the first set. Ends when stdout closes (the daemon stopped watching:
//! SIGHUP, or EPIPE).
//!
//! The listeners come from the kernel's `sock_diag` netlink interface asked
//! for sockets in state LISTEN only, in the container's network namespace:
//! the kernel then walks its listening table alone, not the table of every
//! connection of every namespace that reading `/proc/net/tcp` walks. The
//! poll starts at [`POLL_MIN`] and backs off to [`POLL_MAX`] while nothing
//! changes, so a `listen()` is seen within 2 s and an idle container costs
//! one small query every 2 s.

use netlink_packet_core::{NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket, SocketAddr};
use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

/// The first interval between two queries, and the one after a change.
const POLL_MIN: Duration = Duration::from_millis(250);
/// The longest interval, reached after a few quiet queries.
const POLL_MAX: Duration = Duration::from_secs(2);

/// A `sock_diag` netlink socket of this network namespace.
struct Diag {
    socket: Socket,
    buf: Vec<u8>,
}

impl Diag {
    fn open() -> std::io::Result<Diag> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(Diag {
            socket,
            buf: vec![0; 64 * 1024],
        })
    }

    /// The local ports of the TCP sockets of `family` in state LISTEN.
    fn listening(&mut self, family: u8) -> std::io::Result<BTreeSet<u16>> {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let mut request = NetlinkMessage::new(
            header,
            SockDiagMessage::InetRequest(InetRequest {
                family,
                protocol: IPPROTO_TCP,
                extensions: ExtensionFlags::empty(),
                states: StateFlags::LISTEN,
                socket_id: if family == AF_INET6 {
                    SocketId::new_v6()
                } else {
                    SocketId::new_v4()
                },
            })
            .into(),
        );
        request.finalize();
        let mut out = vec![0; request.buffer_len()];
        request.serialize(&mut out);
        self.socket.send(&out, 0)?;
        let mut ports = BTreeSet::new();
        loop {
            let n = self.socket.recv(&mut &mut self.buf[..], 0)?;
            let mut offset = 0;
            while offset < n {
                let message = NetlinkMessage::<SockDiagMessage>::deserialize(&self.buf[offset..n])
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
                match message.payload {
                    NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => {
                        ports.insert(r.header.socket_id.source_port);
                    }
                    NetlinkPayload::Done(_) => return Ok(ports),
                    NetlinkPayload::Error(e) => {
                        // an address family the kernel lacks (no IPv6) has no listeners
                        return match e.code {
                            Some(code) if -code.get() == libc::ENOENT => Ok(ports),
                            _ => Err(e.to_io()),
                        };
                    }
                    _ => {}
                }
                let len = message.header.length as usize;
                if len == 0 {
                    break;
                }
                offset += len;
            }
        }
    }

    /// The ports listening now, IPv4 and IPv6.
    fn now(&mut self) -> std::io::Result<BTreeSet<u16>> {
        let mut ports = self.listening(AF_INET)?;
        ports.extend(self.listening(AF_INET6)?);
        Ok(ports)
    }
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
    let mut diag = Diag::open()?;
    let mut out = std::io::stdout().lock();
    let mut known = BTreeSet::new();
    let mut interval = POLL_MIN;
    loop {
        let ports = diag.now()?;
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
        interval = if ports == known {
            (interval * 2).min(POLL_MAX)
        } else {
            POLL_MIN
        };
        known = ports;
        if !wait(interval) {
            return Ok(()); // nobody reads us any more
        }
    }
}

/// Waits `interval`, or less when the reader of standard output has gone
/// (the pipe's other end closed: POLLERR; a terminal hung up: POLLHUP),
/// then returns false. A watcher prints only when ports change, so without
/// this it would outlive its channel until the next change.
fn wait(interval: std::time::Duration) -> bool {
    let mut fds = [libc::pollfd {
        fd: 1,
        events: 0,
        revents: 0,
    }];
    let ms = i32::try_from(interval.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd and its count.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, ms) };
    !(n > 0 && fds[0].revents & (libc::POLLERR | libc::POLLHUP) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_listening_ports_of_both_families() {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let v6 = std::net::TcpListener::bind("[::1]:0");
        let mut diag = Diag::open().expect("sock_diag");
        let ports = diag.now().expect("query");
        assert!(ports.contains(&v4.local_addr().expect("addr").port()), "{ports:?}");
        if let Ok(v6) = &v6 {
            assert!(ports.contains(&v6.local_addr().expect("addr").port()), "{ports:?}");
        }
        // a connected socket is not a listener
        let client = std::net::TcpStream::connect(v4.local_addr().expect("addr")).expect("connect");
        let ports = diag.now().expect("query");
        assert!(!ports.contains(&client.local_addr().expect("addr").port()), "{ports:?}");
        drop(v4);
    }
}
