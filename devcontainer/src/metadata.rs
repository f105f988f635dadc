//! Image metadata, as the Dev Container spec defines it (containers.dev,
//! "Image Metadata" and "Merge logic"): the `devcontainer.metadata` label an
//! image carries (a JSON array of entries, or one entry), the entries its
//! features add, and how those entries merge with devcontainer.json into
//! the configuration a workspace runs with.

use crate::config::{CONTAINER_HOOKS, DevContainer, LifecycleCommand};
use crate::error::{DevContainerError, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The label holding an image's metadata entries.
pub const LABEL: &str = "devcontainer.metadata";

/// The origin of devcontainer.json's own lifecycle commands.
pub const CONFIG_ORIGIN: &str = "devcontainer.json";

/// The devcontainer.json properties its metadata entry holds (the spec's list).
const CONFIG_PROPERTIES: [&str; 24] = [
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
    "postAttachCommand",
    "waitFor",
    "customizations",
    "mounts",
    "containerEnv",
    "containerUser",
    "init",
    "privileged",
    "capAdd",
    "securityOpt",
    "remoteUser",
    "userEnvProbe",
    "remoteEnv",
    "overrideCommand",
    "portsAttributes",
    "otherPortsAttributes",
    "forwardPorts",
    "shutdownAction",
    "updateRemoteUserUID",
    "hostRequirements",
];

/// The devcontainer-feature.json properties a feature's metadata entry holds.
pub const FEATURE_PROPERTIES: [&str; 12] = [
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
    "postAttachCommand",
    "init",
    "privileged",
    "capAdd",
    "securityOpt",
    "entrypoint",
    "mounts",
    "customizations",
];

/// A lifecycle command and where it comes from: a feature's id as
/// devcontainer.json names it (`./my-feature`), or `devcontainer.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookCommand {
    /// Where the command comes from.
    pub origin: String,
    /// The command, in any of the spec's three forms.
    pub command: LifecycleCommand,
}

/// The configuration a workspace runs with: devcontainer.json merged with
/// the image's metadata entries and its features' (kept in the workspace's
/// record). `config` holds the merged values of the merged properties.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Merged {
    /// devcontainer.json with the merged properties.
    #[serde(flatten)]
    pub config: DevContainer,
    /// Each lifecycle hook's commands, in the order they run (image, then
    /// features in install order, then devcontainer.json).
    #[serde(default, rename = "nexus.lifecycle")]
    pub lifecycle: BTreeMap<String, Vec<HookCommand>>,
    /// The features' `entrypoint`s, run in order before the agent starts.
    #[serde(default, rename = "nexus.entrypoints")]
    pub entrypoints: Vec<String>,
    /// Under `overrideCommand: false`, the image's entrypoint and command,
    /// run beside the agent.
    #[serde(default, rename = "nexus.imageCommand")]
    pub image_command: Vec<String>,
    /// Every metadata entry, devcontainer.json's last: the value of the
    /// `devcontainer.metadata` label.
    #[serde(default, rename = "nexus.metadata")]
    pub metadata: Vec<Value>,
}

impl Merged {
    /// The commands of lifecycle hook `name`, in order.
    pub fn hooks(&self, name: &str) -> Vec<HookCommand> {
        if self.lifecycle.is_empty() {
            // a record written before metadata was merged
            return self
                .config
                .hook(name)
                .map(|c| {
                    vec![HookCommand {
                        origin: CONFIG_ORIGIN.into(),
                        command: c.clone(),
                    }]
                })
                .unwrap_or_default();
        }
        self.lifecycle.get(name).cloned().unwrap_or_default()
    }
}

/// The entries of a `devcontainer.metadata` label: an array of objects, or
/// one object. A label that is no JSON gives none (and a warning).
pub fn entries_of_label(label: Option<&str>) -> Vec<Value> {
    let Some(text) = label else { return Vec::new() };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(entries)) => entries.into_iter().filter(Value::is_object).collect(),
        Ok(entry @ Value::Object(_)) => vec![entry],
        _ => {
            tracing::warn!("ignoring a {LABEL} label that is no JSON object or array");
            Vec::new()
        }
    }
}

