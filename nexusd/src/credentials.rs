//! Team mode's secrets as pure functions: the token format, password
//! hashes, login signatures and the audit log's chained HMAC. Nothing here
//! stores or logs a secret.
//!
//! Tokens follow GitHub's format: a type prefix (`nxs_` sessions, `nxp_` API
//! tokens), 30 random base62 characters and 6 base62 characters of CRC32
//! over the rest, 40 in all, so a typo is refused before the database is
//! asked. The daemon keeps only SHA-256 of a token.

use hmac::Mac;
use nexus_sdk::team::{LOGIN_NAMESPACE, TokenKind};
use russh::keys::ssh_key::{HashAlg, PublicKey, SshSig};
use sha2::{Digest, Sha256};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Random characters of a token.
const RANDOM_CHARS: usize = 30;
/// Checksum characters of a token.
const CHECK_CHARS: usize = 6;
/// Characters of a whole token.
pub const TOKEN_LEN: usize = 4 + RANDOM_CHARS + CHECK_CHARS;

fn prefix(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Session => "nxs_",
        TokenKind::Api => "nxp_",
    }
}

fn checksum(body: &str) -> String {
    let mut n = crc32fast::hash(body.as_bytes()) as u64;
    let mut out = [b'0'; CHECK_CHARS];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A new token of `kind` (`nxs_`/`nxp_`, [`TOKEN_LEN`] characters).
pub fn new_token(kind: TokenKind) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let mut body = prefix(kind).to_string();
    for _ in 0..RANDOM_CHARS {
        body.push(BASE62[rng.gen_range(0..62)] as char);
    }
    let check = checksum(&body);
    body + &check
}

/// What is wrong with a would-be token, for the error the caller gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Empty.
    Empty,
    /// Not [`TOKEN_LEN`] characters.
    Length,
    /// Neither `nxs_` nor `nxp_`.
    Prefix,
    /// The checksum does not match: a typo or a cut-off copy.
    Checksum,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Malformed::Empty => "the token is empty",
            Malformed::Length => "the token is not 40 characters long",
            Malformed::Prefix => "the token does not start with nxs_ or nxp_",
            Malformed::Checksum => "the token's checksum does not match (a typo, or part of it is missing)",
        })
    }
}

/// The kind of a well-formed token.
///
/// Errors: what is malformed, without touching any stored token.
pub fn parse_token(token: &str) -> Result<TokenKind, Malformed> {
    if token.is_empty() {
        return Err(Malformed::Empty);
    }
    if token.len() != TOKEN_LEN || !token.is_ascii() {
        return Err(Malformed::Length);
    }
    let kind = match &token[..4] {
        "nxs_" => TokenKind::Session,
        "nxp_" => TokenKind::Api,
        _ => return Err(Malformed::Prefix),
    };
    let (body, check) = token.split_at(TOKEN_LEN - CHECK_CHARS);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        checksum(body).as_bytes(),
        check.as_bytes(),
    )) {
        return Err(Malformed::Checksum);
    }
    Ok(kind)
}

/// The prefix of share codes.
const CODE_PREFIX: &str = "nxc_";

/// A new share code (`nxc_…`, [`TOKEN_LEN`] characters, the token format).
pub fn new_share_code() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let mut body = CODE_PREFIX.to_string();
    for _ in 0..RANDOM_CHARS {
        body.push(BASE62[rng.gen_range(0..62)] as char);
    }
    let check = checksum(&body);
    body + &check
}

/// Whether `code` is a well-formed share code (prefix, length, checksum).
pub fn is_share_code(code: &str) -> bool {
    code.len() == TOKEN_LEN
        && code.is_ascii()
        && code.starts_with(CODE_PREFIX)
        && bool::from(subtle::ConstantTimeEq::ct_eq(
            checksum(&code[..TOKEN_LEN - CHECK_CHARS]).as_bytes(),
            &code.as_bytes()[TOKEN_LEN - CHECK_CHARS..],
        ))
}

/// SHA-256 of a secret, as stored.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Largest password, in bytes.
pub const MAX_PASSWORD: usize = 1024;

/// An argon2id PHC string of `password`.
///
/// Errors: an empty or oversized password (the message says which).
pub fn hash_password(password: &str) -> Result<String, String> {
    check_password(password)?;
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Refuses an empty or oversized password.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.is_empty() {
        return Err("password: empty; give at least one character".into());
    }
    if password.len() > MAX_PASSWORD {
        return Err(format!("password: longer than {MAX_PASSWORD} bytes"));
    }
    Ok(())
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    let Ok(parsed) = argon2::password_hash::phc::PasswordHash::new(hash) else {
        return false;
    };
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A hash of a password nobody has, to verify against when a name is
/// unknown, so a wrong name costs as long as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&new_token(TokenKind::Session)).unwrap_or_default())
}

