//! The agent as users meet it, on the busybox image: an interactive login
//! shell in a real terminal (tmux) with TERM and window size, resize, exit
//! signals, env requests, stdin, orphan reaping as PID 1, SIGTERM passed on.

use nexus_e2e::{BUSYBOX, Daemon, Repo, run, sh, text};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A tmux server of this test only, stopped by its socket name on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&run(self.cmd().args(["capture-pane", "-p", "-t", "t"])).stdout).into_owned()
    }

    /// Waits until the screen contains `needle`; returns the screen.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} never appeared; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&self, line: &str) {
        let o = run(self.cmd().args(["send-keys", "-t", "t", "-l", line]));
        assert!(o.status.success(), "{}", text(&o));
        run(self.cmd().args(["send-keys", "-t", "t", "Enter"]));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

#[test]
fn interactive_login_shell_with_terminal_size_and_resize() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "term", BUSYBOX);
    let tmux = Tmux {
        socket: format!("nexus-e2e-{}", std::process::id()),
    };
    let nexus = nexus_e2e::bin("nexus");
    let o = run(tmux
        .cmd()
        .args(["new-session", "-d", "-s", "t", "-x", "100", "-y", "40"])
        .arg(format!("{} workspace ssh term", nexus.display()))
        .env("HOME", d.home())
        .env("NEXUS_HOST", &d.address)
        .env("NEXUS_DATA_DIR", d.data_dir())
        .current_dir(repo.path()));
    assert!(o.status.success(), "tmux:\n{}", text(&o));
    tmux.send("echo \"[$(pwd)] [$TERM] [$(stty size)] [$0]\"");
    let folder = ws["workspaceFolder"].as_str().expect("folder");
    let screen = tmux.wait_for(&format!("[{folder}] ["));
    let term = String::from_utf8_lossy(&run(tmux.cmd().args(["show", "-gv", "default-terminal"])).stdout)
        .trim()
        .to_string();
    assert!(
        screen.contains(&format!("[{term}] [40 100] [-sh]")),
        "TERM, size or login shell wrong:\n{screen}"
    );

    // window-change reaches the remote terminal
    let o = run(tmux.cmd().args(["resize-window", "-t", "t", "-x", "120", "-y", "50"]));
    assert!(o.status.success(), "{}", text(&o));
    // the shell waits for the new size itself: no guess at how long it takes
    tmux.send("until [ \"$(stty size)\" = '50 120' ]; do sleep 0.05; done; echo \"[resized $(stty size)]\"");
    tmux.wait_for("[resized 50 120]");

    // Ctrl-C reaches the foreground process (through the pty's line discipline)
    tmux.send("sleep 30; echo not-interrupted");
    nexus_e2e::wait_for("sleep 30 to run", Duration::from_secs(20), || {
        d.cli(
            repo.path(),
            &[
                "workspace",
                "exec",
                "term",
                "--",
                "sh",
                "-c",
                "ps | grep -q '[s]leep 30'",
            ],
        )
        .status
        .success()
    });
    let started = Instant::now();
    run(tmux.cmd().args(["send-keys", "-t", "t", "C-c"]));
    tmux.send("echo \"[after ctrl-c $?]\"");
    let screen = tmux.wait_for("[after ctrl-c 130]");
    assert!(
        started.elapsed() < Duration::from_secs(10) && !screen.lines().any(|l| l.trim() == "not-interrupted"),
        "{screen}"
    );
    tmux.send("exit");
}

