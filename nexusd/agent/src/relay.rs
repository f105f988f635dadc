//! The relay socket: where the daemon's SSH relay hands the agent a client
//! with the address it really connected from (`docs/ssh.md`, "Client
//! addresses"). Each connection starts with a PROXY protocol v2 header
//! carrying the client's address and the workspace's relay secret
//! (`nexus_sdk::relay`); a connection whose header is missing, malformed
//! or has another secret is dropped before any SSH byte is read.

use nexus_sdk::relay::{SECRET_LEN, SECRET_TLV};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{UnixListener, UnixStream};

/// How long the relay may take to send the header.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The fixed part of a version 2 header: signature (12), version and
/// command (1), family and protocol (1), length of the rest (2).
const FIXED_LEN: usize = 16;
/// The most a header of ours holds after its fixed part: IPv6 addresses
/// (36) and the secret TLV (3 + 32), with room for others.
const MAX_REST: usize = 512;
/// The longest header there is.
pub(crate) const MAX_HEADER: usize = FIXED_LEN + MAX_REST;

/// The length of the header that `bytes` begin with, once its fixed part
/// is there; `None` before.
pub(crate) fn header_len(bytes: &[u8]) -> Option<usize> {
    (bytes.len() >= FIXED_LEN).then(|| FIXED_LEN + u16::from_be_bytes([bytes[14], bytes[15]]) as usize)
}

/// Listens on `path` (replacing a socket left by an earlier run), open to
/// every user of the container: the secret, not the file's mode, decides
/// who may name a client's address, and the daemon runs as whoever owns
/// the host directory bound here.
pub(crate) fn listen(path: &Path) -> std::io::Result<UnixListener> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    Ok(listener)
}

/// Why a relayed connection was dropped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeaderError {
    #[error("no PROXY header within {} s", HEADER_TIMEOUT.as_secs())]
    Timeout,
    #[error("cannot read the PROXY header: {0}")]
    Read(#[from] std::io::Error),
    #[error("not a PROXY protocol v2 header: {0}")]
    Malformed(String),
    #[error("the PROXY header names no TCP client address")]
    NoAddress,
    #[error("the PROXY header does not carry this workspace's relay secret")]
    Secret,
}

/// Reads the header from `stream` (exactly its bytes, nothing of what
/// follows) and returns the client's address when the header carries
/// `secret`.
pub(crate) async fn read_header(stream: &mut UnixStream, secret: &[u8]) -> Result<SocketAddr, HeaderError> {
    tokio::time::timeout(HEADER_TIMEOUT, read_header_now(stream, secret))
        .await
        .map_err(|_| HeaderError::Timeout)?
}

async fn read_header_now(stream: &mut UnixStream, secret: &[u8]) -> Result<SocketAddr, HeaderError> {
    let mut bytes = vec![0u8; FIXED_LEN];
    stream.read_exact(&mut bytes).await?;
    let len = header_len(&bytes).unwrap_or(FIXED_LEN);
    if len > MAX_HEADER {
        return Err(HeaderError::Malformed(format!(
            "{} bytes after the fixed part",
            len - FIXED_LEN
        )));
    }
    bytes.resize(len, 0);
    stream.read_exact(&mut bytes[FIXED_LEN..]).await?;
    client_address(&bytes, secret)
}

/// The client address of a complete header `bytes`, if it carries `secret`.
pub(crate) fn client_address(bytes: &[u8], secret: &[u8]) -> Result<SocketAddr, HeaderError> {
    let header = ppp::v2::Header::try_from(bytes).map_err(|e| HeaderError::Malformed(e.to_string()))?;
    let carried = header
        .tlvs()
        .filter_map(Result::ok)
        .find(|t| t.kind == SECRET_TLV)
        .map(|t| t.value.into_owned());
    if secret.len() != SECRET_LEN || !carried.is_some_and(|c| same_bytes(&c, secret)) {
        return Err(HeaderError::Secret);
    }
    match (header.command, header.addresses) {
        (ppp::v2::Command::Proxy, ppp::v2::Addresses::IPv4(a)) => {
            Ok(SocketAddr::from((a.source_address, a.source_port)))
        }
        (ppp::v2::Command::Proxy, ppp::v2::Addresses::IPv6(a)) => {
            Ok(SocketAddr::from((a.source_address, a.source_port)))
        }
        _ => Err(HeaderError::NoAddress),
    }
}

