//! `nexus mcp` as an agent meets it: rmcp's own client over the child
//! process's stdio, against a real daemon and workspace.

use nexus_e2e::{BUSYBOX, Daemon, Repo, git};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;

type Mcp = RunningService<RoleClient, ()>;

/// `nexus mcp ARGS` for this daemon, as an MCP client sees it.
async fn connect(d: &Daemon, dir: &std::path::Path, args: &[&str]) -> Mcp {
    let std_cmd = d.nexus();
    let mut cmd = tokio::process::Command::new(nexus_e2e::bin("nexus"));
    cmd.arg("mcp").args(args).current_dir(dir);
    for (k, v) in std_cmd.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let transport = TokioChildProcess::new(cmd).expect("spawn nexus mcp");
    ().serve(transport).await.expect("initialize")
}

/// Calls `tool` with `args` (a JSON object).
async fn call(mcp: &Mcp, tool: &str, args: serde_json::Value) -> Result<CallToolResult, String> {
    let serde_json::Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    mcp.call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
        .map_err(|e| e.to_string())
}

/// The text of a result, and whether it is an error.
fn said(r: &CallToolResult) -> (String, bool) {
    let text = r
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("");
    (text, r.is_error.unwrap_or(false))
}

/// The tool names docs/mcp.md lists (its table's first column), unpinned
/// and pinned.
fn documented() -> (Vec<String>, Vec<String>) {
    let doc = include_str!("../../docs/mcp.md");
    let (mut all, mut pinned) = (Vec::new(), Vec::new());
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() >= 4
            && let Some(name) = cells[1].strip_prefix('`').and_then(|c| c.strip_suffix('`'))
        {
            all.push(name.to_string());
            if cells[2] == "yes" {
                pinned.push(name.to_string());
            }
        }
    }
    (all, pinned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_creates_runs_edits_checkpoints_and_restores_through_mcp() {
    let d = Daemon::start();
    let repo = Repo::new();
    repo.commit(&[("app.txt", "version one\n")]);
    let mcp = connect(&d, repo.path(), &[]).await;
    let info = mcp.peer_info().expect("server info");
    assert_eq!(info.server_info.as_ref().map(|s| s.name.as_str()), Some("nexus"));

    // tools/list is the documented set, each with an object schema
    let tools = mcp.list_all_tools().await.expect("tools/list");
    let names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, documented().0, "tools/list and docs/mcp.md disagree");
    for t in &tools {
        assert_eq!(
            t.input_schema.get("type").and_then(|v| v.as_str()),
            Some("object"),
            "{}",
            t.name
        );
    }
    let exec = tools.iter().find(|t| t.name == "exec").expect("exec");
    let props = exec.input_schema["properties"].as_object().expect("properties");
    for p in ["workspace", "command", "cwd", "env", "timeout_seconds", "background"] {
        assert!(props.contains_key(p), "exec lacks {p}");
    }

    let r = call(
        &mcp,
        "workspace_create",
        serde_json::json!({"name": "agent", "repository": repo.path().display().to_string(), "image": BUSYBOX}),
    )
    .await
    .expect("create");
    let (text, error) = said(&r);
    assert!(!error, "{text}");
    assert!(text.contains("\"state\": \"running\""), "{text}");

    let r = call(
        &mcp,
        "exec",
        serde_json::json!({"workspace": "agent", "command": "echo hi; echo err >&2"}),
    )
    .await
    .expect("exec");
    assert_eq!(said(&r), ("hi\n".to_string(), false));
    // a failing command is a tool error with its stderr, not a protocol error
    let r = call(
        &mcp,
        "exec",
        serde_json::json!({"workspace": "agent", "command": "echo broke >&2; exit 3"}),
    )
    .await
    .expect("exec");
    let (text, error) = said(&r);
    assert!(
        error && text.contains("exit code 3") && text.contains("broke"),
        "{text}"
    );

    // files: edit, read, search; the worktree on the host sees it
    let r = call(
        &mcp,
        "file_edit",
        serde_json::json!({"workspace": "agent", "path": "app.txt", "old_text": "one", "new_text": "two"}),
    )
    .await
    .expect("edit");
    assert!(!said(&r).1, "{}", said(&r).0);
    let wt = repo.worktree("agent");
    assert_eq!(
        std::fs::read_to_string(wt.join("app.txt")).expect("read"),
        "version two\n"
    );
    let r = call(
        &mcp,
        "file_search",
        serde_json::json!({"workspace": "agent", "pattern": "version"}),
    )
    .await
    .expect("search");
    assert!(said(&r).0.contains("app.txt:1:version two"), "{}", said(&r).0);
    let r = call(
        &mcp,
        "file_edit",
        serde_json::json!({"workspace": "agent", "path": "app.txt", "old_text": "absent", "new_text": "x"}),
    )
    .await
    .expect("edit");
    assert!(said(&r).1 && said(&r).0.contains("does not contain"), "{}", said(&r).0);

    // checkpoint, change, restore
    let r = call(
        &mcp,
        "checkpoint",
        serde_json::json!({"workspace": "agent", "name": "cp1"}),
    )
    .await
    .expect("checkpoint");
    assert!(!said(&r).1, "{}", said(&r).0);
    call(
        &mcp,
        "file_write",
        serde_json::json!({"workspace": "agent", "path": "app.txt", "content": "ruined\n"}),
    )
    .await
    .expect("write");
    assert_eq!(std::fs::read_to_string(wt.join("app.txt")).expect("read"), "ruined\n");
    let r = call(
        &mcp,
        "restore",
        serde_json::json!({"workspace": "agent", "checkpoint": "cp1"}),
    )
    .await
    .expect("restore");
    assert!(!said(&r).1, "{}", said(&r).0);
    assert_eq!(
        std::fs::read_to_string(wt.join("app.txt")).expect("read"),
        "version two\n"
    );
    let r = call(
        &mcp,
        "file_read",
        serde_json::json!({"workspace": "agent", "path": "app.txt"}),
    )
    .await
    .expect("read");
    assert_eq!(said(&r), ("version two\n".to_string(), false));

    // bad input: an unknown tool, arguments that fail the schema; the server keeps serving
    let e = call(&mcp, "rm_rf", serde_json::json!({}))
        .await
        .expect_err("unknown tool");
    assert!(e.contains("rm_rf"), "{e}");
    let e = call(&mcp, "exec", serde_json::json!({"workspace": "agent"}))
        .await
        .expect_err("no command");
    assert!(e.contains("command"), "{e}");
    let r = call(&mcp, "workspace_list", serde_json::json!({})).await.expect("list");
    assert!(said(&r).0.contains("\"agent\""), "{}", said(&r).0);
    mcp.cancel().await.expect("close");

    // pinned: no workspace argument anywhere, no way to another workspace or out of the folder
    let pinned = connect(&d, repo.path(), &["--workspace", "agent"]).await;
    let tools = pinned.list_all_tools().await.expect("tools/list");
    let names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, documented().1, "pinned tools/list and docs/mcp.md disagree");
    for t in &tools {
        let props = t.input_schema.get("properties").and_then(|p| p.as_object());
        assert!(
            props.is_none_or(|p| !p.contains_key("workspace")),
            "{} takes a workspace",
            t.name
        );
    }
    let r = call(&pinned, "exec", serde_json::json!({"command": "pwd"}))
        .await
        .expect("exec");
    assert_eq!(
        said(&r),
        (
            format!(
                "/workspaces/{}\n",
                repo.path().file_name().and_then(|n| n.to_str()).expect("name")
            ),
            false
        )
    );
    let e = call(
        &pinned,
        "exec",
        serde_json::json!({"workspace": "other", "command": "true"}),
    )
    .await
    .expect_err("another workspace");
    assert!(e.contains("pinned to workspace agent"), "{e}");
    let r = call(&pinned, "file_read", serde_json::json!({"path": "../../etc/passwd"}))
        .await
        .expect("read");
    let (text, error) = said(&r);
    assert!(error && text.contains("outside the workspace folder"), "{text}");
    let e = call(&pinned, "workspace_remove", serde_json::json!({}))
        .await
        .expect_err("not offered");
    assert!(e.contains("workspace_remove"), "{e}");
    pinned.cancel().await.expect("close");
    assert_eq!(git(&wt, &["status", "--porcelain"]), " M app.txt\n");
}

