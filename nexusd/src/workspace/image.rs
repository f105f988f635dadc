//! What a workspace is made from: the image (`--image`, devcontainer.json's
//! `image` or its Dockerfile build, a built-in template, or the default
//! one), extended with devcontainer.json's features and the merged
//! `devcontainer.metadata` label; builds are reused while their content
//! hash is unchanged.

use crate::error::{Result, WorkspaceError};
use crate::git::{self, RepoInfo};
use crate::runtime::docker::{BuildSpec, ImageInfo, LABEL_DAEMON};
use crate::workspace::{Manager, blocking};
use nexus_devcontainer::config::{Build, Loaded};
use nexus_devcontainer::{features, metadata};
use nexus_sdk::Step;
use std::collections::HashMap;

/// Repository of the images built from devcontainer.json Dockerfiles; the
/// tag is the start of the build's content hash.
pub const BUILD_REPOSITORY: &str = "nexus/devcontainer";
/// Label holding the whole content hash on those images.
pub const LABEL_BUILD: &str = "dev.nexus.build";
/// Label naming the repository (its working directory) whose
/// devcontainer.json an image was first built for; `image.prune` keeps the
/// newest few per repository.
pub const LABEL_REPOSITORY: &str = "dev.nexus.repository";
/// Label naming the built-in template an image is of.
pub const LABEL_TEMPLATE: &str = "dev.nexus.template";

/// The image a new workspace runs and what it says, with the metadata
/// entries that come before devcontainer.json's: the base image's
/// `devcontainer.metadata` label, then its features'.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedImage {
    /// The image (a tag Nexus built, or the configured image).
    pub tag: String,
    /// Its configuration.
    pub info: ImageInfo,
    /// Metadata entries, in merge order.
    pub metadata: Vec<serde_json::Value>,
}

impl Manager {
    /// The image of a new workspace: `--image` when given, else
    /// devcontainer.json's Dockerfile build or `image`, else the built-in
    /// default template (built when missing); with devcontainer.json's
    /// features installed on it, and on any image Nexus builds the merged
    /// `devcontainer.metadata` label.
    pub(crate) async fn resolve_image(
        &self,
        name: &str,
        p: &nexus_sdk::CreateParams,
        repo: &RepoInfo,
        start: git2::Oid,
        loaded: Option<&Loaded>,
        fresh: bool,
    ) -> Result<ResolvedImage> {
        let (base, info, built) = self.base_image(name, p, repo, start, loaded, fresh).await?;
        let metadata = metadata::entries_of_label(info.labels.get(metadata::LABEL).map(String::as_str));
        match loaded {
            Some(l) if built || !l.config.features.is_empty() => {
                self.extend_image(name, repo, start, l, (base, info, metadata), fresh)
                    .await
            }
            _ => Ok(ResolvedImage {
                tag: base,
                info,
                metadata,
            }),
        }
    }

    /// The image features go on, and whether Nexus built it.
    pub(super) async fn base_image(
        &self,
        name: &str,
        p: &nexus_sdk::CreateParams,
        repo: &RepoInfo,
        start: git2::Oid,
        loaded: Option<&Loaded>,
        fresh: bool,
    ) -> Result<(String, ImageInfo, bool)> {
        if let (None, Some(template)) = (&p.image, &p.template) {
            let t = crate::runtime::templates::find(template)?;
            let info = self.ensure_template_image(name, t, t.image).await?;
            return Ok((t.image.to_string(), info, false));
        }
        let image = match (&p.image, loaded) {
            (Some(image), _) => image.clone(),
            (None, Some(l)) => match (l.config.dockerfile_build(), &l.config.image) {
                (Some(build), _) => {
                    let (tag, info) = self.build_devcontainer(name, repo, start, l, build, fresh).await?;
                    return Ok((tag, info, true));
                }
                (None, Some(image)) => image.clone(),
                (None, None) => {
                    return Err(WorkspaceError::InvalidConfig(format!(
                        "{}: neither \"image\" nor \"build\": {{\"dockerfile\"}} is set: add one of them",
                        l.path
                    )));
                }
            },
            (None, None) => self.config.default_image.clone(),
        };
        if p.image.is_none() && loaded.is_none() {
            // the default image is made from the embedded default template when missing
            let info = self
                .ensure_template_image(name, &crate::runtime::templates::TEMPLATES[0], &image)
                .await?;
            return Ok((image, info, false));
        }
        self.events
            .progress(name, Step::Image, format!("finding image {image}"));
        Ok((image.clone(), self.runtime.ensure_image(&image).await?, false))
    }

