//! Compose files as devcontainer.json's compose configs use them
//! (`dockerComposeFile`, `service`; the Compose Specification's names),
//! with no engine: what the merged configuration says of a service, and
//! the pieces of an override file (volumes from devcontainer.json's mounts,
//! values escaped from compose's interpolation). Running compose is the
//! caller's.

use crate::container_options::MountSpec;
use serde_json::{Map, Value};

/// What the merged compose configuration (`docker compose config`) says
/// of a service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Service {
    /// `image`.
    pub image: Option<String>,
    /// Whether it has a `build` section.
    pub build: bool,
    /// `user`.
    pub user: Option<String>,
    /// `entrypoint`, as argv.
    pub entrypoint: Option<Vec<String>>,
    /// `command`, as argv.
    pub command: Option<Vec<String>>,
    /// `network_mode`.
    pub network_mode: Option<String>,
}

/// A compose `command` or `entrypoint`: a list, or a string split as a
/// shell would (compose's own reading).
fn argv(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => shlex::split(s),
        Value::Array(a) => Some(a.iter().map(|x| x.as_str().unwrap_or_default().to_string()).collect()),
        _ => None,
    }
}

impl Service {
    /// `service` of the merged configuration `config` prints (as a value).
    pub fn of(v: &Value) -> Service {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Service {
            image: text("image"),
            build: v.get("build").is_some(),
            user: text("user"),
            entrypoint: argv(v.get("entrypoint")),
            command: argv(v.get("command")),
            network_mode: text("network_mode"),
        }
    }
}

/// `$` doubled in every string of `v`, so compose's interpolation leaves it as written.
pub fn escape_dollars(v: &mut Value) {
    match v {
        Value::String(s) => *s = s.replace('$', "$$"),
        Value::Array(a) => a.iter_mut().for_each(escape_dollars),
        Value::Object(m) => {
            let escaped: Map<String, Value> = std::mem::take(m)
                .into_iter()
                .map(|(k, mut v)| {
                    escape_dollars(&mut v);
                    (k.replace('$', "$$"), v)
                })
                .collect();
            *m = escaped;
        }
        _ => {}
    }
}

/// A compose short-syntax volume (`source:target[:ro]`) for a devcontainer.json mount.
pub fn volume_line(m: &MountSpec) -> String {
    let mut line = match &m.source {
        Some(s) => format!("{s}:{}", m.target),
        None => m.target.clone(),
    };
    if m.read_only {
        line.push_str(":ro");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dollars_are_escaped_for_compose_interpolation() {
        let mut v = json!({"a": ["$HOME", "x"], "$k": "${V}"});
        escape_dollars(&mut v);
        assert_eq!(v, json!({"a": ["$$HOME", "x"], "$$k": "$${V}"}));
    }

    #[test]
    fn services_read_from_compose_config() {
        let v: Value = serde_norway::from_str(
            "image: app\nbuild:\n  context: .\nuser: node\nentrypoint: /bin/sh -c 'echo hi'\ncommand: [sleep, infinity]\nnetwork_mode: service:db\n",
        )
        .unwrap_or_default();
        let s = Service::of(&v);
        assert_eq!(s.image.as_deref(), Some("app"));
        assert!(s.build);
        assert_eq!(s.user.as_deref(), Some("node"));
        assert_eq!(
            s.entrypoint,
            Some(vec!["/bin/sh".to_string(), "-c".into(), "echo hi".into()])
        );
        assert_eq!(s.command, Some(vec!["sleep".to_string(), "infinity".into()]));
        assert_eq!(s.network_mode.as_deref(), Some("service:db"));
    }
}
