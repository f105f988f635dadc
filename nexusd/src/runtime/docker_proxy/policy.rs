//! What the Docker proxy of a workspace lets through: each request of the
//! Docker Engine API (the paths of <https://docs.docker.com/engine/api/v1.41/>)
//! gets a [`Route`], and the bodies that make things (a container, an exec,
//! a volume, a network) are checked and rewritten here. Pure but for
//! [`Scope::host_path`], which resolves symbolic links on the host.

use http::Method;
use serde_json::{Map, Value, json};
use std::path::{Component, Path, PathBuf};

/// Label every container, volume and network made through a workspace's
/// proxy carries: the workspace id. The proxy shows only what has it, and
/// the workspace's removal removes it.
pub const LABEL_PARENT: &str = "dev.nexus.parent";

/// Labels with this prefix are Nexus's own (a workspace container's among
/// them): nothing made through the proxy may carry one but [`LABEL_PARENT`].
const NEXUS_LABELS: &str = "dev.nexus.";

/// The workspace a proxy serves.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The workspace id ([`LABEL_PARENT`]'s value).
    pub workspace_id: String,
    /// The worktree on the host, canonical (no symbolic links).
    pub worktree: PathBuf,
    /// Where the worktree is in the workspace's container (devcontainer.json
    /// `workspaceFolder`): the `$PWD` of `docker run -v $PWD:/src`.
    pub workspace_folder: String,
}

/// Why the proxy refuses a request: HTTP 403 with this message, which the
/// Docker CLI prints after `Error response from daemon:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl Refusal {
    /// A refusal of `what`, with the proxy's name and what to do instead.
    pub fn new(what: impl std::fmt::Display) -> Refusal {
        Refusal(format!(
            "{what} (refused by the Nexus Docker proxy: a workspace's containers get nothing of the host but its own folder; create the workspace with --docker dind if you trust it with a privileged Docker)"
        ))
    }
}

/// What the proxy does with one request, by method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Passed to the engine as it is.
    Pass,
    /// A list (or prune, or the event stream): passed with the
    /// `label=dev.nexus.parent=<id>` filter added, so only the workspace's
    /// own things are in it.
    Filtered,
    /// Of the container with this id or name: passed only if it is the
    /// workspace's.
    Container(String),
    /// Of the exec instance with this id: passed only if its container is the workspace's.
    Exec(String),
    /// `POST /containers/create`: the body is checked ([`check_container`]).
    CreateContainer,
    /// `POST /containers/{id}/exec`: the container is the workspace's and the exec not privileged.
    CreateExec(String),
    /// `POST /volumes/create`: the body is checked ([`check_volume`]).
    CreateVolume,
    /// Of the named volume: passed only if it is the workspace's.
    Volume(String),
    /// `POST /networks/create`: the body is checked ([`check_network`]).
    CreateNetwork,
    /// Of the network with this id or name: passed only if it is the workspace's.
    Network(String),
    /// `POST /networks/{id}/(dis)connect`: network and container both the workspace's.
    NetworkConnect(String),
    /// `POST /build`: no host network, and no tag of Nexus's images.
    Build,
    /// `POST /images/{name}/tag`: no tag of Nexus's images.
    ImageTag,
    /// `DELETE /images/{name}`: not one of Nexus's images, and never forced.
    ImageDelete(String),
    /// Answered 404 with this message: what the proxy has none of (swarm
    /// objects, plugins), so that `docker inspect NAME`, which asks for each
    /// kind in turn, ends in "No such object".
    Missing(String),
    /// Refused with a 403 and this message.
    Refuse(Refusal),
}

/// The API path without its version prefix (`/v1.41/containers/json` →
/// `/containers/json`).
pub fn unversioned(path: &str) -> &str {
    if let Some(rest) = path.strip_prefix("/v")
        && let Some(i) = rest.find('/')
        && rest[..i].bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && i > 0
    {
        return &rest[i..];
    }
    path
}

