//! Dev Container features (containers.dev, "Dev Container Features
//! reference"): those devcontainer.json names, local ones (`"./my-feature"`,
//! a folder under the folder of devcontainer.json holding
//! `devcontainer-feature.json` and `install.sh`) and ones from an OCI
//! registry (`ghcr.io/devcontainers/features/go:1`, see `oci.rs`), their options turned into
//! environment variables, their install order, and the Dockerfile that
//! installs them on a base image, one layer each, as root.

use crate::config::Loaded;
use crate::error::{DevContainerError, Result};
use crate::metadata;
use crate::oci::{self, FeatureRef, FeatureRegistry};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Where features are copied in the image while they install (the reference's folder).
const INSTALL_DIR: &str = "/tmp/dev-container-features";

/// One option a feature declares.
#[derive(Debug, Clone, Deserialize)]
struct FeatureOption {
    /// The value when devcontainer.json gives none.
    default: Option<Value>,
}

/// devcontainer-feature.json, as far as Nexus reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeatureJson {
    id: String,
    #[serde(default)]
    options: serde_json::Map<String, Value>,
    #[serde(default)]
    container_env: BTreeMap<String, String>,
    #[serde(default)]
    depends_on: BTreeMap<String, Value>,
    #[serde(default)]
    installs_after: Vec<String>,
}

/// A feature ready to install.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Its id as devcontainer.json (or a `dependsOn`) names it:
    /// `./my-feature`, `ghcr.io/devcontainers/features/go:1`.
    pub user_id: String,
    /// What tells it from others: a local one's folder relative to the
    /// folder of devcontainer.json; one from a registry's `registry/path`.
    pub folder: String,
    /// The files of one from a registry; `None` for a local one (its
    /// folder is in the commit).
    pub files: Option<Vec<oci::File>>,
    /// The `id` of its devcontainer-feature.json.
    pub id: String,
    /// The options as given (an object), for equality and ordering.
    options: Value,
    /// The `devcontainer-features.env` lines: `NAME="value"`, every declared
    /// option (given, else its default).
    pub env_file: String,
    /// Its `containerEnv`, set (as `ENV`) before it installs and kept in the image.
    pub container_env: BTreeMap<String, String>,
    /// Its metadata entry (`id` and the metadata properties).
    pub metadata: Value,
    depends_on: Vec<(String, Value)>,
    installs_after: Vec<String>,
}

/// An option name as an environment variable name, as the spec says:
/// characters other than letters, digits and `_` become `_`, leading digits
/// and underscores one `_`, and all is upper case.
pub fn safe_id(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect();
    let rest = replaced.trim_start_matches(|c: char| c.is_ascii_digit() || c == '_');
    let lead = if rest.len() < replaced.len() { "_" } else { "" };
    format!("{lead}{rest}").to_uppercase()
}

