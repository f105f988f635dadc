// The Nexus daemon's JSON-RPC 2.0 client in a browser page served by the
// daemon itself: the page's origin, its session cookie (set by the
// dashboard's sign-in link) and the browser's WebSocket. No token is ever
// handled here.
import { NexusClient, NexusError } from "./client.js";

export * from "./generated.js";
export { NexusClient, NexusError, Subscription, type Transport } from "./client.js";

/**
 * Connects to the daemon that served this page (`ws://` or `wss://` of
 * `location`). Rejects with kind `unauthorized` when the connection is
 * refused before it opens (no session cookie, or an expired one): browsers
 * do not show the HTTP status of a refused upgrade, so the page asks
 * `GET /health` to tell a daemon that is down from a refusal.
 */
export function connectHere(): Promise<NexusClient> {
  const http = `${location.protocol}//${location.host}`;
  const ws = new WebSocket(http.replace(/^http/, "ws") + "/");
  return new Promise((resolve, reject) => {
    let open = false;
    ws.onopen = () => {
      open = true;
      const client = new NexusClient(
        {
          send: (text, failed) => {
            if (ws.readyState !== WebSocket.OPEN) failed(new Error("the connection to the daemon closed"));
            else ws.send(text);
          },
          close: () => ws.close(),
        },
        http,
        {},
      );
      ws.onmessage = (ev) => client.received(String(ev.data));
      ws.onclose = () => client.closed();
      resolve(client);
    };
    ws.onclose = async () => {
      if (open) return;
      const up = await fetch(`${http}/health`).then((r) => r.status !== 0).catch(() => false);
      reject(
        up
          ? new NexusError("the daemon refused this browser: sign in with `nexus dashboard`", 401, "unauthorized", undefined)
          : new NexusError("the daemon does not answer", 0, "unavailable", undefined),
      );
    };
  });
}
