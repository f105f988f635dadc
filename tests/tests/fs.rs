//! `fs.*` through the SDK: inside the container (never the host), through the
//! agent, as the workspace user; chunked reads and writes; error kinds.

use nexus_e2e::{BUSYBOX, DEBIAN, Daemon, Repo};
use nexus_sdk::{
    Encoding, ErrorKind, FileType, MkdirParams, PathParams, ReadFileParams, RenameParams, RmParams, WriteFileParams,
};

fn path(ws: &str, p: &str) -> PathParams {
    PathParams {
        workspace: ws.into(),
        path: p.into(),
    }
}

fn b64(data: &[u8]) -> String {
    // standard base64 (RFC 4648), written here so the test shares no code with the daemon
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn files_in_the_container_through_the_agent() {
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "files", BUSYBOX);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = d.client().await;
        // relative paths are in the workspace folder, which is the worktree
        c.fs_write_file(&WriteFileParams {
            workspace: "files".into(),
            path: "notes.txt".into(),
            content: "héllo\n".into(),
            ..Default::default()
        })
        .await
        .expect("write utf8");
        assert_eq!(
            std::fs::read_to_string(repo.worktree("files").join("notes.txt")).expect("on the worktree"),
            "héllo\n"
        );
        let r = c
            .fs_read_file(&ReadFileParams {
                workspace: "files".into(),
                path: "notes.txt".into(),
                ..Default::default()
            })
            .await
            .expect("read");
        assert_eq!((r.content.as_str(), r.size, r.eof), ("héllo\n", 7, true));

        // a file outside the worktree lives in the container only, never on the host
        let host_path = "/etc/nexus-fs-test-marker";
        c.fs_write_file(&WriteFileParams {
            workspace: "files".into(),
            path: host_path.into(),
            content: "in-container".into(),
            ..Default::default()
        })
        .await
        .expect("write /etc");
        assert!(
            !std::path::Path::new(host_path).exists(),
            "fs.writeFile touched the host"
        );
        assert!(c.fs_exists(&path("files", host_path)).await.expect("exists"));

        // binary content, 20 MiB, written and read in chunks with offsets
        let data: Vec<u8> = (0..20u32 << 20)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for (i, chunk) in data.chunks(6 << 20).enumerate() {
            c.fs_write_file(&WriteFileParams {
                workspace: "files".into(),
                path: "/tmp/big.bin".into(),
                content: b64(chunk),
                encoding: Encoding::Base64,
                offset: Some((i * (6 << 20)) as u64),
                ..Default::default()
            })
            .await
            .expect("chunk write");
        }
        let whole = c
            .fs_read_file(&ReadFileParams {
                workspace: "files".into(),
                path: "/tmp/big.bin".into(),
                encoding: Encoding::Base64,
                ..Default::default()
            })
            .await;
        assert_eq!(whole.expect_err("too large at once").kind(), ErrorKind::InvalidParams);
        let mut offset = 0u64;
        let mut back = String::new();
        loop {
            let r = c
                .fs_read_file(&ReadFileParams {
                    workspace: "files".into(),
                    path: "/tmp/big.bin".into(),
                    encoding: Encoding::Base64,
                    offset: Some(offset),
                    length: Some(3 << 20),
                })
                .await
                .expect("chunk read");
            assert_eq!(r.size, data.len() as u64);
            back.push_str(&r.content);
            offset += 3 << 20;
            if r.eof {
                break;
            }
        }
        assert!(back == b64(&data), "chunked read differs from what was written");

        // append, mkdir -p, readdir, stat, rename, rm -r
        c.fs_write_file(&WriteFileParams {
            workspace: "files".into(),
            path: "notes.txt".into(),
            content: "more\n".into(),
            append: true,
            ..Default::default()
        })
        .await
        .expect("append");
        let r = c
            .fs_read_file(&ReadFileParams {
                workspace: "files".into(),
                path: "notes.txt".into(),
                ..Default::default()
            })
            .await
            .expect("read");
        assert_eq!(r.content, "héllo\nmore\n");
        c.fs_mkdir(&MkdirParams {
            workspace: "files".into(),
            path: "/tmp/a/b/c".into(),
            recursive: true,
        })
        .await
        .expect("mkdir -p");
        c.fs_mkdir(&MkdirParams {
            workspace: "files".into(),
            path: "/tmp/a/b/c".into(),
            recursive: true,
        })
        .await
        .expect("mkdir -p again");
        let err = c
            .fs_mkdir(&MkdirParams {
                workspace: "files".into(),
                path: "/tmp/x/y".into(),
                recursive: false,
            })
            .await
            .expect_err("no parent");
        assert_eq!(err.kind(), ErrorKind::FileNotFound, "{err}");
        c.fs_write_file(&WriteFileParams {
            workspace: "files".into(),
            path: "/tmp/a/f.txt".into(),
            content: "12345".into(),
            ..Default::default()
        })
        .await
        .expect("write");
        let list = c.fs_readdir(&path("files", "/tmp/a")).await.expect("readdir");
        let names: Vec<(&str, FileType, u64)> = list.iter().map(|e| (e.name.as_str(), e.file_type, e.size)).collect();
        assert_eq!(names[0], ("b", FileType::Directory, names[0].2));
        assert_eq!(names[1], ("f.txt", FileType::File, 5));
        assert_eq!(list.len(), 2);
        let st = c.fs_stat(&path("files", "/tmp/a/f.txt")).await.expect("stat");
        assert_eq!((st.file_type, st.size, st.mode), (FileType::File, 5, 0o644));
        assert!(st.mtime > 1_700_000_000);
        c.fs_rename(&RenameParams {
            workspace: "files".into(),
            from: "/tmp/a/f.txt".into(),
            to: "/tmp/a/g.txt".into(),
        })
        .await
        .expect("rename");
        assert!(!c.fs_exists(&path("files", "/tmp/a/f.txt")).await.expect("exists"));
        let err = c
            .fs_rm(&RmParams {
                workspace: "files".into(),
                path: "/tmp/a".into(),
                ..Default::default()
            })
            .await
            .expect_err("dir without recursive");
        assert_eq!(err.kind(), ErrorKind::FileOperationFailed, "{err}");
        c.fs_rm(&RmParams {
            workspace: "files".into(),
            path: "/tmp/a".into(),
            recursive: true,
            force: false,
        })
        .await
        .expect("rm -r");
        assert!(!c.fs_exists(&path("files", "/tmp/a")).await.expect("exists"));
        c.fs_rm(&RmParams {
            workspace: "files".into(),
            path: "/tmp/a".into(),
            recursive: true,
            force: true,
        })
        .await
        .expect("rm -rf of nothing");

        // bad input: each its own kind, and the daemon keeps serving
        let err = c.fs_stat(&path("files", "/tmp/a\0b")).await.expect_err("NUL");
        assert_eq!(err.kind(), ErrorKind::InvalidParams, "{err}");
        let err = c.fs_stat(&path("files", "/nope")).await.expect_err("missing");
        assert_eq!(err.kind(), ErrorKind::FileNotFound, "{err}");
        let err = c
            .fs_stat(&path("no-such-workspace", "/"))
            .await
            .expect_err("unknown workspace");
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        let r = c
            .fs_read_file(&ReadFileParams {
                workspace: "files".into(),
                path: "notes.txt".into(),
                ..Default::default()
            })
            .await
            .expect("still serving");
        assert_eq!(r.content, "héllo\nmore\n");
        c.stop("files").await.expect("stop");
        let err = c.fs_stat(&path("files", "/")).await.expect_err("stopped");
        assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
        // after a restart the daemon opens a new SFTP session
        c.start("files").await.expect("start");
        assert!(
            c.fs_exists(&path("files", host_path))
                .await
                .expect("exists after restart")
        );
    });
}

