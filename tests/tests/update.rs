//! `nexus update` offline, on one machine: a test release server on
//! 127.0.0.1 (able to truncate, hang and over-send), keys made here with
//! Debian's `minisign` (read by debug builds from `NEXUS_UPDATE_TEST_KEYS`;
//! release builds lack that), tiny test releases of shell scripts, and one
//! release of the real binaries installed under a running workspace.

use nexus_e2e::{BUSYBOX, Daemon, Repo, run, text};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// How the server answers a path.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// The file as it is.
    Serve,
    /// Its length announced, half of it sent, then the connection closed.
    Truncate,
    /// Never an answer.
    Hang,
}

/// A release server on 127.0.0.1 serving `dir`.
struct Server {
    port: u16,
    modes: Arc<Mutex<HashMap<String, Mode>>>,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let modes: Arc<Mutex<HashMap<String, Mode>>> = Arc::default();
        let (root, m) = (dir.to_path_buf(), modes.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let (root, m) = (root.clone(), m.clone());
                std::thread::spawn(move || {
                    let mut line = String::new();
                    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).map(|n| n == 0).unwrap_or(true) || h == "\r\n" {
                            break;
                        }
                    }
                    // a proxy's request names the whole URL (absolute-form): keep its path
                    let target = line.split_whitespace().nth(1).unwrap_or("/");
                    let target = match target.strip_prefix("http://") {
                        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
                        None => target,
                    };
                    let path = target.trim_start_matches('/').to_string();
                    let mode = m.lock().expect("modes").get(&path).copied().unwrap_or(Mode::Serve);
                    if mode == Mode::Hang {
                        std::thread::sleep(Duration::from_secs(60));
                        return;
                    }
                    let Ok(body) = std::fs::read(root.join(&path)) else {
                        let _ =
                            conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        return;
                    };
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = conn.write_all(head.as_bytes());
                    let send = if mode == Mode::Truncate {
                        &body[..body.len() / 2]
                    } else {
                        &body[..]
                    };
                    let _ = conn.write_all(send);
                });
            }
        });
        Server { port, modes }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/manifest.json", self.port)
    }

    fn set(&self, path: &str, mode: Mode) {
        self.modes.lock().expect("modes").insert(path.to_string(), mode);
    }
}

/// Keys, releases and the install directory of one test.
struct Releases {
    root: tempfile::TempDir,
}

impl Releases {
    fn new() -> Releases {
        let r = Releases {
            root: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir_all(r.dist()).expect("dist");
        for k in ["active", "backup", "stranger"] {
            r.keygen(k);
        }
        let trusted = format!(
            "{}{}",
            std::fs::read_to_string(r.key("active").with_extension("pub")).expect("pub"),
            std::fs::read_to_string(r.key("backup").with_extension("pub")).expect("pub")
        );
        std::fs::write(r.root.path().join("trusted.pub"), trusted).expect("trusted");
        r
    }

    fn dist(&self) -> PathBuf {
        self.root.path().join("dist")
    }

    fn install_dir(&self) -> PathBuf {
        self.root.path().join("install")
    }

    fn key(&self, name: &str) -> PathBuf {
        self.root.path().join(format!("{name}.key"))
    }

    fn keygen(&self, name: &str) {
        let o = run(Command::new("minisign")
            .args(["-G", "-W", "-p"])
            .arg(self.key(name).with_extension("pub"))
            .arg("-s")
            .arg(self.key(name)));
        assert!(o.status.success(), "minisign -G: {}", text(&o));
    }

    /// The base64 line of a public key.
    fn public(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.key(name).with_extension("pub")).expect("pub");
        text.lines().nth(1).expect("key line").trim().to_string()
    }

    /// Signs `file` with key `key` (prehashed unless `legacy`).
    fn sign(&self, file: &Path, key: &str, comment: &str, legacy: bool) {
        let mut c = Command::new("minisign");
        c.arg("-S")
            .arg("-s")
            .arg(self.key(key))
            .arg("-m")
            .arg(file)
            .args(["-t", comment]);
        if legacy {
            c.arg("-l");
        }
        let o = run(c.stdin(Stdio::null()));
        assert!(o.status.success(), "minisign -S: {}", text(&o));
    }