/// The metadata entry of `value` (a devcontainer.json or
/// devcontainer-feature.json as JSON): its `properties` that are set, with
/// `id` first when given.
pub fn pick(value: &Value, properties: &[&str], id: Option<&str>) -> Value {
    let mut entry = Map::new();
    if let Some(id) = id {
        entry.insert("id".into(), id.into());
    }
    for p in properties {
        if let Some(v) = value.get(*p).filter(|v| !v.is_null()) {
            entry.insert((*p).into(), v.clone());
        }
    }
    Value::Object(entry)
}

/// devcontainer.json's own metadata entry, for the label: its metadata
/// properties as written (`raw`, variables not replaced, as the reference
/// writes them).
pub fn config_entry(raw: &Value) -> Value {
    pick(raw, &CONFIG_PROPERTIES, None)
}

/// devcontainer.json's metadata properties with their values (variables
/// replaced), for merging; the typed struct's empty defaults are no settings.
fn merge_entry(config: &DevContainer) -> Value {
    let value = serde_json::to_value(config).unwrap_or_default();
    let mut entry = pick(&value, &CONFIG_PROPERTIES, None);
    if let Some(o) = entry.as_object_mut() {
        o.retain(|_, v| {
            !matches!(v, Value::Array(a) if a.is_empty()) && !matches!(v, Value::Object(m) if m.is_empty())
        });
    }
    entry
}

/// The value of a `devcontainer.metadata` label of `entries`, with
/// `own` (devcontainer.json's entry) last unless it is empty; `None` when
/// there is nothing to say, as the reference leaves the label out then.
pub fn label_value(entries: &[Value], own: &Value) -> Option<String> {
    let mut all: Vec<&Value> = entries.iter().collect();
    if own.as_object().is_some_and(|o| !o.is_empty()) {
        all.push(own);
    }
    (!all.is_empty()).then(|| serde_json::to_string(&all).unwrap_or_default())
}

