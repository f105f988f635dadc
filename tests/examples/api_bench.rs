//! The API benchmark, run by `scripts/bench.sh api` against a release daemon:
//!   api_bench ADDRESS TOKEN WORKSPACE PEER_CONTAINER DAEMON_PID
//! prints, side by side in one run: `exec.run` of `true` through the Rust
//! SDK vs `docker exec` through the Docker API (bollard), p50/p99 of 200;
//! a 64 MiB file through `GET /fs/read` (and, for reference, `fs.readFile`
//! in 8 MiB base64 chunks) vs `docker cp` of the same file; 100
//! concurrent `exec.stream`s of `seq 1 100000` (all output in order) and the
//! daemon's peak RSS.

use bollard::exec::{CreateExecOptions, StartExecResults};
use futures::StreamExt;
use nexus_sdk::client::Client;
use nexus_sdk::{Encoding, ExecEvent, ExecParams, ReadBytesParams, ReadFileParams};
use std::time::{Duration, Instant};

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn status_kib(pid: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("field")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [address, token, workspace, peer, pid] = &args[..] else {
        eprintln!("usage: api_bench ADDRESS TOKEN WORKSPACE PEER_CONTAINER DAEMON_PID");
        std::process::exit(2);
    };
    let c = Client::connect(address, token).await.expect("connect");
    let docker = bollard::Docker::connect_with_local_defaults().expect("docker");
    let params = |command: &[&str]| ExecParams {
        workspace: workspace.clone(),
        command: command.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };

    // exec.run true vs docker exec true (bollard), 200 each, interleaved
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        c.exec_run(&params(&["true"])).await.expect("warm-up");
    }
    for _ in 0..200 {
        let t = Instant::now();
        let r = c.exec_run(&params(&["true"])).await.expect("exec.run");
        assert_eq!(r.exit_code, 0);
        ours.push(t.elapsed());
        let t = Instant::now();
        let exec = docker
            .create_exec(
                peer,
                CreateExecOptions::<String> {
                    cmd: Some(vec!["true".into()]),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .expect("create_exec");
        if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&exec.id, None).await.expect("start") {
            while output.next().await.is_some() {}
        }
        let code = docker.inspect_exec(&exec.id).await.expect("inspect").exit_code;
        assert_eq!(code, Some(0));
        theirs.push(t.elapsed());
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (o50, o99) = (percentile(&mut ours, 0.5), percentile(&mut ours, 0.99));
    let (t50, t99) = (percentile(&mut theirs, 0.5), percentile(&mut theirs, 0.99));

    // fs.readFile of 64 MiB (8 MiB chunks, base64) vs docker cp of the same file
    let size: u64 = 64 << 20;
    let make = format!("head -c {size} /dev/urandom > /tmp/bench-64m");
    assert_eq!(
        c.exec_run(&params(&["sh", "-c", &make])).await.expect("make").exit_code,
        0
    );
    let id = c.get(workspace).await.expect("get").id;
    let container = String::from_utf8(
        std::process::Command::new("docker")
            .args(["ps", "-q", "--filter", &format!("label=dev.nexus.workspace={id}")])
            .output()
            .expect("docker ps")
            .stdout,
    )
    .expect("utf8")
    .trim()
    .to_string();
    let mut read_s = Vec::new();
    let mut raw_s = Vec::new();
    let mut cp_s = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let (bytes, whole) = c
            .fs_read_bytes(&ReadBytesParams {
                workspace: workspace.clone(),
                path: "/tmp/bench-64m".into(),
                ..Default::default()
            })
            .await
            .expect("GET /fs/read");
        raw_s.push(t.elapsed().as_secs_f64());
        assert_eq!((bytes.len() as u64, whole), (size, size));
        drop(bytes);
        let t = Instant::now();
        let mut got = 0u64;
        while got < size {
            let r = c
                .fs_read_file(&ReadFileParams {
                    workspace: workspace.clone(),
                    path: "/tmp/bench-64m".into(),
                    encoding: Encoding::Base64,
                    offset: Some(got),
                    length: Some(nexus_sdk::MAX_READ_BYTES),
                })
                .await
                .expect("fs.readFile");
            got += Encoding::Base64.decode(&r.content).expect("base64").len() as u64;
        }
        read_s.push(t.elapsed().as_secs_f64());
        let dest = std::env::temp_dir().join("nexus-bench-cp");
        let t = Instant::now();
        let ok = std::process::Command::new("docker")
            .args(["cp", &format!("{container}:/tmp/bench-64m")])
            .arg(&dest)
            .status()
            .expect("docker cp")
            .success();
        cp_s.push(t.elapsed().as_secs_f64());
        assert!(ok && std::fs::metadata(&dest).expect("copied").len() == size);
        let _ = std::fs::remove_file(&dest);
    }
    for s in [&mut read_s, &mut raw_s, &mut cp_s] {
        s.sort_by(f64::total_cmp);
    }
    let mib = (size >> 20) as f64;
    let (read_mibs, raw_mibs, cp_mibs) = (mib / read_s[1], mib / raw_s[1], mib / cp_s[1]);

    // 100 concurrent exec.stream of seq 1 100000
    let expected: String = (1..=100_000).map(|i| format!("{i}\n")).collect();
    let before_peak = status_kib(pid, "VmHWM:");
    let before = status_kib(pid, "VmRSS:");
    let t = Instant::now();
    let streams = (0..100).map(|_| {
        let c = &c;
        let expected = &expected;
        let p = params(&["seq", "1", "100000"]);
        async move {
            let mut sub = c.exec_stream(&p).await.expect("exec.stream");
            let mut out = String::new();
            let mut code = None;
            while let Some(ev) = sub.next().await {
                match ev.expect("event") {
                    ExecEvent::Stdout { data } => out.push_str(&data),
                    ExecEvent::Exit { exit_code } => {
                        code = Some(exit_code);
                        break;
                    }
                    _ => {}
                }
            }
            code == Some(0) && out == *expected
        }
    });
    let mut sampler_peak = before;
    let all = futures::future::join_all(streams);
    tokio::pin!(all);
    let results = loop {
        tokio::select! {
            r = &mut all => break r,
            _ = tokio::time::sleep(Duration::from_millis(20)) => sampler_peak = sampler_peak.max(status_kib(pid, "VmRSS:")),
        }
    };
    let elapsed = t.elapsed().as_secs_f64();
    let complete = results.iter().filter(|ok| **ok).count();
    let peak = status_kib(pid, "VmHWM:").max(sampler_peak);

    println!("{:58} {:>10} {:>10}  goal", "figure", "nexus", "peer");
    println!(
        "{:58} {:10.2} {:10.2}  nexus p50 <= 0.25 x peer p50",
        "exec.run true (SDK) / docker exec (bollard), p50 ms",
        ms(o50),
        ms(t50)
    );
    println!("{:58} {:10.2} {:10.2}", "  p99 ms, of 200 each", ms(o99), ms(t99));
    println!(
        "{:58} {:10.1} {:10.1}  nexus >= 1 x peer",
        "GET /fs/read 64 MiB (SDK fs_read_bytes) / docker cp, MiB/s", raw_mibs, cp_mibs
    );
    println!(
        "{:58} {:10.1} {:10.1}",
        "  fs.readFile, 8 MiB base64 chunks / docker cp, MiB/s", read_mibs, cp_mibs
    );
    println!("{:58}", "  (median of 3 interleaved rounds each)");
    println!(
        "{:58} {:>10} {:>10}",
        "100 concurrent exec.stream of seq 1 100000: complete",
        format!("{complete}/100"),
        ""
    );
    println!("{:58} {:10.2} {:>10}", "  wall time, s", elapsed, "");
    println!(
        "{:58} {:10.1} {:>10}",
        "  nexusd RSS before / peak during (MiB)",
        before as f64 / 1024.0,
        format!("{:.1}", peak.max(before_peak) as f64 / 1024.0)
    );
    let _ = c.exec_run(&params(&["rm", "-f", "/tmp/bench-64m"])).await;
}
