//! The signed release manifest and the trust decisions about it: which keys
//! sign, which signatures count, and which manifests and archives are
//! refused (rollback, freeze, revoked keys and versions).
//!
//! `manifest.json` is signed whole by minisign (prehashed; the signature
//! is `manifest.json.minisig`). Its shape (times in seconds since the Unix
//! epoch):
//!
//! ```json
//! {"schema": 1, "serial": 7, "issuedAt": 1796000000, "expiresAt": 1798592000,
//!  "revokedKeys": ["RWQ…"],
//!  "channels": {"stable": {"version": "1.1.0", "notes": "…", "minimumSafe": "1.0.0",
//!    "revoked": ["1.0.1"],
//!    "targets": {"x86_64-unknown-linux-gnu":
//!      {"url": "nexus-1.1.0-x86_64-unknown-linux-gnu.tar.gz", "size": 31457280, "sha256": "…"}}}}}
//! ```
//!
//! A target's `url` is absolute (`https://`, `http://`, `file://`) or
//! relative to the manifest's own location. The archive's signature is at
//! the same URL with `.minisig` added; its trusted comment is
//! `version:V target:T file:F channel:C`, and every field must match.

use minisign_verify::{Error as SigError, PublicKey, Signature};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The manifest schema this CLI reads.
pub const SCHEMA: u32 = 1;

/// The channels a manifest may carry.
pub const CHANNELS: &[&str] = &["stable", "beta", "nightly"];

/// The target triple this CLI was built for (a release's archives are per
/// target).
pub const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Why an update is refused or failed; each maps to the exit code the
/// issue fixed (see [`Refusal::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Signed data that does not verify or must not be trusted: exit 2.
    #[error("{0}")]
    Untrusted(String),
    /// Input that is not what it must be (the field named): exit 2.
    #[error("{0}")]
    Invalid(String),
    /// The network or a file could not deliver: exit 1, a rerun may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// Nothing newer: exit 3.
    #[error("{0}")]
    UpToDate(String),
    /// The new binaries failed their test launch: exit 4.
    #[error("{0}")]
    LaunchFailed(String),
    /// The new daemon did not become healthy; switched back: exit 5.
    #[error("{0}")]
    DaemonUnhealthy(String),
}

impl Refusal {
    /// The process exit code: 1 unavailable, 2 refused, 3 up to date, 4
    /// test launch failed, 5 daemon unhealthy.
    pub fn exit_code(&self) -> i32 {
        match self {
            Refusal::Unavailable(_) => 1,
            Refusal::Untrusted(_) | Refusal::Invalid(_) => 2,
            Refusal::UpToDate(_) => 3,
            Refusal::LaunchFailed(_) => 4,
            Refusal::DaemonUnhealthy(_) => 5,
        }
    }
}

/// `Result` of update steps.
pub type Result<T, E = Refusal> = std::result::Result<T, E>;

/// The release manifest (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always [`SCHEMA`].
    pub schema: u32,
    /// Grows with every manifest published; one lower than a manifest
    /// already seen is refused (rollback protection).
    pub serial: u64,
    /// When it was signed.
    pub issued_at: i64,
    /// After this it is refused (freeze protection), unless
    /// `--allow-expired` with `--from`.
    pub expires_at: i64,
    /// Public keys (minisign base64) no longer trusted, from now on.
    #[serde(default)]
    pub revoked_keys: Vec<String>,
    /// Per channel name ([`CHANNELS`]) its release.
    pub channels: BTreeMap<String, Channel>,
}

impl Manifest {
    /// Channel `name`, or the error naming it.
    pub fn channel(&self, name: &str) -> Result<&Channel> {
        self.channels
            .get(name)
            .ok_or_else(|| Refusal::Invalid(format!("channels.{name}: the manifest has no channel {name}")))
    }
}

/// One channel's current release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    /// Semantic version.
    pub version: String,
    /// Release notes (Markdown).
    #[serde(default)]
    pub notes: String,
    /// Versions below this one have known security problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_safe: Option<String>,
    /// Versions withdrawn: never installed.
    #[serde(default)]
    pub revoked: Vec<String>,
    /// Per target triple, its archive.
    pub targets: BTreeMap<String, Artifact>,
}

/// A release archive of one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Where it is: absolute, or relative to the manifest.
    pub url: String,
    /// Its exact size in bytes; a download past it is cut off.
    pub size: u64,
    /// SHA-256 of the archive, lowercase hex.
    pub sha256: String,
}

/// The signature fields an archive's trusted comment carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// `version:`
    pub version: String,
    /// `target:`
    pub target: String,
    /// `file:`
    pub file: String,
    /// `channel:`
    pub channel: String,
}

