//! Everything OpenSSH clients and IDEs use, against the agent, with the real
//! `ssh`, `scp`, `sftp`, `ssh-agent`, `ssh-add`, `rsync` and `git`, on the
//! busybox image (no sftp-server, no shell tools beyond busybox) and the
//! Debian image.

use nexus_e2e::{BUSYBOX, Background, DEBIAN, Daemon, Repo, run, ssh_agent, text};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// OpenSSH client options: the user's key, no host-key checks, no prompts.
fn opts(d: &Daemon) -> Vec<String> {
    d.ssh_options()
}

/// Starts an OpenSSH control master (`ssh -M -N`) to `ws`; the socket path.
fn control_master(d: &Daemon, ws: &serde_json::Value, dir: &Path) -> (PathBuf, Background) {
    let ctl = dir.join("ctl");
    let master = Background(
        Command::new("ssh")
            .args(opts(d))
            .args(["-N", "-o", "ControlMaster=yes", "-o"])
            .arg(format!("ControlPath={}", ctl.display()))
            .args(["-p", &port(ws), &user_at(ws)])
            .spawn()
            .expect("ssh master"),
    );
    wait_until("the control socket", || ctl.exists());
    (ctl, master)
}

fn port(ws: &serde_json::Value) -> String {
    ws["sshPort"].as_u64().expect("sshPort").to_string()
}

fn user_at(ws: &serde_json::Value) -> String {
    format!("{}@127.0.0.1", ws["remoteUser"].as_str().expect("remoteUser"))
}

/// Bytes that compress badly and are the same every run.
fn payload(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// [`nexus_e2e::wait_for`] with this file's deadline, 15 s.
fn wait_until(what: &str, ok: impl FnMut() -> bool) {
    nexus_e2e::wait_for(what, Duration::from_secs(15), ok);
}

/// GET `path` over HTTP/1.0 from 127.0.0.1:`port`; the body.
fn http_get(port: u16, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").expect("request");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("response");
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").expect("headers end") + 4;
    resp.split_off(split)
}

#[test]
fn sftp_and_scp_work_without_an_sftp_server_in_the_image() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "files", BUSYBOX);
    let none = d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "files",
            "--",
            "sh",
            "-c",
            "ls /usr/lib/openssh /usr/libexec 2>/dev/null; echo end",
        ],
    );
    assert_eq!(none, "end\n", "the busybox image must have no sftp-server");

    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big.bin");
    let data = payload(32 << 20);
    std::fs::write(&big, &data).expect("write");
    let back = dir.path().join("back.bin");
    let batch = dir.path().join("batch");
    std::fs::write(
        &batch,
        format!(
            "mkdir d\ncd d\nput {} big.bin\nrename big.bin big2.bin\nsymlink big2.bin link\nchmod 640 big2.bin\nls -l\nget big2.bin {}\nrm link\nmkdir sub\nrmdir sub\n",
            big.display(),
            back.display()
        ),
    )
    .expect("batch");
    let o = run(Command::new("sftp")
        .args(opts(&d))
        .args(["-P", &port(&ws), "-b"])
        .arg(&batch)
        .arg(user_at(&ws)));
    assert!(o.status.success(), "sftp:\n{}", text(&o));
    assert!(
        std::fs::read(&back).expect("back") == data,
        "sftp get returned other bytes"
    );
    // relative paths start in the user's home, as with OpenSSH's sftp-server
    let out = d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "files",
            "--",
            "sh",
            "-c",
            "stat -c %a /root/d/big2.bin; test -e /root/d/link || echo link-gone; test -d /root/d/sub || echo sub-gone",
        ],
    );
    assert_eq!(out, "640\nlink-gone\nsub-gone\n");

    // scp both ways (OpenSSH 9 speaks SFTP for scp)
    let o = run(Command::new("scp")
        .args(opts(&d))
        .args(["-P", &port(&ws)])
        .arg(&big)
        .arg(format!("{}:/tmp/up.bin", user_at(&ws))));
    assert!(o.status.success(), "scp up:\n{}", text(&o));
    let down = dir.path().join("down.bin");
    let o = run(Command::new("scp")
        .args(opts(&d))
        .args(["-P", &port(&ws)])
        .arg(format!("{}:/tmp/up.bin", user_at(&ws)))
        .arg(&down));
    assert!(o.status.success(), "scp down:\n{}", text(&o));
    assert!(std::fs::read(&down).expect("down") == data, "scp returned other bytes");
}