#[test]
fn files_as_the_workspace_user() {
    let d = Daemon::start_as_user();
    let repo = Repo::new();
    nexus_e2e::chown_to_test_user(repo.path());
    d.create(&repo, "user-files", DEBIAN);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = d.client().await;
        c.fs_write_file(&WriteFileParams {
            workspace: "user-files".into(),
            path: "mine.txt".into(),
            content: "x".into(),
            ..Default::default()
        })
        .await
        .expect("write in the worktree");
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(repo.worktree("user-files").join("mine.txt")).expect("on host");
        assert_eq!(
            meta.uid(),
            nexus_e2e::TEST_USER.1,
            "files written through fs.* belong to the workspace user"
        );
        let err = c
            .fs_write_file(&WriteFileParams {
                workspace: "user-files".into(),
                path: "/root/nope".into(),
                content: "x".into(),
                ..Default::default()
            })
            .await
            .expect_err("dev may not write /root");
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    });
}

#[test]
fn watch_reports_changes_until_unsubscribed_or_stopped() {
    use nexus_sdk::{FsEvent, WatchParams};
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "watched", BUSYBOX);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = d.client().await;
        let folder = c.get("watched").await.expect("get").workspace_folder;
        let watch = |path: &str, recursive: bool| WatchParams {
            workspace: "watched".into(),
            path: path.into(),
            recursive,
        };
        async fn next(sub: &mut nexus_sdk::client::Subscription<FsEvent>) -> FsEvent {
            tokio::time::timeout(std::time::Duration::from_secs(20), sub.next())
                .await
                .expect("an event in time")
                .expect("open")
                .expect("parses")
        }
        let err = c
            .fs_watch(&watch("/no/such/dir", false))
            .await
            .expect_err("missing path");
        assert_eq!(err.kind(), nexus_sdk::ErrorKind::FileNotFound, "{err}");

        let mut sub = c.fs_watch(&watch(".", true)).await.expect("fs.watch");
        assert_eq!(next(&mut sub).await, FsEvent::Ready);
        let run = |cmd: &str| {
            let c = &c;
            let cmd = cmd.to_string();
            async move {
                let p = nexus_sdk::ExecParams {
                    workspace: "watched".into(),
                    command: vec!["sh".into(), "-c".into(), cmd],
                    ..Default::default()
                };
                assert_eq!(c.exec_run(&p).await.expect("exec").exit_code, 0);
            }
        };
        // Events up to and including `last`. A write may come as more than
        // one write(2), so a file can have several modify events in a row.
        async fn until(sub: &mut nexus_sdk::client::Subscription<FsEvent>, last: FsEvent) -> Vec<FsEvent> {
            let mut seen = Vec::new();
            while seen.last() != Some(&last) {
                seen.push(next(sub).await);
            }
            seen
        }
        let new_txt = format!("{folder}/new.txt");
        run("echo a > new.txt").await;
        let seen = until(&mut sub, FsEvent::Modify { path: new_txt.clone() }).await;
        assert_eq!(seen[0], FsEvent::Create { path: new_txt.clone() }, "{seen:?}");
        // a directory made after the watch began is watched too
        run("mkdir sub").await;
        let sub_dir = FsEvent::Create {
            path: format!("{folder}/sub"),
        };
        let seen = until(&mut sub, sub_dir.clone()).await;
        assert!(
            seen.iter()
                .all(|e| *e == sub_dir || *e == FsEvent::Modify { path: new_txt.clone() }),
            "{seen:?}"
        );
        run("touch sub/deep.txt && rm new.txt").await;
        let seen = until(&mut sub, FsEvent::Delete { path: new_txt.clone() }).await;
        assert!(
            seen.contains(&FsEvent::Create {
                path: format!("{folder}/sub/deep.txt")
            }),
            "{seen:?}"
        );

        // unsubscribing stops the watcher in the container
        drop(sub);
        let mut gone = false;
        for _ in 0..50 {
            let p = nexus_sdk::ExecParams {
                workspace: "watched".into(),
                command: vec!["ps".into()],
                ..Default::default()
            };
            if !c.exec_run(&p).await.expect("ps").stdout.contains("--watch") {
                gone = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(gone, "the watcher outlived its subscription");

        // stopping the workspace ends a watch
        let mut sub = c.fs_watch(&watch("/tmp", false)).await.expect("fs.watch");
        assert_eq!(next(&mut sub).await, FsEvent::Ready);
        c.stop("watched").await.expect("stop");
        assert!(matches!(next(&mut sub).await, FsEvent::End { .. }));
    });
}