/// The keys updates are verified with: the active and the offline backup
/// key, embedded at build time (`nexus-cli/keys/`). Debug builds (the
/// tests') take them from the file `NEXUS_UPDATE_TEST_KEYS` instead when it
/// is set (minisign public key files, concatenated); release builds never
/// read a key from the environment or a file.
pub fn trusted_keys() -> Vec<String> {
    #[cfg(debug_assertions)]
    if let Some(path) = std::env::var_os("NEXUS_UPDATE_TEST_KEYS") {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        return key_lines(&text);
    }
    key_lines(concat!(
        include_str!("../../keys/active.pub"),
        include_str!("../../keys/backup.pub")
    ))
}

/// The base64 key lines of minisign public key files.
fn key_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
        .map(str::to_string)
        .collect()
}

/// Which of `keys` signed `sig`, checked for a prehashed signature; the
/// error says why none did.
fn signer<'k>(keys: &'k [String], revoked: &[String], sig: &Signature, what: &str) -> Result<(&'k str, PublicKey)> {
    let mut legacy = false;
    for key in keys {
        let Ok(pk) = PublicKey::from_base64(key) else { continue };
        match pk.verify_stream(sig) {
            Ok(_) => {
                if revoked.contains(key) {
                    return Err(Refusal::Untrusted(format!(
                        "{what} is signed by a revoked key ({key}): it is not trusted any more"
                    )));
                }
                return Ok((key, pk));
            }
            Err(SigError::UnsupportedLegacyMode) => legacy = true,
            Err(_) => {}
        }
    }
    if legacy {
        return Err(Refusal::Untrusted(format!(
            "{what} has a legacy (not prehashed) minisign signature: refused; sign with minisign 0.9 or later, without -l"
        )));
    }
    Err(Refusal::Untrusted(format!(
        "{what} is signed by an unknown key: not one of this nexus's release keys"
    )))
}

/// Decodes a `.minisig` file.
pub fn signature(text: &str, what: &str) -> Result<Signature> {
    Signature::decode(text).map_err(|_| Refusal::Untrusted(format!("{what} is no minisign signature")))
}

/// Verifies `bytes` against `sig` with one of `keys` not in `revoked`;
/// returns the key that signed.
pub fn verify(bytes: &[u8], sig: &Signature, keys: &[String], revoked: &[String], what: &str) -> Result<String> {
    let (key, pk) = signer(keys, revoked, sig, what)?;
    pk.verify(bytes, sig, false).map_err(|_| {
        Refusal::Untrusted(format!(
            "{what} does not match its signature: it was changed after signing"
        ))
    })?;
    Ok(key.to_string())
}

/// An archive's signature (prehashed only) and the trusted key that made it.
pub struct ArchiveSignature {
    key: PublicKey,
    sig: Signature,
}

impl ArchiveSignature {
    /// Picks the key of `sig` among `keys` not `revoked`.
    pub fn new(sig: Signature, keys: &[String], revoked: &[String], what: &str) -> Result<ArchiveSignature> {
        let (_, key) = signer(keys, revoked, &sig, what)?;
        Ok(ArchiveSignature { key, sig })
    }

    /// Checks the file at `path` against the signature, reading it in chunks.
    pub fn check_file(&self, path: &std::path::Path, what: &str) -> Result<()> {
        use std::io::Read;
        let mut v = self
            .key
            .verify_stream(&self.sig)
            .map_err(|_| Refusal::Untrusted(format!("{what}: the signature cannot be checked")))?;
        let mut f = std::fs::File::open(path).map_err(|e| Refusal::Unavailable(format!("reading {what}: {e}")))?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| Refusal::Unavailable(format!("reading {what}: {e}")))?;
            if n == 0 {
                break;
            }
            v.update(&buf[..n]);
        }
        v.finalize().map_err(|_| {
            Refusal::Untrusted(format!(
                "{what} does not match its signature: it was changed after signing"
            ))
        })
    }

    /// The signature's trusted comment, parsed.
    pub fn signed(&self, what: &str) -> Result<Signed> {
        parse_trusted_comment(self.sig.trusted_comment(), what)
    }
}

/// `version:V target:T file:F channel:C` (any order; all four needed).
pub fn parse_trusted_comment(comment: &str, what: &str) -> Result<Signed> {
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    for part in comment.split_whitespace() {
        if let Some((k, v)) = part.split_once(':') {
            fields.insert(k, v);
        }
    }
    let get = |k: &str| {
        fields.get(k).map(|v| v.to_string()).ok_or_else(|| {
            Refusal::Untrusted(format!(
                "{what}: its signature's trusted comment has no {k}: field ({comment:?}); release archives are signed with `version:V target:T file:F channel:C`"
            ))
        })
    };
    Ok(Signed {
        version: get("version")?,
        target: get("target")?,
        file: get("file")?,
        channel: get("channel")?,
    })
}

