//! authorized_keys (sshd(8) "AUTHORIZED_KEYS FILE FORMAT"): each line is
//! `[options] keytype base64 [comment]`. Honoured options: `restrict` (all
//! off), `no-port-forwarding`, `no-agent-forwarding`, `no-pty`,
//! `no-x11-forwarding`, their re-enabling forms after `restrict`
//! (`port-forwarding`, `agent-forwarding`, `pty`), and `from="pattern-list"`.
//! Other options are ignored.

use russh::keys::PublicKey;
use std::net::IpAddr;

/// What a key's options allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    /// `direct-tcpip`, `direct-streamlocal`, `tcpip-forward`.
    pub port_forwarding: bool,
    /// `auth-agent-req@openssh.com`.
    pub agent_forwarding: bool,
    /// `pty-req`.
    pub pty: bool,
    /// `from=` pattern list, if any.
    pub from: Option<String>,
}

impl Default for Permissions {
    fn default() -> Self {
        Permissions {
            port_forwarding: true,
            agent_forwarding: true,
            pty: true,
            from: None,
        }
    }
}

/// One usable line.
#[derive(Debug, Clone)]
pub struct AuthorizedKey {
    /// The key.
    pub key: PublicKey,
    /// Its options.
    pub permissions: Permissions,
}

/// Splits the options field at commas outside double quotes.
fn split_options(field: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    for c in field.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Splits a line into (options, key text), the options field being the part
/// before the key type; it may contain quoted spaces.
fn split_line(line: &str) -> Option<(String, String)> {
    if PublicKey::from_openssh(line).is_ok() {
        return Some((String::new(), line.to_string()));
    }
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return Some((line[..i].to_string(), line[i..].trim_start().to_string())),
            _ => {}
        }
    }
    None
}

/// Parses authorized_keys text; lines that are no key are skipped.
pub fn parse(text: &str) -> Vec<AuthorizedKey> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let (options, key_text) = split_line(line)?;
            let key = PublicKey::from_openssh(&key_text).ok()?;
            let mut p = Permissions::default();
            for opt in split_options(&options)
                .iter()
                .map(|o| o.trim())
                .filter(|o| !o.is_empty())
            {
                let (name, value) = match opt.split_once('=') {
                    Some((n, v)) => (n.to_ascii_lowercase(), Some(v.trim_matches('"').to_string())),
                    None => (opt.to_ascii_lowercase(), None),
                };
                match name.as_str() {
                    "restrict" => {
                        p.port_forwarding = false;
                        p.agent_forwarding = false;
                        p.pty = false;
                    }
                    "no-port-forwarding" => p.port_forwarding = false,
                    "no-agent-forwarding" => p.agent_forwarding = false,
                    "no-pty" => p.pty = false,
                    "port-forwarding" => p.port_forwarding = true,
                    "agent-forwarding" => p.agent_forwarding = true,
                    "pty" => p.pty = true,
                    "from" => p.from = value,
                    _ => {}
                }
            }
            Some(AuthorizedKey { key, permissions: p })
        })
        .collect()
}

/// Matches `text` against one wildcard pattern (`*`, `?`), case-insensitively.
fn wildcard(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// Whether `ip` is in `cidr` (`a.b.c.d/n` or an IPv6 `addr/n`).
fn in_cidr(cidr: &str, ip: IpAddr) -> Option<bool> {
    let (net, len) = cidr.split_once('/')?;
    let net: IpAddr = net.parse().ok()?;
    let len: u32 = len.parse().ok()?;
    Some(match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) if len <= 32 => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) if len <= 128 => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    })
}

/// OpenSSH's pattern-list match of a client address: a negated match (`!p`)
/// refuses, otherwise any positive match accepts.
pub fn from_allows(list: &str, ip: IpAddr) -> bool {
    let text = ip.to_string();
    let mut allowed = false;
    for pat in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (negated, pat) = match pat.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pat),
        };
        let hit = in_cidr(pat, ip).unwrap_or_else(|| wildcard(pat, &text));
        if hit && negated {
            return false;
        }
        allowed |= hit;
    }
    allowed
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHm8sHYPAgb0mGKbQnNwgGlGL5Y6pvC2nJXBQbT1xD9n test@host";

    #[test]
    fn parses_plain_and_optioned_lines() {
        let keys = parse(&format!(
            "# comment\n{KEY}\nrestrict,pty {KEY}\nno-port-forwarding,from=\"10.0.0.0/8,!10.1.2.3\" {KEY}\nnot a key\n"
        ));
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[0].permissions, Permissions::default());
        assert_eq!(
            keys[1].permissions,
            Permissions {
                port_forwarding: false,
                agent_forwarding: false,
                pty: true,
                from: None
            }
        );
        assert!(!keys[2].permissions.port_forwarding && keys[2].permissions.agent_forwarding);
        assert_eq!(keys[2].permissions.from.as_deref(), Some("10.0.0.0/8,!10.1.2.3"));
    }

    #[test]
    fn matches_from_patterns() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(from_allows("10.0.0.0/8,!10.1.2.3", ip("10.9.9.9")));
        assert!(!from_allows("10.0.0.0/8,!10.1.2.3", ip("10.1.2.3")));
        assert!(!from_allows("10.0.0.0/8", ip("192.168.1.1")));
        assert!(from_allows("172.17.*", ip("172.17.0.1")));
        assert!(from_allows("*", ip("::1")));
        assert!(!from_allows("", ip("127.0.0.1")));
    }
}