#[test]
fn concurrent_first_reads_share_one_session() {
    // The first fs.* calls on a workspace open its SFTP session. Four large
    // reads at once used to open four, and reads stalled into timeouts.
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "many", BUSYBOX);
    let size: u64 = 32 << 20;
    d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "many",
            "--",
            "sh",
            "-c",
            &format!("head -c {size} /dev/urandom > /tmp/big && md5sum /tmp/big > /tmp/big.md5"),
        ],
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = d.client().await;
        let chunk = nexus_sdk::MAX_READ_BYTES;
        let reads = (0..size).step_by(chunk as usize).map(|offset| {
            let c = &c;
            async move {
                let r = c
                    .fs_read_file(&ReadFileParams {
                        workspace: "many".into(),
                        path: "/tmp/big".into(),
                        encoding: Encoding::Base64,
                        offset: Some(offset),
                        length: Some(chunk),
                    })
                    .await
                    .expect("a concurrent read");
                Encoding::Base64.decode(&r.content).expect("base64")
            }
        });
        let data: Vec<u8> = futures::future::join_all(reads).await.concat();
        assert_eq!(data.len() as u64, size);
        // the same bytes as in the container, in order
        let sum = c
            .fs_read_file(&ReadFileParams {
                workspace: "many".into(),
                path: "/tmp/big.md5".into(),
                encoding: Encoding::Utf8,
                offset: None,
                length: None,
            })
            .await
            .expect("md5");
        let ours = std::process::Command::new("md5sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut p| {
                use std::io::Write;
                p.stdin.take().expect("stdin").write_all(&data)?;
                p.wait_with_output()
            })
            .expect("md5sum");
        let ours = String::from_utf8_lossy(&ours.stdout);
        assert_eq!(sum.content.split_whitespace().next(), ours.split_whitespace().next());
    });
}