/// The target of a mount in `--mount` string or object form.
fn mount_target(m: &Value) -> Option<String> {
    match m {
        Value::String(s) => s.split(',').find_map(|part| {
            let (k, v) = part.split_once('=')?;
            matches!(k.trim(), "target" | "destination" | "dst").then(|| v.trim().to_string())
        }),
        Value::Object(o) => o.get("target").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// `customizations` merged: objects property by property, arrays as unions,
/// anything else the later value.
fn merge_customizations(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) => merge_customizations(existing, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for v in b {
                if !a.contains(v) {
                    a.push(v.clone());
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

/// Merges devcontainer.json `config` with the metadata `entries` of its
/// image and features (in that order; devcontainer.json's own entry comes
/// last) by the spec's rules: `init` and `privileged` true when any entry
/// says so; `capAdd`, `securityOpt` and `forwardPorts` unions; `mounts`
/// collected, the last per target; `containerEnv`, `remoteEnv` and
/// `portsAttributes` per key, the last wins; lifecycle commands and
/// `entrypoint`s collected in order; `hostRequirements` the maximum;
/// `customizations` merged per property; for the rest the last entry that
/// sets it wins. `raw` is devcontainer.json as written, whose entry the
/// merged `metadata` ends with. Errors: [`DevContainerError::Metadata`] when an entry holds
/// a value of the wrong type.
pub fn merge(config: &DevContainer, raw: &Value, entries: &[Value]) -> Result<Merged> {
    let own = merge_entry(config);
    let all: Vec<&Map<String, Value>> = entries.iter().chain([&own]).filter_map(Value::as_object).collect();
    let mut merged = serde_json::to_value(config)
        .map_err(|e| DevContainerError::invalid(CONFIG_ORIGIN, format!("cannot merge it: {e}")))?;
    let Some(out) = merged.as_object_mut() else {
        return Err(DevContainerError::invalid(
            CONFIG_ORIGIN,
            "devcontainer.json must hold one JSON object",
        ));
    };
    for key in ["init", "privileged"] {
        if all.iter().any(|e| e.get(key) == Some(&Value::Bool(true))) {
            out.insert(key.into(), Value::Bool(true));
        }
    }
    for key in ["capAdd", "securityOpt"] {
        let mut union: Vec<Value> = Vec::new();
        for v in all.iter().filter_map(|e| e.get(key)?.as_array()).flatten() {
            if !union.contains(v) {
                union.push(v.clone());
            }
        }
        out.insert(key.into(), Value::Array(union));
    }
    // forwardPorts: 3000 and "localhost:3000" are one port
    let mut ports: Vec<Value> = Vec::new();
    for v in all.iter().filter_map(|e| e.get("forwardPorts")?.as_array()).flatten() {
        let v = match v
            .as_str()
            .and_then(|s| s.strip_prefix("localhost:")?.parse::<u16>().ok())
        {
            Some(n) => Value::from(n),
            None => v.clone(),
        };
        if !ports.contains(&v) {
            ports.push(v);
        }
    }
    out.insert("forwardPorts".into(), Value::Array(ports));
    // mounts: the last one per target, in the order of those last ones
    let mounts: Vec<&Value> = all
        .iter()
        .filter_map(|e| e.get("mounts")?.as_array())
        .flatten()
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<Value> = Vec::new();
    for m in mounts.into_iter().rev() {
        if mount_target(m).is_none_or(|t| seen.insert(t)) {
            kept.push(m.clone());
        }
    }
    kept.reverse();
    out.insert("mounts".into(), Value::Array(kept));
    for key in ["containerEnv", "remoteEnv", "portsAttributes"] {
        let mut map = Map::new();
        for e in &all {
            if let Some(Value::Object(m)) = e.get(key) {
                map.extend(m.clone());
            }
        }
        out.insert(key.into(), Value::Object(map));
    }
    for key in [
        "waitFor",
        "remoteUser",
        "containerUser",
        "userEnvProbe",
        "overrideCommand",
        "otherPortsAttributes",
        "shutdownAction",
        "updateRemoteUserUID",
    ] {
        if let Some(v) = all.iter().rev().find_map(|e| e.get(key).filter(|v| !v.is_null())) {
            out.insert(key.into(), v.clone());
        }
    }
    let mut customizations: Option<Value> = None;
    for c in all.iter().filter_map(|e| e.get("customizations")) {
        match &mut customizations {
            Some(into) => merge_customizations(into, c),
            None => customizations = Some(c.clone()),
        }
    }
    out.insert("customizations".into(), customizations.unwrap_or(Value::Null));
    if let Some(req) = host_requirements(&all) {
        out.insert("hostRequirements".into(), req);
    }
    let bad = |what: &str, e: serde_json::Error| DevContainerError::Metadata {
        label: LABEL,
        what: what.to_string(),
        message: e.to_string(),
    };
    let mut lifecycle = BTreeMap::new();
    for hook in CONTAINER_HOOKS {
        let mut commands = Vec::new();
        for e in &all {
            if let Some(c) = e.get(hook).filter(|v| !v.is_null()) {
                commands.push(HookCommand {
                    origin: e.get("id").and_then(Value::as_str).unwrap_or(CONFIG_ORIGIN).to_string(),
                    command: serde_json::from_value(c.clone()).map_err(|e| bad(hook, e))?,
                });
            }
        }
        lifecycle.insert(hook.to_string(), commands);
    }
    let entrypoints = all
        .iter()
        .filter_map(|e| e.get("entrypoint")?.as_str().map(str::to_string))
        .collect();
    let config: DevContainer = serde_json::from_value(merged).map_err(|e| bad("property", e))?;
    Ok(Merged {
        config,
        lifecycle,
        entrypoints,
        image_command: Vec::new(),
        metadata: entries
            .iter()
            .cloned()
            .chain(Some(config_entry(raw)).filter(|e| e.as_object().is_some_and(|o| !o.is_empty())))
            .collect(),
    })
}

/// `hostRequirements` of all entries: the most cores, memory and storage,
/// and the last `gpu` asked for.
fn host_requirements(all: &[&Map<String, Value>]) -> Option<Value> {
    let reqs: Vec<&Map<String, Value>> = all
        .iter()
        .filter_map(|e| e.get("hostRequirements")?.as_object())
        .collect();
    if reqs.is_empty() {
        return None;
    }
    let mut out = Map::new();
    if let Some(cpus) = reqs.iter().filter_map(|r| r.get("cpus")?.as_u64()).max() {
        out.insert("cpus".into(), cpus.into());
    }
    for key in ["memory", "storage"] {
        let most = reqs
            .iter()
            .filter_map(|r| r.get(key)?.as_str())
            .max_by_key(|s| crate::container_options::parse_bytes(s).unwrap_or(0));
        if let Some(s) = most {
            out.insert(key.into(), s.into());
        }
    }
    if let Some(gpu) = reqs.iter().rev().find_map(|r| r.get("gpu").filter(|g| !g.is_null())) {
        out.insert("gpu".into(), gpu.clone());
    }
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merges_by_the_spec_rules() {
        let config: DevContainer = serde_json::from_value(json!({
            "image": "x",
            "remoteUser": "dev",
            "capAdd": ["SYS_PTRACE"],
            "forwardPorts": [3000],
            "containerEnv": {"A": "config"},
            "mounts": ["type=volume,source=mine,target=/data"],
            "postCreateCommand": "echo config",
            "customizations": {"vscode": {"extensions": ["b"]}},
            "hostRequirements": {"cpus": 1, "memory": "8gb"},
        }))
        .expect("config");
        let image = json!({
            "remoteUser": "image-user", "containerUser": "image-user", "init": true,
            "capAdd": ["SYS_PTRACE", "NET_ADMIN"], "forwardPorts": ["localhost:3000", 8080],
            "containerEnv": {"A": "image", "B": "image"},
            "mounts": [{"type": "volume", "source": "theirs", "target": "/data"}, "type=tmpfs,target=/tmp/x"],
            "postCreateCommand": ["echo", "image"],
            "customizations": {"vscode": {"extensions": ["a"], "settings": {"x": 1}}},
            "hostRequirements": {"cpus": 4, "memory": "2gb"},
        });
        let feature =
            json!({"id": "./f", "privileged": true, "postCreateCommand": "echo feature", "entrypoint": "/start.sh"});
        let raw = serde_json::json!({"image": "x", "remoteUser": "${localEnv:WHO}"});
        let m = merge(&config, &raw, &[image, feature]).expect("merged");
        let c = &m.config;
        assert_eq!(c.remote_user.as_deref(), Some("dev"));
        assert_eq!(c.container_user.as_deref(), Some("image-user"));
        assert_eq!((c.init, c.privileged), (Some(true), Some(true)));
        assert_eq!(c.cap_add, vec!["SYS_PTRACE", "NET_ADMIN"]);
        let ports = serde_json::to_value(&c.forward_ports).expect("ports");
        assert_eq!(ports, json!([3000, 8080]));
        assert_eq!(c.container_env["A"], "config");
        assert_eq!(c.container_env["B"], "image");
        let mounts = serde_json::to_value(&c.mounts).expect("mounts");
        assert_eq!(
            mounts,
            json!(["type=tmpfs,target=/tmp/x", "type=volume,source=mine,target=/data"])
        );
        let origins: Vec<String> = m.hooks("postCreateCommand").into_iter().map(|h| h.origin).collect();
        assert_eq!(origins, vec!["devcontainer.json", "./f", "devcontainer.json"]);
        assert_eq!(m.entrypoints, vec!["/start.sh"]);
        assert_eq!(
            c.customizations,
            Some(json!({"vscode": {"extensions": ["a", "b"], "settings": {"x": 1}}}))
        );
        let req = c.host_requirements.clone().expect("req");
        assert_eq!((req.cpus, req.memory.as_deref()), (Some(4), Some("8gb")));
        assert_eq!(m.metadata.len(), 3);
        assert_eq!(
            m.metadata[2],
            json!({"remoteUser": "${localEnv:WHO}"}),
            "the config's entry holds its metadata properties as written"
        );
        assert_eq!(label_value(&[], &json!({})), None);
        assert_eq!(
            label_value(&[], &json!({"init": true})).as_deref(),
            Some(r#"[{"init":true}]"#)
        );
    }

    #[test]
    fn labels_hold_an_array_or_one_object() {
        assert_eq!(entries_of_label(Some(r#"[{"a":1},{"b":2}]"#)).len(), 2);
        assert_eq!(entries_of_label(Some(r#"{"a":1}"#)).len(), 1);
        assert!(entries_of_label(Some("nope")).is_empty());
        assert!(entries_of_label(None).is_empty());
    }
}
