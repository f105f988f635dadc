//! `exec.stream` steered by `exec.write`, `exec.closeStdin`, `exec.resize`,
//! `exec.signal` and `exec.kill`; `exec.run` as another user; and a
//! subscriber that stops reading holds the process back without the
//! daemon's memory growing.

use futures::{SinkExt, StreamExt};
use nexus_e2e::{BUSYBOX, Daemon, Repo};
use nexus_sdk::{ErrorKind, ExecEvent, ExecParams, PtySize};
use std::time::Duration;

fn params(command: &[&str]) -> ExecParams {
    ExecParams {
        workspace: "stream".into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

type Sub = nexus_sdk::client::Subscription<ExecEvent>;

/// The `started` id of a new stream.
async fn started(sub: &mut Sub) -> String {
    match sub.next().await.expect("an event").expect("parses") {
        ExecEvent::Started { exec_id } => exec_id,
        other => panic!("first event is {other:?}, not started"),
    }
}

/// Output until `exit`: (stdout, stderr, exit code).
async fn to_exit(sub: &mut Sub) -> (String, String, i32) {
    let (mut out, mut err) = (String::new(), String::new());
    let wait = Duration::from_secs(30);
    while let Some(ev) = tokio::time::timeout(wait, sub.next()).await.expect("an event in time") {
        match ev.expect("parses") {
            ExecEvent::Stdout { data } => out.push_str(&data),
            ExecEvent::Stderr { data } => err.push_str(&data),
            ExecEvent::Exit { exit_code } => return (out, err, exit_code),
            ExecEvent::Started { .. } => panic!("a second started"),
        }
    }
    panic!("the stream ended without exit; stdout so far: {out:?}")
}

/// Reads stdout until it contains `want`.
async fn until_output(sub: &mut Sub, want: &str) -> String {
    let mut out = String::new();
    while !out.contains(want) {
        match tokio::time::timeout(Duration::from_secs(20), sub.next()).await {
            Ok(Some(Ok(ExecEvent::Stdout { data }))) => out.push_str(&data),
            Ok(Some(Ok(ExecEvent::Stderr { .. }))) => {}
            other => panic!("waiting for {want:?} in {out:?}, got {other:?}"),
        }
    }
    out
}

#[test]
fn streamed_exec_with_stdin_pty_signals_and_kill() {
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "stream", BUSYBOX);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = d.client().await;

        // stdin: written in pieces, then closed
        let mut sub = c
            .exec_stream(&ExecParams {
                stdin: true,
                ..params(&["sh", "-c", "cat; echo done >&2"])
            })
            .await
            .expect("exec.stream");
        let id = started(&mut sub).await;
        c.exec_write(&id, b"hello ").await.expect("write");
        c.exec_write(&id, "wörld\n".as_bytes()).await.expect("write");
        c.exec_close_stdin(&id).await.expect("closeStdin");
        assert_eq!(to_exit(&mut sub).await, ("hello wörld\n".into(), "done\n".into(), 0));
        let err = c.exec_write(&id, b"late").await.expect_err("the exec ended");
        assert_eq!(err.kind(), ErrorKind::SessionNotFound, "{err}");

        // pty: the size is the terminal's, resize changes it, output is one stream
        let mut sub = c
            .exec_stream(&ExecParams {
                stdin: true,
                pty: Some(PtySize { cols: 80, rows: 24 }),
                ..params(&["sh", "-c", "stty size; read line; stty size; [ -t 0 ] && echo tty"])
            })
            .await
            .expect("exec.stream pty");
        let id = started(&mut sub).await;
        until_output(&mut sub, "24 80").await;
        c.exec_resize(&id, PtySize { cols: 132, rows: 40 })
            .await
            .expect("resize");
        c.exec_write(&id, b"go\n").await.expect("write");
        let (out, err, code) = to_exit(&mut sub).await;
        assert!(out.contains("40 132") && out.contains("tty"), "{out:?}");
        assert_eq!((err.as_str(), code), ("", 0));

        // signals: TERM is 128+15, USR2 128+12 (russh has no name for it: the
        // shared table gives one), kill is 128+9
        for (how, code) in [("TERM", 143), ("USR2", 140), ("KILL", 137)] {
            let mut sub = c
                .exec_stream(&params(&["sh", "-c", "echo up; exec sleep 300"]))
                .await
                .expect("exec.stream");
            let id = started(&mut sub).await;
            until_output(&mut sub, "up").await;
            if how == "KILL" {
                c.exec_kill(&id).await.expect("kill");
            } else {
                c.exec_signal(&id, how).await.expect("signal");
            }
            assert_eq!(to_exit(&mut sub).await.2, code, "after {how}");
        }

        // bad control requests
        let err = c.exec_signal("0123456789abcdef", "TERM").await.expect_err("unknown id");
        assert_eq!(err.kind(), ErrorKind::SessionNotFound, "{err}");
        let mut sub = c.exec_stream(&params(&["sleep", "300"])).await.expect("exec.stream");
        let id = started(&mut sub).await;
        let err = c.exec_signal(&id, "NOPE").await.expect_err("unknown signal");
        assert_eq!(err.kind(), ErrorKind::InvalidParams, "{err}");
        c.exec_kill(&id).await.expect("kill");
        assert_eq!(to_exit(&mut sub).await.2, 137);

        // unsubscribing hangs the process up
        let mut sub = c.exec_stream(&params(&["sleep", "301"])).await.expect("exec.stream");
        started(&mut sub).await;
        drop(sub);
        let mut gone = false;
        for _ in 0..50 {
            if !c
                .exec_run(&params(&["ps"]))
                .await
                .expect("ps")
                .stdout
                .contains("sleep 301")
            {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(gone, "the process outlived its subscription");

        // another user; an unknown one is bad input
        let r = c
            .exec_run(&ExecParams {
                user: Some("root".into()),
                ..params(&["id", "-u"])
            })
            .await
            .expect("exec.run as root");
        assert_eq!(r.stdout, "0\n");
        let err = c
            .exec_run(&ExecParams {
                user: Some("nobody-here".into()),
                ..params(&["id", "-u"])
            })
            .await
            .expect_err("unknown user");
        assert_eq!(err.kind(), ErrorKind::InvalidParams, "{err}");

        // the first SDK's name `exec` still answers
        let r: serde_json::Value = {
            let mut ws = d.raw_socket().await;
            let req = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "exec",
                "params": {"workspace": "stream", "command": ["echo", "alias"]}});
            ws.send(req.to_string().into()).await.expect("send");
            let msg = ws.next().await.expect("answer").expect("frame");
            serde_json::from_str(msg.to_text().expect("text")).expect("json")
        };
        assert_eq!(r["result"]["stdout"], "alias\n", "{r}");
    });

    // the CLI's -i passes stdin through, bytes exact
    let out = std::process::Command::new(nexus_e2e::bin("nexus"))
        .envs(d.nexus().get_envs().filter_map(|(k, v)| Some((k, v?))))
        .args([
            "workspace",
            "exec",
            "-i",
            "stream",
            "--",
            "sh",
            "-c",
            "wc -c; cat >/dev/null",
        ])
        .current_dir(repo.path())
        .stdin(std::fs::File::open(nexus_e2e::bin("nexus")).expect("a binary as input"))
        .output()
        .expect("nexus exec -i");
    let size = std::fs::metadata(nexus_e2e::bin("nexus")).expect("size").len();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), size.to_string(), "{out:?}");
}

