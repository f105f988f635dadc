//! Dev Container features from an OCI registry (containers.dev, "Dev
//! Container Features distribution"): a feature id such as
//! `ghcr.io/devcontainers/features/go:1` names an OCI artifact whose one
//! layer (media type `application/vnd.devcontainers.layer.v1+tar`) is a tar
//! of the feature's folder. Pulled with `oci-client`, anonymously (a registry
//! that asks for a token gets the anonymous one), over HTTPS, or plain HTTP
//! for a registry on `localhost` as the reference implementation does.

use crate::error::{DevContainerError, Result};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use std::io::Read;

/// The media type of a feature's layer.
pub const FEATURE_LAYER: &str = "application/vnd.devcontainers.layer.v1+tar";

/// A file of a pulled feature: its path in the feature's folder, content and
/// Unix permission bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Path relative to the feature's folder (`install.sh`, `lib/x.sh`).
    pub path: String,
    /// Content.
    pub data: Vec<u8>,
    /// Permission bits (`0o755`).
    pub mode: u32,
}

/// A feature id that names an OCI artifact: `registry/path[:tag|@digest]`,
/// the registry holding a `.` or being `localhost` (as the reference tells
/// them from older forms). Lower case, as the reference reads ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureRef {
    /// The reference as `oci-client` takes it.
    reference: oci_client::Reference,
}

impl FeatureRef {
    /// `id` as an OCI reference; `None` when it is not one (a local folder,
    /// a URL, a bare name). A missing tag is `latest`.
    pub fn parse(id: &str) -> Option<FeatureRef> {
        let id = id.to_lowercase();
        if id.starts_with('.') || id.contains("://") {
            return None;
        }
        let registry = id.split('/').next()?;
        if !id.contains('/') || !(registry.contains('.') || registry.starts_with("localhost")) {
            return None;
        }
        id.parse().ok().map(|reference| FeatureRef { reference })
    }

    /// `registry/repository`, without tag or digest: what `dependsOn`,
    /// `installsAfter` and `overrideFeatureInstallOrder` entries are matched by.
    pub fn resource(&self) -> String {
        format!("{}/{}", self.reference.registry(), self.reference.repository())
    }

    /// Whether the registry is this machine's (plain HTTP, as the reference).
    fn is_local(&self) -> bool {
        let registry = self.reference.registry();
        let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
        host == "localhost"
    }
}

impl std::fmt::Display for FeatureRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.reference.whole())
    }
}

/// Where features named by an OCI reference come from. [`resolve`] asks it
/// for each such feature; tests give a closure (any
/// `Fn(&FeatureRef) -> Result<Vec<File>>` is one), and [`OciRegistry`]
/// pulls from the registry the reference names.
///
/// [`resolve`]: crate::features::resolve
pub trait FeatureRegistry {
    /// The files of feature `r` (its layer's tar, untarred). Errors:
    /// [`DevContainerError::Pull`] naming the feature.
    fn pull(&self, r: &FeatureRef) -> Result<Vec<File>>;
}

impl<F: Fn(&FeatureRef) -> Result<Vec<File>>> FeatureRegistry for F {
    fn pull(&self, r: &FeatureRef) -> Result<Vec<File>> {
        self(r)
    }
}

/// Features pulled from OCI registries with `oci-client`, each at most once
/// per `OciRegistry` (a feature named twice, in devcontainer.json and a
/// `dependsOn`, is pulled once). Its `pull` blocks on the tokio runtime
/// given: call it from a blocking thread (`spawn_blocking`), never from a
/// task.
#[derive(Debug)]
pub struct OciRegistry {
    runtime: tokio::runtime::Handle,
    pulled: std::sync::Mutex<std::collections::HashMap<String, Vec<File>>>,
}

impl OciRegistry {
    /// A registry client running its requests on `runtime`.
    pub fn new(runtime: tokio::runtime::Handle) -> OciRegistry {
        OciRegistry {
            runtime,
            pulled: Default::default(),
        }
    }
}