#[test]
fn sftp_runs_with_the_session_users_permissions() {
    let d = Daemon::start_as_user();
    let repo = Repo::new();
    nexus_e2e::chown_to_test_user(repo.path());
    let ws = d.create(&repo, "perms", DEBIAN);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("f.txt"), "x").expect("write");
    let batch = dir.path().join("ok");
    std::fs::write(&batch, format!("put {} mine.txt\n", dir.path().join("f.txt").display())).expect("batch");
    let o = run(Command::new("sftp")
        .args(opts(&d))
        .args(["-P", &port(&ws), "-b"])
        .arg(&batch)
        .arg(user_at(&ws)));
    assert!(o.status.success(), "sftp put:\n{}", text(&o));
    let owner = d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "perms",
            "--",
            "stat",
            "-c",
            "%u",
            "/home/dev/mine.txt",
        ],
    );
    assert_eq!(owner.trim(), nexus_e2e::TEST_USER.1.to_string());
    let denied = dir.path().join("denied");
    std::fs::write(
        &denied,
        format!("put {} /root/nope.txt\n", dir.path().join("f.txt").display()),
    )
    .expect("batch");
    let o = run(Command::new("sftp")
        .args(opts(&d))
        .args(["-P", &port(&ws), "-b"])
        .arg(&denied)
        .arg(user_at(&ws)));
    assert!(!o.status.success(), "dev must not write /root:\n{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("ermission denied"),
        "{}",
        text(&o)
    );
}

#[test]
fn local_and_remote_forwarding() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "fwd", BUSYBOX);
    let data = payload(8 << 20);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("f.bin"), &data).expect("write");
    let o = run(Command::new("scp")
        .args(opts(&d))
        .args(["-P", &port(&ws)])
        .arg(dir.path().join("f.bin"))
        .arg(format!("{}:/srv-f.bin", user_at(&ws))));
    assert!(o.status.success(), "{}", text(&o));
    d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "fwd",
            "--",
            "sh",
            "-c",
            "mkdir -p /srv && mv /srv-f.bin /srv/f.bin && (httpd -p 127.0.0.1:8080 -h /srv &)",
        ],
    );

    // -L: many connections at once, large transfers intact
    let local = nexus_e2e::free_port();
    let _l = Background(
        Command::new("ssh")
            .args(opts(&d))
            .args(["-N", "-o", "ExitOnForwardFailure=yes", "-p", &port(&ws), "-L"])
            .arg(format!("{local}:127.0.0.1:8080"))
            .arg(user_at(&ws))
            .spawn()
            .expect("ssh -L"),
    );
    wait_until("the -L listener", || TcpStream::connect(("127.0.0.1", local)).is_ok());
    let fetches: Vec<_> = (0..10)
        .map(|_| std::thread::spawn(move || http_get(local, "/f.bin")))
        .collect();
    for f in fetches {
        assert!(f.join().expect("fetch") == data, "a -L transfer came back corrupted");
    }

    // -R 0: the server picks the port and the client reports it
    let host = TcpListener::bind("127.0.0.1:0").expect("bind");
    let host_port = host.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in host.incoming().flatten().take(2) {
            let mut s = s;
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nfrom-host\r\n");
        }
    });
    let mut r = Background(
        Command::new("ssh")
            // ssh keeps the first value of an option: INFO before opts' ERROR
            .args(["-o", "LogLevel=INFO"])
            .args(opts(&d))
            .args(["-N", "-o", "ExitOnForwardFailure=yes", "-p", &port(&ws), "-R"])
            .arg(format!("0:127.0.0.1:{host_port}"))
            .arg(user_at(&ws))
            .stderr(Stdio::piped())
            .spawn()
            .expect("ssh -R"),
    );
    let mut stderr = std::io::BufReader::new(r.0.stderr.take().expect("stderr"));
    let mut line = String::new();
    let allocated: u16 = loop {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut stderr, &mut line).expect("read") > 0,
            "ssh -R said no port"
        );
        if let Some(rest) = line.strip_prefix("Allocated port ") {
            break rest
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
                .expect("port number");
        }
    };
    let got = d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "fwd",
            "--",
            "wget",
            "-qO-",
            &format!("http://127.0.0.1:{allocated}/"),
        ],
    );
    assert_eq!(got, "from-host\r\n");
    // cancelled when the client asks (cancel-tcpip-forward through a control master)
    let ctl_dir = tempfile::tempdir().expect("tempdir");
    let (ctl, _master) = control_master(&d, &ws, ctl_dir.path());
    let listening = |p: u16| {
        let hex = format!(":{p:04X} ");
        let tcp = d.cli_ok(repo.path(), &["workspace", "exec", "fwd", "--", "cat", "/proc/net/tcp"]);
        tcp.lines()
            .any(|l| l.contains(&hex) && l.split_whitespace().nth(3) == Some("0A"))
    };
    let fixed = 40777u16;
    let spec = format!("{fixed}:127.0.0.1:{host_port}");
    let mux = |op: &str| {
        run(Command::new("ssh")
            .args(["-F", "/dev/null", "-o"])
            .arg(format!("ControlPath={}", ctl.display()))
            .args(["-O", op, "-R", &spec, "-p", &port(&ws), &user_at(&ws)]))
    };
    let o = mux("forward");
    assert!(o.status.success(), "-O forward:\n{}", text(&o));
    wait_until("the requested forward", || listening(fixed));
    let o = mux("cancel");
    assert!(o.status.success(), "-O cancel:\n{}", text(&o));
    wait_until("the cancelled forward to close", || !listening(fixed));

    // cancelled when the client goes away
    drop(r);
    let hex = format!(":{allocated:04X} ");
    wait_until("the -R listener to close", || {
        let tcp = d.cli_ok(repo.path(), &["workspace", "exec", "fwd", "--", "cat", "/proc/net/tcp"]);
        !tcp.lines()
            .any(|l| l.contains(&hex) && l.split_whitespace().nth(3) == Some("0A"))
    });
}