#[test]
fn exit_signals_env_requests_and_stdin() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "sessions", BUSYBOX);

    // a signal death is reported as exit-signal: 128+N through the daemon
    let o = d.cli(
        repo.path(),
        &["workspace", "exec", "sessions", "--", "sh", "-c", "kill -TERM $$"],
    );
    assert_eq!(o.status.code(), Some(143), "{}", text(&o));
    // a signal russh has no variant for keeps its number through agent and daemon
    let o = d.cli(
        repo.path(),
        &["workspace", "exec", "sessions", "--", "sh", "-c", "kill -USR2 $$"],
    );
    assert_eq!(o.status.code(), Some(140), "{}", text(&o));
    // and OpenSSH's ssh exits 255 on an exit-signal
    let o = d.ssh(&ws, "kill -KILL $$");
    assert_eq!(o.status.code(), Some(255), "{}", text(&o));

    // env requests: LANG and LC_* accepted (OpenSSH's default AcceptEnv), others refused
    let o = run(d
        .ssh_command(&ws, &["-o", "SetEnv=LANG=C.UTF-8 LC_TIME=C FOO=bar"])
        .arg("echo \"[$LANG] [$LC_TIME] [$FOO]\""));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "[C.UTF-8] [C] []\n");

    // stdin reaches the command and its EOF ends it; binary data intact
    let data: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
    let mut child = d
        .ssh_command(&ws, &[])
        .arg("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ssh");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = {
        let data = data.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            stdin.write_all(&data).expect("write");
        })
    };
    let out = child.wait_with_output().expect("ssh output");
    writer.join().expect("writer");
    assert!(out.status.success());
    assert!(
        out.stdout == data,
        "cat returned {} bytes, not the 1 MiB sent intact",
        out.stdout.len()
    );
}

/// Processes in state Z (zombie) in the container, from /proc/*/stat.
fn zombies(d: &Daemon, repo: &Repo, name: &str) -> Vec<String> {
    let out = d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            name,
            "--",
            "sh",
            "-c",
            "cat /proc/[0-9]*/stat 2>/dev/null",
        ],
    );
    out.lines()
        .filter(|l| l.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')))
        .map(str::to_string)
        .collect()
}

#[test]
fn pid1_reaps_orphans_and_passes_sigterm_on() {
    let d = Daemon::start();
    let repo = Repo::new();
    let ws = d.create(&repo, "init", BUSYBOX);
    // orphans: their parent exits at once, so they re-parent to the agent;
    // each leaves a file as it exits
    for _ in 0..5 {
        sh(&d, &repo, "init", "(sleep 0.1; touch /tmp/orphan-$$) &");
    }
    let exited = || sh(&d, &repo, "init", "ls /tmp | grep -c orphan-").trim() == "5";
    nexus_e2e::wait_for("the orphans to exit", Duration::from_secs(20), exited);
    // once they exited, they are zombies until reaped: the agent must reap them
    nexus_e2e::wait_for("the agent to reap the orphans", Duration::from_secs(10), || {
        zombies(&d, &repo, "init").is_empty()
    });

    // a background process that traps SIGTERM gets it when the workspace stops
    sh(
        &d,
        &repo,
        "init",
        "sh -c 'trap \"echo got-term > /root/term.txt; exit 0\" TERM; touch /root/trap-ready; while :; do sleep 0.05; done' >/dev/null 2>&1 &",
    );
    nexus_e2e::wait_for("the trap to be installed", Duration::from_secs(20), || {
        d.cli(
            repo.path(),
            &["workspace", "exec", "init", "--", "test", "-f", "/root/trap-ready"],
        )
        .status
        .success()
    });
    d.cli_ok(repo.path(), &["workspace", "stop", "init"]);
    let container = format!("nexus-init-{}", &ws["id"].as_str().expect("id")[..8]);
    let code = run(Command::new("docker").args(["inspect", "-f", "{{.State.ExitCode}}", &container]));
    assert_eq!(
        String::from_utf8_lossy(&code.stdout).trim(),
        "0",
        "the agent must exit cleanly on SIGTERM"
    );
    d.cli_ok(repo.path(), &["workspace", "start", "init"]);
    let out = d.cli_ok(
        repo.path(),
        &["workspace", "exec", "init", "--", "cat", "/root/term.txt"],
    );
    assert_eq!(out, "got-term\n", "SIGTERM must reach the container's processes");
}
