//! What keeps failed and unfinished logins from hurting anyone else: the
//! growing delay before a refused key is answered (per client address and
//! per offered key, never applied to an authorized key), and the bound on
//! connections that have not logged in yet, in number (OpenSSH's
//! `MaxStartups`) and in time (`LoginGraceTime`). `docs/ssh.md` explains why
//! neither can lock the owner out.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How long failures are remembered: a count starts again after this.
pub(crate) const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Refusals of one key from one address answered without delay, per window.
pub(crate) const FREE_KEY_FAILURES: u32 = 3;
/// Refusals from one address answered without the address's share of the
/// delay, per window.
pub(crate) const FREE_SOURCE_FAILURES: u32 = 20;
/// The longest delay before a refusal is answered.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(5);
/// Connections that have not logged in, at most (OpenSSH: `MaxStartups`,
/// 100 at its hard limit). A new one beyond it ends the oldest of those
/// that have sent nothing yet, else the oldest of them all.
pub(crate) const MAX_STARTUPS: usize = 100;
/// How long a connection may take to log in before it is dropped (OpenSSH:
/// `LoginGraceTime`, 120 s by default).
pub(crate) const LOGIN_GRACE_TIME: Duration = Duration::from_secs(60);
/// Entries the failure tables hold before expired ones are dropped.
const TABLE_LIMIT: usize = 10_000;

/// A count within a window.
#[derive(Clone, Copy)]
struct Count {
    n: u32,
    since: Instant,
}

impl Count {
    fn bump(&mut self, now: Instant) -> u32 {
        if now.duration_since(self.since) > FAILURE_WINDOW {
            *self = Count { n: 0, since: now };
        }
        self.n += 1;
        self.n
    }
}

/// What one refusal costs: the counts it raised and the delay to answer after.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// Refusals from this address in the window, this one included.
    pub(crate) from_source: u32,
    /// Refusals of this key from this address in the window, this one included.
    pub(crate) of_key: u32,
    /// How long to wait before answering.
    pub(crate) delay: Duration,
}

/// Refused keys by client address and by (address, key fingerprint), shared
/// by every connection of the agent.
#[derive(Clone, Default)]
pub(crate) struct Failures(Arc<Mutex<FailureTables>>);

#[derive(Default)]
struct FailureTables {
    by_source: HashMap<IpAddr, Count>,
    by_key: HashMap<(IpAddr, String), Count>,
}

impl Failures {
    /// Counts a refused key offered from `source` (`key`: its fingerprint)
    /// and says how long to wait before answering.
    pub(crate) fn refused(&self, source: IpAddr, key: &str) -> Refusal {
        let now = Instant::now();
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if t.by_source.len() > TABLE_LIMIT || t.by_key.len() > TABLE_LIMIT {
            t.by_source.retain(|_, c| now.duration_since(c.since) <= FAILURE_WINDOW);
            t.by_key.retain(|_, c| now.duration_since(c.since) <= FAILURE_WINDOW);
            if t.by_key.len() > TABLE_LIMIT {
                t.by_key.clear();
            }
            if t.by_source.len() > TABLE_LIMIT {
                t.by_source.clear();
            }
        }
        let fresh = Count { n: 0, since: now };
        let from_source = t.by_source.entry(source).or_insert(fresh).bump(now);
        let of_key = t.by_key.entry((source, key.to_string())).or_insert(fresh).bump(now);
        Refusal {
            from_source,
            of_key,
            delay: delay(from_source, of_key),
        }
    }
}

/// The delay before a refusal is answered: the key's share doubles from 250
/// ms with each refusal of that key past [`FREE_KEY_FAILURES`]; the
/// address's share grows by 50 ms per ten refusals past
/// [`FREE_SOURCE_FAILURES`], up to 1 s; the sum is at most [`MAX_DELAY`].
pub(crate) fn delay(from_source: u32, of_key: u32) -> Duration {
    let key = match of_key.checked_sub(FREE_KEY_FAILURES + 1) {
        None => Duration::ZERO,
        Some(k) => Duration::from_millis(250) * 2u32.pow(k.min(5)),
    };
    let source = match from_source.checked_sub(FREE_SOURCE_FAILURES) {
        None | Some(0) => Duration::ZERO,
        Some(s) => (Duration::from_millis(50) * s.div_ceil(10)).min(Duration::from_secs(1)),
    };
    (key + source).min(MAX_DELAY)
}

