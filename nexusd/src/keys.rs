//! SSH keys the daemon makes: each workspace's host key, and the daemon's own
//! client key that every workspace authorizes.

use crate::error::{Result, WorkspaceError};
use russh::keys::PrivateKey;
use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData};
use std::path::Path;

/// A fresh Ed25519 key.
pub fn generate() -> Result<PrivateKey> {
    let seed: [u8; 32] = rand::random();
    let pair = Ed25519Keypair::from_seed(&seed);
    PrivateKey::new(KeypairData::Ed25519(pair), "nexus")
        .map_err(|e| WorkspaceError::Internal(format!("cannot make a key: {e}")))
}

/// The private key in OpenSSH PEM format.
pub fn to_pem(key: &PrivateKey) -> Result<String> {
    key.to_openssh(LineEnding::LF)
        .map(|s| s.to_string())
        .map_err(|e| WorkspaceError::Internal(format!("cannot encode a key: {e}")))
}

/// The public key as an OpenSSH one-line (`ssh-ed25519 AAAA… nexus`).
pub fn public_line(key: &PrivateKey) -> Result<String> {
    key.public_key()
        .to_openssh()
        .map_err(|e| WorkspaceError::Internal(format!("cannot encode a key: {e}")))
}

/// Loads the daemon's key from `path`, making it (0600) on first use.
pub fn load_or_create(path: &Path) -> Result<PrivateKey> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return PrivateKey::from_openssh(&text)
            .map_err(|e| WorkspaceError::Internal(format!("cannot read the daemon key {}: {e}", path.display())));
    }
    let key = generate()?;
    write_private(path, to_pem(&key)?.as_bytes())?;
    Ok(key)
}

/// Writes `data` to `path` readable by the owner only (0600).
pub fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(WorkspaceError::io(format!("creating {}", tmp.display())))?;
    let writing = || WorkspaceError::io(format!("writing {}", tmp.display()));
    f.write_all(data).map_err(writing())?;
    f.sync_all().map_err(writing())?;
    std::fs::rename(&tmp, path).map_err(WorkspaceError::io(format!(
        "renaming {} to {}",
        tmp.display(),
        path.display()
    )))?;
    Ok(())
}

/// `n` random bytes as hex (tokens, daemon and channel ids).
pub fn random_hex(n: usize) -> String {
    (0..n).map(|_| format!("{:02x}", rand::random::<u8>())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_persist() {
        let key = generate().expect("generate");
        let pem = to_pem(&key).expect("pem");
        let back = PrivateKey::from_openssh(&pem).expect("parse");
        assert_eq!(back.public_key(), key.public_key());
        assert!(public_line(&key).expect("public").starts_with("ssh-ed25519 "));

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("daemon_key");
        let first = load_or_create(&path).expect("create");
        let second = load_or_create(&path).expect("load");
        assert_eq!(first.public_key(), second.public_key());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
            0o600
        );
    }
}