/// A feature's value in devcontainer.json as its options object: a string is
/// the `version` option, `true` (or an empty object) the defaults.
fn options_object(value: &Value) -> Value {
    match value {
        Value::String(s) => serde_json::json!({ "version": s }),
        Value::Object(_) => value.clone(),
        _ => Value::Object(Default::default()),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Double-quoted for a shell, `$` left to expand as the reference leaves it.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Reads what devcontainer.json's `features` name, with their `dependsOn`,
/// from the commit (`read` gives a file relative to the repository root)
/// or a registry (`registry` gives the files of a feature there), in
/// install order: rounds of the features whose `dependsOn` and
/// `installsAfter` (among those present) are installed, each round only the
/// highest `overrideFeatureInstallOrder` priority, sorted by folder, as
/// `@devcontainers/cli` does. Errors: [`DevContainerError::Invalid`] for a
/// feature that is neither local nor in a registry, a missing
/// devcontainer-feature.json or install.sh, an unknown option, an
/// `overrideFeatureInstallOrder` entry that is no feature, or a cycle;
/// `Syntax` for a devcontainer-feature.json that does not parse; the
/// registry's error (`Pull`) for one that cannot be pulled; `read`'s own.
pub fn resolve(
    loaded: &Loaded,
    read: impl Fn(&str) -> Result<Option<Vec<u8>>>,
    registry: &impl FeatureRegistry,
) -> Result<Vec<Feature>> {
    let config = &loaded.config;
    let mut pending: Vec<(String, Value)> = config
        .features
        .iter()
        .map(|(id, v)| (id.clone(), options_object(v)))
        .collect();
    let mut features: Vec<Feature> = Vec::new();
    while let Some((user_id, options)) = pending.pop() {
        let f = load(loaded, &read, registry, &user_id, options)?;
        if features.iter().any(|g| g.folder == f.folder && g.options == f.options) {
            continue;
        }
        pending.extend(f.depends_on.iter().cloned());
        features.push(f);
    }
    let n = config.override_feature_install_order.len();
    let mut priority = vec![0usize; features.len()];
    for (i, id) in config.override_feature_install_order.iter().enumerate() {
        let folder = key_of(loaded, id)?;
        let mut found = false;
        for (f, p) in features.iter().zip(priority.iter_mut()) {
            if f.folder == folder {
                *p = (*p).max(n - i);
                found = true;
            }
        }
        if !found {
            return Err(DevContainerError::invalid(
                &loaded.path,
                format!("overrideFeatureInstallOrder names {id:?}, which is not among the features: fix the list"),
            ));
        }
    }
    let depends: Vec<Vec<(String, Value)>> = features
        .iter()
        .map(|f| {
            f.depends_on
                .iter()
                .map(|(id, o)| Ok((key_of(loaded, id)?, o.clone())))
                .collect::<Result<_>>()
        })
        .collect::<Result<_>>()?;
    let after: Vec<Vec<String>> = features
        .iter()
        .map(|f| {
            f.installs_after
                .iter()
                .filter_map(|id| key_of(loaded, id).ok())
                .filter(|folder| features.iter().any(|g| &g.folder == folder))
                .collect()
        })
        .collect();
    let mut left: Vec<usize> = (0..features.len()).collect();
    let mut order: Vec<usize> = Vec::new();
    while !left.is_empty() {
        let installed = |folder: &str, options: Option<&Value>| {
            order
                .iter()
                .any(|&j| features[j].folder == folder && options.is_none_or(|o| &features[j].options == o))
        };
        let mut round: Vec<usize> = left
            .iter()
            .copied()
            .filter(|&i| {
                depends[i].iter().all(|(f, o)| installed(f, Some(o))) && after[i].iter().all(|f| installed(f, None))
            })
            .collect();
        if round.is_empty() {
            let names: Vec<&str> = left.iter().map(|&i| features[i].user_id.as_str()).collect();
            return Err(DevContainerError::invalid(
                &loaded.path,
                format!(
                    "the features {} depend on each other in a cycle (dependsOn, installsAfter): break the cycle",
                    names.join(", ")
                ),
            ));
        }
        let top = round.iter().map(|&i| priority[i]).max().unwrap_or(0);
        round.retain(|&i| priority[i] == top);
        round.sort_by(|&a, &b| {
            let (fa, fb) = (&features[a], &features[b]);
            fa.folder
                .to_lowercase()
                .cmp(&fb.folder.to_lowercase())
                .then_with(|| fa.folder.cmp(&fb.folder))
                .then_with(|| fa.options.to_string().cmp(&fb.options.to_string()))
        });
        left.retain(|i| !round.contains(i));
        order.extend(round);
    }
    let mut slots: Vec<Option<Feature>> = features.into_iter().map(Some).collect();
    Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
}

/// What tells feature `id` from others (see [`Feature::folder`]).
/// Errors: a feature neither local nor in a registry, or a path leaving
/// the folder.
fn key_of(loaded: &Loaded, id: &str) -> Result<String> {
    if id.starts_with("./") || id.starts_with("../") {
        return local_folder(loaded, id);
    }
    match FeatureRef::parse(id) {
        Some(r) => Ok(r.resource()),
        None => Err(DevContainerError::invalid(
            &loaded.path,
            format!(
                "feature {id:?} is {}; Nexus installs local features (\"./<folder>\" beside devcontainer.json) and features from an OCI registry (\"ghcr.io/devcontainers/features/go:1\"): use one of those forms",
                if id.contains("://") {
                    "a tarball URL"
                } else {
                    "no feature id Nexus knows"
                }
            ),
        )),
    }
}

/// The folder (relative to devcontainer.json's) of local feature `id`.
/// Errors: a path leaving the folder.
fn local_folder(loaded: &Loaded, id: &str) -> Result<String> {
    let in_repo = loaded.resolve(id)?;
    let base = loaded.folder();
    let folder = if base.is_empty() {
        Some(in_repo.as_str())
    } else {
        in_repo.strip_prefix(&format!("{base}/"))
    };
    match folder {
        Some(f) if !f.is_empty() => Ok(f.to_string()),
        _ => Err(DevContainerError::invalid(
            &loaded.path,
            format!(
                "feature {id:?} is not in a folder under {}: local features live beside devcontainer.json",
                if base.is_empty() { "the repository" } else { base }
            ),
        )),
    }
}

/// A feature's devcontainer-feature.json as found, before it is read.
struct Found {
    /// See [`Feature::folder`].
    folder: String,
    /// Where the file is, for errors.
    json_path: String,
    /// Its text.
    json: Vec<u8>,
    /// See [`Feature::files`].
    files: Option<Vec<oci::File>>,
}

/// devcontainer-feature.json of the feature `user_id` names, read from the
/// commit or pulled.
fn find(
    loaded: &Loaded,
    read: &impl Fn(&str) -> Result<Option<Vec<u8>>>,
    registry: &impl FeatureRegistry,
    user_id: &str,
) -> Result<Found> {
    let folder = key_of(loaded, user_id)?;
    let missing = |path: &str, how: &str| {
        DevContainerError::invalid(&loaded.path, format!("feature {user_id:?} has no {path}{how}"))
    };
    if let Some(r) = FeatureRef::parse(user_id) {
        let files = registry.pull(&r)?;
        let file = |name: &str| files.iter().find(|f| f.path == name).map(|f| f.data.clone());
        let not_a_feature = ": it is no Dev Container feature (check the name)";
        let text =
            file("devcontainer-feature.json").ok_or_else(|| missing("devcontainer-feature.json", not_a_feature))?;
        file("install.sh").ok_or_else(|| missing("install.sh", not_a_feature))?;
        return Ok(Found {
            folder,
            json_path: format!("{r}: devcontainer-feature.json"),
            json: text,
            files: Some(files),
        });
    }
    let in_repo = loaded.resolve(user_id)?;
    let json_path = format!("{in_repo}/devcontainer-feature.json");
    let not_committed = " in the commit the workspace starts from: add and commit it";
    let text = read(&json_path)?.ok_or_else(|| missing(&json_path, not_committed))?;
    read(&format!("{in_repo}/install.sh"))?.ok_or_else(|| missing(&format!("{in_repo}/install.sh"), not_committed))?;
    Ok(Found {
        folder,
        json_path,
        json: text,
        files: None,
    })
}

fn load(
    loaded: &Loaded,
    read: &impl Fn(&str) -> Result<Option<Vec<u8>>>,
    registry: &impl FeatureRegistry,
    user_id: &str,
    options: Value,
) -> Result<Feature> {
    let Found {
        folder,
        json_path,
        json: text,
        files,
    } = find(loaded, read, registry, user_id)?;
    let text = String::from_utf8_lossy(&text);
    let opts = jsonc_parser::ParseOptions::default();
    let raw: Value =
        jsonc_parser::parse_to_serde_value(&text, &opts).map_err(|e| DevContainerError::syntax(&json_path, &e))?;
    let json: FeatureJson = serde_json::from_value(raw.clone())
        .map_err(|e| DevContainerError::invalid(&json_path, format!("{e}: fix the file and try again")))?;
    let given = options.as_object().cloned().unwrap_or_default();
    if let Some(unknown) = given.keys().find(|k| !json.options.contains_key(*k)) {
        let known: Vec<&str> = json.options.keys().map(String::as_str).collect();
        return Err(DevContainerError::invalid(
            &loaded.path,
            format!(
                "feature {user_id:?} has no option {unknown:?}; its options are: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ));
    }
    let mut env_file = String::new();
    for (name, declared) in &json.options {
        let declared: FeatureOption = serde_json::from_value(declared.clone()).map_err(|e| {
            DevContainerError::invalid(&json_path, format!("option {name:?}: {e}: fix the file and try again"))
        })?;
        let value = given
            .get(name)
            .or(declared.default.as_ref())
            .map(scalar)
            .unwrap_or_default();
        env_file.push_str(&format!("{}={}\n", safe_id(name), quoted(&value)));
    }
    let metadata = metadata::pick(&raw, &metadata::FEATURE_PROPERTIES, Some(user_id));
    Ok(Feature {
        user_id: user_id.to_string(),
        folder,
        files,
        id: json.id,
        options,
        env_file,
        container_env: json.container_env,
        metadata,
        depends_on: json
            .depends_on
            .iter()
            .map(|(id, v)| (id.clone(), options_object(v)))
            .collect(),
        installs_after: json.installs_after,
    })
}

/// The users features install for (the spec's `_CONTAINER_USER` and `_REMOTE_USER`).
#[derive(Debug, Clone)]
pub struct Users {
    /// `containerUser`, else the image's user, else root.
    pub container_user: String,
    /// `remoteUser`, else the container user.
    pub remote_user: String,
}

/// The Dockerfile that installs `features` (in order) on image `base`, and the
/// files it copies (path in the build context, content): per feature `i`,
/// its folder is at `features/<i>/` of the context (the caller adds it) and
/// `features/<i>/devcontainer-features.env` and the install wrapper are
/// returned here. Each feature's `containerEnv` is set with `ENV` before it
/// installs; `install.sh` runs as root with the options and the users'
/// variables (`_CONTAINER_USER`, `_REMOTE_USER`, and their `_HOME`s from
/// `/etc/passwd`) exported; the image's own user is put back at the end.
pub fn dockerfile(
    base: &str,
    image_user: &str,
    features: &[Feature],
    users: &Users,
) -> (String, Vec<(String, String)>) {
    let mut df = format!("FROM {base}\nUSER root\n");
    let mut files = Vec::new();
    let wrapper = format!(
        "#!/bin/sh\nset -e\nhome_of() {{ while IFS=: read -r n _ _ _ _ h _; do [ \"$n\" = \"$1\" ] && echo \"$h\" && return; done < /etc/passwd; return 0; }}\n\
         _CONTAINER_USER={}\n_REMOTE_USER={}\n_CONTAINER_USER_HOME=$(home_of \"$_CONTAINER_USER\")\n_REMOTE_USER_HOME=$(home_of \"$_REMOTE_USER\")\n\
         export _CONTAINER_USER _REMOTE_USER _CONTAINER_USER_HOME _REMOTE_USER_HOME\n\
         cd \"$(dirname \"$0\")\"\nset -a\n. ./devcontainer-features.env\nset +a\nchmod +x ./install.sh\n./install.sh\n",
        quoted(&users.container_user),
        quoted(&users.remote_user)
    );
    for (i, f) in features.iter().enumerate() {
        let dir = format!("{INSTALL_DIR}/{i}");
        files.push((format!("features/{i}/devcontainer-features.env"), f.env_file.clone()));
        files.push((
            format!("features/{i}/devcontainer-features-install.sh"),
            wrapper.clone(),
        ));
        df.push_str(&format!("COPY features/{i}/ {dir}/\n"));
        for (k, v) in &f.container_env {
            df.push_str(&format!("ENV {k}={}\n", quoted(v)));
        }
        df.push_str(&format!(
            "RUN echo 'installing feature {}' && /bin/sh {dir}/devcontainer-features-install.sh && rm -rf {dir}\n",
            f.user_id.replace('\'', "")
        ));
    }
    let user = if image_user.is_empty() { "root" } else { image_user };
    df.push_str(&format!("USER {user}\n"));
    (df, files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DevContainer;
    use serde_json::json;
    use std::collections::HashMap;

    fn loaded(config: Value) -> Loaded {
        Loaded {
            path: ".devcontainer/devcontainer.json".into(),
            config: serde_json::from_value::<DevContainer>(config.clone()).expect("config"),
            raw: config,
        }
    }

    fn repo(files: &[(&str, Value)]) -> HashMap<String, Vec<u8>> {
        let mut m = HashMap::new();
        for (dir, json) in files {
            m.insert(
                format!(".devcontainer/{dir}/devcontainer-feature.json"),
                json.to_string().into_bytes(),
            );
            m.insert(format!(".devcontainer/{dir}/install.sh"), b"#!/bin/sh\n".to_vec());
        }
        m
    }

    /// A registry holding one feature, `ghcr.io/x/e` (it installs after `./b`).
    fn registry(r: &FeatureRef) -> Result<Vec<oci::File>> {
        let file = |path: &str, data: Value| oci::File {
            path: path.into(),
            data: data.to_string().into_bytes(),
            mode: 0o644,
        };
        match r.resource().as_str() {
            "ghcr.io/x/e" => Ok(vec![
                file(
                    "devcontainer-feature.json",
                    json!({"id": "e", "installsAfter": ["./b"]}),
                ),
                file("install.sh", json!("")),
            ]),
            "ghcr.io/x/not-a-feature" => Ok(vec![file("README.md", json!(""))]),
            _ => Err(DevContainerError::Pull {
                feature: r.to_string(),
                registry: "ghcr.io".into(),
                message: "cannot pull it".into(),
            }),
        }
    }

    fn order(config: Value, files: &[(&str, Value)]) -> Result<Vec<String>> {
        let r = repo(files);
        let fs = resolve(&loaded(config), |p: &str| Ok(r.get(p).cloned()), &registry)?;
        Ok(fs.into_iter().map(|f| f.user_id).collect())
    }

    #[test]
    fn option_names_become_safe_variable_names() {
        assert_eq!(safe_id("version"), "VERSION");
        assert_eq!(safe_id("install-tools.now"), "INSTALL_TOOLS_NOW");
        assert_eq!(safe_id("3d_mode"), "_D_MODE");
        assert_eq!(safe_id("__x"), "_X");
    }

    #[test]
    fn options_fill_in_defaults_and_unknown_ones_are_errors() {
        let files = [(
            "a",
            json!({"id": "a", "version": "1.0.0", "options": {"version": {"type": "string", "default": "latest"}, "pip": {"type": "boolean", "default": true}, "with-x": {"type": "string", "default": "x\"y"}}}),
        )];
        let r = repo(&files);
        let fs = resolve(
            &loaded(json!({"image": "i", "features": {"./a": {"pip": false}}})),
            |p: &str| Ok(r.get(p).cloned()),
            &registry,
        )
        .expect("resolves");
        assert_eq!(fs[0].env_file, "PIP=\"false\"\nVERSION=\"latest\"\nWITH_X=\"x\\\"y\"\n");
        let fs = resolve(
            &loaded(json!({"image": "i", "features": {"./a": "3.10"}})),
            |p: &str| Ok(r.get(p).cloned()),
            &registry,
        )
        .expect("resolves");
        assert!(fs[0].env_file.contains("VERSION=\"3.10\""));
        let e = order(json!({"image": "i", "features": {"./a": {"nope": 1}}}), &files).expect_err("unknown");
        assert!(
            e.to_string()
                .contains("no option \"nope\"; its options are: pip, version, with-x"),
            "{e}"
        );
    }

    #[test]
    fn install_order_follows_depends_on_installs_after_and_the_override() {
        let files = [
            ("a", json!({"id": "a", "installsAfter": ["./c"]})),
            ("b", json!({"id": "b"})),
            ("c", json!({"id": "c", "dependsOn": {"./d": {}}})),
            ("d", json!({"id": "d"})),
        ];
        let features = json!({"./a": {}, "./b": {}, "./c": {}});
        // d comes with c; a waits for c
        assert_eq!(
            order(json!({"image": "i", "features": features}), &files).expect("order"),
            vec!["./b", "./d", "./c", "./a"]
        );
        assert_eq!(
            order(
                json!({"image": "i", "features": features, "overrideFeatureInstallOrder": ["./b", "./d"]}),
                &files
            )
            .expect("order"),
            vec!["./b", "./d", "./c", "./a"]
        );
        assert_eq!(
            order(
                json!({"image": "i", "features": {"./a": {}, "./b": {}}, "overrideFeatureInstallOrder": ["./b"]}),
                &files
            )
            .expect("order"),
            vec!["./b", "./a"]
        );
        let cyclic = [
            ("a", json!({"id": "a", "dependsOn": {"./b": {}}})),
            ("b", json!({"id": "b", "installsAfter": ["./a"]})),
        ];
        let e = order(json!({"image": "i", "features": {"./a": {}}}), &cyclic).expect_err("cycle");
        assert!(e.to_string().contains("cycle"), "{e}");
        // one from a registry, ordered among the local ones
        assert_eq!(
            order(
                json!({"image": "i", "features": {"ghcr.io/x/e:1": {}, "./b": {}}}),
                &files
            )
            .expect("order"),
            vec!["./b", "ghcr.io/x/e:1"]
        );
        for (id, says) in [
            ("ghcr.io/devcontainers/features/go:1", "cannot pull it"),
            (
                "ghcr.io/x/not-a-feature:1",
                "no devcontainer-feature.json: it is no Dev Container feature",
            ),
            ("https://example.com/f.tgz", "is a tarball URL"),
            ("go", "no feature id Nexus knows"),
        ] {
            let e = order(json!({"image": "i", "features": {id: {}}}), &files).expect_err(id);
            assert!(e.to_string().contains(says), "{id}: {e}");
        }
        let e = order(json!({"image": "i", "features": {"./missing": {}}}), &files).expect_err("missing");
        assert!(e.to_string().contains("devcontainer-feature.json"), "{e}");
    }
}