#[test]
fn agent_forwarding_reaches_another_workspace_and_its_socket_forwards() {
    let d = Daemon::start();
    let repo = Repo::new();
    let a = d.create(&repo, "agent-a", DEBIAN);
    d.create(&repo, "agent-b", DEBIAN);
    let dir = tempfile::tempdir().expect("tempdir");
    let (sock, _agent) = ssh_agent(dir.path());
    let o = run(Command::new("ssh-add").arg(d.key()).env("SSH_AUTH_SOCK", &sock));
    assert!(o.status.success(), "ssh-add:\n{}", text(&o));
    let fingerprint =
        String::from_utf8_lossy(&run(Command::new("ssh-add").arg("-l").env("SSH_AUTH_SOCK", &sock)).stdout)
            .trim()
            .to_string();

    let ssh_a = |extra: &[&str], command: &str| {
        // the agent, not a key file: no -i
        run(Command::new("ssh")
            .args(nexus_e2e::ssh_base_options())
            .args(extra)
            .args(["-p", &port(&a), &user_at(&a), command])
            .env("SSH_AUTH_SOCK", &sock))
    };
    let o = ssh_a(
        &["-A"],
        "echo $SSH_AUTH_SOCK; stat -c '%a %u' $(dirname $SSH_AUTH_SOCK) $SSH_AUTH_SOCK; ssh-add -l",
    );
    assert!(o.status.success(), "ssh -A:\n{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "/tmp/nexus-ssh-agent-0/agent.sock");
    assert_eq!(&lines[1..3], ["700 0", "600 0"], "{out}");
    assert_eq!(lines[3], fingerprint);
    // the same path in every session of the user
    let o = ssh_a(&["-A"], "echo $SSH_AUTH_SOCK");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "/tmp/nexus-ssh-agent-0/agent.sock\n"
    );

    // from A to B with the forwarded key
    let b_ip = String::from_utf8_lossy(
        &run(Command::new("docker").args([
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &format!(
                "nexus-agent-b-{}",
                &d.cli_ok(repo.path(), &["workspace", "show", "agent-b", "--json"])
                    .split("\"id\": \"")
                    .nth(1)
                    .expect("id")[..8]
            ),
        ]))
        .stdout,
    )
    .trim()
    .to_string();
    let o = ssh_a(
        &["-A"],
        &format!(
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p 2222 root@{b_ip} hostname"
        ),
    );
    assert!(o.status.success(), "A to B:\n{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "agent-b\n");

    // direct-streamlocal: -L to the forwarded agent's Unix socket, from the host
    let _holder = Background(
        Command::new("ssh")
            .args(nexus_e2e::ssh_base_options())
            // agent forwarding is asked per session channel, so not with -N
            .args(["-A", "-p", &port(&a), &user_at(&a), "sleep 60"])
            .env("SSH_AUTH_SOCK", &sock)
            .spawn()
            .expect("ssh -A -N"),
    );
    wait_until("the holder's forwarded agent", || {
        d.cli(
            repo.path(),
            &[
                "workspace",
                "exec",
                "agent-a",
                "--",
                "sh",
                "-c",
                "SSH_AUTH_SOCK=/tmp/nexus-ssh-agent-0/agent.sock ssh-add -l",
            ],
        )
        .status
        .success()
    });
    let local = dir.path().join("local.sock");
    let _l = Background(
        Command::new("ssh")
            .args(opts(&d))
            .args(["-N", "-o", "ExitOnForwardFailure=yes", "-p", &port(&a), "-L"])
            .arg(format!("{}:/tmp/nexus-ssh-agent-0/agent.sock", local.display()))
            .arg(user_at(&a))
            .spawn()
            .expect("ssh -L socket"),
    );
    wait_until("the -L socket", || local.exists());
    let o = run(Command::new("ssh-add").arg("-l").env("SSH_AUTH_SOCK", &local));
    assert!(o.status.success(), "ssh-add through -L socket:\n{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), fingerprint);
}

#[test]
fn rsync_and_git_over_ssh() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "tools", DEBIAN);
    let ssh_cmd = format!("ssh {} -p {}", opts(&d).join(" "), port(&ws));
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("nested")).expect("mkdir");
    std::fs::write(src.join("a.txt"), "alpha\n").expect("write");
    std::fs::write(src.join("nested/b.bin"), payload(1 << 20)).expect("write");
    let o = run(Command::new("rsync")
        .args(["-az", "-e", &ssh_cmd])
        .arg(format!("{}/", src.display()))
        .arg(format!("{}:/tmp/synced/", user_at(&ws))));
    assert!(o.status.success(), "rsync up:\n{}", text(&o));
    let back = dir.path().join("back");
    let o = run(Command::new("rsync")
        .args(["-az", "-e", &ssh_cmd])
        .arg(format!("{}:/tmp/synced/", user_at(&ws)))
        .arg(format!("{}/", back.display())));
    assert!(o.status.success(), "rsync down:\n{}", text(&o));
    assert_eq!(std::fs::read(back.join("a.txt")).expect("a"), b"alpha\n");
    assert!(std::fs::read(back.join("nested/b.bin")).expect("b") == payload(1 << 20));

    // git@-style clone from and push to a bare repository in the workspace
    d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "tools",
            "--",
            "git",
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            "/srv/repo.git",
        ],
    );
    let clone = dir.path().join("clone");
    let git = |dir: &Path, args: &[&str]| {
        run(Command::new("git")
            .args([
                "-c",
                "user.name=T",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(dir)
            .env("GIT_SSH_COMMAND", &ssh_cmd))
    };
    let o = git(
        dir.path(),
        &["clone", "-q", &format!("{}:/srv/repo.git", user_at(&ws)), "clone"],
    );
    assert!(o.status.success(), "git clone:\n{}", text(&o));
    std::fs::write(clone.join("f.txt"), "pushed\n").expect("write");
    assert!(git(&clone, &["add", "f.txt"]).status.success());
    assert!(git(&clone, &["commit", "-qm", "over-ssh"]).status.success());
    let o = git(&clone, &["push", "-q", "origin", "HEAD:main"]);
    assert!(o.status.success(), "git push:\n{}", text(&o));
    let log = d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "tools",
            "--",
            "git",
            "--git-dir=/srv/repo.git",
            "log",
            "--oneline",
            "main",
        ],
    );
    assert!(log.contains("over-ssh"), "{log}");
}

