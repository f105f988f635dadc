//! The MCP benchmark, run by `scripts/bench.sh mcp` against a release
//! daemon: `mcp_bench ADDRESS TOKEN WORKSPACE NEXUS` prints the p50 (ms) of
//! 200 `exec` of `true` through the SDK's `exec.run`, through `NEXUS mcp
//! --workspace WORKSPACE` (stdio) and through the daemon's `/mcp` (HTTP),
//! all running `sh -c true` in the workspace.

use nexus_sdk::ExecParams;
use nexus_sdk::client::Client;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use std::time::{Duration, Instant};

const ROUNDS: usize = 200;

fn p50(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

async fn mcp_p50(mcp: &RunningService<RoleClient, ()>, workspace: Option<&str>) -> f64 {
    let mut args = serde_json::Map::new();
    args.insert("command".into(), "true".into());
    if let Some(w) = workspace {
        args.insert("workspace".into(), w.into());
    }
    let call = || mcp.call_tool(CallToolRequestParams::new("exec").with_arguments(args.clone()));
    for _ in 0..20 {
        call().await.expect("warm-up");
    }
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let r = call().await.expect("exec");
        assert_eq!(r.is_error, Some(false), "{r:?}");
        times.push(t.elapsed());
    }
    p50(times)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, address, token, workspace, nexus] = &args[..] else {
        panic!("usage: mcp_bench ADDRESS TOKEN WORKSPACE NEXUS");
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = Client::connect(address, token).await.expect("connect");
    let params = ExecParams {
        workspace: workspace.clone(),
        command: vec!["sh".into(), "-c".into(), "true".into()],
        ..Default::default()
    };
    for _ in 0..20 {
        c.exec_run(&params).await.expect("warm-up");
    }
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        c.exec_run(&params).await.expect("exec.run");
        times.push(t.elapsed());
    }
    let sdk = p50(times);

    let mut cmd = tokio::process::Command::new(nexus);
    cmd.args(["mcp", "--workspace", workspace]);
    let stdio = ().serve(rmcp::transport::TokioChildProcess::new(cmd).expect("spawn")).await.expect("initialize");
    let over_stdio = mcp_p50(&stdio, None).await;
    let _ = stdio.cancel().await;

    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let config =
        StreamableHttpClientTransportConfig::with_uri(format!("http://{address}/mcp")).auth_header(token.clone());
    let http = ().serve(StreamableHttpClientTransport::from_config(config)).await.expect("initialize");
    let over_http = mcp_p50(&http, Some(workspace)).await;
    let _ = http.cancel().await;

    println!("| `exec` of `true`, p50 of {ROUNDS} | ms | × SDK | goal |");
    println!("| --- | --- | --- | --- |");
    println!("| SDK `exec.run` | {sdk:.2} | 1.00 | |");
    println!(
        "| MCP over stdio (`nexus mcp --workspace`) | {over_stdio:.2} | {:.2} | ≤ 2 × |",
        over_stdio / sdk
    );
    println!(
        "| MCP over HTTP (`/mcp`) | {over_http:.2} | {:.2} | ≤ 2 × |",
        over_http / sdk
    );
}