    /// Image `image` of built-in template `t` (its own image, or for the
    /// default template the daemon's `default_image`), built from the
    /// template's embedded Dockerfile when missing (after the default
    /// template's image, which the others start from).
    pub(super) async fn ensure_template_image(
        &self,
        name: &str,
        t: &crate::runtime::templates::Template,
        image: &str,
    ) -> Result<ImageInfo> {
        let default = &crate::runtime::templates::TEMPLATES[0];
        self.events
            .progress(name, Step::Image, format!("finding image {image}"));
        match self.runtime.ensure_image(image).await {
            Err(crate::runtime::RuntimeError::ImageNotFound { .. }) => {
                if t.name != default.name {
                    Box::pin(self.ensure_template_image(name, default, default.image)).await?;
                }
                self.events.progress(
                    name,
                    Step::Image,
                    format!("building {image} from the built-in template {}", t.name),
                );
                self.runtime
                    .build_image(BuildSpec {
                        tag: image.to_string(),
                        context: crate::runtime::templates::context(t)?,
                        dockerfile: "Dockerfile".into(),
                        source: format!("templates/{}/Dockerfile", t.name),
                        labels: HashMap::from([
                            (LABEL_TEMPLATE.to_string(), t.name.to_string()),
                            (LABEL_DAEMON.to_string(), self.daemon_id.clone()),
                        ]),
                        ..Default::default()
                    })
                    .await?;
                Ok(self.runtime.ensure_image(image).await?)
            }
            other => Ok(other?),
        }
    }