/// A connection's stream that notes when the client first sent a byte.
pub(crate) struct Heard<S> {
    pub(crate) inner: S,
    heard: Arc<AtomicBool>,
}

impl<S> Heard<S> {
    /// `inner`, and the flag that turns true at its first byte read.
    pub(crate) fn new(inner: S) -> (Heard<S>, Arc<AtomicBool>) {
        let heard = Arc::new(AtomicBool::new(false));
        (
            Heard {
                inner,
                heard: heard.clone(),
            },
            heard,
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Heard<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.heard.store(true, Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Heard<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A connection that has not logged in: a second handle to its socket (TCP
/// or the relay's Unix socket) to shut it down by, and whether its client
/// has sent anything.
struct Pending {
    socket: OwnedFd,
    heard: Arc<AtomicBool>,
    /// For a relayed connection, whether the relay's header (PROXY v2,
    /// which is no word of the client's) has been read off the socket yet.
    header_read: Option<Arc<AtomicBool>>,
}

impl Pending {
    /// Whether the client has sent anything: read already, or waiting in
    /// the socket (a busy agent may not have read it yet), or closed.
    /// A relayed connection's header waiting unread is not the client's:
    /// only bytes past it count (else a burst of relayed connections, all
    /// with their headers unread, would all look spoken, and the oldest
    /// of them all, perhaps a real client's, would be ended).
    fn spoke(&self) -> bool {
        if self.heard.load(Ordering::Relaxed) {
            return true;
        }
        let header_unread = self.header_read.as_ref().is_some_and(|r| !r.load(Ordering::Relaxed));
        let mut buf = [0u8; crate::relay::MAX_HEADER + 1];
        let want = if header_unread { buf.len() } else { 1 };
        // SAFETY: a peek of at most `buf.len()` bytes into `buf`, which
        // outlives the call; it never blocks (MSG_DONTWAIT).
        let n = unsafe {
            libc::recv(
                self.socket.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                want,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        let Ok(n) = usize::try_from(n) else { return false };
        if !header_unread {
            return n > 0;
        }
        crate::relay::header_len(&buf[..n]).is_some_and(|len| n > len)
    }

    /// Ends the connection: its session reads end of file.
    fn shut_down(&self) {
        // SAFETY: shutdown(2) of a socket we hold a handle to; no memory is passed.
        unsafe {
            libc::shutdown(self.socket.as_raw_fd(), libc::SHUT_RDWR);
        }
    }
}

/// Connections that have not logged in yet, by id (oldest first).
#[derive(Clone, Default)]
pub(crate) struct Unauthenticated(Arc<Mutex<BTreeMap<u64, Pending>>>);

impl Unauthenticated {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Pending>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records connection `id` (`socket`: a duplicate of its socket; `heard`:
    /// [`Heard`]'s flag), first ending others while [`MAX_STARTUPS`] are
    /// held: the oldest whose client has sent nothing (neither read nor
    /// waiting in its socket), else the oldest. Returns how many were ended.
    /// `header_read`: for a relayed connection, set once its relay header is read.
    pub(crate) fn admit(
        &self,
        id: u64,
        socket: OwnedFd,
        heard: Arc<AtomicBool>,
        header_read: Option<Arc<AtomicBool>>,
    ) -> usize {
        let mut held = self.lock();
        let mut ended = 0;
        while held.len() >= MAX_STARTUPS {
            let silent = held.iter().find(|(_, p)| !p.spoke()).map(|(id, _)| *id);
            let victim = silent.or_else(|| held.keys().next().copied());
            match victim.and_then(|v| held.remove(&v)) {
                Some(old) => {
                    old.shut_down();
                    ended += 1;
                }
                None => break,
            }
        }
        held.insert(
            id,
            Pending {
                socket,
                heard,
                header_read,
            },
        );
        ended
    }

    /// Connection `id` logged in, or ended: it no longer counts.
    pub(crate) fn forget(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Ends connection `id` if it has still not logged in; whether it had not.
    pub(crate) fn expire(&self, id: u64) -> bool {
        match self.lock().remove(&id) {
            Some(p) => {
                p.shut_down();
                true
            }
            None => false,
        }
    }

    /// How many are held now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_grows_per_key_and_per_source_and_is_bounded() {
        assert_eq!(delay(1, 1), Duration::ZERO);
        assert_eq!(delay(3, 3), Duration::ZERO);
        assert_eq!(delay(4, 4), Duration::from_millis(250));
        assert_eq!(delay(5, 5), Duration::from_millis(500));
        assert_eq!(delay(7, 7), Duration::from_secs(2));
        assert_eq!(delay(30, 30), MAX_DELAY);
        // many keys, each refused once: only the address's share
        assert_eq!(delay(20, 1), Duration::ZERO);
        assert_eq!(delay(21, 1), Duration::from_millis(50));
        assert_eq!(delay(40, 1), Duration::from_millis(100));
        assert_eq!(delay(100_000, 1), Duration::from_secs(1));
    }

    #[test]
    fn refusals_count_per_source_and_per_key() {
        let f = Failures::default();
        let a: IpAddr = "127.0.0.2".parse().expect("address");
        let b: IpAddr = "127.0.0.3".parse().expect("address");
        for _ in 0..3 {
            f.refused(a, "SHA256:one");
        }
        let r = f.refused(a, "SHA256:two");
        assert_eq!((r.from_source, r.of_key), (4, 1));
        let r = f.refused(a, "SHA256:one");
        assert_eq!((r.from_source, r.of_key, r.delay), (5, 4, Duration::from_millis(250)));
        let r = f.refused(b, "SHA256:one");
        assert_eq!((r.from_source, r.of_key, r.delay), (1, 1, Duration::ZERO));
    }

    #[test]
    fn admitting_past_the_limit_ends_the_oldest_silent_one() {
        use std::io::{Read, Write};
        use std::net::TcpStream;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let held = Unauthenticated::default();
        let mut clients = Vec::new();
        for id in 0..(MAX_STARTUPS as u64 + 2) {
            let mut client = TcpStream::connect(addr).expect("connect");
            let (server, _) = listener.accept().expect("accept");
            // as tokio's sockets are
            server.set_nonblocking(true).expect("non-blocking");
            if id == 1 {
                // spoke, but the agent has not read it yet
                client.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").expect("write");
                while server.peek(&mut [0u8; 1]).is_err() {
                    std::thread::yield_now();
                }
            }
            // the first one has spoken and been read: it is spared too
            held.admit(id, OwnedFd::from(server), Arc::new(AtomicBool::new(id == 0)), None);
            clients.push(client);
        }
        assert_eq!(held.len(), MAX_STARTUPS);
        // the two oldest silent ones were shut down: their clients read end of file
        let mut buf = [0u8; 1];
        assert_eq!(clients[2].read(&mut buf).expect("read"), 0);
        assert_eq!(clients[3].read(&mut buf).expect("read"), 0);
        assert!(held.expire(0), "the one that spoke must still be held");
        assert!(held.expire(1), "the one whose words wait unread must still be held");
        assert!(held.expire(MAX_STARTUPS as u64 + 1));
        assert!(!held.expire(MAX_STARTUPS as u64 + 1));
        held.forget(4);
        assert_eq!(held.len(), MAX_STARTUPS - 4);
    }

    #[test]
    fn a_relay_header_waiting_unread_is_not_the_client_speaking() {
        use std::io::Write;
        use std::os::unix::net::UnixStream;
        // a PROXY v2 header's fixed part: 12 signature bytes, version and
        // command, family, then the length of the rest (4 here)
        let mut header = b"\r\n\r\n\0\r\nQUIT\n\x21\x11".to_vec();
        header.extend_from_slice(&4u16.to_be_bytes());
        header.extend_from_slice(&[127, 0, 0, 1]);
        let pending = |sent: &[u8]| {
            let (mut relay, agent) = UnixStream::pair().expect("pair");
            relay.write_all(sent).expect("write");
            let p = Pending {
                socket: OwnedFd::from(agent),
                heard: Arc::new(AtomicBool::new(false)),
                header_read: Some(Arc::new(AtomicBool::new(false))),
            };
            (relay, p)
        };
        let (_r1, silent) = pending(&header);
        assert!(!silent.spoke(), "a header alone is silence");
        let (_r2, partial) = pending(&header[..10]);
        assert!(!partial.spoke(), "part of a header is silence");
        let mut with_banner = header.clone();
        with_banner.extend_from_slice(b"SSH-2.0-OpenSSH_9.2\r\n");
        let (_r3, spoken) = pending(&with_banner);
        assert!(spoken.spoke(), "bytes past the header are the client's");
        // once the header is read, any byte waiting is the client's
        let (_r4, read) = pending(b"S");
        if let Some(flag) = &read.header_read {
            flag.store(true, Ordering::Relaxed);
        }
        assert!(read.spoke());
    }
}
