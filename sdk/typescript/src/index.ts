// The Nexus daemon's JSON-RPC 2.0 client over WebSocket, typed from the
// OpenRPC document the Rust SDK generates (src/generated.ts).
import WebSocket from "ws";
import { UNSUBSCRIBE, type Methods, type ReadBytesParams, type Subscriptions } from "./generated.js";

export * from "./generated.js";

/** A JSON-RPC error from the daemon: `code` is stable, `kind` is `data.kind`. */
export class NexusError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly kind: string | undefined,
    readonly data: unknown,
  ) {
    super(message);
    this.name = "NexusError";
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** Notifications of one subscription, as an async iterator; `close()` unsubscribes. */
export class Subscription<T> implements AsyncIterable<T> {
  private queue: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | undefined;
  private ended = false;

  constructor(
    readonly id: string,
    private readonly unsubscribe: () => Promise<void>,
  ) {}

  /** @internal */ push(item: T): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: item, done: false });
    } else {
      this.queue.push(item);
    }
  }

  /** @internal */ end(): void {
    this.ended = true;
    this.waiting?.({ value: undefined, done: true });
    this.waiting = undefined;
  }

  /** The next notification, or `undefined` once the subscription ended. */
  async next(): Promise<T | undefined> {
    const r = await this[Symbol.asyncIterator]().next();
    return r.done ? undefined : r.value;
  }

  /** Unsubscribes. */
  async close(): Promise<void> {
    if (!this.ended) {
      this.end();
      await this.unsubscribe();
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.queue.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.waiting = resolve));
      },
    };
  }
}

/** A connected client of one daemon. */
export class NexusClient {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private subs = new Map<string, Subscription<unknown>>();
  /** Notifications that arrived before their subscription's answer was handled. */
  private early = new Map<string, unknown[]>();

  private constructor(
    private readonly ws: WebSocket,
    /** `http://host:port` or `https://host:port`: where `GET /fs/read` is. */
    private readonly httpBase: string,
    private readonly token: string,
  ) {
    ws.on("message", (data) => this.onMessage(data.toString()));
    ws.on("close", () => {
      for (const p of this.pending.values()) p.reject(new Error("the connection to the daemon closed"));
      this.pending.clear();
      for (const s of this.subs.values()) s.end();
      this.subs.clear();
    });
  }

  /**
   * Connects to `address` (`host:port`, `ws://…` or `wss://…`) with the
   * daemon's bearer token. Rejects when the daemon refuses the token (HTTP 401).
   */
  static connect(address: string, token: string): Promise<NexusClient> {
    const url = /^wss?:\/\//.test(address) ? address : `ws://${address}`;
    const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` }, maxPayload: 64 * 1024 * 1024 });
    return new Promise((resolve, reject) => {
      const httpBase = url.replace(/^ws/, "http").replace(/\/+$/, "");
      ws.once("open", () => resolve(new NexusClient(ws, httpBase, token)));
      ws.once("unexpected-response", (req, res) => {
        req.destroy();
        const kind = res.statusCode === 401 ? "unauthorized" : undefined;
        reject(new NexusError(`the daemon answered HTTP ${res.statusCode}`, res.statusCode ?? 0, kind, undefined));
      });
      ws.once("error", reject);
    });
  }

  /** Closes the connection. */
  close(): void {
    this.ws.close();
  }

  private onMessage(text: string): void {
    const msg = JSON.parse(text);
    if (msg.id !== undefined && msg.id !== null && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id)!;
      this.pending.delete(msg.id);
      if (msg.error) {
        p.reject(new NexusError(msg.error.message, msg.error.code, msg.error.data?.kind, msg.error.data));
      } else {
        p.resolve(msg.result);
      }
    } else if (msg.method && msg.params?.subscription !== undefined) {
      const id = String(msg.params.subscription);
      const sub = this.subs.get(id);
      if (sub) {
        sub.push(msg.params.result);
      } else {
        const queue = this.early.get(id) ?? [];
        queue.push(msg.params.result);
        this.early.set(id, queue);
        // late notifications of closed subscriptions land here too: keep few
        if (this.early.size > 64) this.early.delete(this.early.keys().next().value!);
      }
    }
  }

  private send(method: string, params: unknown): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }), (err) => {
        if (err) {
          this.pending.delete(id);
          reject(err);
        }
      });
    });
  }

  /** Calls a method: `client.call("fs.readFile", {workspace, path})`. */
  call<M extends keyof Methods>(method: M, params: Methods[M]["params"]): Promise<Methods[M]["result"]> {
    return this.send(method, params) as Promise<Methods[M]["result"]>;
  }

  /**
   * `GET /fs/read`: a file's raw bytes, `length` from `offset` (the rest of
   * the file when absent), with no size limit and no base64 — the fast way
   * to read large files. Resolves to the bytes and the file's whole size;
   * rejects with a `NexusError` carrying `fs.readFile`'s codes and kinds.
   */
  async readBytes(params: ReadBytesParams): Promise<{ data: Uint8Array; size: number }> {
    const query = new URLSearchParams({ workspace: params.workspace, path: params.path });
    if (params.offset != null) query.set("offset", String(params.offset));
    if (params.length != null) query.set("length", String(params.length));
    const res = await fetch(`${this.httpBase}/fs/read?${query}`, {
      headers: { Authorization: `Bearer ${this.token}` },
    });
    if (!res.ok) {
      const body = await res.json().catch(() => undefined);
      const e = body?.error;
      throw new NexusError(e?.message ?? `the daemon answered HTTP ${res.status}`, e?.code ?? res.status, e?.data?.kind, e?.data);
    }
    const data = new Uint8Array(await res.arrayBuffer());
    return { data, size: Number(res.headers.get("x-nexus-file-size") ?? data.length) };
  }

  /** Subscribes: `for await (const ev of await client.subscribe("exec.stream", …))`. */
  async subscribe<S extends keyof Subscriptions>(
    method: S,
    params: Subscriptions[S]["params"],
  ): Promise<Subscription<Subscriptions[S]["item"]>> {
    const id = String(await this.send(method, params));
    const sub = new Subscription<Subscriptions[S]["item"]>(id, async () => {
      this.subs.delete(id);
      await this.send(UNSUBSCRIBE[method], [id]).catch(() => undefined);
    });
    this.subs.set(id, sub as Subscription<unknown>);
    for (const item of this.early.get(id) ?? []) sub.push(item as Subscriptions[S]["item"]);
    this.early.delete(id);
    return sub;
  }
}