#[test]
fn sessions_many_channels_many_connections_and_a_gibibyte() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "load", BUSYBOX);

    // /etc/environment is part of the login environment; stdin EOF ends cat
    d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "load",
            "--",
            "sh",
            "-c",
            "echo 'FROM_ETC=\"yes\"' >> /etc/environment",
        ],
    );
    let mut c = d
        .ssh_command(&ws, &[])
        .arg("echo $FROM_ETC; cat; echo done")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ssh");
    c.stdin.take().expect("stdin").write_all(b"hi\n").expect("write");
    let out = c.wait_with_output().expect("ssh");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "yes\nhi\ndone\n");

    // what VS Code Remote-SSH and others do: the user's shell reading a script on stdin
    let mut c = d
        .ssh_command(&ws, &[])
        .arg("sh")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ssh sh");
    c.stdin
        .take()
        .expect("stdin")
        .write_all(b"echo from-script\nuname -s\nexit 0\n")
        .expect("write");
    let out = c.wait_with_output().expect("ssh");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from-script\nLinux\n");

    // 20 channels on one connection (OpenSSH connection sharing)
    let dir = tempfile::tempdir().expect("tempdir");
    let (control, _master) = control_master(&d, &ws, dir.path());
    let channels: Vec<_> = (0..20)
        .map(|i| {
            let control = control.clone();
            let (p, u) = (port(&ws), user_at(&ws));
            std::thread::spawn(move || {
                run(Command::new("ssh")
                    .args(["-F", "/dev/null", "-o", "ControlMaster=no", "-o"])
                    .arg(format!("ControlPath={}", control.display()))
                    .args(["-p", &p, &u, &format!("echo channel-{i}")]))
            })
        })
        .collect();
    for (i, t) in channels.into_iter().enumerate() {
        let o = t.join().expect("thread");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            format!("channel-{i}\n"),
            "{}",
            text(&o)
        );
    }

    // 50 connections at once
    let conns: Vec<_> = (0..50)
        .map(|i| {
            let mut cmd = d.ssh_command(&ws, &[]);
            cmd.arg(format!("echo conn-{i}"));
            std::thread::spawn(move || run(&mut cmd))
        })
        .collect();
    for (i, t) in conns.into_iter().enumerate() {
        let o = t.join().expect("thread");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            format!("conn-{i}\n"),
            "{}",
            text(&o)
        );
    }

    // 1 GiB through cat and back
    let mut c = d
        .ssh_command(&ws, &[])
        .arg("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ssh cat");
    let mut stdin = c.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let chunk = vec![0xa5u8; 1 << 20];
        for _ in 0..1024 {
            stdin.write_all(&chunk).expect("write");
        }
    });
    let mut stdout = c.stdout.take().expect("stdout");
    let (mut total, mut buf, mut intact) = (0u64, vec![0u8; 1 << 16], true);
    loop {
        let n = stdout.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        intact &= buf[..n].iter().all(|b| *b == 0xa5);
        total += n as u64;
    }
    writer.join().expect("writer");
    assert!(c.wait().expect("ssh").success());
    assert_eq!(total, 1 << 30);
    assert!(intact, "bytes changed on the way");
}