    /// Installs devcontainer.json's features (none is fine) on image `base`
    /// and labels the result with the merged `devcontainer.metadata`: base
    /// entries, feature entries, devcontainer.json's. Reused while its
    /// content hash (base image id, Dockerfile, feature folders, label) is
    /// unchanged.
    pub(crate) async fn extend_image(
        &self,
        name: &str,
        repo: &RepoInfo,
        start: git2::Oid,
        l: &Loaded,
        (base, info, mut entries): (String, ImageInfo, Vec<serde_json::Value>),
        fresh: bool,
    ) -> Result<ResolvedImage> {
        let (r, owned) = (repo.clone(), l.clone());
        let registry = nexus_devcontainer::OciRegistry::new(tokio::runtime::Handle::current());
        let features = blocking(move || {
            let read = |path: &str| {
                git::read_at(&r, start, path).map_err(|e| nexus_devcontainer::DevContainerError::Read {
                    path: path.to_string(),
                    source: Box::new(e),
                })
            };
            Ok(features::resolve(&owned, read, &registry)?)
        })
        .await?;
        // the users features install for, as the image and devcontainer.json say
        let users = {
            let m = metadata::merge(&l.config, &l.raw, &entries)?.config;
            let image_user = info.user.split(':').next().unwrap_or("").trim();
            let container_user = m.container_user.unwrap_or_else(|| {
                if image_user.is_empty() {
                    "root".into()
                } else {
                    image_user.into()
                }
            });
            features::Users {
                remote_user: m.remote_user.unwrap_or_else(|| container_user.clone()),
                container_user,
            }
        };
        let (dockerfile, files) = features::dockerfile(&base, &info.user, &features, &users);
        entries.extend(features.iter().map(|f| f.metadata.clone()));
        let label = metadata::label_value(&entries, &metadata::config_entry(&l.raw));
        let folder = l.folder().to_string();
        // local features' folders come from the commit; pulled ones' files travel beside them
        let mut dirs: Vec<(String, String)> = Vec::new();
        let mut extra: Vec<(String, Vec<u8>, u32)> = Vec::new();
        for (i, f) in features.iter().enumerate() {
            match &f.files {
                Some(pulled) => extra.extend(
                    pulled
                        .iter()
                        .map(|p| (format!("features/{i}/{}", p.path), p.data.clone(), p.mode)),
                ),
                None if folder.is_empty() => dirs.push((f.folder.clone(), format!("features/{i}/"))),
                None => dirs.push((format!("{folder}/{}", f.folder), format!("features/{i}/"))),
            }
        }
        extra.extend(files.into_iter().map(|(p, t)| (p, t.into_bytes(), 0o644)));
        extra.push(("Dockerfile".into(), dockerfile.into_bytes(), 0o644));
        let (r, path) = (repo.clone(), l.path.clone());
        let head = [info.id.clone(), label.clone().unwrap_or_default()];
        // the hash covers the base image, the label, the feature folders and the generated files
        let (tar, hash) = blocking(move || {
            let (tar, trees) = git::archive_folders(&r, start, &dirs, &extra)?.ok_or_else(|| {
                WorkspaceError::InvalidConfig(format!("{path}: a feature's folder is no directory of the commit"))
            })?;
            let parts = head
                .iter()
                .chain(&trees)
                .map(String::as_bytes)
                .chain(extra.iter().flat_map(|(p, d, _)| [p.as_bytes(), d.as_slice()]));
            Ok((tar, content_hash(parts)))
        })
        .await?;
        let what = match features.len() {
            0 => "the devcontainer.metadata label".to_string(),
            n => format!(
                "{n} feature{} ({})",
                if n == 1 { "" } else { "s" },
                features
                    .iter()
                    .map(|f| f.user_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let spec = BuildSpec {
            context: tar,
            dockerfile: "Dockerfile".into(),
            source: format!("{} (features)", l.path),
            labels: label.map(|l| (metadata::LABEL.to_string(), l)).into_iter().collect(),
            ..Default::default()
        };
        let mut spec = spec;
        spec.labels
            .insert(LABEL_REPOSITORY.to_string(), repo.workdir.display().to_string());
        let tag = self
            .build_unless_present(name, hash, &format!("{base} with {what}"), spec, fresh)
            .await?;
        let info = self.runtime.ensure_image(&tag).await?;
        Ok(ResolvedImage {
            tag,
            info,
            metadata: entries,
        })
    }

    /// Builds devcontainer.json's Dockerfile from the commit's files (the
    /// build context is the commit's tree, so the image matches the
    /// worktree), unless an image of the same content hash exists: the hash
    /// covers the context's tree, the Dockerfile, `args`, `target`, `cacheFrom` and `options`.
    pub(super) async fn build_devcontainer(
        &self,
        name: &str,
        repo: &RepoInfo,
        start: git2::Oid,
        l: &Loaded,
        b: Build,
        fresh: bool,
    ) -> Result<(String, ImageInfo)> {
        let options = nexus_devcontainer::container_options::build_options(&l.path, &b.options)?;
        let context_dir = l.resolve(b.context.as_deref().unwrap_or("."))?;
        let dockerfile = l.resolve(b.dockerfile.as_deref().unwrap_or("Dockerfile"))?;
        let repository = repo.workdir.display().to_string();
        let (repo, config_path) = (repo.clone(), l.path.clone());
        let (ctx, df) = (context_dir.clone(), dockerfile.clone());
        let (tar, tree, in_context, text) = blocking(move || {
            let text = git::read_at(&repo, start, &df)?.ok_or_else(|| {
                WorkspaceError::InvalidConfig(format!(
                    "{config_path}: the Dockerfile {df} is not in the commit the workspace starts from: add and commit it, or fix build.dockerfile"
                ))
            })?;
            let inside = if ctx.is_empty() {
                Some(df.clone())
            } else {
                df.strip_prefix(&format!("{ctx}/")).map(str::to_string)
            };
            // a Dockerfile outside the context travels beside it
            let extra_name = ".nexus-devcontainer.Dockerfile";
            let extra: Vec<(&str, &[u8])> = match inside {
                Some(_) => Vec::new(),
                None => vec![(extra_name, text.as_slice())],
            };
            let (tar, tree) = git::archive_at(&repo, start, &ctx, &extra)?.ok_or_else(|| {
                WorkspaceError::InvalidConfig(format!(
                    "{config_path}: the build context {ctx:?} is no directory of the commit: fix build.context"
                ))
            })?;
            Ok((tar, tree, inside.unwrap_or_else(|| extra_name.to_string()), text))
        })
        .await?;
        let cache_from = b.cache_from.as_ref().map(|c| c.to_vec()).unwrap_or_default();
        let settings = serde_json::to_string(&(&b.args, &b.target, &cache_from, &b.options)).unwrap_or_default();
        let hash = content_hash([tree.as_bytes(), in_context.as_bytes(), &text, settings.as_bytes()]);
        // build.options come after build's own properties, as the reference
        // passes them to `docker build`: the last of a flag wins
        let mut args: HashMap<String, String> = b.args.into_iter().collect();
        args.extend(options.args);
        let spec = BuildSpec {
            context: tar,
            dockerfile: in_context,
            source: dockerfile.clone(),
            args,
            target: options.target.or(b.target),
            labels: options
                .labels
                .into_iter()
                .chain([(LABEL_REPOSITORY.to_string(), repository)])
                .collect(),
            no_cache: options.no_cache,
            network: options.network,
            extra_hosts: options.extra_hosts,
            platform: options.platform,
            pull: options.pull,
            cache_from: cache_from.into_iter().chain(options.cache_from).collect(),
            ..Default::default()
        };
        let tag = self
            .build_unless_present(name, hash, &format!("built from {dockerfile}"), spec, fresh)
            .await?;
        let info = self.runtime.ensure_image(&tag).await?;
        Ok((tag, info))
    }

    /// Builds `spec` as `nexus/devcontainer:<start of hash>`, labelled with
    /// the whole content `hash`, unless that image is there already (or,
    /// `fresh`, anyway, without Docker's layer cache); `what` says what it is
    /// made of, in the progress events. Returns the tag.
    pub(super) async fn build_unless_present(
        &self,
        name: &str,
        hash: String,
        what: &str,
        mut spec: BuildSpec,
        fresh: bool,
    ) -> Result<String> {
        let tag = format!("{BUILD_REPOSITORY}:{}", &hash[..16]);
        spec.no_cache |= fresh;
        if !fresh && self.runtime.has_image(&tag).await? {
            self.events
                .progress(name, Step::Image, format!("reusing {tag}: {what}"));
            return Ok(tag);
        }
        self.events
            .progress(name, Step::Image, format!("building {tag}: {what}"));
        spec.tag = tag.clone();
        spec.labels.insert(LABEL_BUILD.to_string(), hash);
        spec.labels.insert(LABEL_DAEMON.to_string(), self.daemon_id.clone());
        let built = self.runtime.build_image(spec).await;
        self.metrics.image_build(built.is_ok());
        built?;
        Ok(tag)
    }
}

/// The SHA-256 of `parts`, each prefixed by its length, in hex: an image's
/// content hash.
fn content_hash<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    format!("{:x}", h.finalize())
}
