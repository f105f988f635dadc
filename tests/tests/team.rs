//! Team mode end to end: `nexusd admin init`, logins through a real
//! `ssh-agent` and by password, sharing, refusals, and the audit log — its
//! exact rows for a scripted session, its tamper evidence, and no secret in
//! the database, the log or any output.

use nexus_e2e::{BUSYBOX, Daemon, Repo, bin, browser_test, keygen, run, ssh_agent, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A person at their own terminal: a HOME with a key, an ssh-agent holding
/// it, and no access to the daemon's token file.
struct Person {
    home: PathBuf,
    agent: PathBuf,
    _agent: nexus_e2e::Background,
}

impl Person {
    fn new(root: &Path, name: &str) -> Person {
        let home = root.join(name);
        std::fs::create_dir_all(home.join(".ssh")).expect("home");
        keygen(&home.join(".ssh/id_ed25519"));
        let (agent, process) = ssh_agent(&home);
        let o = run(Command::new("ssh-add")
            .arg(home.join(".ssh/id_ed25519"))
            .env("SSH_AUTH_SOCK", &agent));
        assert!(o.status.success(), "ssh-add: {}", text(&o));
        Person {
            home,
            agent,
            _agent: process,
        }
    }

    fn public_key(&self) -> PathBuf {
        self.home.join(".ssh/id_ed25519.pub")
    }

    /// `nexus ARGS` as this person against `d`, with `stdin` as its input.
    fn nexus(&self, d: &Daemon, dir: &Path, args: &[&str], stdin: &str) -> Output {
        let mut c = d.nexus();
        c.args(args)
            .current_dir(dir)
            .env("HOME", &self.home)
            .env("SSH_AUTH_SOCK", &self.agent)
            // their own data directory: the daemon's token file is not theirs
            .env("NEXUS_DATA_DIR", self.home.join("no-daemon"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("nexus");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("nexus output")
    }

    fn ok(&self, d: &Daemon, dir: &Path, args: &[&str]) -> String {
        let o = self.nexus(d, dir, args, "");
        assert!(o.status.success(), "nexus {args:?}: {}\n--- log\n{}", text(&o), d.log());
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The session token the CLI saved for `d`.
    fn saved_token(&self, d: &Daemon) -> String {
        let path = self.home.join(".config/nexus/credentials.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("credentials")).expect("json");
        v["daemons"][&d.address]["token"].as_str().expect("token").to_string()
    }
}

/// Stops `d`, turns it into team mode with admin `ana` holding `key`, starts it again.
fn make_team(d: &mut Daemon, key: &Path) {
    d.kill9();
    let o = run(Command::new(bin("nexusd"))
        .args(["--data-dir"])
        .arg(d.data_dir())
        .args(["admin", "init", "--admin", "ana", "--key"])
        .arg(key));
    assert!(o.status.success(), "admin init: {}", text(&o));
    d.spawn();
}

/// A team-mode daemon whose site admin `ana` is signed in, with each of
/// `others` added by her (their key) and signed in: the daemon, a
/// repository, ana, and the others in order.
fn team_of(others: &[&str]) -> (Daemon, Repo, Person, Vec<Person>) {
    let mut d = Daemon::start();
    let repo = Repo::new();
    let ana = Person::new(d.root.path(), "ana");
    let people: Vec<Person> = others.iter().map(|n| Person::new(d.root.path(), n)).collect();
    make_team(&mut d, &ana.public_key());
    ana.ok(&d, repo.path(), &["auth", "login"]);
    for (name, who) in others.iter().zip(&people) {
        let key = who.public_key().display().to_string();
        ana.ok(&d, repo.path(), &["user", "add", name, "--key", &key]);
        who.ok(&d, repo.path(), &["auth", "login"]);
    }
    (d, repo, ana, people)
}

#[test]
fn a_team_session_is_audited_row_by_row_and_access_follows_shares() {
    let mut d = Daemon::start();
    let repo = Repo::new();
    let ana = Person::new(d.root.path(), "ana");
    let bo = Person::new(d.root.path(), "bo");
    make_team(&mut d, &ana.public_key());
    let here = repo.path();

    // a second init is refused, the daemon stopped or not
    let o = run(Command::new(bin("nexusd"))
        .args(["--data-dir"])
        .arg(d.data_dir())
        .args(["admin", "init", "--admin", "ana", "--key"])
        .arg(ana.public_key()));
    assert!(!o.status.success(), "{}", text(&o));

    // without signing in: refused, and told how
    let o = bo.nexus(&d, here, &["workspace", "list"], "");
    assert_eq!(o.status.code(), Some(77), "{}", text(&o));
    assert!(text(&o).contains("nexus auth login"), "{}", text(&o));

    ana.ok(&d, here, &["auth", "login"]);
    let who: serde_json::Value =
        serde_json::from_str(&ana.ok(&d, here, &["auth", "whoami", "--json"])).expect("whoami");
    assert_eq!(who["user"]["name"], "ana");
    assert_eq!(who["user"]["admin"], true);
    let bo_key = bo.public_key();
    let password = "bo-pass-7c1e9a";
    let o = ana.nexus(
        &d,
        here,
        &[
            "user",
            "add",
            "bo",
            "--key",
            &bo_key.display().to_string(),
            "--password-stdin",
        ],
        &format!("{password}\n"),
    );
    assert!(o.status.success(), "{}", text(&o));
    let ws = ana.ok(&d, here, &["workspace", "create", "api", "--image", BUSYBOX, "--json"]);
    let ws: serde_json::Value = serde_json::from_str(&ws).expect("create json");
    assert_eq!(ws["name"], "api");
    ana.ok(&d, here, &["workspace", "share", "api", "bo", "--permission", "editor"]);

    // bo signs in by password: sees and uses api, may not remove it
    let o = bo.nexus(
        &d,
        here,
        &["auth", "login", "--password", "--user", "bo"],
        &format!("{password}\n"),
    );
    assert!(o.status.success(), "{}", text(&o));
    let bo_token = bo.saved_token(&d);
    let listed = bo.ok(&d, here, &["workspace", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("list json");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let out = bo.ok(&d, here, &["workspace", "exec", "api", "--", "echo", "hello-from-bo"]);
    assert_eq!(out.trim(), "hello-from-bo");
    let o = bo.nexus(&d, here, &["workspace", "rm", "api", "--force"], "");
    assert_eq!(o.status.code(), Some(77), "a denied delete: {}", text(&o));
    assert!(text(&o).contains("creator"), "{}", text(&o));

    // unshared: api is as missing to bo as a workspace that never was
    ana.ok(&d, here, &["workspace", "unshare", "api", "bo"]);
    let gone = bo.nexus(&d, here, &["workspace", "show", "api"], "");
    let never = bo.nexus(&d, here, &["workspace", "show", "apx"], "");
    assert_eq!(gone.status.code(), Some(66), "{}", text(&gone));
    assert_eq!(
        String::from_utf8_lossy(&gone.stderr).replace("api", "X"),
        String::from_utf8_lossy(&never.stderr).replace("apx", "X")
    );
    bo.ok(&d, here, &["auth", "logout"]);
    let o = bo.nexus(&d, here, &["auth", "whoami"], "");
    assert_eq!(o.status.code(), Some(77), "signed out: {}", text(&o));
    // the old session is revoked on the daemon, not only forgotten here
    let o = run(d.nexus().args(["auth", "whoami"]).env("NEXUS_TOKEN", &bo_token));
    assert_eq!(o.status.code(), Some(77), "a revoked session: {}", text(&o));

    // exactly these rows, in this order
    let rows = ana.ok(&d, here, &["audit", "list", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&rows).expect("audit json");
    let got: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["actor"].as_str().unwrap_or_default(),
                r["action"].as_str().unwrap_or_default(),
                r["target"].as_str().unwrap_or_default(),
                r["outcome"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let want = [
        "nexusd daemon.start  ok",
        "- workspace.list  denied: unauthorized",
        "ana auth.login ana ok",
        "ana user.add bo ok",
        "ana workspace.create api ok",
        "ana workspace.share api ok",
        "bo auth.login bo ok",
        "bo exec.stream api ok",
        "bo workspace.remove api denied: forbidden",
        "ana workspace.unshare api ok",
        "bo workspace.get api denied: not_found",
        "bo workspace.get apx denied: not_found",
        "bo auth.logout  ok",
        "- auth.whoami  denied: unauthorized",
        "- connect / denied: unauthorized",
    ];
    assert_eq!(got, want, "{rows:#?}");
    let v = ana.ok(&d, here, &["audit", "verify"]);
    assert!(v.contains("verify"), "{v}");

    // no secret anywhere: database, log, audit export
    let export = ana.ok(&d, here, &["audit", "export", "--format", "jsonl"]);
    let db = std::fs::read(d.data_dir().join("state.db")).expect("db");
    let wal = std::fs::read(d.data_dir().join("state.db-wal")).unwrap_or_default();
    let log = d.log();
    for secret in [password, bo_token.as_str(), ana.saved_token(&d).as_str()] {
        let found = |hay: &[u8]| hay.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found(&db) && !found(&wal), "a secret is in the database");
        assert!(!log.contains(secret), "a secret is in the log");
        assert!(!export.contains(secret), "a secret is in the audit log");
    }

    // a row changed behind the triggers' back is named
    {
        let db = rusqlite::Connection::open(d.data_dir().join("state.db")).expect("open db");
        db.execute_batch(
            "DROP TRIGGER audit_no_update; UPDATE audit SET outcome = 'ok' WHERE action = 'workspace.remove';",
        )
        .expect("tamper");
    }
    let bad_seq = rows
        .iter()
        .find(|r| r["action"] == "workspace.remove")
        .and_then(|r| r["seq"].as_u64())
        .expect("the remove's row");
    let o = ana.nexus(&d, here, &["audit", "verify"], "");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!("row {bad_seq} ")),
        "{}",
        text(&o)
    );
    ana.ok(&d, here, &["workspace", "rm", "api", "--force"]);
}

#[test]
fn bad_team_input_is_refused_with_the_field_named_and_leaves_nothing() {
    let mut d = Daemon::start();
    let repo = Repo::new();
    let ana = Person::new(d.root.path(), "ana");
    let bo = Person::new(d.root.path(), "bo");
    make_team(&mut d, &ana.public_key());
    let here = repo.path();
    ana.ok(&d, here, &["auth", "login"]);
    let bo_key = bo.public_key().display().to_string();
    let ana_key = ana.public_key().display().to_string();
    ana.ok(&d, here, &["user", "add", "bo", "--key", &bo_key]);
    for (args, stdin, field) in [
        (vec!["user", "add", "BO"], "", "name"),
        (vec!["user", "add", "x"], "", "name"),
        (vec!["user", "add", "cy", "--key", &ana_key], "", "key"),
        (vec!["user", "add", "cy", "--password-stdin"], "\n", "password"),
        (
            vec!["token", "create", "t", "--scope", "workspace:read", "--expires", "0h"],
            "",
            "expires",
        ),
        (
            vec![
                "token",
                "create",
                "t",
                "--scope",
                "workspace:read",
                "--expires",
                "9999d",
            ],
            "",
            "expires",
        ),
    ] {
        let o = ana.nexus(&d, here, &args, stdin);
        assert_eq!(o.status.code(), Some(64), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(field), "{args:?} should name {field}: {}", text(&o));
    }
    let users = ana.ok(&d, here, &["user", "list", "--json"]);
    let users: serde_json::Value = serde_json::from_str(&users).expect("json");
    assert_eq!(users.as_array().map(Vec::len), Some(2), "only ana and bo: {users}");
    let tokens = ana.ok(&d, here, &["token", "list", "--json"]);
    let tokens: serde_json::Value = serde_json::from_str(&tokens).expect("json");
    assert!(
        tokens.as_array().expect("tokens").iter().all(|t| t["name"] != "t"),
        "{tokens}"
    );
    // malformed tokens: refused before anything runs
    for token in [
        "",
        "nxp_short",
        "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        &"x".repeat(10_000),
    ] {
        let o = run(d.nexus().args(["workspace", "list"]).env("NEXUS_TOKEN", token));
        assert_eq!(o.status.code(), Some(77), "{token:.12}: {}", text(&o));
    }
    // a credentials file others may read is not used
    let creds = ana.home.join(".config/nexus/credentials.json");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let o = ana.nexus(&d, here, &["auth", "whoami"], "");
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("chmod 600"), "{}", text(&o));
    // the daemon still serves
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    ana.ok(&d, here, &["auth", "whoami"]);
}

#[test]
fn host_acting_settings_are_refused_in_team_mode_until_a_site_admin_allows_them() {
    let mut d = Daemon::start();
    let repo = Repo::new();
    let ana = Person::new(d.root.path(), "ana");
    make_team(&mut d, &ana.public_key());
    let here = repo.path();
    ana.ok(&d, here, &["auth", "login"]);
    let outside = d.root.path().join("outside");
    std::fs::create_dir_all(&outside).expect("outside");
    let marker = d.root.path().join("initialized");
    let (out, mark) = (outside.display().to_string(), marker.display().to_string());
    let cases: Vec<(&str, String)> = vec![
        ("initializeCommand", format!(r#""initializeCommand": "touch {mark}""#)),
        (
            "mounts",
            format!(r#""mounts": ["type=bind,source={out},target=/host"]"#),
        ),
        (
            "workspaceMount",
            format!(r#""workspaceFolder": "/w", "workspaceMount": "type=bind,source={out},target=/w""#),
        ),
        ("privileged", r#""privileged": true"#.into()),
        ("capAdd", r#""capAdd": ["SYS_PTRACE"]"#.into()),
        ("securityOpt", r#""securityOpt": ["apparmor=unconfined"]"#.into()),
        ("runArgs", r#""runArgs": ["--network", "bridge"]"#.into()),
    ];
    let mut files: Vec<(String, String)> = cases
        .iter()
        .map(|(p, body)| {
            (
                format!(".devcontainer/{p}/devcontainer.json"),
                format!(r#"{{"image": "{BUSYBOX}", {body}}}"#),
            )
        })
        .collect();
    files.push((
        ".devcontainer/compose/devcontainer.json".into(),
        r#"{"dockerComposeFile": "docker-compose.yml", "service": "app", "workspaceFolder": "/w"}"#.into(),
    ));
    files.push((
        ".devcontainer/compose/docker-compose.yml".into(),
        format!("services:\n  app:\n    image: {BUSYBOX}\n    command: sleep 1000000\n    cap_add: [SYS_PTRACE]\n"),
    ));
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    repo.commit(&refs);
    let all: Vec<(&str, &str)> = cases
        .iter()
        .map(|(p, _)| (*p, *p))
        .chain([("compose", "cap_add")])
        .collect();
    for (i, (dir, property)) in all.iter().enumerate() {
        let name = format!("host-{i}");
        let config = format!(".devcontainer/{dir}/devcontainer.json");
        let o = ana.nexus(&d, here, &["workspace", "create", &name, "--config", &config], "");
        assert_eq!(o.status.code(), Some(78), "{dir}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("{property} acts on the server")) && err.contains("nexus user policy"),
            "{dir}: {err}"
        );
        d.assert_no_leftovers(&repo, &name, false);
    }
    assert!(!marker.exists(), "a refused initializeCommand ran");
    // a site admin allows them: each create now goes through
    let mut policy = vec!["user", "policy", "ana"];
    for (_, property) in &all {
        policy.extend(["--allow", property]);
    }
    ana.ok(&d, here, &policy);
    for (i, (dir, _)) in all.iter().enumerate() {
        let name = format!("host-{i}");
        let config = format!(".devcontainer/{dir}/devcontainer.json");
        let o = ana.nexus(&d, here, &["workspace", "create", &name, "--config", &config], "");
        // this machine's Docker runs no privileged container at all (runc:
        // "unable to apply caps"): there the create must get past the policy
        if *dir == "privileged" && !o.status.success() {
            assert!(!text(&o).contains("acts on the server"), "{}", text(&o));
            continue;
        }
        assert!(o.status.success(), "{dir}: {}", text(&o));
    }
    assert!(marker.exists(), "the allowed initializeCommand ran");
    // no new privileges unless asked otherwise
    let inspect = |name: &str| {
        let id = run(Command::new("docker").args(["ps", "-q", "--filter", &format!("label=dev.nexus.name={name}")]));
        let id = String::from_utf8_lossy(&id.stdout).trim().to_string();
        let o = run(Command::new("docker").args(["inspect", "-f", "{{json .HostConfig.SecurityOpt}}", &id]));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(inspect("host-1").contains("no-new-privileges"), "{}", inspect("host-1"));
    for i in 0..all.len() {
        let _ = ana.nexus(&d, here, &["workspace", "rm", &format!("host-{i}"), "--force"], "");
    }
}

/// `ssh` to workspace `ws` with `who`'s key only, running `command`.
fn ssh_as(who: &Person, ws: &serde_json::Value, command: &str) -> Command {
    ssh_with(who, ws, &[], command)
}

/// [`ssh_as`] with more `options` for `ssh`.
fn ssh_with(who: &Person, ws: &serde_json::Value, options: &[&str], command: &str) -> Command {
    let mut c = Command::new("ssh");
    c.args(nexus_e2e::ssh_base_options())
        .args(options)
        .args(["-o", "IdentitiesOnly=yes", "-i"])
        .arg(who.home.join(".ssh/id_ed25519"))
        .args(["-p", &ws["sshPort"].as_u64().expect("sshPort").to_string()])
        .arg(format!("{}@127.0.0.1", ws["remoteUser"].as_str().expect("remoteUser")))
        .arg(command)
        .env("SSH_AUTH_SOCK", &who.agent)
        .stdin(Stdio::null());
    c
}

#[test]
fn sharees_reach_a_workspace_over_ssh_as_themselves_until_their_access_ends() {
    let mut d = Daemon::start();
    let repo = Repo::new();
    let ana = Person::new(d.root.path(), "ana");
    let bo = Person::new(d.root.path(), "bo");
    make_team(&mut d, &ana.public_key());
    let here = repo.path();
    ana.ok(&d, here, &["auth", "login"]);
    let bo_key = bo.public_key().display().to_string();
    ana.ok(&d, here, &["user", "add", "bo", "--key", &bo_key]);
    let ws: serde_json::Value =
        serde_json::from_str(&ana.ok(&d, here, &["workspace", "create", "api", "--image", BUSYBOX, "--json"]))
            .expect("json");
    let who = "echo $NEXUS_USER $GIT_AUTHOR_NAME $GIT_COMMITTER_EMAIL; test -z \"$SSH_AUTH_SOCK\" && echo no-agent";

    // the creator is named too
    let o = run(&mut ssh_as(&ana, &ws, who));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().next(),
        Some("ana ana ana@nexus")
    );

    // no share, no shell
    let o = run(&mut ssh_as(&bo, &ws, "true"));
    assert!(!o.status.success(), "bo got in unshared: {}", text(&o));

    // an editor gets in as bo, without agent forwarding
    ana.ok(&d, here, &["workspace", "share", "api", "bo", "--permission", "editor"]);
    let o = run(&mut ssh_with(&bo, &ws, &["-A"], who));
    assert!(o.status.success(), "{}\n{}", text(&o), d.log());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "bo bo bo@nexus\nno-agent\n");

    // an open session, listed, is closed within 5 s of the unshare
    let mut held = ssh_as(&bo, &ws, "echo ready; sleep 600");
    held.stdout(Stdio::piped());
    let mut child = nexus_e2e::Background(held.spawn().expect("ssh"));
    {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(child.0.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("ready");
        assert_eq!(line.trim(), "ready");
    }
    let listed = ana.ok(&d, here, &["workspace", "sessions", "api", "--json"]);
    assert!(listed.contains("\"user\": \"bo\""), "{listed}");
    let unshared = std::time::Instant::now();
    ana.ok(&d, here, &["workspace", "unshare", "api", "bo"]);
    let mut closed = None;
    while unshared.elapsed() < std::time::Duration::from_secs(10) {
        if let Some(status) = child.0.try_wait().expect("wait") {
            closed = Some((unshared.elapsed(), status));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (after, _) = closed.expect("the session stayed open 10 s after the unshare");
    assert!(after <= std::time::Duration::from_secs(5), "closed after {after:?}");
    let o = run(&mut ssh_as(&bo, &ws, "true"));
    assert!(!o.status.success(), "bo reconnected after the unshare: {}", text(&o));
    // each of bo's connections is on record, opened and closed, with the key
    let fingerprint = {
        let o = run(Command::new("ssh-keygen").arg("-lf").arg(bo.public_key()));
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .nth(1)
            .expect("fingerprint")
            .to_string()
    };
    let rows = nexus_e2e::poll(
        100,
        std::time::Duration::from_millis(50),
        || ana.ok(&d, here, &["audit", "list", "--user", "bo", "--json"]),
        |rows| rows.matches("\"ssh.close\"").count() >= 2,
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&rows).expect("json");
    let ssh: Vec<String> = rows
        .iter()
        .filter(|r| r["action"].as_str().is_some_and(|a| a.starts_with("ssh.")))
        .map(|r| {
            format!(
                "{} {}",
                r["action"].as_str().unwrap_or_default(),
                r["target"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        ssh,
        ["ssh.open api", "ssh.close api", "ssh.open api", "ssh.close api"],
        "{rows:#?}"
    );
    assert!(
        rows.iter()
            .all(|r| r["action"].as_str().is_some_and(|a| !a.starts_with("ssh."))
                || r["detail"].as_str().is_some_and(|d| d.contains(&fingerprint))),
        "{rows:#?}"
    );

    // a viewer sees the workspace's status but gets no shell
    ana.ok(&d, here, &["workspace", "share", "api", "bo", "--permission", "viewer"]);
    bo.ok(&d, here, &["auth", "login"]);
    let shown = bo.ok(&d, here, &["workspace", "show", "api", "--json"]);
    assert!(shown.contains("\"running\""), "{shown}");
    let o = run(&mut ssh_as(&bo, &ws, "true"));
    assert!(!o.status.success(), "a viewer got a shell: {}", text(&o));
    ana.ok(&d, here, &["workspace", "rm", "api", "--force"]);
}

#[test]
fn concurrent_creates_stop_exactly_at_the_workspace_quota() {
    let mut d = Daemon::start();
    let repo = Repo::new();
    let ana = Person::new(d.root.path(), "ana");
    make_team(&mut d, &ana.public_key());
    let here = repo.path();
    ana.ok(&d, here, &["auth", "login"]);
    ana.ok(
        &d,
        here,
        &[
            "user",
            "quota",
            "ana",
            "--workspaces",
            "20",
            "--cpus",
            "40",
            "--memory",
            "100g",
        ],
    );
    let outcomes: Vec<(String, Output)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..21)
            .map(|i| {
                let (d, ana) = (&d, &ana);
                s.spawn(move || {
                    let name = format!("q{i:02}");
                    let o = ana.nexus(d, here, &["workspace", "create", &name, "--image", BUSYBOX], "");
                    (name, o)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let made: Vec<&String> = outcomes
        .iter()
        .filter(|(_, o)| o.status.success())
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        made.len(),
        20,
        "{:#?}",
        outcomes.iter().map(|(n, o)| (n, text(o))).collect::<Vec<_>>()
    );
    let (refused, o) = outcomes.iter().find(|(_, o)| !o.status.success()).expect("one refused");
    assert_eq!(o.status.code(), Some(75), "{}", text(o));
    assert!(
        text(o).contains("over quota: workspaces: 20 used, 1 requested, limit 20"),
        "{}",
        text(o)
    );
    d.assert_no_leftovers(&repo, refused, false);
    // each container holds its share as Docker limits: 1 CPU and 2 GiB by default
    let id = run(Command::new("docker").args(["ps", "-q", "--filter", &format!("label=dev.nexus.name={}", made[0])]));
    let id = String::from_utf8_lossy(&id.stdout).trim().to_string();
    let o = run(Command::new("docker").args(["inspect", "-f", "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}", &id]));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "1000000000 2147483648");
    // lowering the limit evicts nothing; stop and remove still work
    let shown = ana.ok(&d, here, &["user", "quota", "ana", "--workspaces", "5", "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&shown).expect("json");
    assert_eq!(shown["usage"]["workspaces"], 20, "{shown}");
    assert_eq!(shown["quota"]["workspaces"], 5, "{shown}");
    ana.ok(&d, here, &["workspace", "stop", made[0]]);
    ana.ok(&d, here, &["workspace", "rm", made[1], "--force"]);
    let o = ana.nexus(&d, here, &["workspace", "create", "q99", "--image", BUSYBOX], "");
    assert_eq!(o.status.code(), Some(75), "{}", text(&o));
    // storage: the worktrees were measured; past the limit, no new workspace
    let shown = ana.ok(
        &d,
        here,
        &["user", "quota", "ana", "--workspaces", "0", "--storage", "1", "--json"],
    );
    let shown: serde_json::Value = serde_json::from_str(&shown).expect("json");
    assert!(shown["usage"]["storage"].as_u64().is_some_and(|b| b > 0), "{shown}");
    let o = ana.nexus(&d, here, &["workspace", "create", "q98", "--image", BUSYBOX], "");
    assert_eq!(o.status.code(), Some(75), "{}", text(&o));
    assert!(text(&o).contains("over quota: storage"), "{}", text(&o));
    d.assert_no_leftovers(&repo, "q98", false);
}

#[test]
fn share_codes_transfers_and_ssh_config_of_shared_workspaces() {
    let (d, repo, ana, people) = team_of(&["bo", "cy"]);
    let here = repo.path();
    let [bo, cy] = &people[..] else { unreachable!() };
    ana.ok(&d, here, &["workspace", "create", "api", "--image", BUSYBOX]);

    // a code for one person: the second is refused, as is a made-up one
    let code = ana.ok(
        &d,
        here,
        &[
            "workspace",
            "share",
            "api",
            "--code",
            "--permission",
            "viewer",
            "--max-uses",
            "1",
        ],
    );
    let code = code.trim();
    assert!(code.starts_with("nxc_") && code.len() == 40, "{code}");
    assert_eq!(
        bo.ok(&d, here, &["workspace", "accept", code]).trim(),
        "you are now viewer of api"
    );
    for bad in [code, "nxc_not-a-code", &format!("{}x", &code[..39])] {
        let o = cy.nexus(&d, here, &["workspace", "accept", bad], "");
        assert_eq!(o.status.code(), Some(64), "{}", text(&o));
        assert!(text(&o).contains("unknown, expired or used up"), "{}", text(&o));
    }
    let o = cy.nexus(&d, here, &["workspace", "show", "api"], "");
    assert_eq!(o.status.code(), Some(66), "cy redeemed nothing: {}", text(&o));

    // ssh-config names another person's workspace after them, without agent forwarding
    bo.ok(&d, here, &["ssh-config"]);
    let config = std::fs::read_to_string(bo.home.join(".ssh/nexus/config")).expect("ssh config");
    assert!(config.contains("Host nexus-ana-api\n"), "{config}");
    assert!(config.contains("  ForwardAgent no\n"), "{config}");

    // a viewer may not remove; once the workspace is transferred to them, they may
    let o = bo.nexus(&d, here, &["workspace", "rm", "api", "--force"], "");
    assert_eq!(o.status.code(), Some(77), "{}", text(&o));
    ana.ok(&d, here, &["workspace", "transfer", "api", "bo"]);
    let listed: serde_json::Value =
        serde_json::from_str(&bo.ok(&d, here, &["workspace", "list", "--json"])).expect("json");
    assert_eq!(listed[0]["owner"], "bo", "{listed}");
    bo.ok(&d, here, &["workspace", "rm", "api", "--force"]);

    // the code never reached the audit log
    let export = ana.ok(&d, here, &["audit", "export", "--format", "jsonl"]);
    assert!(!export.contains(code), "a share code is in the audit log");
    assert!(export.contains("\"action\":\"workspace.transfer\""), "{export}");
}

#[test]
fn organizations_scope_their_admins_their_sharing_and_who_leaves() {
    let (d, repo, ana, people) = team_of(&["bo", "cy", "dan"]);
    let here = repo.path();
    let [bo, cy, dan] = &people[..] else { unreachable!() };

    // cy makes acme and invites bo; an invitation serves once
    cy.ok(&d, here, &["org", "create", "acme"]);
    let code = cy.ok(&d, here, &["org", "invite", "acme"]);
    assert_eq!(
        bo.ok(&d, here, &["org", "join", code.trim()]).trim(),
        "you joined acme as member"
    );
    let o = dan.nexus(&d, here, &["org", "join", code.trim()], "");
    assert_eq!(o.status.code(), Some(64), "{}", text(&o));
    let o = dan.nexus(&d, here, &["org", "show", "acme"], "");
    assert!(text(&o).contains("no organization named \"acme\""), "{}", text(&o));

    // bo's new workspace belongs to acme: its admin cy sees and stops it, gets no shell
    bo.ok(&d, here, &["org", "switch", "acme"]);
    bo.ok(&d, here, &["workspace", "create", "w1", "--image", BUSYBOX]);
    // the org's quota counts beside bo's own
    ana.ok(&d, here, &["org", "quota", "acme", "--workspaces", "1"]);
    let o = bo.nexus(&d, here, &["workspace", "create", "w2", "--image", BUSYBOX], "");
    assert_eq!(o.status.code(), Some(75), "{}", text(&o));
    assert!(
        text(&o).contains("over quota: workspaces of org acme: 1 used, 1 requested, limit 1"),
        "{}",
        text(&o)
    );
    d.assert_no_leftovers(&repo, "w2", false);
    let usage = bo.ok(&d, here, &["org", "usage", "acme"]);
    assert!(usage.contains("workspaces 1 of 1"), "{usage}");
    let listed = cy.ok(&d, here, &["workspace", "list", "--json"]);
    assert!(listed.contains("\"name\": \"w1\""), "{listed}");
    let o = cy.nexus(&d, here, &["workspace", "exec", "w1", "--", "true"], "");
    assert_eq!(o.status.code(), Some(77), "{}", text(&o));
    // unless they break the glass, with a reason the owner sees
    let o = cy.nexus(&d, here, &["workspace", "break-glass", "w1", "--reason", "?"], "");
    assert_eq!(o.status.code(), Some(64), "a reason is needed: {}", text(&o));
    cy.ok(
        &d,
        here,
        &[
            "workspace",
            "break-glass",
            "w1",
            "--reason",
            "incident 42: disk full",
            "--minutes",
            "5",
        ],
    );
    let out = cy.ok(&d, here, &["workspace", "exec", "w1", "--", "echo", "glass"]);
    assert_eq!(out.trim(), "glass");
    let shares = bo.ok(&d, here, &["workspace", "shares", "w1"]);
    assert!(shares.contains("incident 42: disk full"), "{shares}");
    let audit = ana.ok(&d, here, &["audit", "list", "--workspace", "w1", "--json"]);
    assert!(audit.contains("reason=incident 42: disk full"), "{audit}");
    cy.ok(&d, here, &["workspace", "leave", "w1"]);
    cy.ok(&d, here, &["workspace", "stop", "w1"]);

    // sharing: members only, then nobody
    cy.ok(&d, here, &["org", "policy", "acme", "--sharing", "org"]);
    let o = bo.nexus(
        &d,
        here,
        &["workspace", "share", "w1", "dan", "--permission", "viewer"],
        "",
    );
    assert_eq!(o.status.code(), Some(77), "dan is no member: {}", text(&o));
    let code = cy.ok(&d, here, &["org", "invite", "acme"]);
    dan.ok(&d, here, &["org", "join", code.trim()]);
    bo.ok(&d, here, &["workspace", "share", "w1", "dan", "--permission", "viewer"]);
    dan.ok(&d, here, &["workspace", "show", "w1"]);
    // leaving the org ends dan's share of its workspaces
    dan.ok(&d, here, &["org", "leave", "acme"]);
    let o = dan.nexus(&d, here, &["workspace", "show", "w1"], "");
    assert_eq!(o.status.code(), Some(66), "{}", text(&o));
    cy.ok(&d, here, &["org", "policy", "acme", "--sharing", "none"]);
    let o = bo.nexus(
        &d,
        here,
        &["workspace", "share", "w1", "ana", "--permission", "viewer"],
        "",
    );
    assert_eq!(o.status.code(), Some(77), "{}", text(&o));

    // the last admin stays; an org with workspaces stays; its admin may remove them
    let o = cy.nexus(&d, here, &["org", "leave", "acme"], "");
    assert_eq!(o.status.code(), Some(64), "{}", text(&o));
    let o = cy.nexus(&d, here, &["org", "delete", "acme"], "");
    assert_eq!(o.status.code(), Some(64), "{}", text(&o));
    cy.ok(&d, here, &["workspace", "rm", "w1", "--force"]);
    cy.ok(&d, here, &["org", "delete", "acme"]);
    assert!(!bo.ok(&d, here, &["org", "list"]).contains("acme"));
}

#[test]
fn a_share_with_a_team_reaches_its_members_while_they_are_in_it() {
    let (d, repo, _, people) = team_of(&["bo", "cy", "dan", "eve"]);
    let here = repo.path();
    let [bo, cy, dan, _] = &people[..] else { unreachable!() };
    cy.ok(&d, here, &["org", "create", "acme"]);
    for who in [bo, dan] {
        let code = cy.ok(&d, here, &["org", "invite", "acme"]);
        who.ok(&d, here, &["org", "join", code.trim()]);
    }
    bo.ok(&d, here, &["org", "switch", "acme"]);
    bo.ok(&d, here, &["workspace", "create", "w1", "--image", BUSYBOX]);
    cy.ok(&d, here, &["team", "create", "acme", "backend"]);
    cy.ok(&d, here, &["team", "add-member", "acme", "backend", "dan"]);
    let o = cy.nexus(&d, here, &["team", "add-member", "acme", "backend", "eve"], "");
    assert_eq!(o.status.code(), Some(64), "eve is no member of acme: {}", text(&o));
    bo.ok(
        &d,
        here,
        &["workspace", "share", "w1", "@backend", "--permission", "editor"],
    );
    assert!(bo.ok(&d, here, &["workspace", "shares", "w1"]).contains("@backend"));
    let out = dan.ok(&d, here, &["workspace", "exec", "w1", "--", "echo", "from-dan"]);
    assert_eq!(out.trim(), "from-dan");
    // out of the team, out of the workspace
    cy.ok(&d, here, &["team", "remove-member", "acme", "backend", "dan"]);
    let o = dan.nexus(&d, here, &["workspace", "show", "w1"], "");
    assert_eq!(o.status.code(), Some(66), "{}", text(&o));
    assert_eq!(cy.ok(&d, here, &["team", "list", "acme"]).trim(), "backend");
    bo.ok(&d, here, &["workspace", "unshare", "w1", "@backend"]);
    bo.ok(&d, here, &["workspace", "rm", "w1", "--force"]);
}

/// The dashboard in team mode, in a real browser (`web/e2e/team.test.mjs`):
/// each person signs in with a link of their own and sees only what they
/// may; the site admin shares a workspace with bo, changes the role and
/// removes it again on the workspace page, and reads the audit log there.
#[test]
fn the_dashboard_in_team_mode_shares_a_workspace_and_shows_the_audit_log() {
    let (d, repo, ana, people) = team_of(&["bo"]);
    let bo = &people[0];
    let here = repo.path();
    ana.ok(&d, here, &["workspace", "create", "shared", "--image", BUSYBOX]);
    let ana_link = ana.ok(&d, here, &["dashboard", "--no-open"]).trim().to_string();
    let bo_link = bo.ok(&d, here, &["dashboard", "--no-open"]).trim().to_string();
    let env: &[(&str, &std::ffi::OsStr)] = &[
        ("NEXUS_TEST_ADDRESS", d.address.as_ref()),
        ("NEXUS_TEST_ADMIN_LINK", ana_link.as_ref()),
        ("NEXUS_TEST_USER_LINK", bo_link.as_ref()),
        ("NEXUS_TEST_WORKSPACE", "shared".as_ref()),
    ];
    let (passed, report) = browser_test("team.test.mjs", env, |what| panic!("unexpected {what}"));
    assert!(
        passed,
        "the browser test failed:\n{report}\n--- daemon log\n{}",
        d.log()
    );
    // what the page did is the daemon's: the share is gone again, and audited
    let shares = ana.ok(&d, here, &["workspace", "shares", "shared", "--json"]);
    assert_eq!(shares.trim(), "[]", "{shares}");
    let audit = ana.ok(&d, here, &["audit", "list", "--workspace", "shared", "--json"]);
    for action in ["workspace.share", "workspace.unshare"] {
        assert!(audit.contains(action), "{action} is not in the audit log:\n{audit}");
    }
}
