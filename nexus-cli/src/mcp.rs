//! `nexus mcp [--workspace WS]`: the MCP server of `nexus_sdk::mcp` on
//! standard input and output, with this CLI's client (its daemon, token
//! and permissions) and the user's public keys for workspaces it creates.

use nexus_sdk::client::Client;
use rmcp::ServiceExt;

/// Serves MCP on stdin/stdout until the client closes it.
pub async fn serve(client: Client, pinned: Option<String>) -> anyhow::Result<i32> {
    if let Some(ws) = &pinned {
        // the pinned workspace must exist (and be visible to this caller)
        client.get(ws).await?;
    }
    let keys = crate::ssh::user_keys(None)
        .map(|k| k.iter().map(|k| k.public.clone()).collect())
        .unwrap_or_default();
    let running = nexus_sdk::mcp::Server::with_client(client, pinned, keys)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| anyhow::anyhow!("MCP: {e}"))?;
    running.waiting().await.map_err(|e| anyhow::anyhow!("MCP: {e}"))?;
    Ok(0)
}
