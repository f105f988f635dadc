// The Nexus daemon's JSON-RPC 2.0 client for Node, over WebSocket (`ws`),
// with the daemon's bearer token; the client itself is in client.ts.
import WebSocket from "ws";
import { NexusClient as Client, NexusError } from "./client.js";

export * from "./generated.js";
export { NexusError, Subscription, type Transport } from "./client.js";

/** A connected client of one daemon, made by `NexusClient.connect`. */
export class NexusClient extends Client {
  /**
   * Connects to `address` (`host:port`, `ws://…` or `wss://…`) with the
   * daemon's bearer token. Rejects when the daemon refuses the token (HTTP 401).
   */
  static connect(address: string, token: string): Promise<NexusClient> {
    return connect(address, token);
  }
}

function connect(address: string, token: string): Promise<NexusClient> {
  const url = /^wss?:\/\//.test(address) ? address : `ws://${address}`;
  const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` }, maxPayload: 64 * 1024 * 1024 });
  return new Promise((resolve, reject) => {
    const httpBase = url.replace(/^ws/, "http").replace(/\/+$/, "");
    ws.once("open", () => {
      const client = new NexusClient(
        { send: (text, failed) => ws.send(text, (err) => err && failed(err)), close: () => ws.close() },
        httpBase,
        { Authorization: `Bearer ${token}` },
      );
      ws.on("message", (data) => client.received(data.toString()));
      ws.on("close", () => client.closed());
      resolve(client);
    });
    ws.once("unexpected-response", (req, res) => {
      req.destroy();
      const kind = res.statusCode === 401 ? "unauthorized" : undefined;
      reject(new NexusError(`the daemon answered HTTP ${res.statusCode}`, res.statusCode ?? 0, kind, undefined));
    });
    ws.once("error", reject);
  });
}