/// Whether `a` and `b` are equal, in a time that depends only on their lengths.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `text` (hex digits, as `agent.json` holds the secret) as bytes, when it
/// is a secret's length.
pub(crate) fn secret_from_hex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text).ok().filter(|s| s.len() == SECRET_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ppp::v2::{Builder, Command, Protocol, Version};

    fn header(source: &str, tlv: Option<(u8, &[u8])>) -> Vec<u8> {
        let source: SocketAddr = source.parse().expect("address");
        let dest: SocketAddr = if source.is_ipv4() { "127.0.0.1:22" } else { "[::1]:22" }
            .parse()
            .expect("address");
        let b = Builder::with_addresses(Version::Two | Command::Proxy, Protocol::Stream, (source, dest));
        match tlv {
            Some((kind, value)) => b.write_tlv(kind, value).expect("tlv").build().expect("header"),
            None => b.build().expect("header"),
        }
    }

    #[test]
    fn the_address_is_taken_only_with_the_secret() {
        let secret = [7u8; SECRET_LEN];
        let h = header("127.0.0.2:40000", Some((SECRET_TLV, &secret)));
        assert_eq!(
            client_address(&h, &secret).expect("accepted"),
            "127.0.0.2:40000".parse().expect("address")
        );
        let h6 = header("[2001:db8::1]:5", Some((SECRET_TLV, &secret)));
        assert_eq!(
            client_address(&h6, &secret).expect("accepted"),
            "[2001:db8::1]:5".parse().expect("address")
        );
        let other = [8u8; SECRET_LEN];
        assert!(matches!(client_address(&h, &other), Err(HeaderError::Secret)));
        let none = header("127.0.0.2:40000", None);
        assert!(matches!(client_address(&none, &secret), Err(HeaderError::Secret)));
        let wrong_type = header("127.0.0.2:40000", Some((0xE1, &secret)));
        assert!(matches!(client_address(&wrong_type, &secret), Err(HeaderError::Secret)));
        assert!(matches!(
            client_address(b"SSH-2.0-OpenSSH_9.2\r\n", &secret),
            Err(HeaderError::Malformed(_))
        ));
    }

    #[test]
    fn the_secret_is_read_from_hex() {
        let hex = "0a".repeat(SECRET_LEN);
        assert_eq!(secret_from_hex(&hex), Some(vec![10u8; SECRET_LEN]));
        assert_eq!(secret_from_hex("0a0b"), None);
        assert_eq!(secret_from_hex(&"zz".repeat(SECRET_LEN)), None);
    }

    #[tokio::test]
    async fn a_header_is_read_to_its_end_and_no_further() {
        use tokio::io::AsyncWriteExt;
        let secret = [3u8; SECRET_LEN];
        let (mut a, mut b) = UnixStream::pair().expect("pair");
        let mut bytes = header("127.0.0.3:1234", Some((SECRET_TLV, &secret)));
        bytes.extend_from_slice(b"SSH-2.0-x\r\n");
        a.write_all(&bytes).await.expect("write");
        let peer = read_header(&mut b, &secret).await.expect("header");
        assert_eq!(peer, "127.0.0.3:1234".parse().expect("address"));
        let mut rest = [0u8; 11];
        b.read_exact(&mut rest).await.expect("rest");
        assert_eq!(&rest, b"SSH-2.0-x\r\n");
    }
}