/// The [`Route`] of a request, by its method and unversioned path.
pub fn route(method: &Method, path: &str) -> Route {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let get = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    let delete = method == Method::DELETE;
    let owned = |s: &str| s.to_string();
    match segments.as_slice() {
        ["_ping"] => Route::Pass,
        ["version"] | ["info"] if get => Route::Pass,
        ["auth"] if post => Route::Pass,
        ["distribution", ..] if get => Route::Pass,
        ["events"] if get => Route::Filtered,
        ["containers", "json"] if get => Route::Filtered,
        ["containers", "create"] if post => Route::CreateContainer,
        ["containers", "prune"] if post => Route::Filtered,
        ["containers", id, "exec"] if post => Route::CreateExec(owned(id)),
        ["containers", id, ..] if !id.is_empty() => Route::Container(owned(id)),
        ["exec", id, "start" | "resize"] if post => Route::Exec(owned(id)),
        ["exec", id, "json"] if get => Route::Exec(owned(id)),
        ["images", "prune"] => Route::Refuse(Refusal::new(
            "pruning images acts on every image of the host: remove images one by one",
        )),
        ["images", rest @ ..] if delete && !rest.is_empty() => Route::ImageDelete(rest.join("/")),
        ["images", .., "tag"] if post => Route::ImageTag,
        ["images", ..] if get || post => Route::Pass,
        ["build"] if post => Route::Build,
        ["session"] if post => Route::Pass,
        ["volumes"] if get => Route::Filtered,
        ["volumes", "create"] if post => Route::CreateVolume,
        ["volumes", "prune"] if post => Route::Filtered,
        ["volumes", name] if get || delete => Route::Volume(owned(name)),
        ["networks"] if get => Route::Filtered,
        ["networks", "create"] if post => Route::CreateNetwork,
        ["networks", "prune"] if post => Route::Filtered,
        ["networks", id, "connect" | "disconnect"] if post => Route::NetworkConnect(owned(id)),
        ["networks", id] if get || delete => Route::Network(owned(id)),
        [
            "plugins" | "services" | "nodes" | "secrets" | "configs" | "tasks" | "swarm",
            ..,
        ] if get => Route::Missing(format!(
            "{path}: no swarm objects or plugins are available through the Nexus Docker proxy"
        )),
        _ => Route::Refuse(Refusal::new(format!("{method} {path} is not among the calls allowed"))),
    }
}

/// `query` (a URL's query string, without `?`) with the Docker API
/// `filters` parameter (JSON: `{"label": ["k=v"]}`, or the older
/// `{"label": {"k=v": true}}`) narrowed to things labelled `label`.
pub fn with_label_filter(query: Option<&str>, label: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let mut filters: Map<String, Value> = pairs
        .iter()
        .find(|(k, _)| k == "filters")
        .and_then(|(_, v)| serde_json::from_str(v).ok())
        .unwrap_or_default();
    match filters.get_mut("label") {
        Some(Value::Array(a)) => a.push(json!(label)),
        Some(Value::Object(o)) => {
            o.insert(label.to_string(), json!(true));
        }
        _ => {
            filters.insert("label".into(), json!([label]));
        }
    }
    pairs.retain(|(k, _)| k != "filters");
    pairs.push(("filters".into(), Value::Object(filters).to_string()));
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// `query` without the parameter `name`.
pub fn without_param(query: Option<&str>, name: &str) -> String {
    let pairs = query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.into_iter().filter(|(k, _)| k != name))
        .finish()
}

/// The values of parameter `name` in `query`.
pub fn params(query: Option<&str>, name: &str) -> Vec<String> {
    query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v)
                .collect()
        })
        .unwrap_or_default()
}

/// What a create body names that must be the workspace's own: checked
/// against the engine by the proxy before the body goes on.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// Containers (ids or names) whose namespaces or volumes it shares.
    pub containers: Vec<String>,
    /// Named volumes it mounts: the workspace's, or made for it (labelled) when missing.
    pub volumes: Vec<String>,
    /// Networks it joins, other than Docker's `bridge` and `none`.
    pub networks: Vec<String>,
}

impl Scope {
    /// The label every child carries, as `key=value`.
    pub fn label(&self) -> String {
        format!("{LABEL_PARENT}={}", self.workspace_id)
    }