    /// A release of shell scripts standing in for the three binaries:
    /// `nexus --version` prints `version`; `nexusd --self-check` exits
    /// with `self_check`. Signed as `signed_version` on `channel`; returns
    /// the archive's (file name, size, sha256).
    fn archive(&self, version: &str, signed_version: &str, channel: &str, self_check: i32) -> (String, u64, String) {
        let stage = self.root.path().join(format!("stage-{version}"));
        std::fs::create_dir_all(&stage).expect("stage");
        let script = |body: &str| format!("#!/bin/sh\n{body}\n");
        std::fs::write(stage.join("nexus"), script(&format!("echo \"nexus {version}\""))).expect("nexus");
        std::fs::write(
            stage.join("nexusd"),
            script(&format!(
                "[ \"$1\" = --self-check ] && exit {self_check}; echo \"nexusd {version}\""
            )),
        )
        .expect("nexusd");
        std::fs::write(stage.join("nexus-agent"), script("exit 0")).expect("agent");
        let name = format!("nexus-{version}-{TARGET}.tar.gz");
        let file = self.dist().join(&name);
        // the same bytes every time: fixed times and owners, no name or time in the gzip header
        let o = run(Command::new("sh").arg("-c").arg(format!(
            "tar --mtime=@0 --owner=0 --group=0 --numeric-owner -C {} -cf - nexus nexusd nexus-agent | gzip -n > {}",
            stage.display(),
            file.display()
        )));
        assert!(o.status.success(), "tar: {}", text(&o));
        self.sign(
            &file,
            "active",
            &format!("version:{signed_version} target:{TARGET} file:{name} channel:{channel}"),
            false,
        );
        let bytes = std::fs::read(&file).expect("archive");
        (name, bytes.len() as u64, sha256(&bytes))
    }

    /// Writes and signs `manifest.json` offering `version` (whose archive
    /// [`Releases::archive`] made) on `channel`.
    fn manifest(&self, serial: u64, channel: &str, version: &str, archive: &(String, u64, String), key: &str) {
        let now = now();
        let m = serde_json::json!({
            "schema": 1, "serial": serial, "issuedAt": now, "expiresAt": now + 86400,
            "channels": {channel: {"version": version, "notes": format!("notes of {version}"),
                "targets": {TARGET: {"url": archive.0, "size": archive.1, "sha256": archive.2}}}}
        });
        self.write_manifest(&m, key);
    }

    fn write_manifest(&self, m: &serde_json::Value, key: &str) {
        let path = self.dist().join("manifest.json");
        std::fs::write(&path, serde_json::to_vec_pretty(m).expect("json")).expect("manifest");
        self.sign(&path, key, "nexus release manifest", false);
    }

