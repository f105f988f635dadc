//! The daemon's configuration: where it keeps state, which ports it hands out,
//! where the agent binary and the default image are.

use std::path::{Path, PathBuf};

/// Image of the built-in default template (`templates/default`).
pub const DEFAULT_IMAGE: &str = "nexus/default:bookworm";

/// Default SSH port range, inclusive.
pub const DEFAULT_PORT_RANGE: (u16, u16) = (32800, 34999);

/// Why a port range cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PortRangeError {
    /// FIRST is above LAST.
    #[error("the port range {0}-{1} is inverted: give FIRST-LAST with FIRST <= LAST, e.g. 32800-34999")]
    Inverted(u16, u16),
    /// Part of it lies below 1024, the ports only root may bind.
    #[error("the port range {0}-{1} starts below 1024: use ports 1024-65535, e.g. 32800-34999")]
    Privileged(u16, u16),
}

/// Checks a workspace port range (inclusive): 1024 ≤ FIRST ≤ LAST ≤ 65535.
/// Errors: [`PortRangeError`]. (That it keeps clear of the API port is
/// checked once the API listens.)
pub fn check_port_range(range: (u16, u16)) -> Result<(), PortRangeError> {
    let (first, last) = range;
    if first > last {
        return Err(PortRangeError::Inverted(first, last));
    }
    if first < 1024 {
        return Err(PortRangeError::Privileged(first, last));
    }
    Ok(())
}

/// A warning when `range` overlaps this host's ephemeral port range
/// (`/proc/sys/net/ipv4/ip_local_port_range`) outside its reserved ports
/// (`ip_local_reserved_ports`): outgoing connections of any process may
/// then take a port of the range (a create moves to another when that
/// happens; README says how to reserve the range).
pub fn ephemeral_overlap(range: (u16, u16)) -> Option<String> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().filter_map(|n| n.parse::<u16>().ok());
    let (lo, hi) = (it.next()?, it.next()?);
    let reserved = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_reserved_ports").unwrap_or_default();
    let reserved = parse_port_list(&reserved);
    let exposed = (range.0.max(lo)..=range.1.min(hi))
        .filter(|p| !reserved.iter().any(|(a, b)| (*a..=*b).contains(p)))
        .count();
    (exposed > 0).then(|| {
        format!(
            "{exposed} ports of the SSH port range {}-{} lie in the ephemeral port range {lo}-{hi}, where outgoing connections take ports: reserve them with `sysctl -w net.ipv4.ip_local_reserved_ports={}-{}` (see README)",
            range.0, range.1, range.0, range.1
        )
    })
}

/// `ip_local_reserved_ports` text (`8080,32800-34999`) as inclusive ranges.
fn parse_port_list(text: &str) -> Vec<(u16, u16)> {
    text.trim()
        .split(',')
        .filter_map(|part| {
            let part = part.trim();
            match part.split_once('-') {
                Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                None => part.parse().ok().map(|p| (p, p)),
            }
        })
        .collect()
}

/// Everything [`crate::serve`] needs to know.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// State database, token, keys (`nexus_sdk::local::data_dir()` by default).
    pub data_dir: PathBuf,
    /// Host ports handed to workspaces, inclusive.
    pub port_range: (u16, u16),
    /// The static `nexus-agent` binary copied into every container.
    pub agent_binary: PathBuf,
    /// Image used when a create names none.
    pub default_image: String,
    /// Seconds to wait for a new container's agent to answer SSH.
    pub ssh_ready_timeout_secs: u64,
    /// Images built from each repository's devcontainer.json that
    /// `image.prune` keeps, newest first, when no workspace uses them.
    pub keep_images: usize,
    /// Seconds of client silence after which a workspace's SSH server asks
    /// for an answer, dropping the connection after 3 unanswered asks
    /// (OpenSSH's `ClientAliveInterval`); given to agents at create.
    pub client_alive_interval: u64,
    /// The program started as the SSH relay (`nexusd --relay`, see
    /// `crate::relay`): `nexusd` itself. `None` (the default, and tests of
    /// the flows on a fake runtime): new workspaces' ports are published by
    /// Docker instead, and their clients' addresses are not seen.
    pub relay_program: Option<PathBuf>,
    /// Team mode: days audit rows are kept (older ones are pruned at
    /// start-up and daily, the chain staying verifiable); 0 keeps them all.
    pub audit_retention_days: u32,
    /// Seconds idle before a new workspace pauses, unless its create says
    /// otherwise (`--idle-pause`); `None`: never.
    pub idle_pause_secs: Option<u64>,
    /// Seconds idle before a new workspace stops (`--idle-stop`); `None`: never.
    pub idle_stop_secs: Option<u64>,
}