    /// The host path for bind source `source` (a path in the workspace's
    /// container under its workspace folder, or a host path under its
    /// worktree), with every symbolic link resolved; refused when it is
    /// outside the worktree, through a `..` or a link.
    pub fn host_path(&self, source: &str) -> Result<PathBuf, Refusal> {
        let outside = || {
            Refusal::new(format!(
                "mounting {source} into a container: only the workspace folder {} (and what is under it) can be mounted",
                self.workspace_folder
            ))
        };
        let path = Path::new(source);
        if !path.is_absolute() || path.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(outside());
        }
        let folder = Path::new(&self.workspace_folder);
        let host = match path.strip_prefix(folder) {
            Ok(rest) if self.workspace_folder != "/" => self.worktree.join(rest),
            _ => match path.strip_prefix(&self.worktree) {
                Ok(_) => path.to_path_buf(),
                Err(_) => return Err(outside()),
            },
        };
        // the deepest part that exists, with its links resolved; Docker makes the rest
        let mut existing = host.clone();
        let mut missing = Vec::new();
        let resolved = loop {
            match existing.canonicalize() {
                Ok(p) => break p,
                Err(_) => {
                    let Some(name) = existing.file_name().map(|n| n.to_os_string()) else {
                        return Err(outside());
                    };
                    missing.push(name);
                    existing.pop();
                }
            }
        };
        let full = missing.iter().rev().fold(resolved, |p, n| p.join(n));
        if !full.starts_with(&self.worktree) {
            return Err(Refusal::new(format!(
                "mounting {source} into a container: it leads outside the workspace folder (through a symbolic link)"
            )));
        }
        Ok(full)
    }
}

/// Refuses a body whose labels name one of Nexus's, and adds the
/// workspace's [`LABEL_PARENT`] to the `Labels` object at `labels`.
fn label(labels: &mut Value, scope: &Scope, what: &str) -> Result<(), Refusal> {
    if labels.is_null() {
        *labels = json!({});
    }
    let Some(map) = labels.as_object_mut() else {
        return Err(Refusal::new(format!("{what}: Labels is not an object")));
    };
    if let Some(k) = map.keys().find(|k| k.starts_with(NEXUS_LABELS)) {
        return Err(Refusal::new(format!(
            "{what} with label {k}: labels dev.nexus.* are Nexus's own"
        )));
    }
    map.insert(LABEL_PARENT.into(), json!(scope.workspace_id));
    Ok(())
}

fn is_set(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Number(_)) => true,
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A namespace mode (`NetworkMode`, `PidMode`, `IpcMode`, …): `host` is
/// refused; `container:<id>` must name one of the workspace's containers.
fn namespace(mode: &str, flag: &str, needs: &mut Needs) -> Result<(), Refusal> {
    if mode == "host" {
        return Err(Refusal::new(format!("{flag}=host shares a namespace of the host")));
    }
    if let Some(c) = mode.strip_prefix("container:") {
        needs.containers.push(c.to_string());
    }
    Ok(())
}

