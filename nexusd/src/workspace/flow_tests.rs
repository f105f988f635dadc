//! The flows' order and rollback, on a recording fake runtime
//! ([`crate::runtime::fake::FakeRuntime`]), a real git repository and a
//! real store: what a create does, in which order, and that a failure at
//! each step leaves no container, worktree, branch, port or record. The
//! end-to-end tests (`tests/`) check the same against the real engine.

use super::*;
use crate::runtime::fake::FakeRuntime;

/// A daemon's parts in a temporary directory, over a repository with one commit.
struct Setup {
    dir: tempfile::TempDir,
    runtime: Arc<FakeRuntime>,
    manager: Manager,
}

impl Setup {
    fn new(runtime: FakeRuntime) -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo_dir = dir.path().join("app");
        let repo = git2::Repository::init(&repo_dir).expect("git init");
        std::fs::write(repo_dir.join("README.md"), "# app\n").expect("write");
        let mut index = repo.index().expect("index");
        index.add_path(std::path::Path::new("README.md")).expect("add");
        let tree = repo.find_tree(index.write_tree().expect("tree")).expect("tree");
        let who = git2::Signature::now("Test", "test@example.com").expect("signature");
        repo.commit(Some("HEAD"), &who, &who, "initial", &tree, &[])
            .expect("commit");
        // an ELF header with no program headers: "static" to the agent lookup
        let agent = dir.path().join("nexus-agent");
        let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        elf.resize(64, 0);
        std::fs::write(&agent, elf).expect("agent");
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let config = DaemonConfig {
            data_dir: data_dir.clone(),
            port_range: (48100, 48139),
            agent_binary: agent,
            default_image: "nexus-test/busybox:latest".into(),
            ssh_ready_timeout_secs: 5,
            keep_images: 3,
            client_alive_interval: 30,
            relay_program: None,
            audit_retention_days: 90,
            idle_pause_secs: None,
            idle_stop_secs: None,
        };
        let store = Store::open(&data_dir.join("state.db")).expect("store");
        let runtime = Arc::new(runtime);
        let key = keys::generate().expect("daemon key");
        let manager = Manager::new(config, "d0d0d0d0".into(), store, runtime.clone(), key).expect("manager");
        Setup { dir, runtime, manager }
    }

    /// A workspace record of this repository, as a create writes it first.
    fn record(&self, id: &str, name: &str) -> WorkspaceRecord {
        WorkspaceRecord {
            id: id.into(),
            name: name.into(),
            state: WorkspaceState::Creating,
            repository: self.repo().display().to_string(),
            git_common_dir: self.repo().join(".git").display().to_string(),
            worktree: self.repo().join(".worktree").join(name).display().to_string(),
            branch: format!("nexus/{name}"),
            branch_created: true,
            image: "nexus-test/busybox:latest".into(),
            remote_user: "root".into(),
            remote_user_uid: None,
            workspace_folder: "/workspaces/app".into(),
            ssh_port: 0,
            ssh_relay: false,
            host_key: String::new(),
            host_public_key: String::new(),
            authorized_keys: String::new(),
            delete_branch: false,
            container_id: None,
            created_at: 0,
            owner_id: None,
            limit_cpus: None,
            limit_memory: None,
            org_id: None,
            agent_version: None,
            idle_pause_secs: None,
            idle_stop_secs: None,
            state_reason: None,
            docker: None,
            devcontainer: None,
        }
    }

    fn repo(&self) -> PathBuf {
        self.dir.path().join("app")
    }

    fn params(&self, name: &str) -> CreateParams {
        let key = keys::generate().and_then(|k| keys::public_line(&k)).expect("key");
        CreateParams {
            name: name.into(),
            repository: self.repo().display().to_string(),
            image: Some("nexus-test/busybox:latest".into()),
            authorized_keys: vec![key],
            idle: None,
            docker: None,
            ..Default::default()
        }
    }

    /// Panics unless nothing of workspace `name` is left.
    fn assert_nothing_left(&self, name: &str) {
        assert!(self.manager.store.list().expect("list").is_empty(), "a record is left");
        assert!(self.manager.store.ports().expect("ports").is_empty(), "a port is left");
        assert!(self.runtime.container_names().is_empty(), "a container is left");
        assert!(
            !self.repo().join(".worktree").join(name).exists(),
            "the worktree is left"
        );
        let repo = git2::Repository::open(self.repo()).expect("open");
        let branch = format!("nexus/{name}");
        assert!(
            repo.find_branch(&branch, git2::BranchType::Local).is_err(),
            "the branch is left"
        );
    }

    /// The calls made, without the engine checks (`ping`, `running`, `logs`).
    fn steps(&self) -> Vec<String> {
        self.runtime
            .calls()
            .into_iter()
            .filter(|c| !c.starts_with("ping") && !c.starts_with("running") && !c.starts_with("logs"))
            .map(|c| c.split(' ').next().unwrap_or_default().to_string())
            .collect()
    }
}

#[tokio::test]
async fn a_create_whose_container_does_not_start_is_rolled_back() {
    let runtime = FakeRuntime::default();
    runtime.fail_at("start");
    let s = Setup::new(runtime);
    let e = s.manager.create(s.params("web"), None).await.expect_err("start fails");
    assert_eq!(e.step(), Some(Step::Start), "{e}");
    assert_eq!(e.kind(), nexus_sdk::ErrorKind::DockerUnavailable, "{e}");
    // the order of the Create flow, then the rollback: the container and
    // anything of a compose project of its name
    assert_eq!(
        s.steps(),
        ["ensure_image", "create", "upload", "start", "remove", "remove_project"]
    );
    s.assert_nothing_left("web");
}

