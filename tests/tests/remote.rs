//! Reaching a daemon with only its API port: contexts hold its address and
//! token, `workspace ssh --stdio` carries SSH over the WebSocket (as the
//! `ProxyCommand` `ssh-config --remote` writes), `workspace port-forward`
//! carries TCP the same way.

use nexus_e2e::{BUSYBOX, Daemon, Repo, text};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// `nexus` as a user on another machine: no local daemon, no token file,
/// no NEXUS_HOST; only what `nexus context` stored.
fn remote_nexus(d: &Daemon, elsewhere: &Path) -> Command {
    let mut c = Command::new(nexus_e2e::bin("nexus"));
    c.env("HOME", d.home())
        .env("XDG_CONFIG_HOME", d.home().join(".config"))
        .env("NEXUS_DATA_DIR", elsewhere)
        .env_remove("NEXUS_HOST")
        .env_remove("NEXUS_TOKEN")
        .env_remove("NEXUS_CONTEXT")
        .stdin(Stdio::null());
    c
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{cmd:?}:\n{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn contexts_ssh_over_the_api_and_port_forward() {
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "far", BUSYBOX);
    d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "far",
            "--",
            "sh",
            "-c",
            "mkdir -p /srv && echo served-far > /srv/index.html && (httpd -p 8080 -h /srv &)",
        ],
    );
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let nexus = || remote_nexus(&d, elsewhere.path());

    // no context, no token: a clear error
    let out = nexus()
        .args(["--host", "ws://192.0.2.1:7737", "workspace", "list"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(text(&out).contains("no token"), "{}", text(&out));

    // contexts
    let url = format!("ws://{}", d.address);
    ok(nexus().args(["context", "add", "box", &url, "--token", &d.token()]));
    let out = nexus().args(["context", "use", "nope"]).output().expect("run");
    assert!(
        !out.status.success() && text(&out).contains("no context named"),
        "{}",
        text(&out)
    );
    ok(nexus().args(["context", "use", "box"]));
    let listed = ok(nexus().args(["context", "list"]));
    assert!(listed.contains(&format!("* box              {url}")), "{listed}");
    let mode = std::fs::metadata(d.home().join(".config/nexus/contexts.json")).expect("file");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    let list = ok(nexus().args(["workspace", "list"]));
    assert!(list.contains("far"), "{list}");
    // NEXUS_TOKEN comes before the context's token (README.md)
    let out = nexus()
        .args(["workspace", "list"])
        .env("NEXUS_TOKEN", "not-the-token")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(77), "{}", text(&out));

    // ssh through the API: the ProxyCommand ssh-config --remote writes
    ok(nexus().args(["ssh-config", "--remote"]));
    let config = std::fs::read_to_string(d.home().join(".ssh/nexus/config")).expect("config");
    assert!(
        config.contains("\"--context\" \"box\" workspace ssh --stdio far"),
        "{config}"
    );
    let with_env = |program: &str| {
        let mut c = Command::new(program);
        c.env("HOME", d.home())
            .env("XDG_CONFIG_HOME", d.home().join(".config"))
            .env("NEXUS_DATA_DIR", elsewhere.path())
            .env_remove("NEXUS_HOST")
            .env_remove("NEXUS_TOKEN")
            .args(["-F", &d.home().join(".ssh/config").display().to_string()])
            .args(["-o", "BatchMode=yes"]);
        c
    };
    let ssh = |args: &[&str]| {
        let mut c = with_env("ssh");
        c.args(args);
        c
    };
    let out = ok(ssh(&["nexus-far", "echo", "over-the-api", "$((6*7))"]).stdin(Stdio::null()));
    assert_eq!(out, "over-the-api 42\n");
    // a megabyte each way, bytes exact
    let blob: Vec<u8> = (0..1_048_576u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut child = ssh(&["nexus-far", "cat > /tmp/blob && cat /tmp/blob"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ssh");
    let mut stdin = child.stdin.take().expect("stdin");
    let feed = {
        let blob = blob.clone();
        std::thread::spawn(move || stdin.write_all(&blob))
    };
    let out = child.wait_with_output().expect("ssh ends");
    feed.join().expect("join").expect("write");
    assert!(out.status.success(), "{}", text(&out));
    assert!(out.stdout == blob, "{} bytes came back", out.stdout.len());
    // the same with scp
    let local = elsewhere.path().join("copy");
    let mut scp = with_env("scp");
    scp.args(["-q", "nexus-far:/tmp/blob"]).arg(&local).stdin(Stdio::null());
    ok(&mut scp);
    assert!(std::fs::read(&local).expect("copied") == blob, "scp copied other bytes");

    // port-forward
    let mut fwd = nexus()
        .args(["workspace", "port-forward", "far", "0:8080"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("port-forward");
    let mut line = String::new();
    BufReader::new(fwd.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let port: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    for _ in 0..3 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").expect("request");
        let mut page = String::new();
        s.read_to_string(&mut page).expect("answer");
        assert!(page.ends_with("served-far\n"), "{page}");
    }
    let _ = fwd.kill();
    let _ = fwd.wait();
    let out = nexus()
        .args(["workspace", "port-forward", "far", "nonsense"])
        .output()
        .expect("run");
    assert!(
        !out.status.success() && text(&out).contains("LOCAL:REMOTE"),
        "{}",
        text(&out)
    );

    // context rm forgets it
    ok(nexus().args(["context", "rm", "box"]));
    let listed = ok(nexus().args(["context", "list"]));
    assert!(!listed.contains("box"), "{listed}");
}

#[test]
fn wss_and_https_through_a_tls_proxy() {
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "tls", BUSYBOX);
    d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "tls",
            "--",
            "sh",
            "-c",
            "seq 1 200000 > /tmp/numbers",
        ],
    );
    let certs = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = nexus_e2e::make_certificates(certs.path());
    let proxy = nexus_e2e::TlsProxy::start(certs.path(), &cert, &key, &d.address);
    let url = format!("wss://localhost:{}", proxy.port);
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let nexus = |trusted: bool| {
        let mut c = remote_nexus(&d, elsewhere.path());
        c.env("NEXUS_HOST", &url).env("NEXUS_TOKEN", d.token());
        if trusted {
            // rustls reads the roots it trusts from here (rustls-native-certs)
            c.env("SSL_CERT_FILE", &ca);
        } else {
            c.env_remove("SSL_CERT_FILE");
        }
        c
    };

    // a certificate nobody vouches for is refused, with the reason
    let out = nexus(false).args(["workspace", "list"]).output().expect("run");
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).to_lowercase().contains("certificate"), "{}", text(&out));

    // trusted: the CLI's calls, an exec, and SSH tunnelled over wss://
    let list = ok(nexus(true).args(["workspace", "list"]));
    assert!(list.contains("tls"), "{list}");
    let out = ok(nexus(true).args(["workspace", "exec", "tls", "--", "echo", "over-tls"]));
    assert_eq!(out, "over-tls\n");
    // a context, as a user on another machine keeps it: the ProxyCommand names it
    let in_context = || {
        let mut c = remote_nexus(&d, elsewhere.path());
        c.env("SSL_CERT_FILE", &ca);
        c
    };
    ok(in_context().args(["context", "add", "secure", &url, "--token", &d.token()]));
    ok(in_context().args(["context", "use", "secure"]));
    // no --remote: for a daemon on another machine (wss://) it is the default
    ok(in_context().args(["ssh-config"]));
    let config = std::fs::read_to_string(d.home().join(".ssh/nexus/config")).expect("config");
    assert!(config.contains("workspace ssh --stdio tls"), "{config}");
    let out = ok(Command::new("ssh")
        .env("HOME", d.home())
        .env("XDG_CONFIG_HOME", d.home().join(".config"))
        .env("NEXUS_DATA_DIR", elsewhere.path())
        .env_remove("NEXUS_HOST")
        .env_remove("NEXUS_TOKEN")
        .env("SSL_CERT_FILE", &ca)
        .args(["-F", &d.home().join(".ssh/config").display().to_string()])
        .args(["-o", "BatchMode=yes", "nexus-tls", "echo", "ssh-over-wss", "$((6*7))"])
        .stdin(Stdio::null()));
    assert_eq!(out, "ssh-over-wss 42\n");

    // the SDK: wss:// for JSON-RPC and https:// for GET /fs/read
    // SAFETY: set before this test starts any thread (nextest runs each test
    // in a process of its own); the SDK's TLS roots come from it.
    unsafe { std::env::set_var("SSL_CERT_FILE", &ca) };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = nexus_sdk::client::Client::connect(&url, &d.token()).await.expect("wss");
        assert_eq!(c.get("tls").await.expect("get").name, "tls");
        let (bytes, size) = c
            .fs_read_bytes(&nexus_sdk::ReadBytesParams {
                workspace: "tls".into(),
                path: "/tmp/numbers".into(),
                ..Default::default()
            })
            .await
            .expect("https read");
        let expected: String = (1..=200_000).map(|i| format!("{i}\n")).collect();
        assert_eq!(size, expected.len() as u64);
        assert!(bytes == expected.as_bytes(), "{} bytes came back", bytes.len());
    });
}