/// Rewrites the user's line of the workspace's authorized_keys with `options`.
fn with_options(d: &Daemon, repo: &Repo, name: &str, options: &str) {
    let key = std::fs::read_to_string(d.home().join(".ssh/id_ed25519.pub")).expect("pub");
    let key = key.trim();
    let script = format!(
        "grep -v -F '{key}' /.nexus/authorized_keys > /tmp/ak; echo '{options} {key}' >> /tmp/ak; cat /tmp/ak > /.nexus/authorized_keys"
    );
    d.cli_ok(repo.path(), &["workspace", "exec", name, "--", "sh", "-c", &script]);
}

#[test]
fn authorized_keys_options_are_honoured_and_failures_never_lock_the_owner_out() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "locked", BUSYBOX);

    // only public keys: password, keyboard-interactive and none are refused
    let o = run(Command::new("ssh")
        .args(nexus_e2e::ssh_base_options())
        .args([
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password,keyboard-interactive,none",
        ])
        .args(["-p", &port(&ws), &user_at(&ws), "true"]));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Permission denied (publickey)"),
        "{}",
        text(&o)
    );
    // a user that does not exist in the container is refused
    let o = run(d.ssh_command(&ws, &[]).arg("true"));
    assert!(o.status.success());
    let o = run(Command::new("ssh")
        .args(opts(&d))
        .args(["-p", &port(&ws), "nobody-here@127.0.0.1", "true"]));
    assert!(!o.status.success(), "an unknown user must be refused:\n{}", text(&o));

    with_options(&d, &repo, "locked", "no-pty");
    let o = run(d.ssh_command(&ws, &["-tt"]).arg("echo in").stdin(Stdio::null()));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("PTY allocation request failed"),
        "{}",
        text(&o)
    );

    with_options(&d, &repo, "locked", "restrict");
    let o = run(d
        .ssh_command(&ws, &["-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9"])
        .arg("true"));
    assert!(!o.status.success(), "restrict must refuse -R:\n{}", text(&o));
    // a real agent, so OpenSSH asks for forwarding and restrict must refuse it
    let agent_dir = tempfile::tempdir().expect("tempdir");
    let (sock, _agent) = ssh_agent(agent_dir.path());
    let o = run(d
        .ssh_command(&ws, &["-v", "-A", "-o", "ForwardAgent=yes"])
        .arg("echo \"[$SSH_AUTH_SOCK]\"")
        .env("SSH_AUTH_SOCK", &sock));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Requesting authentication agent forwarding"),
        "the client must ask for agent forwarding:\n{}",
        text(&o)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "[]\n", "{}", text(&o));

    with_options(&d, &repo, "locked", "from=\"10.9.9.9\"");
    let o = d.ssh(&ws, "true");
    assert!(!o.status.success(), "from= must refuse other addresses:\n{}", text(&o));
    with_options(&d, &repo, "locked", "from=\"10.9.9.9,*\"");
    assert!(d.ssh(&ws, "true").status.success());

    // 30 logins with a key that is not authorized, at once as a flood would
    // come: each is refused, and then the right key gets in at once
    let dir = tempfile::tempdir().expect("tempdir");
    let stranger = dir.path().join("stranger");
    nexus_e2e::keygen(&stranger);
    let attempts: Vec<_> = (0..30)
        .map(|_| {
            ssh_with_key_command(&ws, &stranger)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("ssh")
        })
        .collect();
    for mut attempt in attempts {
        assert!(!attempt.wait().expect("ssh").success(), "a stranger's key got in");
    }
    let started = Instant::now();
    let o = d.ssh(&ws, "true");
    assert!(
        o.status.success(),
        "30 failures of another key must not keep the right one out:\n{}",
        text(&o)
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the right key waited {:?} after others failed",
        started.elapsed()
    );
    let logs = d.cli(repo.path(), &["workspace", "logs", "locked"]);
    let logs = String::from_utf8_lossy(&logs.stderr);
    let fingerprint = run(Command::new("ssh-keygen").arg("-lf").arg(&stranger));
    let fingerprint = String::from_utf8_lossy(&fingerprint.stdout);
    let fingerprint = fingerprint.split_whitespace().nth(1).expect("fingerprint");
    assert!(
        logs.contains(&format!("with key {fingerprint} ("))
            && logs.contains(" failures from this address and 30 with this key in the last minute"),
        "the 30th failure must be logged with the key and the counts:\n{logs}"
    );
}