#[tokio::test]
async fn a_container_that_exits_fails_the_create_at_ssh_with_its_log() {
    let s = Setup::new(FakeRuntime::exiting());
    let e = s
        .manager
        .create(s.params("api"), None)
        .await
        .expect_err("the container exits");
    assert_eq!(e.step(), Some(Step::Ssh), "{e}");
    assert!(e.to_string().contains("entrypoint failed (fake)"), "{e}");
    assert_eq!(
        s.steps(),
        ["ensure_image", "create", "upload", "start", "remove", "remove_project"]
    );
    s.assert_nothing_left("api");
}

#[tokio::test]
async fn a_container_that_cannot_be_made_is_the_last_step() {
    let runtime = FakeRuntime::default();
    runtime.fail_at("create");
    let s = Setup::new(runtime);
    let e = s.manager.create(s.params("db"), None).await.expect_err("create fails");
    assert_eq!(e.step(), Some(Step::Container), "{e}");
    // nothing uploaded or started; the rollback removes what may exist
    assert_eq!(s.steps(), ["ensure_image", "create", "remove", "remove_project"]);
    s.assert_nothing_left("db");
}

#[tokio::test]
async fn reconcile_rolls_back_creates_syncs_states_and_removes_strays() {
    let s = Setup::new(FakeRuntime::default());
    let store = &s.manager.store;
    // a create cut off by a crash, and a running workspace whose container stopped meanwhile
    let cut = s.record("aaaaaaaaaaaaaaaa", "cut");
    store.insert_creating(&cut, (48100, 48139), |_| true).expect("cut");
    let stopped = s.record("bbbbbbbbbbbbbbbb", "quiet");
    store
        .insert_creating(&stopped, (48100, 48139), |_| true)
        .expect("quiet");
    store.set_state(&stopped.id, WorkspaceState::Running).expect("running");
    s.runtime.add("c-quiet", &container_name(&stopped), &stopped.id, false);
    // and a container of this daemon that belongs to no workspace
    s.runtime
        .add("c-stray", "nexus-stray-cccccccc", "cccccccccccccccc", true);

    s.manager.reconcile().await.expect("reconcile");
    let left = store.list().expect("list");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        (left[0].name.as_str(), left[0].state),
        ("quiet", WorkspaceState::Stopped)
    );
    assert_eq!(s.runtime.container_names(), [container_name(&stopped)]);
    assert_eq!(
        store.ports().expect("ports").len(),
        1,
        "the cut create's port is released"
    );
}

#[tokio::test]
async fn a_rebuild_that_fails_after_the_build_leaves_the_workspace_stopped() {
    let s = Setup::new(FakeRuntime::exiting());
    // a running workspace as a create leaves it: record, branch, container
    let repo = git2::Repository::open(s.repo()).expect("open");
    let head = repo.head().and_then(|h| h.peel_to_commit()).expect("HEAD");
    repo.branch("nexus/web", &head, false).expect("branch");
    let mut r = s.record("dddddddddddddddd", "web");
    r.host_key = "the host key".into();
    r.ssh_port = s
        .manager
        .store
        .insert_creating(&r, (48100, 48139), |_| true)
        .expect("record");
    s.manager
        .store
        .set_state(&r.id, WorkspaceState::Running)
        .expect("running");
    s.runtime.add("c-web", &container_name(&r), &r.id, true);

    // the new container exits at once: the rebuild fails at ssh
    let e = s.manager.rebuild("web").await.expect_err("the new container exits");
    assert_eq!(e.step(), Some(Step::Ssh), "{e}");
    let steps = s.steps();
    let at = |op: &str| {
        steps
            .iter()
            .position(|c| c == op)
            .unwrap_or_else(|| panic!("no {op} in {steps:?}"))
    };
    // image first, then the old container goes, the new one is made and started, then stopped
    assert!(at("ensure_image") < at("remove"), "{steps:?}");
    assert!(at("remove") < at("create") && at("create") < at("start"), "{steps:?}");
    assert!(at("start") < at("stop"), "{steps:?}");
    // left stopped, with its port and host key
    let after = s.manager.store.get("web").expect("record");
    assert_eq!(after.state, WorkspaceState::Stopped);
    assert_eq!((after.ssh_port, after.host_key.as_str()), (r.ssh_port, "the host key"));
    assert_eq!(s.runtime.container_names(), [container_name(&r)]);
}

#[test]
fn a_dashboard_code_signs_in_once_and_the_session_ends_with_sign_out() {
    let s = Setup::new(FakeRuntime::default());
    let m = &s.manager;
    let link = m.dashboard_link(&team::Caller::Local).expect("link");
    let code = link.path.strip_prefix("/login?code=").expect("path shape");
    assert_eq!((code.len(), link.expires_in), (64, 60));
    assert!(m.dashboard_sign_in(&"0".repeat(64)).is_err(), "an unknown code");
    let secret = m.dashboard_sign_in(code).expect("sign in");
    assert!(m.dashboard_sign_in(code).is_err(), "a code works once");
    assert!(m.dashboard_session(&secret));
    assert!(!m.dashboard_session(&format!("{secret}x")));
    m.dashboard_sign_out(&secret).expect("sign out");
    assert!(!m.dashboard_session(&secret));
    assert!(m.dashboard_link(&team::Caller::Anonymous).is_err());
}