/// Checks and rewrites a `POST /containers/create` body: refuses
/// privileged mode, host namespaces, added capabilities, devices, security
/// options other than `no-new-privileges`, another cgroup parent or
/// runtime, unmasked paths, volume driver options, and binds outside the
/// workspace folder; maps binds of the workspace folder to the worktree on
/// the host; adds [`LABEL_PARENT`]. Returns what must be checked against
/// the engine.
pub fn check_container(body: &mut Value, scope: &Scope) -> Result<Needs, Refusal> {
    let mut needs = Needs::default();
    if !body.is_object() {
        return Err(Refusal::new("a container create without a JSON object body"));
    }
    label(&mut body["Labels"], scope, "a container")?;
    let host = &mut body["HostConfig"];
    if host.is_null() {
        *host = json!({});
    }
    if is_set(host.get("Privileged")) {
        return Err(Refusal::new(
            "--privileged gives a container the host's devices and kernel",
        ));
    }
    for (key, flag) in [
        ("CapAdd", "--cap-add"),
        ("Devices", "--device"),
        ("DeviceRequests", "--gpus"),
        ("DeviceCgroupRules", "--device-cgroup-rule"),
        ("CgroupParent", "--cgroup-parent"),
    ] {
        if is_set(host.get(key)) {
            return Err(Refusal::new(format!("{flag} ({key}) reaches past the container")));
        }
    }
    // the engine's defaults when absent; any list given (an empty one is
    // `systempaths=unconfined`) would replace them
    for key in ["MaskedPaths", "ReadonlyPaths"] {
        if host.get(key).is_some_and(|v| !v.is_null()) {
            return Err(Refusal::new(format!(
                "--security-opt systempaths ({key}) would unmask the kernel's files"
            )));
        }
    }
    if let Some(opts) = host.get("SecurityOpt").and_then(Value::as_array)
        && let Some(bad) = opts
            .iter()
            .filter_map(Value::as_str)
            .find(|o| !o.starts_with("no-new-privileges"))
    {
        return Err(Refusal::new(format!(
            "--security-opt {bad} loosens the container's confinement"
        )));
    }
    let runtime = str_of(host, "Runtime");
    if !runtime.is_empty() && runtime != "runc" {
        return Err(Refusal::new(format!("--runtime {runtime}: only runc")));
    }
    for (key, flag) in [
        ("PidMode", "--pid"),
        ("IpcMode", "--ipc"),
        ("UTSMode", "--uts"),
        ("UsernsMode", "--userns"),
        ("CgroupnsMode", "--cgroupns"),
    ] {
        namespace(str_of(host, key), flag, &mut needs)?;
    }
    let network = str_of(host, "NetworkMode").to_string();
    namespace(&network, "--network", &mut needs)?;
    if !network.contains(':') && !matches!(network.as_str(), "" | "default" | "bridge" | "none") {
        needs.networks.push(network);
    }
    if let Some(from) = host.get("VolumesFrom").and_then(Value::as_array) {
        for v in from.iter().filter_map(Value::as_str) {
            needs.containers.push(v.split(':').next().unwrap_or(v).to_string());
        }
    }
    if let Some(binds) = host.get_mut("Binds").and_then(Value::as_array_mut) {
        for bind in binds.iter_mut() {
            let text = bind.as_str().unwrap_or("").to_string();
            let mut parts: Vec<&str> = text.splitn(3, ':').collect();
            let source = parts.first().copied().unwrap_or("");
            if source.starts_with('/') {
                let host_path = scope.host_path(source)?.display().to_string();
                parts[0] = &host_path;
                *bind = json!(parts.join(":"));
            } else if parts.len() >= 2 {
                needs.volumes.push(source.to_string());
            }
        }
    }
    if let Some(mounts) = host.get_mut("Mounts").and_then(Value::as_array_mut) {
        for m in mounts.iter_mut() {
            let source = str_of(m, "Source").to_string();
            match str_of(m, "Type") {
                "bind" => {
                    let host_path = scope.host_path(&source)?;
                    m["Source"] = json!(host_path.display().to_string());
                }
                "volume" => {
                    let driver = m.get("VolumeOptions").and_then(|o| o.get("DriverConfig"));
                    if driver.is_some_and(|d| is_set(d.get("Name")) || is_set(d.get("Options"))) {
                        return Err(Refusal::new(
                            "a volume with driver options (volume-opt) can mount any host path",
                        ));
                    }
                    if !source.is_empty() {
                        needs.volumes.push(source);
                    }
                }
                "tmpfs" => {}
                other => return Err(Refusal::new(format!("a mount of type {other:?}"))),
            }
        }
    }
    if let Some(endpoints) = body
        .get("NetworkingConfig")
        .and_then(|n| n.get("EndpointsConfig"))
        .and_then(Value::as_object)
    {
        for name in endpoints.keys() {
            if name == "host" {
                return Err(Refusal::new("--network=host shares a namespace of the host"));
            }
            if !matches!(name.as_str(), "bridge" | "none" | "default") && !needs.networks.contains(name) {
                needs.networks.push(name.clone());
            }
        }
    }
    Ok(needs)
}

/// Checks a `POST /containers/{id}/exec` body: not privileged.
pub fn check_exec(body: &Value) -> Result<(), Refusal> {
    if is_set(body.get("Privileged")) {
        return Err(Refusal::new("docker exec --privileged"));
    }
    Ok(())
}

/// Checks and rewrites a `POST /volumes/create` body: the `local` driver
/// without options (`--opt type=none,o=bind,device=/` would be a bind of
/// any host path), and [`LABEL_PARENT`] added.
pub fn check_volume(body: &mut Value, scope: &Scope) -> Result<(), Refusal> {
    if !body.is_object() {
        *body = json!({});
    }
    let driver = str_of(body, "Driver");
    if !driver.is_empty() && driver != "local" {
        return Err(Refusal::new(format!("a volume with driver {driver:?}: only local")));
    }
    if is_set(body.get("DriverOpts")) {
        return Err(Refusal::new(
            "a volume with driver options (--opt) can mount any host path",
        ));
    }
    label(&mut body["Labels"], scope, "a volume")
}

/// Checks and rewrites a `POST /networks/create` body: a bridge network,
/// [`LABEL_PARENT`] added.
pub fn check_network(body: &mut Value, scope: &Scope) -> Result<(), Refusal> {
    if !body.is_object() {
        return Err(Refusal::new("a network create without a JSON object body"));
    }
    let driver = str_of(body, "Driver");
    if !driver.is_empty() && driver != "bridge" {
        return Err(Refusal::new(format!("a network with driver {driver:?}: only bridge")));
    }
    if is_set(body.get("ConfigFrom")) || is_set(body.get("Ingress")) {
        return Err(Refusal::new("a network from another's configuration, or an ingress"));
    }
    label(&mut body["Labels"], scope, "a network")
}