/// Parses and checks a manifest's fields, naming the one at fault.
pub fn parse(bytes: &[u8]) -> Result<Manifest> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| Refusal::Invalid(format!("the manifest is not JSON: {e}")))?;
    match value.get("schema").and_then(|s| s.as_u64()) {
        Some(s) if s == u64::from(SCHEMA) => {}
        Some(s) => {
            return Err(Refusal::Invalid(format!(
                "schema: {s} is not a manifest schema this nexus reads ({SCHEMA}): update nexus by hand from the release page"
            )));
        }
        None => return Err(Refusal::Invalid("schema: missing or not a number".into())),
    }
    let m: Manifest =
        serde_json::from_value(value).map_err(|e| Refusal::Invalid(format!("the manifest's fields: {e}")))?;
    if m.channels.is_empty() {
        return Err(Refusal::Invalid("channels: no channel in the manifest".into()));
    }
    for (name, c) in &m.channels {
        if !CHANNELS.contains(&name.as_str()) {
            return Err(Refusal::Invalid(format!(
                "channels.{name}: not a channel (stable, beta, nightly)"
            )));
        }
        semver(&c.version, &format!("channels.{name}.version"))?;
        if let Some(v) = &c.minimum_safe {
            semver(v, &format!("channels.{name}.minimumSafe"))?;
        }
        for (i, v) in c.revoked.iter().enumerate() {
            semver(v, &format!("channels.{name}.revoked[{i}]"))?;
        }
        if c.targets.is_empty() {
            return Err(Refusal::Invalid(format!("channels.{name}.targets: no target")));
        }
        for (t, a) in &c.targets {
            let field = format!("channels.{name}.targets.{t}");
            check_url(&a.url, &format!("{field}.url"))?;
            if a.sha256.len() != 64 || !a.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Refusal::Invalid(format!("{field}.sha256: not 64 hex digits")));
            }
        }
    }
    Ok(m)
}

/// A version as semver, or the field named.
pub fn semver(v: &str, field: &str) -> Result<semver::Version> {
    semver::Version::parse(v).map_err(|e| Refusal::Invalid(format!("{field}: {v:?} is not a semantic version ({e})")))
}

/// Only `https://`, `http://`, `file://` or a relative path.
fn check_url(url: &str, field: &str) -> Result<()> {
    match url.split_once("://") {
        Some((scheme, _)) if ["https", "http", "file"].contains(&scheme) => Ok(()),
        Some((scheme, _)) => Err(Refusal::Invalid(format!(
            "{field}: the scheme {scheme}:// is not supported (https, http, file or a relative path)"
        ))),
        None if url.is_empty() || url.contains(':') => Err(Refusal::Invalid(format!("{field}: {url:?} is no URL"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut v = serde_json::json!({
            "schema": 1, "serial": 3, "issuedAt": 1, "expiresAt": 2,
            "channels": {"stable": {"version": "1.1.0", "targets": {TARGET: {
                "url": "nexus-1.1.0.tar.gz", "size": 10, "sha256": "ab".repeat(32)}}}}
        });
        edit(&mut v);
        serde_json::to_vec(&v).expect("json")
    }

    #[test]
    fn bad_manifests_name_the_field() {
        assert!(parse(&manifest(|_| {})).is_ok());
        for (bytes, words) in [
            (b"not json".to_vec(), "not JSON"),
            (manifest(|v| v["schema"] = 9.into()), "schema: 9"),
            (
                manifest(|v| v["channels"] = serde_json::json!({})),
                "channels: no channel",
            ),
            (
                manifest(|v| v["channels"]["stable"]["version"] = "1.x".into()),
                "channels.stable.version: \"1.x\" is not a semantic version",
            ),
            (
                manifest(|v| v["channels"]["stable"]["targets"][TARGET]["url"] = "ftp://h/x".into()),
                "url: the scheme ftp:// is not supported",
            ),
            (
                manifest(|v| v["channels"]["stable"]["targets"] = serde_json::json!({})),
                "channels.stable.targets: no target",
            ),
            (
                manifest(|v| v["channels"]["weekly"] = v["channels"]["stable"].clone()),
                "channels.weekly",
            ),
            (
                manifest(|v| drop(v.as_object_mut().map(|o| o.remove("serial")))),
                "serial",
            ),
        ] {
            let e = parse(&bytes).expect_err(words).to_string();
            assert!(e.contains(words), "{e} lacks {words}");
        }
    }

    #[test]
    fn trusted_comments_need_every_field() {
        let s = parse_trusted_comment("version:1.1.0 target:t file:f.tar.gz channel:beta", "x").expect("ok");
        assert_eq!(
            s,
            Signed {
                version: "1.1.0".into(),
                target: "t".into(),
                file: "f.tar.gz".into(),
                channel: "beta".into()
            }
        );
        let e = parse_trusted_comment("timestamp:1 file:f hashed", "x").expect_err("no version");
        assert!(e.to_string().contains("no version: field"), "{e}");
    }

    #[test]
    fn the_embedded_keys_are_two_minisign_keys() {
        let keys = key_lines(concat!(
            include_str!("../../keys/active.pub"),
            include_str!("../../keys/backup.pub")
        ));
        assert_eq!(keys.len(), 2);
        for k in keys {
            PublicKey::from_base64(&k).expect("a minisign public key");
        }
    }
}