#[test]
fn connections_that_never_log_in_cannot_keep_the_owner_out() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "flooded", BUSYBOX);
    let addr = format!("127.0.0.1:{}", port(&ws));
    // 500 connections that say nothing, held open
    let silent: Vec<_> = (0..500)
        .map(|_| std::net::TcpStream::connect(&addr).expect("connect"))
        .collect();
    let started = Instant::now();
    let o = run(d
        .ssh_command(&ws, &["-vv"])
        .arg("grep VmRSS /proc/1/status; ls /proc/1/fd | wc -l"));
    let took = started.elapsed();
    let logs = d.cli(repo.path(), &["workspace", "logs", "flooded"]);
    let logs = String::from_utf8_lossy(&logs.stderr).to_string();
    assert!(o.status.success(), "{}\nagent log:\n{logs}", text(&o));
    assert!(
        took < Duration::from_secs(3),
        "the login took {took:?} behind 500 silent connections"
    );
    // at most MaxStartups (100) of them are held, each with two descriptors
    // (the session's and the one that ends it): memory and descriptors stay bounded
    let out = String::from_utf8_lossy(&o.stdout);
    let mut lines = out.lines();
    let rss_kib: u64 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .expect("VmRSS");
    let fds: usize = lines.next().and_then(|l| l.trim().parse().ok()).expect("fd count");
    eprintln!("behind 500 silent connections: login {took:?}, agent RSS {rss_kib} KiB, {fds} descriptors");
    assert!(
        rss_kib < 64 * 1024,
        "the agent holds {rss_kib} KiB behind 500 silent connections"
    );
    assert!(
        fds < 250,
        "the agent holds {fds} descriptors behind 500 silent connections"
    );
    assert!(
        logs.contains("connections have not logged in: ended one to admit"),
        "{logs}"
    );
    drop(silent);
}

/// `ssh -i KEY` with only that key offered, running `true`.
fn ssh_with_key(ws: &serde_json::Value, key: &Path) -> std::process::Output {
    run(&mut ssh_with_key_command(ws, key))
}

/// The command of [`ssh_with_key`], not yet run.
fn ssh_with_key_command(ws: &serde_json::Value, key: &Path) -> Command {
    let mut c = Command::new("ssh");
    c.args(nexus_e2e::ssh_base_options())
        .args(["-o", "IdentitiesOnly=yes", "-i"])
        .arg(key)
        .args(["-p", &port(ws), &user_at(ws), "true"]);
    c
}

#[test]
fn every_pub_key_is_authorized_and_ssh_key_picks_one() {
    let d = Daemon::start();
    let repo = Repo::new();
    // two keys in ~/.ssh: both get in
    let second = d.home().join(".ssh/id_second");
    nexus_e2e::keygen(&second);
    let ws = d.create(&repo, "twokeys", BUSYBOX);
    for key in [d.key(), second.clone()] {
        let o = ssh_with_key(&ws, &key);
        assert!(o.status.success(), "{}: {}", key.display(), text(&o));
    }

    // --ssh-key on create: that key alone
    let dir = tempfile::tempdir().expect("tempdir");
    let other = dir.path().join("other");
    nexus_e2e::keygen(&other);
    let pub_key = format!("{}.pub", other.display());
    let out = d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "create",
            "onekey",
            "--image",
            BUSYBOX,
            "--ssh-key",
            &pub_key,
            "--json",
        ],
    );
    let one: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(ssh_with_key(&one, &other).status.success());
    let o = ssh_with_key(&one, &d.key());
    assert!(!o.status.success(), "a key not given must be refused:\n{}", text(&o));

    // --ssh-key on `workspace ssh` (the private key's path) and on ssh-config
    let o = d.cli(
        repo.path(),
        &[
            "workspace",
            "ssh",
            "onekey",
            "--ssh-key",
            &other.display().to_string(),
            "--",
            "echo",
            "via-flag",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "via-flag\n", "{}", text(&o));
    d.cli_ok(repo.path(), &["ssh-config", "--ssh-key", &other.display().to_string()]);
    let config = std::fs::read_to_string(d.home().join(".ssh/nexus/config")).expect("config");
    assert!(
        config.contains(&format!("IdentityFile \"{}\"", other.display())) && !config.contains("id_second"),
        "{config}"
    );
}

