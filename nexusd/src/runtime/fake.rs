//! A recording [`ContainerRuntime`] for unit tests of the flows: it keeps
//! containers in memory, writes each call to a log (`create nexus-a-1234…`,
//! `start …`), and fails the operation it is told to, so a test can check
//! a flow's order and its rollback without a Docker engine. Every behaviour
//! users see is also tested end to end against the real engine (`tests/`).

use super::docker::{BuildSpec, ContainerInfo, ContainerRuntime, ContainerSpec, ImageInfo, LABEL_WORKSPACE};
use super::{Result, RuntimeError};
use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// One container the fake holds.
#[derive(Debug, Clone)]
struct Container {
    name: String,
    workspace_id: String,
    running: bool,
}

/// The fake engine. `fail_at` names the operation (`create`, `upload`,
/// `start`, …) that fails with `DockerUnavailable`; `exits` makes started
/// containers stop at once, as one whose entrypoint fails.
#[derive(Debug, Default)]
pub struct FakeRuntime {
    calls: Mutex<Vec<String>>,
    containers: Mutex<BTreeMap<String, Container>>,
    fail_at: Mutex<Option<&'static str>>,
    /// Started containers exit at once.
    exits: bool,
}

impl FakeRuntime {
    /// A fake whose started containers exit at once (a failing entrypoint).
    pub fn exiting() -> FakeRuntime {
        FakeRuntime {
            exits: true,
            ..Default::default()
        }
    }

    /// Makes operation `op` fail from now on.
    pub fn fail_at(&self, op: &'static str) {
        *self.fail_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(op);
    }

    /// The calls so far, in order: the operation and its first argument.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The names of the containers it holds.
    pub fn container_names(&self) -> Vec<String> {
        let c = self.containers.lock().unwrap_or_else(|p| p.into_inner());
        c.values().map(|c| c.name.clone()).collect()
    }

    /// Adds a container of workspace `workspace_id` as if made earlier.
    pub fn add(&self, id: &str, name: &str, workspace_id: &str, running: bool) {
        let c = Container {
            name: name.to_string(),
            workspace_id: workspace_id.to_string(),
            running,
        };
        self.containers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), c);
    }

    /// Logs `op arg`, then fails when told to.
    fn call(&self, op: &'static str, arg: &str) -> Result<()> {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{op} {arg}").trim_end().to_string());
        match *self.fail_at.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(f) if f == op => Err(RuntimeError::Unavailable(format!("{op} failed (fake)"))),
            _ => Ok(()),
        }
    }

    /// The id of the container `id_or_name` names.
    fn find(&self, id_or_name: &str) -> Option<String> {
        let c = self.containers.lock().unwrap_or_else(|p| p.into_inner());
        c.iter()
            .find(|(id, c)| id.as_str() == id_or_name || c.name == id_or_name)
            .map(|(id, _)| id.clone())
    }
}

#[async_trait]
impl ContainerRuntime for FakeRuntime {
    async fn ping(&self) -> Result<()> {
        self.call("ping", "")
    }

    async fn ensure_image(&self, image: &str) -> Result<ImageInfo> {
        self.call("ensure_image", image)?;
        Ok(ImageInfo {
            id: format!("sha256:{image}"),
            ..Default::default()
        })
    }

    async fn build_image(&self, build: BuildSpec) -> Result<()> {
        self.call("build_image", &build.tag)
    }

    async fn has_image(&self, image: &str) -> Result<bool> {
        self.call("has_image", image)?;
        Ok(true)
    }