/// An SSH public key, parsed: its `SHA256:` fingerprint and the key in
/// OpenSSH's one-line format.
///
/// Errors: the line is no OpenSSH public key (the message says so).
pub fn public_key(line: &str) -> Result<(String, String), String> {
    let key = PublicKey::from_openssh(line.trim())
        .map_err(|e| format!("key: not an OpenSSH public key ({e}); give one line such as ~/.ssh/id_ed25519.pub"))?;
    let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
    let text = key
        .to_openssh()
        .map_err(|e| format!("key: cannot be written back ({e})"))?;
    Ok((fingerprint, text))
}

/// Checks an armored SSHSIG of `challenge` in [`LOGIN_NAMESPACE`]; returns
/// the fingerprint of the key that signed (the one inside the signature,
/// which the signature itself was verified with).
///
/// Errors: not a signature, another namespace, or a signature that does not verify.
pub fn verify_login(challenge: &str, armored: &str) -> Result<String, String> {
    let sig = SshSig::from_pem(armored.trim()).map_err(|_| "signature: not an armored SSH signature".to_string())?;
    if sig.namespace() != LOGIN_NAMESPACE {
        return Err(format!(
            "signature: made for namespace {:?}, not {LOGIN_NAMESPACE:?}",
            sig.namespace()
        ));
    }
    let key = PublicKey::from(sig.public_key().clone());
    key.verify(LOGIN_NAMESPACE, challenge.as_bytes(), &sig)
        .map_err(|_| "signature: does not verify against the challenge".to_string())?;
    Ok(key.fingerprint(HashAlg::Sha256).to_string())
}

/// One audit row's fields, in the order the chain hashes them.
pub struct AuditFields<'a> {
    /// Place in the log.
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub at: u64,
    /// Who.
    pub actor: &'a str,
    /// What.
    pub action: &'a str,
    /// On what.
    pub target: &'a str,
    /// How it ended.
    pub outcome: &'a str,
    /// More.
    pub detail: &'a str,
}

/// The row's chained MAC: HMAC-SHA256 under `key` of the previous row's MAC
/// and this row's fields, hex.
pub fn audit_mac(key: &[u8], previous: &str, row: &AuditFields<'_>) -> String {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in [
        previous.as_bytes(),
        row.seq.to_string().as_bytes(),
        row.at.to_string().as_bytes(),
        row.actor.as_bytes(),
        row.action.as_bytes(),
        row.target.as_bytes(),
        row.outcome.as_bytes(),
        row.detail.as_bytes(),
    ] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_typos_are_caught() {
        let t = new_token(TokenKind::Api);
        assert_eq!(t.len(), TOKEN_LEN);
        assert_eq!(parse_token(&t), Ok(TokenKind::Api));
        assert_eq!(parse_token(&new_token(TokenKind::Session)), Ok(TokenKind::Session));
        let mut typo = t.clone().into_bytes();
        typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
        assert_eq!(
            parse_token(&String::from_utf8(typo).expect("ok")),
            Err(Malformed::Checksum)
        );
        assert_eq!(parse_token(""), Err(Malformed::Empty));
        assert_eq!(parse_token(&t[..39]), Err(Malformed::Length));
        assert_eq!(parse_token(&"x".repeat(10_000)), Err(Malformed::Length));
        assert_eq!(parse_token(&format!("ghp_{}", &t[4..])), Err(Malformed::Prefix));
    }

    #[test]
    fn share_codes_are_checked_before_the_store() {
        let c = new_share_code();
        assert!(c.starts_with("nxc_") && is_share_code(&c));
        assert!(!is_share_code(&c[..39]));
        assert!(!is_share_code(&new_token(TokenKind::Api)));
        let mut typo = c.into_bytes();
        typo[8] = if typo[8] == b'a' { b'b' } else { b'a' };
        assert!(!is_share_code(&String::from_utf8(typo).expect("ascii")));
    }

    #[test]
    fn passwords_verify_and_refuse() {
        let h = hash_password("correct horse").expect("ok");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsf", &h));
        assert!(hash_password("").is_err());
        assert!(hash_password(&"x".repeat(MAX_PASSWORD + 1)).is_err());
    }

    #[test]
    fn audit_macs_chain() {
        let row = AuditFields {
            seq: 1,
            at: 5,
            actor: "ana",
            action: "workspace.create",
            target: "api",
            outcome: "ok",
            detail: "",
        };
        let a = audit_mac(b"k", "", &row);
        assert_eq!(a, audit_mac(b"k", "", &row));
        assert_ne!(a, audit_mac(b"k", "x", &row));
        assert_ne!(a, audit_mac(b"j", "", &row));
        // field boundaries count: "ab"+"c" differs from "a"+"bc"
        let moved = AuditFields {
            actor: "anaw",
            action: "orkspace.create",
            ..row
        };
        assert_ne!(a, audit_mac(b"k", "", &moved));
    }
}
