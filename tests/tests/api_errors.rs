//! Bad input at the API: 30+ malformed, unknown, mistyped, oversized or
//! misdirected requests each get the right JSON-RPC error, with a stable
//! code and `data.kind`; the daemon keeps serving the same connection and
//! every other client.

use futures::{SinkExt, StreamExt};
use nexus_e2e::{BUSYBOX, Daemon, Repo};
use nexus_sdk::ErrorKind;
use nexus_sdk::ErrorKind::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends `text`, returns the answer.
async fn ask(ws: &mut Socket, text: String) -> Value {
    ws.send(Message::text(text)).await.expect("send");
    loop {
        let msg = ws.next().await.expect("an answer").expect("a frame");
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).expect("the answer is JSON");
        }
    }
}

/// Every error kind's code, written out as docs/protocol.md's table gives
/// it (not taken from the SDK's table, which the daemon uses too):
/// `protocol_md_lists_exactly_these_codes` checks the document against it.
const CODES: [(&str, i32); 26] = [
    ("invalid_params", -32602),
    ("internal", -32603),
    ("invalid_name", -32010),
    ("name_taken", -32011),
    ("not_found", -32012),
    ("not_a_git_repository", -32013),
    ("ref_not_found", -32014),
    ("image_not_found", -32015),
    ("docker_unavailable", -32016),
    ("ports_exhausted", -32017),
    ("invalid_state", -32018),
    ("worktree_dirty", -32019),
    ("no_ssh_key", -32020),
    ("unauthorized", -32021),
    ("agent_unavailable", -32022),
    ("file_not_found", -32023),
    ("permission_denied", -32024),
    ("file_operation_failed", -32025),
    ("session_not_found", -32026),
    ("invalid_config", -32027),
    ("hook_failed", -32028),
    ("build_failed", -32029),
    ("parse_error", -32700),
    ("invalid_request", -32600),
    ("method_not_found", -32601),
    ("message_too_large", -32007),
];

/// The pinned code of `kind` (by its wire name).
fn code_of(kind: ErrorKind) -> i64 {
    let name = serde_json::to_value(kind).expect("kind");
    CODES
        .iter()
        .find(|(n, _)| name == *n)
        .map(|(_, c)| *c as i64)
        .unwrap_or_else(|| panic!("no pinned code for {name}: add it to CODES and docs/protocol.md"))
}

#[test]
fn protocol_md_lists_exactly_these_codes() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md")).expect("protocol.md");
    let table = doc.split("## Errors").nth(1).expect("an Errors section");
    let rows: Vec<(String, i32)> = table
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells.get(1)?.parse::<i32>().ok()?;
            Some((cells.get(2)?.trim_matches('`').to_string(), code))
        })
        .collect();
    let pinned: Vec<(String, i32)> = CODES.iter().map(|(n, c)| (n.to_string(), *c)).collect();
    assert_eq!(rows, pinned, "docs/protocol.md's error table and CODES differ");
    // and every kind the SDK knows is in it
    for (name, code) in CODES {
        let kind: ErrorKind = serde_json::from_value(json!(name)).expect("a kind of the SDK");
        assert_eq!(kind.code(), code, "the SDK's code of {name}");
    }
}