    async fn container_events(
        &self,
        daemon_id: &str,
    ) -> Result<BoxStream<'static, Result<super::docker::ContainerEvent>>> {
        self.call("container_events", daemon_id)?;
        Ok(futures::stream::pending().boxed())
    }

    async fn images_labelled(&self, label: &str) -> Result<Vec<super::docker::ImageSummary>> {
        self.call("images_labelled", label)?;
        Ok(Vec::new())
    }

    async fn images_in_use(&self) -> Result<std::collections::HashSet<String>> {
        self.call("images_in_use", "")?;
        Ok(Default::default())
    }

    async fn remove_image(&self, reference: &str) -> Result<bool> {
        self.call("remove_image", reference)?;
        Ok(true)
    }

    async fn commit(
        &self,
        id: &str,
        reference: &str,
        _labels: std::collections::HashMap<String, String>,
    ) -> Result<String> {
        self.call("commit", &format!("{id} {reference}"))?;
        Ok(format!("sha256:{reference}"))
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<String> {
        self.call("create", &spec.name)?;
        let id = format!("c-{}", spec.name);
        let workspace_id = spec.labels.get(LABEL_WORKSPACE).cloned().unwrap_or_default();
        self.add(&id, &spec.name, &workspace_id, false);
        Ok(id)
    }

    async fn upload(&self, id: &str, _tar: bytes::Bytes) -> Result<()> {
        self.call("upload", id)
    }

    async fn start(&self, id: &str) -> Result<()> {
        self.call("start", id)?;
        let key = self
            .find(id)
            .ok_or_else(|| RuntimeError::Engine(format!("no container {id}")))?;
        let exits = self.exits;
        if let Some(c) = self.containers.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&key) {
            c.running = !exits;
        }
        Ok(())
    }

    async fn stop(&self, id: &str, _timeout_secs: i32) -> Result<()> {
        self.call("stop", id)?;
        if let Some(key) = self.find(id)
            && let Some(c) = self.containers.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&key)
        {
            c.running = false;
        }
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<()> {
        self.call("remove", id)?;
        if let Some(key) = self.find(id) {
            self.containers.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        }
        Ok(())
    }

    async fn pause(&self, id: &str) -> Result<()> {
        self.call("pause", id)
    }

    async fn unpause(&self, id: &str) -> Result<()> {
        self.call("unpause", id)
    }

    async fn paused(&self, id: &str) -> Result<Option<bool>> {
        self.call("paused", id)?;
        Ok(self.find(id).map(|_| false))
    }

    async fn running(&self, id: &str) -> Result<Option<bool>> {
        self.call("running", id)?;
        let key = self.find(id);
        let c = self.containers.lock().unwrap_or_else(|p| p.into_inner());
        Ok(key.and_then(|k| c.get(&k).map(|c| c.running)))
    }

    async fn list_owned(&self, daemon_id: &str) -> Result<Vec<ContainerInfo>> {
        self.call("list_owned", daemon_id)?;
        let c = self.containers.lock().unwrap_or_else(|p| p.into_inner());
        Ok(c.iter()
            .map(|(id, c)| ContainerInfo {
                id: id.clone(),
                workspace_id: c.workspace_id.clone(),
                running: c.running,
            })
            .collect())
    }

    async fn project_containers(&self, project: &str) -> Result<Vec<(String, String)>> {
        self.call("project_containers", project)?;
        Ok(Vec::new())
    }

    async fn remove_project(&self, project: &str) -> Result<()> {
        self.call("remove_project", project)
    }

    async fn remove_labelled(&self, label: &str) -> Result<()> {
        self.call("remove_labelled", label)
    }

    async fn remove_volume(&self, name: &str) -> Result<()> {
        self.call("remove_volume", name)
    }

    async fn stats(&self, _id: &str) -> Result<super::stats::RawStats> {
        Ok(super::stats::RawStats::default())
    }

    fn logs(&self, id: &str, _follow: bool) -> BoxStream<'static, Result<(nexus_sdk::LogStream, String)>> {
        let logged = self.call("logs", id);
        futures::stream::once(async move {
            logged.map(|()| (nexus_sdk::LogStream::Stderr, "entrypoint failed (fake)\n".to_string()))
        })
        .boxed()
    }
}