impl DaemonConfig {
    /// Defaults: the local data directory, [`DEFAULT_PORT_RANGE`],
    /// [`find_agent_binary`], [`DEFAULT_IMAGE`].
    pub fn local() -> DaemonConfig {
        DaemonConfig {
            data_dir: nexus_sdk::local::data_dir(),
            port_range: DEFAULT_PORT_RANGE,
            agent_binary: find_agent_binary(),
            default_image: DEFAULT_IMAGE.to_string(),
            ssh_ready_timeout_secs: 30,
            keep_images: 3,
            client_alive_interval: 30,
            relay_program: None,
            audit_retention_days: 90,
            idle_pause_secs: None,
            idle_stop_secs: None,
        }
    }
}

/// The agent binary: `$NEXUS_AGENT_BINARY`, else the first statically linked
/// `nexus-agent` beside this executable or in the static build of a source
/// checkout (`target/x86_64-unknown-linux-gnu/agent/nexus-agent`), else
/// `/usr/local/lib/nexus/nexus-agent`.
pub fn find_agent_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("NEXUS_AGENT_BINARY").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let candidates = [
            dir.join("nexus-agent"),
            dir.join("../x86_64-unknown-linux-gnu/agent/nexus-agent"),
            dir.join("../../x86_64-unknown-linux-gnu/agent/nexus-agent"),
        ];
        if let Some(found) = candidates.into_iter().find(|p| is_static_elf(p)) {
            return found;
        }
    }
    PathBuf::from("/usr/local/lib/nexus/nexus-agent")
}

/// Whether `path` is an ELF executable without a program interpreter
/// (`PT_INTERP`), i.e. statically linked and runnable in any Linux image.
/// Reads the ELF64 little-endian header and program header table (ELF
/// specification, "Program Header").
pub fn is_static_elf(path: &Path) -> bool {
    use std::io::Read;
    // the program header table sits at the start of every executable
    let mut data = Vec::new();
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    if file.take(64 * 1024).read_to_end(&mut data).is_err() {
        return false;
    }
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
    let u32_at = |o: usize| data.get(o..o + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let u64_at = |o: usize| {
        data.get(o..o + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(|b| u64::from_le_bytes(b) as usize)
    };
    // magic, 64-bit, little-endian
    if data.get(0..6) != Some(&[0x7f, b'E', b'L', b'F', 2, 1][..]) {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return false;
    };
    const PT_INTERP: u32 = 3;
    (0..phnum).all(|i| u32_at(phoff + i * phentsize).is_some_and(|t| t != PT_INTERP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_static_from_dynamic_executables() {
        // /bin/sh on the build machine is dynamically linked
        assert!(!is_static_elf(Path::new("/bin/sh")));
        assert!(!is_static_elf(Path::new("/nonexistent")));
        let dir = tempfile::tempdir().expect("tempdir");
        let text = dir.path().join("script");
        std::fs::write(&text, "#!/bin/sh\n").expect("write");
        assert!(!is_static_elf(&text));
        // made ELF64 files: program headers of the given types
        let elf = |types: &[u32]| {
            let mut b = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
            b.resize(64, 0);
            b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
            b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
            b[0x38..0x3a].copy_from_slice(&(types.len() as u16).to_le_bytes()); // e_phnum
            for t in types {
                let mut ph = vec![0u8; 56];
                ph[..4].copy_from_slice(&t.to_le_bytes());
                b.extend(ph);
            }
            let path = dir.path().join(format!("elf-{types:?}"));
            std::fs::write(&path, b).expect("write");
            path
        };
        const PT_LOAD: u32 = 1;
        const PT_INTERP: u32 = 3;
        assert!(is_static_elf(&elf(&[PT_LOAD, PT_LOAD])));
        assert!(!is_static_elf(&elf(&[PT_LOAD, PT_INTERP, PT_LOAD])));
        // and the static agent of this checkout, which the tests build
        let agent = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/x86_64-unknown-linux-gnu/agent/nexus-agent");
        assert!(
            is_static_elf(&agent),
            "{} is not a static ELF: build it with scripts/setup.sh",
            agent.display()
        );
    }
}

#[cfg(test)]
mod port_range_tests {
    use super::*;

    #[test]
    fn ranges_are_checked() {
        assert!(check_port_range((32800, 34999)).is_ok());
        assert!(check_port_range((2000, 2000)).is_ok());
        assert!(matches!(
            check_port_range((5, 9)),
            Err(PortRangeError::Privileged(5, 9))
        ));
        assert!(matches!(
            check_port_range((34999, 32800)),
            Err(PortRangeError::Inverted(34999, 32800))
        ));
    }

    #[test]
    fn reserved_port_lists_parse() {
        assert_eq!(
            parse_port_list("8080,32800-34999\n"),
            vec![(8080, 8080), (32800, 34999)]
        );
        assert_eq!(parse_port_list("\n"), vec![]);
    }
}
