//! `nexus mcp [--workspace WS] [--model ID] [--conversation-url URL]`: the
//! MCP server of `nexus_sdk::mcp` on standard input and output, with this
//! CLI's client (its daemon, token and permissions), the user's public keys
//! for workspaces it creates, and the model its changes are attributed to.

use nexus_sdk::client::Client;
use rmcp::ServiceExt;

/// Serves MCP on stdin/stdout until the client closes it.
pub async fn serve(client: Client, a: crate::args::McpArgs) -> anyhow::Result<i32> {
    let pinned = a.workspace;
    if let Some(ws) = &pinned {
        // the pinned workspace must exist (and be visible to this caller)
        client.get(ws).await?;
    }
    let keys = crate::ssh::user_keys(None)
        .map(|k| k.iter().map(|k| k.public.clone()).collect())
        .unwrap_or_default();
    let running = nexus_sdk::mcp::Server::with_client(client, pinned, keys)
        .with_agent(a.model, a.conversation_url)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| anyhow::anyhow!("MCP: {e}"))?;
    running.waiting().await.map_err(|e| anyhow::anyhow!("MCP: {e}"))?;
    Ok(0)
}