impl FeatureRegistry for OciRegistry {
    fn pull(&self, r: &FeatureRef) -> Result<Vec<File>> {
        let key = r.to_string();
        if let Some(files) = self.pulled.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(files.clone());
        }
        let files = self.runtime.block_on(pull_feature(r))?;
        self.pulled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, files.clone());
        Ok(files)
    }
}

/// Pulls feature `r` and returns its files (an image hash covers their content).
///
/// Errors: [`DevContainerError::Pull`] naming the feature when the registry
/// does not answer, has no such artifact, or the artifact is no feature (no
/// layer of [`FEATURE_LAYER`]).
pub async fn pull_feature(r: &FeatureRef) -> Result<Vec<File>> {
    // rustls's ring provider, as the rest of the daemon's TLS (a second install is a no-op)
    let _ = rustls::crypto::ring::default_provider().install_default();
    let protocol = match r.is_local() {
        true => ClientProtocol::HttpsExcept(vec![r.reference.registry().to_string()]),
        false => ClientProtocol::Https,
    };
    let client = oci_client::Client::new(ClientConfig {
        protocol,
        ..Default::default()
    });
    let failed = |message: String| DevContainerError::Pull {
        feature: r.to_string(),
        registry: r.reference.registry().to_string(),
        message,
    };
    let image = client
        .pull(&r.reference, &RegistryAuth::Anonymous, vec![FEATURE_LAYER])
        .await
        .map_err(|e| failed(format!("cannot pull it ({e})")))?;
    let layer = image
        .layers
        .iter()
        .find(|l| l.media_type == FEATURE_LAYER)
        .ok_or_else(|| {
            failed(format!(
                "the artifact has no {FEATURE_LAYER} layer, so it is no feature"
            ))
        })?;
    untar(&layer.data).map_err(|e| failed(format!("its layer is no tar archive ({e})")))
}

/// The regular files of tar archive `data`, paths relative (`./` dropped).
fn untar(data: &[u8]) -> std::io::Result<Vec<File>> {
    let mut files = Vec::new();
    let mut archive = tar::Archive::new(data);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path()?.to_string_lossy().trim_start_matches("./").to_string();
        if path.is_empty() || path.split('/').any(|c| c == "..") {
            continue;
        }
        let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        files.push(File { path, data, mode });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_ids_that_name_oci_artifacts() {
        let go = FeatureRef::parse("ghcr.io/devcontainers/features/Go:1").expect("oci");
        assert_eq!(go.resource(), "ghcr.io/devcontainers/features/go");
        assert_eq!(go.to_string(), "ghcr.io/devcontainers/features/go:1");
        assert!(!go.is_local());
        let local = FeatureRef::parse("localhost:5000/features/hello").expect("oci");
        assert_eq!(local.to_string(), "localhost:5000/features/hello:latest");
        assert!(local.is_local());
        for not in ["./hello", "../x", "https://example.com/f.tgz", "node", "common/utils"] {
            assert!(FeatureRef::parse(not).is_none(), "{not}");
        }
    }

    #[test]
    fn untar_keeps_regular_files_and_modes() {
        let mut b = tar::Builder::new(Vec::new());
        for (path, mode) in [
            ("./install.sh", 0o755),
            ("devcontainer-feature.json", 0o644),
            ("../evil", 0o644),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(2);
            h.set_mode(mode);
            h.set_entry_type(tar::EntryType::Regular);
            // `append_data` refuses `..`; the header is written as a registry may serve it
            h.as_gnu_mut().expect("gnu").name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            b.append(&h, &b"ok"[..]).expect("append");
        }
        let files = untar(&b.into_inner().expect("tar")).expect("untar");
        let got: Vec<(&str, u32)> = files.iter().map(|f| (f.path.as_str(), f.mode)).collect();
        assert_eq!(got, [("install.sh", 0o755), ("devcontainer-feature.json", 0o644)]);
    }
}