#[test]
fn x11_socket_remote_forwards_and_unknown_subsystems_are_refused() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "refusals", BUSYBOX);
    // x11-req (docs/ssh.md): refused, and the command still runs
    let o = run(d
        .ssh_command(&ws, &["-X", "-o", "ForwardX11=yes", "-o", "LogLevel=INFO"])
        .arg("echo ran")
        .env("DISPLAY", ":0"));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ran\n", "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("X11 forwarding request failed"),
        "{}",
        text(&o)
    );
    // streamlocal-forward@openssh.com (ssh -R to a Unix socket): refused
    let o = run(d
        .ssh_command(
            &ws,
            &["-o", "ExitOnForwardFailure=yes", "-R", "/tmp/nexus-r.sock:127.0.0.1:9"],
        )
        .arg("true"));
    assert!(
        !o.status.success(),
        "a remote socket forward must be refused:\n{}",
        text(&o)
    );
    // a subsystem other than sftp: refused
    let o = run(d.ssh_command(&ws, &["-s"]).arg("no-such-subsystem"));
    assert!(
        !o.status.success(),
        "an unknown subsystem must be refused:\n{}",
        text(&o)
    );
    // and the workspace still serves
    assert!(d.ssh(&ws, "true").status.success());
}

#[test]
fn forwarding_options_their_reenabling_after_restrict_and_from_patterns() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "options", BUSYBOX);
    let dir = tempfile::tempdir().expect("tempdir");
    let (sock, _agent) = ssh_agent(dir.path());
    // the session's SSH_AUTH_SOCK with agent forwarding asked for
    let forwarded_agent = || {
        let o = run(d
            .ssh_command(&ws, &["-A", "-o", "ForwardAgent=yes"])
            .arg("echo \"[$SSH_AUTH_SOCK]\"")
            .env("SSH_AUTH_SOCK", &sock));
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).trim() != "[]"
    };
    // whether a remote forward (tcpip-forward) is granted
    let remote_forward = || {
        run(d
            .ssh_command(&ws, &["-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9"])
            .arg("true"))
        .status
        .success()
    };
    // whether a stdio forward (direct-tcpip) to the agent's own port opens
    let direct_tcpip = || {
        let o = run(d
            .ssh_command(&ws, &["-W", "127.0.0.1:2222"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped()));
        String::from_utf8_lossy(&o.stdout).starts_with("SSH-2.0-")
    };
    assert!(
        forwarded_agent() && remote_forward() && direct_tcpip(),
        "all allowed by default"
    );

    with_options(&d, &repo, "options", "no-agent-forwarding");
    assert!(!forwarded_agent(), "no-agent-forwarding must refuse -A");
    assert!(remote_forward(), "no-agent-forwarding leaves port forwarding");

    with_options(&d, &repo, "options", "no-port-forwarding");
    assert!(!remote_forward(), "no-port-forwarding must refuse -R");
    assert!(!direct_tcpip(), "no-port-forwarding must refuse -W");
    assert!(forwarded_agent(), "no-port-forwarding leaves agent forwarding");

    // restrict turns everything off; the options after it turn one back on
    with_options(&d, &repo, "options", "restrict,port-forwarding");
    assert!(remote_forward() && direct_tcpip() && !forwarded_agent());
    with_options(&d, &repo, "options", "restrict,agent-forwarding");
    assert!(forwarded_agent() && !remote_forward());

    // from=: CIDR and negation (the client is 127.0.0.1 here, through the
    // relay; the patterns are chosen to hold for any IPv4 address)
    for (from, allowed) in [
        ("0.0.0.0/0", true),
        ("10.255.255.255/32", false),
        ("!0.0.0.0/0,*", false),
        ("!10.255.255.255,*", true),
    ] {
        with_options(&d, &repo, "options", &format!("from=\"{from}\""));
        let o = d.ssh(&ws, "true");
        assert_eq!(o.status.success(), allowed, "from=\"{from}\":\n{}", text(&o));
    }
}