/// Asserts that `answer` is an error of `kind`: its code, and `data.kind`.
/// JSON-RPC's transport-level errors (parse error, invalid request, request
/// too big) are answered by the server library before any method runs and
/// carry no `data`; their codes name the kind (`ErrorKind::from_code`).
fn assert_error(what: &str, answer: &Value, kind: ErrorKind) {
    let code = answer["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("{what}: no error in {answer}"));
    assert_eq!(code, code_of(kind), "{what}: {answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: no message in {answer}");
    match answer["error"]["data"]["kind"].as_str() {
        Some(k) => assert_eq!(
            serde_json::from_value::<ErrorKind>(json!(k)).ok(),
            Some(kind),
            "{what}: {answer}"
        ),
        None => {
            assert!(
                matches!(
                    kind,
                    ErrorKind::ParseError | ErrorKind::InvalidRequest | ErrorKind::MessageTooLarge
                ),
                "{what}: no data.kind in {answer}"
            );
            // the code alone names the kind
            assert_eq!(code, code_of(kind), "{what}");
        }
    }
}

#[test]
fn thirty_bad_requests_get_their_errors_and_the_daemon_keeps_serving() {
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "up", BUSYBOX);
    d.create(&repo, "down", BUSYBOX);
    d.cli_ok(repo.path(), &["workspace", "stop", "down"]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut ws = d.raw_socket().await;
        let call = |method: &str, params: Value| {
            json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).to_string()
        };
        let nul = "a\u{0}b";
        let cases: Vec<(&str, String, ErrorKind)> = vec![
            ("truncated JSON", "{\"jsonrpc\": \"2.0\", \"id\": 1,".into(), ParseError),
            ("not JSON", "hello".into(), ParseError),
            ("a JSON string", "\"daemon.info\"".into(), ParseError),
            (
                "no method",
                json!({"jsonrpc": "2.0", "id": 1}).to_string(),
                InvalidRequest,
            ),
            (
                "JSON-RPC 1.0",
                json!({"jsonrpc": "1.0", "id": 1, "method": "daemon.info"}).to_string(),
                InvalidRequest,
            ),
            (
                "method is a number",
                json!({"jsonrpc": "2.0", "id": 1, "method": 5}).to_string(),
                InvalidRequest,
            ),
            ("unknown method", call("workspace.explode", json!({})), MethodNotFound),
            ("a near miss", call("fs.readfile", json!({})), MethodNotFound),
            ("an empty method", call("", json!({})), MethodNotFound),
            (
                "name is a number",
                call("workspace.get", json!({"name": 5})),
                InvalidParams,
            ),
            ("params are a string", call("workspace.get", json!("up")), InvalidParams),
            (
                "params missing",
                json!({"jsonrpc": "2.0", "id": 1, "method": "workspace.get"}).to_string(),
                InvalidParams,
            ),
            (
                "command is a string",
                call("exec.run", json!({"workspace": "up", "command": "ls"})),
                InvalidParams,
            ),
            (
                "empty command",
                call("exec.run", json!({"workspace": "up", "command": []})),
                InvalidParams,
            ),
            (
                "path is a number",
                call("fs.readFile", json!({"workspace": "up", "path": 7})),
                InvalidParams,
            ),
            (
                "unknown encoding",
                call(
                    "fs.readFile",
                    json!({"workspace": "up", "path": "/etc/hostname", "encoding": "rot13"}),
                ),
                InvalidParams,
            ),
            (
                "NUL in readFile",
                call("fs.readFile", json!({"workspace": "up", "path": nul})),
                InvalidParams,
            ),
            (
                "NUL in writeFile",
                call("fs.writeFile", json!({"workspace": "up", "path": nul, "content": "x"})),
                InvalidParams,
            ),
            (
                "NUL in stat",
                call("fs.stat", json!({"workspace": "up", "path": nul})),
                InvalidParams,
            ),
            (
                "NUL in watch",
                call("fs.watch", json!({"workspace": "up", "path": nul})),
                InvalidParams,
            ),
            (
                "bad base64",
                call(
                    "fs.writeFile",
                    json!({"workspace": "up", "path": "/tmp/x", "content": "@@", "encoding": "base64"}),
                ),
                InvalidParams,
            ),
            (
                "bad workspace name",
                call("workspace.create", json!({"name": "Bad Name", "repository": "/tmp"})),
                InvalidName,
            ),
            (
                "unknown workspace",
                call("workspace.get", json!({"name": "ghost"})),
                NotFound,
            ),
            (
                "exec in an unknown workspace",
                call("exec.run", json!({"workspace": "ghost", "command": ["true"]})),
                NotFound,
            ),
            (
                "files of an unknown workspace",
                call("fs.readFile", json!({"workspace": "ghost", "path": "/etc/hostname"})),
                NotFound,
            ),
            (
                "ports of an unknown workspace",
                call("ports.list", json!({"workspace": "ghost"})),
                NotFound,
            ),
            (
                "exec in a stopped workspace",
                call("exec.run", json!({"workspace": "down", "command": ["true"]})),
                InvalidState,
            ),
            (
                "stream in a stopped workspace",
                call("exec.stream", json!({"workspace": "down", "command": ["true"]})),
                InvalidState,
            ),
            (
                "files of a stopped workspace",
                call("fs.readFile", json!({"workspace": "down", "path": "/etc/hostname"})),
                InvalidState,
            ),
            (
                "watch in a stopped workspace",
                call("fs.watch", json!({"workspace": "down", "path": "/"})),
                InvalidState,
            ),
            (
                "tunnel to a stopped workspace",
                call("tunnel.open", json!({"workspace": "down"})),
                InvalidState,
            ),
            (
                "forward in a stopped workspace",
                call("ports.forward", json!({"workspace": "down", "containerPort": 80})),
                InvalidState,
            ),
            (
                "write to no exec",
                call("exec.write", json!({"execId": "0123456789abcdef", "data": "x"})),
                SessionNotFound,
            ),
            (
                "signal to no exec",
                call("exec.signal", json!({"execId": "0123456789abcdef", "signal": "TERM"})),
                SessionNotFound,
            ),
            (
                "write to no tunnel",
                call("tunnel.write", json!({"tunnelId": "0123456789abcdef", "data": "eA=="})),
                SessionNotFound,
            ),
            (
                "a zero-size terminal",
                call(
                    "exec.resize",
                    json!({"execId": "0123456789abcdef", "cols": 0, "rows": 0}),
                ),
                InvalidParams,
            ),
            (
                "a missing file",
                call("fs.readFile", json!({"workspace": "up", "path": "/no/such/file"})),
                FileNotFound,
            ),
            (
                "a tunnel to a closed port",
                call("tunnel.open", json!({"workspace": "up", "port": 9})),
                InvalidParams,
            ),
        ];
        for (what, text, kind) in cases {
            let answer = ask(&mut ws, text).await;
            assert_error(what, &answer, kind);
        }
        // larger than the stated limit (nexus_sdk::MAX_MESSAGE_BYTES), on a
        // connection of its own: the daemon answers without reading the rest,
        // so the sender's write may never finish
        let big = "x".repeat(nexus_sdk::MAX_MESSAGE_BYTES as usize + 1024);
        let (mut tx, mut rx) = d.raw_socket().await.split();
        let text = call(
            "fs.writeFile",
            json!({"workspace": "up", "path": "/tmp/big", "content": big}),
        );
        let sending = tokio::spawn(async move { tx.send(Message::text(text)).await });
        let answer = loop {
            match rx.next().await.expect("an answer").expect("a frame") {
                Message::Text(t) => break serde_json::from_str::<Value>(&t).expect("JSON"),
                _ => continue,
            }
        };
        assert_error("an oversized message", &answer, MessageTooLarge);
        sending.abort();

        // rpc.discover returns the published OpenRPC document (sdk/openrpc.json,
        // which the SDK's own test checks against the types), and every
        // method it names is served (an empty params object gets anything
        // but method_not_found)
        let answer = ask(&mut ws, call("rpc.discover", json!({}))).await;
        let published: Value = serde_json::from_str(include_str!("../../sdk/openrpc.json")).expect("openrpc.json");
        assert_eq!(answer["result"], published);
        let methods = answer["result"]["methods"].as_array().expect("methods").clone();
        assert!(methods.len() >= 30, "{}", methods.len());
        for method in methods {
            let name = method["name"].as_str().expect("name");
            let answer = ask(&mut ws, call(name, json!({}))).await;
            assert_ne!(
                answer["error"]["code"],
                json!(code_of(MethodNotFound)),
                "{name}: {answer}"
            );
        }

        // the same connection still serves
        let answer = ask(
            &mut ws,
            call("exec.run", json!({"workspace": "up", "command": ["echo", "fine"]})),
        )
        .await;
        assert_eq!(answer["result"]["stdout"], "fine\n", "{answer}");
    });

    // a missing or wrong token: the WebSocket handshake gets 401 with a
    // JSON-RPC error of kind unauthorized
    rt.block_on(async {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        for auth in [None, Some("Bearer wrong")] {
            let mut req = format!("ws://{}", d.address).into_client_request().expect("request");
            if let Some(a) = auth {
                req.headers_mut().insert("authorization", a.parse().expect("header"));
            }
            match tokio_tungstenite::connect_async(req).await {
                Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                    assert_eq!(resp.status().as_u16(), 401);
                    let body: Value =
                        serde_json::from_slice(resp.body().as_deref().unwrap_or_default()).expect("JSON body");
                    assert_error("a refused token", &body, Unauthorized);
                }
                other => panic!("{auth:?}: expected 401, got {:?}", other.map(|_| ())),
            }
        }
    });

    // and every other client too
    let out = d.cli_ok(repo.path(), &["workspace", "exec", "up", "--", "echo", "still-here"]);
    assert_eq!(out, "still-here\n");
}
