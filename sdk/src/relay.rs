//! The header Nexus's SSH relay sends the agent before a client's bytes, on
//! the agent's relay socket: a PROXY protocol version 2 header (HAProxy's
//! `proxy-protocol.txt`, section 2.2), command `PROXY`, family `TCP4` or
//! `TCP6`, with the client's address and port as source, and one TLV of
//! type [`SECRET_TLV`] holding the workspace's relay secret (32 bytes), so
//! that only the relay and the daemon can name a client's address.
//! `docs/ssh.md` describes the path; the daemon writes the header and the
//! agent reads it.

/// The TLV type of the relay secret: the first of the range the
/// specification leaves to applications (`PP2_TYPE_MIN_CUSTOM`, 0xE0).
pub const SECRET_TLV: u8 = 0xE0;

/// The relay secret's length in bytes.
pub const SECRET_LEN: usize = 32;

/// Where the relay socket is in every workspace container: the daemon
/// binds a host directory of its own at [`SOCKET_DIR`], and the agent
/// listens on [`SOCKET_PATH`] in it.
pub const SOCKET_DIR: &str = "/.nexus/run";

/// The agent's relay socket (a Unix stream socket) in the container.
pub const SOCKET_PATH: &str = "/.nexus/run/ssh.sock";