#[test]
fn a_client_that_stops_answering_is_dropped() {
    // asks after 1 s of silence, drops after 3 unanswered ones (docs/ssh.md)
    let d = Daemon::start_env(&[("NEXUS_CLIENT_ALIVE_INTERVAL", "1")]);
    let repo = Repo::new();
    let ws = d.create(&repo, "alive", BUSYBOX);
    let mut client = d
        .ssh_command(&ws, &["-tt"])
        .arg("exec sleep 4242")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh");
    let sleeping = || {
        let o = d.cli(repo.path(), &["workspace", "exec", "alive", "--", "ps"]);
        String::from_utf8_lossy(&o.stdout).contains("sleep 4242")
    };
    nexus_e2e::wait_for("the session's process", Duration::from_secs(20), sleeping);
    // an answering client that says nothing stays, past several intervals
    let quiet = Instant::now();
    while quiet.elapsed() < Duration::from_secs(5) {
        assert!(client.try_wait().expect("ssh").is_none(), "a quiet client was dropped");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(sleeping(), "a quiet client's session must stay");
    // a client that stops answering (as a dead network would) is dropped, and its session hung up
    let pid = client.id().to_string();
    assert!(run(Command::new("kill").args(["-STOP", &pid])).status.success());
    nexus_e2e::wait_for("the dead client to be dropped", Duration::from_secs(20), || !sleeping());
    let _ = run(Command::new("kill").args(["-CONT", &pid]));
    let _ = client.kill();
    let _ = client.wait();
}

/// The agent's log (the container's standard error) so far.
fn agent_log(ws: &serde_json::Value) -> String {
    let filter = format!("label=dev.nexus.workspace={}", ws["id"].as_str().expect("id"));
    let id = nexus_e2e::docker_ok(&["ps", "-q", "--filter", &filter]);
    text(&run(Command::new("docker").args(["logs", id.trim()])))
}

#[test]
fn the_agent_sees_each_clients_own_address() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "addresses", BUSYBOX);
    // `ssh -b` picks the client's source address on the loopback range
    let from = |address: &str, key: Option<&Path>| {
        let mut c = Command::new("ssh");
        match key {
            Some(k) => c.args(nexus_e2e::ssh_base_options()).arg("-i").arg(k),
            None => c.args(opts(&d)),
        };
        run(c
            .args(["-b", address, "-p", &port(&ws), &user_at(&ws), "echo in"])
            .stdin(Stdio::null()))
    };

    with_options(&d, &repo, "addresses", "from=\"127.0.0.2\"");
    let o = from("127.0.0.2", None);
    assert!(
        o.status.success(),
        "from=\"127.0.0.2\" must let 127.0.0.2 in:\n{}",
        text(&o)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "in\n");
    let o = from("127.0.0.3", None);
    assert!(
        !o.status.success(),
        "from=\"127.0.0.2\" must keep 127.0.0.3 out:\n{}",
        text(&o)
    );
    let log = agent_log(&ws);
    assert!(
        log.contains("from 127.0.0.3: not in from=\"127.0.0.2\""),
        "the refusal must name the real address:\n{log}"
    );

    // a key that is not authorized, from 127.0.0.3: its failure is logged with that address
    let dir = tempfile::tempdir().expect("tempdir");
    let stranger = dir.path().join("stranger");
    nexus_e2e::keygen(&stranger);
    assert!(!from("127.0.0.3", Some(&stranger)).status.success());
    let log = agent_log(&ws);
    assert!(
        log.lines()
            .any(|l| l.contains("failed login as") && l.contains("from 127.0.0.3 port")),
        "the failed login must name the real address:\n{log}"
    );
    assert!(
        !log.contains("172.17.0.1"),
        "no client may appear as Docker's gateway:\n{log}"
    );
}

#[test]
fn the_relay_socket_drops_what_the_relay_did_not_send() {
    use std::os::unix::net::UnixStream;
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "forged", BUSYBOX);
    let socket = d
        .data_dir()
        .join("run")
        .join(ws["id"].as_str().expect("id"))
        .join("ssh.sock");
    // nothing but the agent's answer (its banner, or end of file) within 15 s
    let answer = |bytes: &[u8]| {
        let mut s = UnixStream::connect(&socket).expect("the relay socket");
        s.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
        s.write_all(bytes).expect("write");
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got
    };
    // PROXY protocol v2 (HAProxy's spec, 2.2): TCP4 127.0.0.2 -> 127.0.0.1
    // with the secret TLV, the secret all zeros: not this workspace's
    let mut forged = b"\r\n\r\n\0\r\nQUIT\n\x21\x11".to_vec();
    forged.extend_from_slice(&47u16.to_be_bytes());
    forged.extend_from_slice(&[127, 0, 0, 2, 127, 0, 0, 1]);
    forged.extend_from_slice(&40000u16.to_be_bytes());
    forged.extend_from_slice(&22u16.to_be_bytes());
    forged.push(nexus_sdk::relay::SECRET_TLV);
    forged.extend_from_slice(&32u16.to_be_bytes());
    forged.extend_from_slice(&[0u8; 32]);
    forged.extend_from_slice(b"SSH-2.0-OpenSSH_9.2\r\n");
    assert_eq!(
        answer(&forged),
        b"",
        "a header with another secret must be dropped unanswered"
    );
    // SSH with no header at all
    assert_eq!(
        answer(b"SSH-2.0-OpenSSH_9.2\r\n"),
        b"",
        "SSH without a header must be dropped unanswered"
    );
    let log = agent_log(&ws);
    assert!(
        log.contains("does not carry this workspace's relay secret") && log.contains("not a PROXY protocol v2 header"),
        "both drops must be logged:\n{log}"
    );
    // the relay itself still gets the owner in
    assert!(d.ssh(&ws, "true").status.success());
}