/// Whether image labels `labels` (an image inspect's `Config.Labels`) make it one of Nexus's.
pub fn is_nexus_image(labels: Option<&Value>) -> bool {
    labels
        .and_then(Value::as_object)
        .is_some_and(|m| m.keys().any(|k| k.starts_with(NEXUS_LABELS)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(dir: &Path) -> Scope {
        Scope {
            workspace_id: "00ff00ff00ff00ff".into(),
            worktree: dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()),
            workspace_folder: "/workspaces/repo".into(),
        }
    }

    fn refused(r: Result<Needs, Refusal>) -> String {
        match r {
            Err(Refusal(m)) => m,
            Ok(n) => format!("passed: {n:?}"),
        }
    }

    #[test]
    fn routes_by_method_and_path() {
        assert_eq!(unversioned("/v1.41/containers/json"), "/containers/json");
        assert_eq!(unversioned("/containers/json"), "/containers/json");
        assert_eq!(unversioned("/volumes/x"), "/volumes/x");
        assert_eq!(route(&Method::GET, "/containers/json"), Route::Filtered);
        assert_eq!(route(&Method::POST, "/containers/create"), Route::CreateContainer);
        assert_eq!(
            route(&Method::POST, "/containers/abc/start"),
            Route::Container("abc".into())
        );
        assert_eq!(
            route(&Method::DELETE, "/containers/abc"),
            Route::Container("abc".into())
        );
        assert_eq!(
            route(&Method::POST, "/containers/abc/exec"),
            Route::CreateExec("abc".into())
        );
        assert_eq!(route(&Method::POST, "/exec/e1/start"), Route::Exec("e1".into()));
        assert_eq!(
            route(&Method::DELETE, "/images/library/busybox:latest"),
            Route::ImageDelete("library/busybox:latest".into())
        );
        assert_eq!(route(&Method::POST, "/images/load"), Route::Pass);
        assert_eq!(route(&Method::POST, "/images/busybox/tag"), Route::ImageTag);
        assert!(matches!(route(&Method::POST, "/images/prune"), Route::Refuse(_)));
        assert!(matches!(route(&Method::POST, "/plugins/pull"), Route::Refuse(_)));
        assert!(matches!(route(&Method::GET, "/plugins/x/json"), Route::Missing(_)));
        assert!(matches!(route(&Method::POST, "/swarm/init"), Route::Refuse(_)));
        assert!(matches!(route(&Method::GET, "/system/df"), Route::Refuse(_)));
    }

    #[test]
    fn list_filters_gain_the_workspace_label() {
        let q = with_label_filter(Some("all=1"), "dev.nexus.parent=x");
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        assert!(pairs.contains(&("all".into(), "1".into())));
        let filters = pairs.iter().find(|(k, _)| k == "filters").map(|(_, v)| v.clone());
        assert_eq!(filters.as_deref(), Some(r#"{"label":["dev.nexus.parent=x"]}"#));
        let q = with_label_filter(Some(r#"filters={"label":{"a=b":true},"status":["running"]}"#), "p=x");
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        let v: Value = serde_json::from_str(&pairs[0].1).unwrap_or_default();
        assert_eq!(v["label"], json!({"a=b": true, "p=x": true}));
        assert_eq!(v["status"], json!(["running"]));
        assert_eq!(without_param(Some("force=1&noprune=0"), "force"), "noprune=0");
    }

    #[test]
    fn a_plain_container_passes_labelled_and_its_workspace_bind_is_mapped() -> Result<(), Refusal> {
        let dir = tempfile::tempdir().map_err(|e| Refusal(e.to_string()))?;
        std::fs::create_dir(dir.path().join("src")).map_err(|e| Refusal(e.to_string()))?;
        let s = scope(dir.path());
        let mut body = json!({
            "Image": "busybox",
            "HostConfig": {"Binds": ["/workspaces/repo:/src:ro", "/workspaces/repo/src/new:/new", "cache:/cache"],
                           "NetworkMode": "default", "SecurityOpt": ["no-new-privileges:true"]},
        });
        let needs = check_container(&mut body, &s)?;
        assert_eq!(body["Labels"][LABEL_PARENT], json!("00ff00ff00ff00ff"));
        let wt = s.worktree.display().to_string();
        assert_eq!(
            body["HostConfig"]["Binds"],
            json!([format!("{wt}:/src:ro"), format!("{wt}/src/new:/new"), "cache:/cache"])
        );
        assert_eq!(needs.volumes, ["cache"]);
        assert!(needs.containers.is_empty() && needs.networks.is_empty());
        Ok(())
    }

    #[test]
    fn each_escape_is_refused_with_what_it_was() -> Result<(), std::io::Error> {
        let dir = tempfile::tempdir()?;
        std::os::unix::fs::symlink("/", dir.path().join("root"))?;
        let s = scope(dir.path());
        let cases = [
            (json!({"HostConfig": {"Privileged": true}}), "--privileged"),
            (json!({"HostConfig": {"NetworkMode": "host"}}), "--network=host"),
            (json!({"HostConfig": {"PidMode": "host"}}), "--pid=host"),
            (json!({"HostConfig": {"IpcMode": "host"}}), "--ipc=host"),
            (json!({"HostConfig": {"UsernsMode": "host"}}), "--userns=host"),
            (json!({"HostConfig": {"CapAdd": ["SYS_ADMIN"]}}), "--cap-add"),
            (
                json!({"HostConfig": {"Devices": [{"PathOnHost": "/dev/sda"}]}}),
                "--device",
            ),
            (
                json!({"HostConfig": {"SecurityOpt": ["apparmor=unconfined"]}}),
                "apparmor=unconfined",
            ),
            (json!({"HostConfig": {"MaskedPaths": []}}), "systempaths"),
            (json!({"HostConfig": {"Binds": ["/:/host"]}}), "mounting / "),
            (json!({"HostConfig": {"Binds": ["/etc:/etc"]}}), "mounting /etc"),
            (
                json!({"HostConfig": {"Binds": ["/workspaces/repo/../../etc:/x"]}}),
                "mounting",
            ),
            (
                json!({"HostConfig": {"Binds": ["/workspaces/repo/root/etc:/x"]}}),
                "symbolic link",
            ),
            (
                json!({"HostConfig": {"Mounts": [{"Type": "bind", "Source": "/var/run/docker.sock", "Target": "/s"}]}}),
                "mounting /var/run/docker.sock",
            ),
            (
                json!({"HostConfig": {"Mounts": [{"Type": "volume", "Target": "/x", "VolumeOptions":
                    {"DriverConfig": {"Name": "local", "Options": {"type": "none", "o": "bind", "device": "/"}}}}]}}),
                "driver options",
            ),
            (json!({"Labels": {"dev.nexus.workspace": "x"}}), "dev.nexus.workspace"),
        ];
        for (mut body, says) in cases {
            let shown = body.to_string();
            let m = refused(check_container(&mut body, &s));
            assert!(m.contains(says), "{shown}: {m}");
            assert!(m.contains("Nexus Docker proxy"), "{shown}: {m}");
        }
        let mut body = json!({"HostConfig": {"NetworkMode": "container:abc", "VolumesFrom": ["def:ro"]}});
        let needs = check_container(&mut body, &s).map_err(|e| std::io::Error::other(e.0))?;
        assert_eq!(needs.containers, ["abc", "def"]);
        Ok(())
    }

    #[test]
    fn volumes_networks_and_execs() {
        let s = scope(Path::new("/nonexistent"));
        let mut v =
            json!({"Name": "evil", "Driver": "local", "DriverOpts": {"type": "none", "o": "bind", "device": "/"}});
        assert!(check_volume(&mut v, &s).is_err());
        let mut v = json!({"Name": "fine"});
        assert!(check_volume(&mut v, &s).is_ok());
        assert_eq!(v["Labels"][LABEL_PARENT], json!("00ff00ff00ff00ff"));
        let mut n = json!({"Name": "net", "Driver": "macvlan"});
        assert!(check_network(&mut n, &s).is_err());
        let mut n = json!({"Name": "net"});
        assert!(check_network(&mut n, &s).is_ok());
        assert!(check_exec(&json!({"Privileged": true})).is_err());
        assert!(check_exec(&json!({"Cmd": ["sh"]})).is_ok());
        assert!(is_nexus_image(Some(&json!({"dev.nexus.template.hash": "x"}))));
        assert!(!is_nexus_image(Some(&json!({"maintainer": "x"}))));
        assert!(!is_nexus_image(None));
    }
}