    fn manifest_json(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.dist().join("manifest.json")).expect("read")).expect("json")
    }

    /// `nexus update ARGS` with this test's keys, install directory and no daemon.
    fn nexus(&self, args: &[&str]) -> Output {
        self.nexus_env(args, &[])
    }

    /// [`Releases::nexus`] with more environment (no proxy unless given).
    fn nexus_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let no_daemon = self.root.path().join("no-daemon");
        let mut c = Command::new(nexus_e2e::bin("nexus"));
        c.arg("update")
            .args(args)
            .env("NEXUS_UPDATE_TEST_KEYS", self.root.path().join("trusted.pub"))
            .env("NEXUS_INSTALL_DIR", self.install_dir())
            .env("NEXUS_DATA_DIR", &no_daemon)
            .env_remove("NEXUS_UPDATE_URL")
            .env_remove("SSL_CERT_FILE");
        for proxy in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"] {
            c.env_remove(proxy).env_remove(proxy.to_lowercase());
        }
        run(c.envs(env.iter().copied()).stdin(Stdio::null()))
    }

    /// Everything under the install directory, with the `current` link's
    /// target: "nothing changed" compares two of these. `state.json` is
    /// left out: a verified manifest's serial and revoked keys are learnt
    /// even when what it offers is refused (that is the protection).
    fn snapshot(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut stack = vec![self.install_dir()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else { continue };
            for e in entries.flatten() {
                let p = e.path();
                let rel = p
                    .strip_prefix(self.install_dir())
                    .expect("inside")
                    .display()
                    .to_string();
                if rel == ".lock" || rel == "downloads" || rel == "state.json" {
                    continue;
                }
                let meta = std::fs::symlink_metadata(&p).expect("meta");
                if meta.file_type().is_symlink() {
                    out.push((rel, std::fs::read_link(&p).expect("link").display().to_string()));
                } else if meta.is_dir() {
                    stack.push(p);
                } else {
                    out.push((rel, sha256(&std::fs::read(&p).expect("read"))));
                }
            }
        }
        out.sort();
        out
    }

    fn current(&self) -> String {
        std::fs::read_to_string(self.install_dir().join("current/VERSION"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Asserts exit `want` and that the output says `words`.
fn expect(o: &Output, want: i32, words: &str) {
    assert_eq!(code(o), want, "exit code; output:\n{}", text(o));
    assert!(text(o).contains(words), "{words:?} missing from:\n{}", text(o));
}

#[test]
fn install_check_rollback_status_and_notes_from_a_release_server() {
    let r = Releases::new();
    let server = Server::start(&r.dist());
    let a = r.archive("1.0.0", "1.0.0", "stable", 0);
    r.manifest(1, "stable", "1.0.0", &a, "active");
    let url = server.url();

    let o = r.nexus(&["install", "--from", &url, "--yes"]);
    expect(&o, 0, "nexus 1.0.0 installed");
    assert_eq!(r.current(), "1.0.0");
    let o = r.nexus(&["install", "--from", &url, "--yes"]);
    expect(&o, 3, "up to date");
    let o = r.nexus(&["check", "--from", &url]);
    expect(&o, 3, "up to date");

    let b = r.archive("1.1.0", "1.1.0", "stable", 0);
    r.manifest(2, "stable", "1.1.0", &b, "active");
    let o = r.nexus(&["check", "--from", &url, "--json"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(report["latest"], "1.1.0");
    assert_eq!(report["installed"], "1.0.0");
    assert_eq!(report["updateAvailable"], true);
    let o = r.nexus(&["notes", "--from", &url]);
    expect(&o, 0, "notes of 1.1.0");

    let o = r.nexus(&["install", "--from", &url, "--yes", "--json"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let done: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(done["version"], "1.1.0");
    assert_eq!(done["previous"], "1.0.0");
    assert_eq!(done["daemonRestarted"], false);
    assert_eq!(r.current(), "1.1.0");
    let link = std::fs::read_link(r.install_dir().join("current")).expect("link");
    assert_eq!(
        link,
        Path::new("versions/1.1.0"),
        "current is one link to the version's directory"
    );
    let ran = run(Command::new(r.install_dir().join("current/nexus")).arg("--version"));
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), "nexus 1.1.0");

    let o = r.nexus(&["status", "--json"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(s["current"], "1.1.0");
    assert_eq!(s["latest"], "1.1.0");
    assert_eq!(s["channel"], "stable");
    assert_eq!(s["manifestSerial"], 2);
    assert_eq!(s["previous"], "1.0.0");
    assert!(s["lastCheck"].as_i64().is_some_and(|t| t > 0), "{s}");
    assert!(s["manifestExpiresAt"].as_i64().is_some_and(|t| t > now()), "{s}");
    assert_eq!(s["installedBy"], "by hand (not managed by nexus update)");

    let o = r.nexus(&["rollback"]);
    expect(&o, 0, "nexus 1.0.0 is current again");
    assert_eq!(r.current(), "1.0.0");
    let o = r.nexus(&["rollback"]);
    expect(&o, 0, "nexus 1.1.0 is current again");

    // Debian's minisign verifies what the releases carry, trusted comment included
    let o = run(Command::new("minisign")
        .args(["-V", "-Q", "-p"])
        .arg(r.key("active").with_extension("pub"))
        .arg("-m")
        .arg(r.dist().join(&b.0)));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("version:1.1.0 target:{TARGET} file:{} channel:stable", b.0)
    );
}

#[test]
fn every_refusal_exits_2_and_changes_nothing() {
    let r = Releases::new();
    let server = Server::start(&r.dist());
    let url = server.url();
    let a = r.archive("1.1.0", "1.1.0", "stable", 0);
    r.manifest(5, "stable", "1.1.0", &a, "active");
    expect(&r.nexus(&["install", "--from", &url, "--yes"]), 0, "installed");
    let before = r.snapshot();
    let b = r.archive("1.2.0", "1.2.0", "stable", 0);
    let good = |serial: u64| r.manifest(serial, "stable", "1.2.0", &b, "active");

    type Setup<'a> = Box<dyn Fn() + 'a>;
    let refusals: Vec<(&str, Setup, &str)> = vec![
        (
            "a tampered archive",
            Box::new(|| {
                good(6);
                let path = r.dist().join(&b.0);
                let mut bytes = std::fs::read(&path).expect("read");
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                std::fs::write(&path, bytes).expect("write");
            }),
            "SHA-256",
        ),
        (
            "a tampered manifest",
            Box::new(|| {
                good(6);
                let path = r.dist().join("manifest.json");
                let text = std::fs::read_to_string(&path)
                    .expect("read")
                    .replace("notes of", "NOTES OF");
                std::fs::write(&path, text).expect("write");
            }),
            "changed after signing",
        ),
        (
            "a manifest signed by an unknown key",
            Box::new(|| r.manifest(6, "stable", "1.2.0", &b, "stranger")),
            "unknown key",
        ),
        (
            "a legacy signature",
            Box::new(|| {
                good(6);
                r.sign(&r.dist().join("manifest.json"), "active", "legacy", true);
            }),
            "legacy",
        ),
        (
            "an archive signed as another version",
            Box::new(|| {
                let c = r.archive("1.2.0", "1.3.0", "stable", 0);
                r.manifest(6, "stable", "1.2.0", &c, "active");
            }),
            "version:1.3.0",
        ),
        (
            "an archive signed for another channel",
            Box::new(|| {
                let c = r.archive("1.2.0", "1.2.0", "beta", 0);
                r.manifest(6, "stable", "1.2.0", &c, "active");
            }),
            "channel:beta",
        ),
        (
            "an older manifest",
            Box::new(|| good(4)),
            "older than serial 6 seen before",
        ),
        (
            "an expired manifest",
            Box::new(|| {
                good(6);
                let mut m = r.manifest_json();
                m["expiresAt"] = (now() - 10).into();
                r.write_manifest(&m, "active");
            }),
            "expired",
        ),
        (
            "a lower version",
            Box::new(|| {
                let c = r.archive("1.0.0", "1.0.0", "stable", 0);
                r.manifest(6, "stable", "1.0.0", &c, "active");
            }),
            "older than the installed 1.1.0",
        ),
        (
            "an archive larger than signed",
            Box::new(|| {
                good(6);
                let mut m = r.manifest_json();
                m["channels"]["stable"]["targets"][TARGET]["size"] = (b.1 - 10).into();
                r.write_manifest(&m, "active");
            }),
            "more than the signed size",
        ),
        (
            "a manifest that is not JSON",
            Box::new(|| {
                std::fs::write(r.dist().join("manifest.json"), "<html>").expect("write");
                r.sign(&r.dist().join("manifest.json"), "active", "x", false);
            }),
            "not JSON",
        ),
        (
            "an unknown schema",
            Box::new(|| {
                good(6);
                let mut m = r.manifest_json();
                m["schema"] = 2.into();
                r.write_manifest(&m, "active");
            }),
            "schema: 2",
        ),
        (
            "no channels",
            Box::new(|| {
                good(6);
                let mut m = r.manifest_json();
                m["channels"] = serde_json::json!({});
                r.write_manifest(&m, "active");
            }),
            "channels: no channel",
        ),
        (
            "no build for this target",
            Box::new(|| {
                good(6);
                let mut m = r.manifest_json();
                m["channels"]["stable"]["targets"] =
                    serde_json::json!({"aarch64-apple-darwin": m["channels"]["stable"]["targets"][TARGET].clone()});
                r.write_manifest(&m, "active");
            }),
            "no build for x86_64-unknown-linux-gnu",
        ),
        (
            "an unsupported URL scheme",
            Box::new(|| {
                good(6);
                let mut m = r.manifest_json();
                m["channels"]["stable"]["targets"][TARGET]["url"] = "ftp://example.com/x.tar.gz".into();
                r.write_manifest(&m, "active");
            }),
            "channels.stable.targets.x86_64-unknown-linux-gnu.url: the scheme ftp://",
        ),
        (
            "a version that is not semver",
            Box::new(|| {
                good(6);
                let mut m = r.manifest_json();
                m["channels"]["stable"]["version"] = "latest".into();
                r.write_manifest(&m, "active");
            }),
            "channels.stable.version: \"latest\" is not a semantic version",
        ),
    ];
    for (what, setup, words) in refusals {
        // a fresh archive of 1.2.0 each time: some cases change it
        let _ = r.archive("1.2.0", "1.2.0", "stable", 0);
        setup();
        let o = r.nexus(&["install", "--from", &url, "--yes"]);
        assert_eq!(code(&o), 2, "{what}: exit code; output:\n{}", text(&o));
        assert!(
            text(&o).contains(words),
            "{what}: {words:?} missing from:\n{}",
            text(&o)
        );
        assert_eq!(r.snapshot(), before, "{what} changed the install");
        assert_eq!(r.current(), "1.1.0", "{what}");
    }

    // an expired manifest is accepted offline, from a directory, when asked
    let _ = r.archive("1.2.0", "1.2.0", "stable", 0);
    good(6);
    let mut m = r.manifest_json();
    m["expiresAt"] = (now() - 10).into();
    r.write_manifest(&m, "active");
    let dist = r.dist().display().to_string();
    expect(&r.nexus(&["install", "--from", &dist, "--yes"]), 2, "expired");
    expect(
        &r.nexus(&["install", "--from", &dist, "--yes", "--allow-expired"]),
        0,
        "nexus 1.2.0 installed",
    );

    // a signed older version, asked for: --allow-downgrade installs it
    let c = r.archive("1.0.0", "1.0.0", "stable", 0);
    r.manifest(7, "stable", "1.0.0", &c, "active");
    expect(
        &r.nexus(&["install", "--from", &url, "--yes"]),
        2,
        "downgrade protection",
    );
    expect(
        &r.nexus(&["install", "--from", &url, "--yes", "--allow-downgrade"]),
        0,
        "nexus 1.0.0 installed (was 1.2.0",
    );
}

#[test]
fn a_packaged_nexus_is_told_to_use_its_package_manager() {
    let r = Releases::new();
    let a = r.archive("1.1.0", "1.1.0", "stable", 0);
    r.manifest(1, "stable", "1.1.0", &a, "active");
    // the nexus binary as a package would install it: a marker file beside it
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = dir.path().join("nexus");
    std::fs::hard_link(nexus_e2e::bin("nexus"), &exe)
        .or_else(|_| std::fs::copy(nexus_e2e::bin("nexus"), &exe).map(|_| ()))
        .expect("place nexus");
    std::fs::write(dir.path().join("nexus.packaged"), "debian\n").expect("marker");
    let dist = r.dist().display().to_string();
    let o = run(Command::new(&exe)
        .args(["update", "install", "--from", &dist, "--yes"])
        .env("NEXUS_UPDATE_TEST_KEYS", r.root.path().join("trusted.pub"))
        .env("NEXUS_INSTALL_DIR", r.install_dir())
        .env("NEXUS_DATA_DIR", r.root.path().join("no-daemon"))
        .stdin(Stdio::null()));
    expect(&o, 2, "installed by a package manager");
    assert!(r.snapshot().is_empty(), "nothing installed: {:?}", r.snapshot());
    let o = run(Command::new(&exe)
        .args(["update", "status", "--json"])
        .env("NEXUS_INSTALL_DIR", r.install_dir())
        .env("NEXUS_DATA_DIR", r.root.path().join("no-daemon")));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(s["installedBy"], "package manager");
}

#[test]
fn network_failures_exit_1_a_failed_test_launch_4_and_a_rerun_succeeds() {
    let r = Releases::new();
    let server = Server::start(&r.dist());
    let url = server.url();
    let a = r.archive("1.0.0", "1.0.0", "stable", 0);
    r.manifest(1, "stable", "1.0.0", &a, "active");
    let before = r.snapshot();

    // a truncated download: exit 1, nothing changed, the rerun succeeds
    server.set(&a.0, Mode::Truncate);
    let o = r.nexus(&["install", "--from", &url, "--yes"]);
    expect(&o, 1, "run the command again");
    assert_eq!(r.snapshot(), before);
    server.set(&a.0, Mode::Serve);
    expect(
        &r.nexus(&["install", "--from", &url, "--yes"]),
        0,
        "nexus 1.0.0 installed",
    );
    let installed = r.snapshot();

    // a server that never answers: check gives up within its 3 s
    server.set("manifest.json", Mode::Hang);
    let started = Instant::now();
    let o = r.nexus(&["check", "--from", &url]);
    expect(&o, 1, "no answer within 3 s");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "check took {:?}",
        started.elapsed()
    );
    server.set("manifest.json", Mode::Serve);
    // a server that is not there
    let o = r.nexus(&["check", "--from", "http://127.0.0.1:1/manifest.json"]);
    assert_eq!(code(&o), 1, "{}", text(&o));

    // a new nexusd that fails its self-check: exit 4, nothing changed
    let bad = r.archive("1.1.0", "1.1.0", "stable", 1);
    r.manifest(2, "stable", "1.1.0", &bad, "active");
    let o = r.nexus(&["install", "--from", &url, "--yes"]);
    expect(&o, 4, "self-check failed");
    assert_eq!(
        r.snapshot()
            .iter()
            .filter(|(p, _)| p != "state.json")
            .collect::<Vec<_>>(),
        installed.iter().filter(|(p, _)| p != "state.json").collect::<Vec<_>>()
    );
    assert_eq!(r.current(), "1.0.0");
}

#[test]
fn key_rotation_and_two_installs_at_once() {
    let r = Releases::new();
    let server = Server::start(&r.dist());
    let url = server.url();
    // the offline backup key signs a manifest: accepted
    let a = r.archive("1.0.0", "1.0.0", "stable", 0);
    r.manifest(1, "stable", "1.0.0", &a, "backup");
    expect(&r.nexus(&["check", "--from", &url]), 0, "available");

    // the backup key revokes the active one: later manifests of the active key fail
    let mut m = r.manifest_json();
    m["serial"] = 2.into();
    m["revokedKeys"] = serde_json::json!([r.public("active")]);
    r.write_manifest(&m, "backup");
    expect(&r.nexus(&["check", "--from", &url]), 0, "available");
    r.manifest(3, "stable", "1.0.0", &a, "active");
    expect(&r.nexus(&["check", "--from", &url]), 2, "revoked key");
    // the archive is signed by the active key too: re-sign it with the backup key for the installs
    let mut m = r.manifest_json();
    m["revokedKeys"] = serde_json::json!([r.public("active")]);
    r.write_manifest(&m, "backup");
    let file = r.dist().join(&a.0);
    r.sign(
        &file,
        "backup",
        &format!("version:1.0.0 target:{TARGET} file:{} channel:stable", a.0),
        false,
    );

    // two installs at once: one installs, the other waits, then finds it up to date
    let spawn = || {
        Command::new(nexus_e2e::bin("nexus"))
            .args(["update", "install", "--from", &url, "--yes"])
            .env("NEXUS_UPDATE_TEST_KEYS", r.root.path().join("trusted.pub"))
            .env("NEXUS_INSTALL_DIR", r.install_dir())
            .env("NEXUS_DATA_DIR", r.root.path().join("no-daemon"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (one, two) = (spawn(), spawn());
    let mut codes = vec![
        code(&one.wait_with_output().expect("wait")),
        code(&two.wait_with_output().expect("wait")),
    ];
    codes.sort();
    assert_eq!(codes, vec![0, 3], "one installed, the other found it done");
    assert_eq!(r.current(), "1.0.0");
    let versions: Vec<_> = std::fs::read_dir(r.install_dir().join("versions"))
        .expect("versions")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(versions, vec!["1.0.0".to_string()], "no staging directory left");
}

/// A tar.gz of the real binaries (debug symbols stripped, for speed) as
/// release `version`, signed; the directory is an offline release.
fn real_release(r: &Releases, version: &str) {
    let stage = r.root.path().join("real");
    std::fs::create_dir_all(&stage).expect("stage");
    for (name, from) in [
        ("nexus", nexus_e2e::bin("nexus")),
        ("nexusd", nexus_e2e::bin("nexusd")),
        ("nexus-agent", nexus_e2e::agent_binary()),
    ] {
        let o = run(Command::new("strip")
            .arg("--strip-debug")
            .arg("-o")
            .arg(stage.join(name))
            .arg(&from));
        assert!(o.status.success(), "strip: {}", text(&o));
    }
    let name = format!("nexus-{version}-{TARGET}.tar.gz");
    let file = r.dist().join(&name);
    let o = run(Command::new("sh").arg("-c").arg(format!(
        "tar -C {} -cf - nexus nexusd nexus-agent | gzip -1 > {}",
        stage.display(),
        file.display()
    )));
    assert!(o.status.success(), "tar: {}", text(&o));
    r.sign(
        &file,
        "active",
        &format!("version:{version} target:{TARGET} file:{name} channel:stable"),
        false,
    );
    let bytes = std::fs::read(&file).expect("archive");
    r.manifest(
        1,
        "stable",
        version,
        &(name, bytes.len() as u64, sha256(&bytes)),
        "active",
    );
}

/// Ends, when dropped, a daemon `nexus update` started (the harness knows
/// only the one it started itself).
struct Kill(u32);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.to_string()).output();
    }
}

/// The pid in the daemon's lock file.
fn daemon_pid(d: &Daemon) -> u32 {
    std::fs::read_to_string(d.data_dir().join("nexusd.lock"))
        .expect("lock")
        .trim()
        .parse()
        .expect("pid")
}

#[test]
fn an_update_restarts_the_daemon_and_leaves_running_workspaces_alone() {
    let r = Releases::new();
    let version = env!("CARGO_PKG_VERSION");
    real_release(&r, version);
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "keep", BUSYBOX);
    let container_before = nexus_e2e::docker_ok(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=dev.nexus.daemon={}", d.daemon_id()),
    ]);
    // a shell in tmux over SSH, and a sleep started in the workspace
    let socket = format!("nexus-update-{}", std::process::id());
    let tmux = |args: &[&str]| run(Command::new("tmux").args(["-L", &socket, "-f", "/dev/null"]).args(args));
    let port = ws["sshPort"].as_u64().expect("port").to_string();
    let ssh = format!(
        "ssh {} -p {port} {}@127.0.0.1",
        d.ssh_options().join(" "),
        ws["remoteUser"].as_str().expect("user")
    );
    let o = tmux(&["new-session", "-d", "-s", "t", "-x", "100", "-y", "30", &ssh]);
    assert!(o.status.success(), "{}", text(&o));
    let screen = || String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned();
    let type_line = |line: &str| {
        tmux(&["send-keys", "-t", "t", "-l", line]);
        tmux(&["send-keys", "-t", "t", "Enter"]);
    };
    let wait_screen = |needle: &str| {
        nexus_e2e::wait_for(needle, Duration::from_secs(20), || screen().contains(needle));
    };
    type_line("echo before-$((20+3))");
    wait_screen("before-23");
    let sleep_pid = |d: &Daemon| {
        let o = d.cli(
            repo.path(),
            &["workspace", "exec", "keep", "--", "ps", "-o", "pid,args"],
        );
        let ps = String::from_utf8_lossy(&o.stdout).into_owned();
        let pids: Vec<&str> = ps
            .lines()
            .filter(|l| l.split_whitespace().skip(1).collect::<Vec<_>>() == ["sleep", "4242"])
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        pids.join(" ")
    };
    // started from the shell: it lives as long as the SSH session, which must outlive the update
    type_line("sleep 4242 &");
    nexus_e2e::wait_for("sleep 4242", Duration::from_secs(10), || !sleep_pid(&d).is_empty());
    let pid_before = sleep_pid(&d);
    let daemon_before = daemon_pid(&d);

    let o = run(d
        .nexus()
        .args(["update", "install", "--from"])
        .arg(r.dist())
        .args(["--version", version, "--yes"])
        .env("NEXUS_UPDATE_TEST_KEYS", r.root.path().join("trusted.pub"))
        .env("NEXUS_INSTALL_DIR", r.install_dir()));
    let daemon_after = daemon_pid(&d);
    // the new daemon is the test's to end: the harness knows only the old one
    let _kill = Kill(daemon_after);
    assert_eq!(code(&o), 0, "{}\n--- daemon log\n{}", text(&o), d.log());
    assert!(text(&o).contains("nexusd restarted"), "{}", text(&o));
    assert_ne!(daemon_after, daemon_before, "a new daemon process");
    let exe = std::fs::read_link(format!("/proc/{daemon_after}/exe")).expect("exe");
    assert!(
        exe.starts_with(r.install_dir().join("versions").join(version)),
        "the new daemon runs from the installed version: {}",
        exe.display()
    );

    // the same container, the same processes, the shell still answers, exec works
    let container_after = nexus_e2e::docker_ok(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=dev.nexus.daemon={}", d.daemon_id()),
    ]);
    assert_eq!(container_after, container_before);
    assert_eq!(sleep_pid(&d), pid_before, "the sleep survived");
    type_line("echo after-$((40+2))");
    wait_screen("after-42");
    let out = d.cli_ok(repo.path(), &["workspace", "exec", "keep", "--", "echo", "exec-ok"]);
    assert_eq!(out, "exec-ok\n");
    let _ = tmux(&["kill-server"]);

    // status: the running daemon's version and each workspace's agent
    let status = |d: &Daemon| -> serde_json::Value {
        let o = run(d
            .nexus()
            .args(["update", "status", "--json"])
            .env("NEXUS_INSTALL_DIR", r.install_dir()));
        assert!(o.status.success(), "{}", text(&o));
        serde_json::from_slice(&o.stdout).expect("json")
    };
    let s = status(&d);
    assert_eq!(s["daemon"], version);
    assert_eq!(s["agents"]["keep"], version, "{s}");
    // a workspace whose agent predates the daemon gets the daemon's agent at its next start
    d.cli_ok(repo.path(), &["workspace", "stop", "keep"]);
    let db = rusqlite::Connection::open(d.data_dir().join("state.db")).expect("db");
    db.execute("UPDATE workspaces SET agent_version = NULL WHERE name = 'keep'", [])
        .expect("forget the agent's version");
    assert_eq!(status(&d)["agents"]["keep"], serde_json::Value::Null);
    d.cli_ok(repo.path(), &["workspace", "start", "keep"]);
    assert_eq!(status(&d)["agents"]["keep"], version, "injected again at start");
    let out = d.cli_ok(repo.path(), &["workspace", "exec", "keep", "--", "echo", "started"]);
    assert_eq!(out, "started\n");
}

#[test]
fn a_new_daemon_that_does_not_start_is_switched_back_remembered_and_exits_5() {
    let r = Releases::new();
    // its nexusd passes the self-check, then exits at once when started as a daemon
    let a = r.archive("9.9.9", "9.9.9", "stable", 0);
    r.manifest(1, "stable", "9.9.9", &a, "active");
    let d = Daemon::start();
    let repo = Repo::new();
    let before = daemon_pid(&d);
    let install = || {
        run(d
            .nexus()
            .args(["update", "install", "--from"])
            .arg(r.dist())
            .arg("--yes")
            .env("NEXUS_UPDATE_TEST_KEYS", r.root.path().join("trusted.pub"))
            .env("NEXUS_INSTALL_DIR", r.install_dir()))
    };
    let o = install();
    let after = daemon_pid(&d);
    let _kill = Kill(after);
    expect(&o, 5, "did not become healthy");
    assert!(
        text(&o).contains("restarted the daemon that ran before"),
        "{}",
        text(&o)
    );
    assert!(
        !r.install_dir().join("current").exists(),
        "switched back: no current version"
    );
    assert_ne!(after, before, "the old daemon was started again");
    let exe = std::fs::read_link(format!("/proc/{after}/exe")).expect("exe");
    assert_eq!(exe, nexus_e2e::bin("nexusd").canonicalize().expect("canon"));
    // it answers as before
    let list = d.cli_ok(repo.path(), &["workspace", "list", "--json"]);
    assert_eq!(list.trim(), "[]");
    // the bad version is remembered: not installed again unless asked by name
    let o = r.nexus(&["status", "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(s["badVersions"], serde_json::json!(["9.9.9"]));
    let o = install();
    expect(&o, 2, "did not start here before");
    assert_eq!(daemon_pid(&d), after, "a refused install leaves the daemon alone");
}

#[test]
fn other_commands_show_a_notice_and_check_once_a_day_in_the_background() {
    let r = Releases::new();
    let server = Server::start(&r.dist());
    let a = r.archive("9.9.9", "9.9.9", "stable", 0);
    r.manifest(1, "stable", "9.9.9", &a, "active");
    let d = Daemon::start();
    let repo = Repo::new();
    // `nexus workspace list` in a terminal (script(1) gives it one)
    let list = |env: &[(&str, &str)], extra: &str| {
        // script(1) runs the CLI in a terminal, with the environment `nexus()` gives it
        let mut cmd = Command::new("script");
        let line = format!("{} workspace list {extra}", nexus_e2e::bin("nexus").display());
        cmd.args(["-qec", &line, "/dev/null"]);
        for (k, v) in d.nexus().get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.env("NEXUS_UPDATE_TEST_KEYS", r.root.path().join("trusted.pub"))
            .env("NEXUS_INSTALL_DIR", r.install_dir())
            .env("NEXUS_UPDATE_URL", server.url())
            .env_remove("CI")
            .env_remove("NEXUS_NO_UPDATE_CHECK")
            .envs(env.iter().copied())
            .current_dir(repo.path())
            .stdin(Stdio::null());
        run(&mut cmd)
    };
    let state = || -> serde_json::Value {
        std::fs::read(r.install_dir().join("state.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    };
    // the first run: no notice yet, a check started in the background, which saves what it found
    let o = list(&[], "");
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("is available"), "{}", text(&o));
    nexus_e2e::wait_for("the background check", Duration::from_secs(10), || {
        state()["latest"] == "9.9.9"
    });
    let attempted = state()["lastAttempt"].clone();
    // the next run: the notice, and no second check the same day
    let o = list(&[], "");
    assert!(
        text(&o).contains("nexus 9.9.9 is available (you have 0.1.0): run `nexus update install`"),
        "{}",
        text(&o)
    );
    assert_eq!(state()["lastAttempt"], attempted, "one check a day");
    // never in CI, with --json, with NEXUS_NO_UPDATE_CHECK=1, or without a terminal
    for (env, extra) in [
        (vec![("CI", "true")], ""),
        (vec![("NEXUS_NO_UPDATE_CHECK", "1")], ""),
        (vec![], "--json"),
    ] {
        let o = list(&env, extra);
        assert!(o.status.success(), "{}", text(&o));
        assert!(!text(&o).contains("is available"), "{env:?} {extra}: {}", text(&o));
    }
    let o = run(d
        .nexus()
        .args(["workspace", "list"])
        .env("NEXUS_INSTALL_DIR", r.install_dir())
        .current_dir(repo.path()));
    assert!(!text(&o).contains("is available"), "no terminal: {}", text(&o));
}

#[test]
fn a_cli_newer_than_its_daemon_says_so_and_how_to_fix_it() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    // a daemon from before API versions: daemon.info without apiVersion, no other method
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(Message::Text(text))) = ws.next().await {
                    let req: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                    let id = req["id"].clone();
                    let reply = if req["method"] == "daemon.info" {
                        serde_json::json!({"jsonrpc": "2.0", "id": id, "result": {
                            "version": "0.0.9", "pid": 4242, "portRange": [32800, 34999], "mode": "single"}})
                    } else {
                        serde_json::json!({"jsonrpc": "2.0", "id": id,
                            "error": {"code": -32601, "message": "Method not found"}})
                    };
                    if ws.send(Message::Text(reply.to_string().into())).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let home = tempfile::tempdir().expect("home");
    let o = run(Command::new(nexus_e2e::bin("nexus"))
        .args(["workspace", "list"])
        .env("HOME", home.path())
        .env("NEXUS_HOST", format!("127.0.0.1:{port}"))
        .env("NEXUS_TOKEN", "old-daemon")
        .env("NEXUS_DATA_DIR", home.path().join("data"))
        .env_remove("NEXUS_CONTEXT")
        .env_remove("XDG_CONFIG_HOME")
        .stdin(Stdio::null()));
    assert!(!o.status.success(), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains(&format!(
            "nexusd 0.0.9 (API 1) is older than this nexus {} (API 2)",
            env!("CARGO_PKG_VERSION")
        )),
        "{said}"
    );
    assert!(said.contains("nexus update install"), "{said}");
}

#[test]
fn through_a_proxy_and_over_https_with_a_private_ca() {
    let r = Releases::new();
    let server = Server::start(&r.dist());
    let a = r.archive("1.0.0", "1.0.0", "stable", 0);
    r.manifest(1, "stable", "1.0.0", &a, "active");
    // a host name only the proxy (the release server itself) answers for
    let url = "http://releases.nexus.invalid/manifest.json";
    let proxy = format!("http://127.0.0.1:{}", server.port);
    let o = r.nexus(&["check", "--from", url]);
    assert_eq!(code(&o), 1, "no proxy, no such host: {}", text(&o));
    let o = r.nexus_env(&["check", "--from", url], &[("HTTP_PROXY", &proxy)]);
    expect(&o, 0, "nexus 1.0.0 is available");
    let o = r.nexus_env(
        &["check", "--from", url],
        &[("HTTP_PROXY", &proxy), ("NO_PROXY", "releases.nexus.invalid")],
    );
    assert_eq!(code(&o), 1, "NO_PROXY names the host: {}", text(&o));

    // HTTPS from a server whose certificate a private CA signed
    let certs = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = nexus_e2e::make_certificates(certs.path());
    let tls = nexus_e2e::TlsProxy::start(certs.path(), &cert, &key, &format!("127.0.0.1:{}", server.port));
    let url = format!("https://localhost:{}/manifest.json", tls.port);
    let o = r.nexus(&["check", "--from", &url]);
    expect(&o, 1, "certificate");
    let ca = ca.display().to_string();
    let o = r.nexus_env(&["install", "--from", &url, "--yes"], &[("SSL_CERT_FILE", &ca)]);
    expect(&o, 0, "nexus 1.0.0 installed");
}
