//! What a workspace is made from and what runs in it once made: the image
//! (`--image`, devcontainer.json's `image` or its Dockerfile build, or the
//! built-in default template) and devcontainer.json's lifecycle hooks, run
//! in the container as the remote user with their output streamed as
//! progress events.

use crate::agent_client::{Lines, Output};
use crate::devcontainer::{Build, Loaded};
use crate::docker::BuildSpec;
use crate::error::{Result, WorkspaceError};
use crate::git::{self, RepoInfo};
use crate::store::WorkspaceRecord;
use crate::workspace::{Manager, blocking, devcontainer_of, prepare_exec_for};
use std::collections::HashMap;

/// Repository of the images built from devcontainer.json Dockerfiles; the
/// tag is the start of the build's content hash.
pub const BUILD_REPOSITORY: &str = "nexus/devcontainer";
/// Label holding the whole content hash on those images.
pub const LABEL_BUILD: &str = "dev.nexus.build";
/// How many lines of a failed hook's output its error quotes.
const TAIL_LINES: usize = 10;

impl Manager {
    /// The image of a new workspace and its configured user: `--image` when
    /// given, else devcontainer.json's Dockerfile build or `image`, else the
    /// built-in default template (built when missing).
    pub(crate) async fn resolve_image(
        &self,
        name: &str,
        p: &nexus_sdk::CreateParams,
        repo: &RepoInfo,
        start: git2::Oid,
        loaded: Option<&Loaded>,
    ) -> Result<(String, String)> {
        let image = match (&p.image, loaded) {
            (Some(image), _) => image.clone(),
            (None, Some(l)) => match (l.config.dockerfile_build(), &l.config.image) {
                (Some(build), _) => return self.build_devcontainer(name, repo, start, l, build).await,
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
        self.events.progress(name, "image", format!("finding image {image}"));
        match self.runtime.ensure_image(&image).await {
            // the default template's image is made from the embedded template when missing
            Err(WorkspaceError::ImageNotFound { .. }) if p.image.is_none() && loaded.is_none() => {
                self.events.progress(
                    name,
                    "image",
                    format!("building {image} from the built-in default template"),
                );
                self.runtime
                    .build_image(BuildSpec {
                        tag: image.clone(),
                        context: crate::templates::default_context()?,
                        dockerfile: "Dockerfile".into(),
                        source: "templates/default/Dockerfile".into(),
                        labels: HashMap::from([("dev.nexus.template".to_string(), "default".to_string())]),
                        ..Default::default()
                    })
                    .await?;
                Ok((image.clone(), self.runtime.ensure_image(&image).await?))
            }
            other => Ok((image, other?)),
        }
    }

    /// Builds devcontainer.json's Dockerfile from the commit's files (the
    /// build context is the commit's tree, so the image matches the
    /// worktree), unless an image of the same content hash exists: the hash
    /// covers the context's tree, the Dockerfile, `args` and `target`.
    async fn build_devcontainer(
        &self,
        name: &str,
        repo: &RepoInfo,
        start: git2::Oid,
        l: &Loaded,
        b: Build,
    ) -> Result<(String, String)> {
        if let Some(opt) = b.options.first() {
            return Err(WorkspaceError::InvalidConfig(format!(
                "{}: build.options {opt:?} is not supported yet: remove it, or build the image yourself and set \"image\"",
                l.path
            )));
        }
        let context_dir = l.resolve(b.context.as_deref().unwrap_or("."))?;
        let dockerfile = l.resolve(b.dockerfile.as_deref().unwrap_or("Dockerfile"))?;
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
        let hash = {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            for part in [tree.as_bytes(), in_context.as_bytes(), &text] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part);
            }
            h.update(serde_json::to_string(&(&b.args, &b.target)).unwrap_or_default());
            format!("{:x}", h.finalize())
        };
        let tag = format!("{BUILD_REPOSITORY}:{}", &hash[..16]);
        if self.runtime.has_image(&tag).await? {
            self.events
                .progress(name, "image", format!("reusing {tag}, built from {dockerfile}"));
        } else {
            self.events
                .progress(name, "image", format!("building {tag} from {dockerfile}"));
            self.runtime
                .build_image(BuildSpec {
                    tag: tag.clone(),
                    context: tar,
                    dockerfile: in_context,
                    source: dockerfile,
                    args: b.args.into_iter().collect(),
                    target: b.target,
                    labels: HashMap::from([(LABEL_BUILD.to_string(), hash)]),
                })
                .await?;
        }
        let user = self.runtime.ensure_image(&tag).await?;
        Ok((tag, user))
    }

    /// Runs the lifecycle hooks `hooks` (devcontainer.json property names,
    /// in order) that workspace `r`'s devcontainer.json sets, in the
    /// container as its remote user in the workspace folder. The object form's
    /// commands run in parallel. Each output line is a progress event of step
    /// `hook`. Errors: `HookFailed` with the hook, exit code and last lines.
    pub(crate) async fn run_hooks(&self, r: &WorkspaceRecord, hooks: &[&str]) -> Result<()> {
        let Some(config) = devcontainer_of(r) else {
            return Ok(());
        };
        for hook in hooks {
            let Some(command) = config.hook(hook) else { continue };
            self.events.progress(&r.name, "hook", format!("running {hook}"));
            let runs = command
                .argvs()
                .into_iter()
                .map(|(label, argv)| self.run_hook(r, hook, label, argv));
            for result in futures::future::join_all(runs).await {
                result?;
            }
        }
        Ok(())
    }

    async fn run_hook(&self, r: &WorkspaceRecord, hook: &str, label: Option<String>, argv: Vec<String>) -> Result<()> {
        let what = match &label {
            Some(l) => format!("{hook} ({l})"),
            None => hook.to_string(),
        };
        let exec = nexus_sdk::ExecParams {
            workspace: r.name.clone(),
            command: argv,
            ..Default::default()
        };
        let mut run = self
            .open_exec(&prepare_exec_for(r, &exec)?)
            .await?
            .spawn_unsteered(None, 16);
        let (mut lines, mut tail) = (Lines::default(), std::collections::VecDeque::new());
        while let Some(out) = run.output().recv().await {
            let (Output::Stdout(b) | Output::Stderr(b)) = out;
            for line in lines.push(&b) {
                self.events.progress(&r.name, "hook", format!("{what}: {line}"));
                tail.push_back(line);
                if tail.len() > TAIL_LINES {
                    tail.pop_front();
                }
            }
        }
        match run.exit().await? {
            Some(0) => Ok(()),
            code => Err(WorkspaceError::HookFailed {
                hook: what,
                exit_code: code.unwrap_or(-1),
                tail: Vec::from(tail).join("\n"),
            }),
        }
    }
}