/// An MCP client of the daemon at `address` over HTTP at `path`, with `token`.
async fn over_http(address: &str, path: &str, token: &str) -> Mcp {
    over_http_with(address, path, token, &[]).await
}

/// [`over_http`] sending `headers` with every request.
async fn over_http_with(address: &str, path: &str, token: &str, headers: &[(&'static str, &str)]) -> Mcp {
    let _ = rustls::crypto::ring::default_provider().install_default();
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let mut config =
        StreamableHttpClientTransportConfig::with_uri(format!("http://{address}{path}")).auth_header(token);
    for (name, value) in headers {
        config.custom_headers.insert(
            http::HeaderName::from_static(name),
            http::HeaderValue::from_str(value).expect("header value"),
        );
    }
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .expect("initialize")
}

/// The names `tools/list` gives, in order.
async fn tool_names(mcp: &Mcp) -> Vec<String> {
    let tools = mcp.list_all_tools().await.expect("tools/list");
    tools.iter().map(|t| t.name.to_string()).collect()
}

/// A raw `POST /mcp` with `host` and, when given, `token`: the status code.
fn post_status(address: &str, host: &str, token: Option<&str>) -> u16 {
    use std::io::{Read, Write};
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = std::net::TcpStream::connect(address).expect("connect");
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_over_http_on_the_daemons_port_needs_its_token_and_a_loopback_host() {
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "web", BUSYBOX);
    let token = d.token();
    let address = d.address.clone();
    let (a, t) = (address.clone(), token.clone());
    let statuses = tokio::task::spawn_blocking(move || {
        (
            post_status(&a, &a, None),
            post_status(&a, &a, Some("nxs_wrong")),
            post_status(&a, "attacker.example", Some(&t)),
        )
    })
    .await
    .expect("raw posts");
    assert_eq!(statuses.0, 401, "no token");
    assert_eq!(statuses.1, 401, "a wrong token");
    assert_eq!(statuses.2, 403, "a Host that is not loopback (DNS rebinding)");

    // rmcp's HTTP client is reqwest with rustls and no provider chosen
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mcp = over_http(&address, "/mcp", &token).await;
    assert_eq!(tool_names(&mcp).await, documented().0);
    let r = call(
        &mcp,
        "exec",
        serde_json::json!({"workspace": "web", "command": "echo over-http"}),
    )
    .await
    .expect("exec");
    assert_eq!(said(&r), ("over-http\n".to_string(), false));
    let r = call(&mcp, "workspace_info", serde_json::json!({"workspace": "nope"}))
        .await
        .expect("info");
    let (text, error) = said(&r);
    assert!(error && text.contains("nope"), "{text}");
    mcp.cancel().await.expect("close");

    // /mcp/WS: the same server pinned to WS
    let pinned = over_http(&address, "/mcp/web", &d.token()).await;
    assert_eq!(tool_names(&pinned).await, documented().1);
    let r = call(&pinned, "exec", serde_json::json!({"command": "echo pinned"}))
        .await
        .expect("exec");
    assert_eq!(said(&r), ("pinned\n".to_string(), false));
    let e = call(
        &pinned,
        "exec",
        serde_json::json!({"workspace": "other", "command": "true"}),
    )
    .await
    .expect_err("another workspace");
    assert!(e.contains("pinned to workspace web"), "{e}");
    pinned.cancel().await.expect("close");
}

/// The Agent Trace record of `commit` in the checkout at `dir`, as `nexus
/// trace show --json` prints it (which validates it), once the daemon has
/// written it.
fn record_of(d: &Daemon, dir: &std::path::Path, commit: &str) -> serde_json::Value {
    let shown = nexus_e2e::poll(
        200,
        std::time::Duration::from_millis(50),
        || d.cli(dir, &["trace", "show", commit, "--json"]),
        |o| o.status.success(),
    );
    assert!(shown.status.success(), "no record: {}", nexus_e2e::text(&shown));
    serde_json::from_slice(&shown.stdout).expect("a record")
}

/// Per line of `file` at HEAD, who wrote it (`nexus trace blame --json`).
fn blame(d: &Daemon, dir: &std::path::Path, file: &str) -> Vec<String> {
    let out = d.cli_ok(dir, &["trace", "blame", file, "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).expect("blame json");
    rows.iter()
        .map(|r| match &r["contributor"] {
            serde_json::Value::Null => "-".to_string(),
            c => c["model_id"].as_str().or(c["type"].as_str()).unwrap_or("?").to_string(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_of_agent_and_ssh_lines_gets_a_valid_record_that_follows_an_amend() {
    let d = Daemon::start();
    let repo = Repo::new();
    repo.commit(&[("app.txt", "one\ntwo\n")]);
    let ws = d.create(&repo, "traced", BUSYBOX);
    let wt = repo.worktree("traced");
    let folder = ws["workspaceFolder"].as_str().expect("folder").to_string();
    const MODEL: &str = "anthropic/claude-test-4";
    let mcp = connect(
        &d,
        repo.path(),
        &[
            "--workspace",
            "traced",
            "--model",
            MODEL,
            "--conversation-url",
            "https://example.com/c/42",
        ],
    )
    .await;
    // the agent edits a file, a person types a line over SSH, the agent runs a generator
    let r = call(
        &mcp,
        "file_edit",
        serde_json::json!({"path": "app.txt", "old_text": "one\n", "new_text": "one\nfrom the agent\n"}),
    )
    .await
    .expect("edit");
    assert!(!said(&r).1, "{}", said(&r).0);
    // an agent's stretch stays open 50 ms after its call (its calls come in
    // bursts, docs/trace.md): the person types once it has closed
    std::thread::sleep(std::time::Duration::from_millis(150));
    let typed = d.ssh(&ws, &format!("cd {folder} && echo 'typed over ssh' >> app.txt"));
    assert!(typed.status.success(), "{}", nexus_e2e::text(&typed));
    let r = call(
        &mcp,
        "exec",
        serde_json::json!({"command": "printf 'gen 1\\ngen 2\\n' > gen.txt"}),
    )
    .await
    .expect("exec");
    assert!(!said(&r).1, "{}", said(&r).0);
    mcp.cancel().await.expect("close");
    git(&wt, &["add", "-A"]);
    git(&wt, &["commit", "-qm", "agent and person"]);
    let head = git(&wt, &["rev-parse", "HEAD"]).trim().to_string();

    // the record validates (trace show checks it against the schema) and names each range's author
    let record = record_of(&d, &wt, &head);
    assert_eq!(record["version"], "0.1.0");
    assert_eq!(record["vcs"], serde_json::json!({"type": "git", "revision": head}));
    let files = record["files"].as_array().expect("files");
    let paths: Vec<&str> = files.iter().filter_map(|f| f["path"].as_str()).collect();
    assert_eq!(paths, ["app.txt", "gen.txt"], "{record:#}");
    let app = &files[0]["conversations"];
    assert_eq!(
        app[0]["contributor"],
        serde_json::json!({"type": "ai", "model_id": MODEL}),
        "{record:#}"
    );
    assert_eq!(app[0]["url"], "https://example.com/c/42");
    assert_eq!(app[0]["ranges"], serde_json::json!([{"start_line": 2, "end_line": 2}]));
    assert_eq!(
        app[1]["contributor"],
        serde_json::json!({"type": "human"}),
        "{record:#}"
    );
    assert_eq!(app[1]["ranges"], serde_json::json!([{"start_line": 4, "end_line": 4}]));
    let gen_ranges = &files[1]["conversations"][0];
    assert_eq!(gen_ranges["contributor"]["model_id"], MODEL, "{record:#}");
    assert_eq!(
        gen_ranges["ranges"],
        serde_json::json!([{"start_line": 1, "end_line": 2}])
    );
    assert_eq!(blame(&d, &wt, "app.txt"), ["-", MODEL, "-", "human"]);

    // an amend gets the record again, on the new commit; git itself copies it (notes.rewriteRef)
    assert_eq!(
        git(&wt, &["config", "notes.rewriteRef"]).trim(),
        "refs/notes/agent-trace"
    );
    git(&wt, &["commit", "-q", "--amend", "-m", "agent and person, amended"]);
    let amended = git(&wt, &["rev-parse", "HEAD"]).trim().to_string();
    assert_ne!(amended, head);
    let again = nexus_e2e::poll(
        200,
        std::time::Duration::from_millis(50),
        || record_of(&d, &wt, &amended),
        |r| r["vcs"]["revision"] == amended.as_str(),
    );
    assert_eq!(again["files"], record["files"], "{again:#}");
    assert_eq!(blame(&d, &wt, "gen.txt"), [MODEL, MODEL]);
    let exported = d.cli_ok(&wt, &["trace", "export", "--jsonl"]);
    assert_eq!(exported.lines().count(), 2, "{exported}");

    // bad input: a record with a bad version or without an id is named, and nothing is changed
    git(&wt, &["commit", "-q", "--allow-empty", "-m", "hand-written record"]);
    let bad = git(&wt, &["rev-parse", "HEAD"]).trim().to_string();
    let mut forged = record.clone();
    forged["version"] = "1.0".into();
    forged.as_object_mut().map(|o| o.remove("id"));
    // the daemon writes its own record of this commit first; replace it once it is there
    record_of(&d, &wt, &bad);
    git(
        &wt,
        &[
            "notes",
            "--ref",
            "agent-trace",
            "add",
            "-f",
            "-m",
            &forged.to_string(),
            &bad,
        ],
    );
    let o = d.cli(&wt, &["trace", "show", &bad]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success(), "{}", nexus_e2e::text(&o));
    assert!(
        err.contains("invalid") && err.contains("/version") && err.contains("\"id\""),
        "{err}"
    );
    let o = d.cli(&wt, &["trace", "export", "--jsonl"]);
    assert_eq!(o.status.code(), Some(1), "{}", nexus_e2e::text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
    let o = d.cli(&wt, &["trace", "show", "HEAD~2"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("has no Agent Trace record"),
        "{}",
        nexus_e2e::text(&o)
    );
    // and a declaration the daemon refuses, on a connection that goes on working
    let c = d.client().await;
    let e = c
        .trace_session(&nexus_sdk::TraceSessionParams {
            contributor: nexus_sdk::trace::ContributorType::Ai,
            model_id: Some("x".repeat(251)),
            conversation_url: Some("not a url".into()),
            tool: None,
        })
        .await
        .expect_err("too long");
    assert!(e.to_string().contains("modelId"), "{e}");
    assert!(c.list().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_mcp_client_names_its_model_in_headers_and_its_lines_carry_it() {
    let d = Daemon::start();
    let repo = Repo::new();
    repo.commit(&[("notes.txt", "one\n")]);
    d.create(&repo, "web-agent", BUSYBOX);
    let wt = repo.worktree("web-agent");
    let mcp = over_http_with(
        &d.address,
        "/mcp/web-agent",
        &d.token(),
        &[
            ("x-nexus-model", "openai/gpt-test"),
            ("x-nexus-conversation-url", "https://example.com/chat/7"),
        ],
    )
    .await;
    let r = call(
        &mcp,
        "file_write",
        serde_json::json!({"path": "notes.txt", "content": "one\ntwo\n"}),
    )
    .await
    .expect("write");
    assert!(!said(&r).1, "{}", said(&r).0);
    mcp.cancel().await.expect("close");
    git(&wt, &["commit", "-qam", "from the web agent"]);
    let head = git(&wt, &["rev-parse", "HEAD"]).trim().to_string();
    let record = record_of(&d, &wt, &head);
    let c = &record["files"][0]["conversations"][0];
    assert_eq!(
        c["contributor"],
        serde_json::json!({"type": "ai", "model_id": "openai/gpt-test"}),
        "{record:#}"
    );
    assert_eq!(c["url"], "https://example.com/chat/7");
    assert_eq!(c["ranges"], serde_json::json!([{"start_line": 2, "end_line": 2}]));
    let agents = &record["metadata"]["dev.nexus"]["agents"];
    assert!(agents[0]["name"].as_str().is_some_and(|n| !n.is_empty()), "{record:#}");
}