/// `curl` against the daemon: (HTTP status, body).
fn curl(d: &Daemon, query: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}"]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = cmd
        .arg(format!("http://{}/fs/read?{query}", d.address))
        .output()
        .expect("curl");
    let mut body = out.stdout;
    let split = body.iter().rposition(|b| *b == b'\n').expect("status line");
    let status = String::from_utf8_lossy(&body[split + 1..]).parse().expect("status");
    body.truncate(split);
    (status, body)
}

/// The `data.kind` of a JSON-RPC error response body.
fn kind_of(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).expect("a JSON-RPC error body");
    v["error"]["data"]["kind"].as_str().expect("data.kind").to_string()
}

#[test]
fn raw_reads_stream_bytes_over_http() {
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "raw", BUSYBOX);
    let size: u64 = 24 << 20;
    d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "raw",
            "--",
            "sh",
            "-c",
            &format!("head -c {size} /dev/urandom > /tmp/big && mkdir -p /tmp/dir && echo hi > here.txt"),
        ],
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = d.client().await;
        let params = |path: &str, offset, length| nexus_sdk::ReadBytesParams {
            workspace: "raw".into(),
            path: path.into(),
            offset,
            length,
        };
        // the whole file in one answer, larger than any JSON-RPC message
        let (all, whole) = c.fs_read_bytes(&params("/tmp/big", None, None)).await.expect("read");
        assert_eq!((all.len() as u64, whole), (size, size));
        assert!(all.len() as u64 > nexus_sdk::MAX_MESSAGE_BYTES as u64);
        // the same bytes as fs.readFile gives, at both ends and in the middle
        for offset in [0, size / 2 + 7, size - 5] {
            let r = c
                .fs_read_file(&ReadFileParams {
                    workspace: "raw".into(),
                    path: "/tmp/big".into(),
                    encoding: Encoding::Base64,
                    offset: Some(offset),
                    length: Some(4096),
                })
                .await
                .expect("fs.readFile");
            let end = (offset + 4096).min(size) as usize;
            assert_eq!(b64(&all[offset as usize..end]), r.content, "bytes at {offset}");
            let (part, _) = c
                .fs_read_bytes(&params("/tmp/big", Some(offset), Some(4096)))
                .await
                .expect("a range");
            assert_eq!(part, &all[offset as usize..end], "range at {offset}");
        }
        // relative to the workspace folder; an offset past the end is empty
        let (hi, _) = c
            .fs_read_bytes(&params("here.txt", None, None))
            .await
            .expect("relative");
        assert_eq!(hi, b"hi\n");
        let (none, _) = c
            .fs_read_bytes(&params("here.txt", Some(100), None))
            .await
            .expect("past the end");
        assert!(none.is_empty());
        // errors carry fs.readFile's kinds
        for (path, kind) in [
            ("/tmp/missing", ErrorKind::FileNotFound),
            ("/tmp/dir", ErrorKind::FileOperationFailed),
            ("a\0b", ErrorKind::InvalidParams),
        ] {
            let e = c.fs_read_bytes(&params(path, None, None)).await.expect_err(path);
            assert_eq!(e.kind(), kind, "{path}: {e}");
        }
        let mut unknown = params("x", None, None);
        unknown.workspace = "nope".into();
        let e = c.fs_read_bytes(&unknown).await.expect_err("unknown workspace");
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    });
    // a real HTTP client: statuses and JSON-RPC error bodies
    let token = d.token();
    let (status, body) = curl(&d, "workspace=raw&path=%2Ftmp%2Fbig&offset=10&length=3", Some(&token));
    assert_eq!((status, body.len()), (200, 3));
    for (query, token, status, kind) in [
        ("workspace=raw&path=here.txt", None, 401, "unauthorized"),
        ("workspace=raw&path=here.txt", Some("wrong"), 401, "unauthorized"),
        ("workspace=raw", Some(token.as_str()), 400, "invalid_params"),
        (
            "workspace=raw&path=here.txt&offset=-1",
            Some(token.as_str()),
            400,
            "invalid_params",
        ),
        (
            "workspace=raw&path=here.txt&mode=x",
            Some(token.as_str()),
            400,
            "invalid_params",
        ),
        (
            "workspace=raw&path=%2Ftmp%2Fmissing",
            Some(token.as_str()),
            404,
            "file_not_found",
        ),
        ("workspace=nope&path=x", Some(token.as_str()), 404, "not_found"),
    ] {
        let (got, body) = curl(&d, query, token);
        assert_eq!(got, status, "{query}: {}", String::from_utf8_lossy(&body));
        assert_eq!(kind_of(&body), kind, "{query}");
    }
    // a stopped workspace has no files to read
    d.cli_ok(repo.path(), &["workspace", "stop", "raw"]);
    let (status, body) = curl(&d, "workspace=raw&path=here.txt", Some(&token));
    assert_eq!((status, kind_of(&body).as_str()), (409, "invalid_state"));
    // the JSON-RPC API still answers on the same port
    let listed = d.cli_ok(repo.path(), &["workspace", "list"]);
    assert!(listed.contains("raw"), "{listed}");
}