#[test]
fn a_reader_that_stops_holds_the_process_back() {
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "stream", BUSYBOX);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        // writes 64 MiB of NUL bytes (6 bytes each in JSON) in 64 KiB pieces,
        // noting how far it got
        let script =
            "n=0; while [ $n -lt 1024 ]; do head -c 65536 /dev/zero; n=$((n+1)); echo $n > /tmp/progress; done";
        let mut ws = d.raw_socket().await;
        let req = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "exec.stream",
            "params": {"workspace": "stream", "command": ["sh", "-c", script]}});
        ws.send(req.to_string().into()).await.expect("send");
        let first = ws.next().await.expect("answer").expect("frame");
        assert!(first.to_text().expect("text").contains("\"result\""), "{first:?}");
        let before = d.rss_kib();
        // stop reading; the process must come to a halt
        let c = d.client().await;
        let progress = || async {
            let r = c.exec_run(&params(&["cat", "/tmp/progress"])).await.expect("exec.run");
            r.stdout.trim().parse::<u64>().unwrap_or(0)
        };
        // wait for the writer to stall, as it reports: its progress stays the
        // same for a second of polls (30 s at most, or it never stopped)
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let (mut b, mut same_since) = (progress().await, std::time::Instant::now());
        while same_since.elapsed() < Duration::from_secs(1) {
            assert!(
                std::time::Instant::now() < deadline,
                "the process kept writing while nobody read (at {b} × 64 KiB)"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = progress().await;
            if now != b {
                (b, same_since) = (now, std::time::Instant::now());
            }
        }
        let after = d.rss_kib();
        assert!(b < 512, "the process wrote {b} × 64 KiB with nobody reading");
        assert!(
            after < before + 32 * 1024,
            "the daemon grew from {before} KiB to {after} KiB"
        );
        // reading again lets it finish: all 64 MiB arrive
        let mut bytes = 0usize;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(60), ws.next())
                .await
                .expect("output in time")
                .expect("open")
                .expect("frame");
            let v: serde_json::Value = serde_json::from_str(msg.to_text().expect("text")).expect("json");
            let ev = &v["params"]["result"];
            match ev["type"].as_str() {
                Some("stdout") => bytes += ev["data"].as_str().expect("data").len(),
                Some("exit") => {
                    assert_eq!(ev["exitCode"], 0);
                    break;
                }
                _ => {}
            }
        }
        assert_eq!(bytes, 64 << 20);
    });
}
