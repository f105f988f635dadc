//! Compose files as devcontainer.json's compose configs use them
//! (`dockerComposeFile`, `service`; the Compose Specification's names),
//! with no engine: what the merged configuration says of a service, and
//! the pieces of an override file (volumes from devcontainer.json's mounts,
//! values escaped from compose's interpolation). Running compose is the
//! caller's.

use crate::container_options::{HostEffect, MountSpec};
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

/// What compose service `name` (a value of the merged configuration, whose
/// relative paths `config` resolved already) does on the host, for a
/// project whose worktree is `worktree`: `privileged`, `cap_add`,
/// `security_opt`, `devices`, host namespaces (`pid`, `ipc`, `userns_mode`,
/// `network_mode: host`), `cgroup_parent`, and bind volumes outside the
/// worktree.
pub fn host_effects(name: &str, service: &Value, worktree: &str) -> Vec<HostEffect> {
    let mut out = Vec::new();
    let mut push = |property: &'static str, what: String| {
        out.push(HostEffect {
            property,
            detail: format!("service {name}: {what}"),
        })
    };
    if service.get("privileged").and_then(Value::as_bool) == Some(true) {
        push("privileged", "privileged: true".into());
    }
    for key in ["cap_add", "security_opt", "devices"] {
        if let Some(list) = service.get(key).and_then(Value::as_array).filter(|l| !l.is_empty()) {
            let items: Vec<String> = list
                .iter()
                .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                .collect();
            let property = match key {
                "cap_add" => "cap_add",
                "security_opt" => "security_opt",
                _ => "devices",
            };
            push(property, items.join(", "));
        }
    }
    for key in ["pid", "ipc", "userns_mode"] {
        if let Some(v) = service.get(key).and_then(Value::as_str).filter(|v| *v == "host") {
            let property = match key {
                "pid" => "pid",
                "ipc" => "ipc",
                _ => "userns_mode",
            };
            push(property, format!("{key}: {v}"));
        }
    }
    if service.get("network_mode").and_then(Value::as_str) == Some("host") {
        push("network_mode", "network_mode: host".into());
    }
    if let Some(v) = service.get("cgroup_parent").and_then(Value::as_str) {
        push("cgroup_parent", format!("cgroup_parent: {v}"));
    }
    for v in service.get("volumes").and_then(Value::as_array).into_iter().flatten() {
        let (kind, source) = match v {
            Value::Object(o) => (
                o.get("type").and_then(Value::as_str).unwrap_or("volume"),
                o.get("source").and_then(Value::as_str).unwrap_or_default(),
            ),
            Value::String(s) => {
                let source = s.split(':').next().unwrap_or_default();
                (if source.starts_with('/') { "bind" } else { "volume" }, source)
            }
            _ => continue,
        };
        if kind == "bind" && !crate::container_options::within(source, worktree) {
            push("volumes", format!("binds host path {source}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn host_effects_of_a_service_name_each_key() {
        let wt = "/src/app/.worktree/a";
        let s = json!({
            "privileged": true,
            "cap_add": ["SYS_ADMIN"],
            "pid": "host",
            "network_mode": "host",
            "volumes": [
                {"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock"},
                {"type": "bind", "source": "/src/app/.worktree/a", "target": "/workspace"},
                {"type": "volume", "source": "data", "target": "/data"},
                "/etc:/host-etc"
            ]
        });
        let got: Vec<&str> = host_effects("app", &s, wt).iter().map(|e| e.property).collect();
        assert_eq!(
            got,
            ["privileged", "cap_add", "pid", "network_mode", "volumes", "volumes"]
        );
        assert!(host_effects("app", &json!({"image": "x", "volumes": ["data:/data"]}), wt).is_empty());
    }

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
