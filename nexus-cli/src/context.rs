//! Named daemon contexts (`nexus context add/use/list/rm`), as `docker
//! context` keeps them: an address and a token per name, one of them current.
//! Kept in `$XDG_CONFIG_HOME/nexus/contexts.json` (else
//! `~/.config/nexus/contexts.json`), mode 0600 since it holds tokens.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The name that means the local daemon (never stored).
pub const LOCAL: &str = "local";

/// One daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// `host:port`, `ws://host:port` or `wss://host[:port]`.
    pub host: String,
    /// The daemon's bearer token.
    pub token: String,
}

/// The file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contexts {
    /// The current context; the local daemon when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// By name.
    #[serde(default)]
    pub contexts: BTreeMap<String, Entry>,
}

/// Where the contexts live.
pub fn path() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::ssh::home().join(".config"));
    base.join("nexus/contexts.json")
}

impl Contexts {
    /// Reads the file (empty when there is none).
    pub fn load() -> anyhow::Result<Contexts> {
        let path = path();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("{} is no contexts file: fix or remove it", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Contexts::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the file, 0600.
    pub fn save(&self) -> anyhow::Result<()> {
        let path = path();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        crate::ssh::write_0600(&path, &serde_json::to_string_pretty(self)?)
    }

    /// The entry named `name`, or the current one; `None` means the local daemon.
    pub fn resolve(&self, name: Option<&str>) -> anyhow::Result<Option<(String, Entry)>> {
        let Some(name) = name.or(self.current.as_deref()) else {
            return Ok(None);
        };
        if name == LOCAL {
            return Ok(None);
        }
        match self.contexts.get(name) {
            Some(e) => Ok(Some((name.to_string(), e.clone()))),
            None => {
                anyhow::bail!("no context named {name:?}: see `nexus context list`, or add it with `nexus context add`")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_named_current_and_local() {
        let mut c = Contexts::default();
        assert_eq!(c.resolve(None).expect("local"), None);
        c.contexts.insert(
            "prod".into(),
            Entry {
                host: "wss://h".into(),
                token: "t".into(),
            },
        );
        c.current = Some("prod".into());
        assert_eq!(
            c.resolve(None).expect("current").map(|(n, _)| n).as_deref(),
            Some("prod")
        );
        assert_eq!(c.resolve(Some(LOCAL)).expect("local"), None);
        assert!(c.resolve(Some("nope")).is_err());
    }
}
