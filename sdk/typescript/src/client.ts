// The Nexus daemon's JSON-RPC 2.0 client, over any WebSocket: calls,
// subscriptions and `GET /fs/read`, typed from the OpenRPC document the
// Rust SDK generates (generated.ts). `index.ts` connects it with Node's
// `ws`, `browser.ts` with the browser's own WebSocket.
import { UNSUBSCRIBE, type Methods, type ReadBytesParams, type Subscriptions } from "./generated.js";

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

/**
 * What the client needs of an open WebSocket: Node's `ws` and the
 * browser's `WebSocket` both fit through a few lines (see `index.ts` and
 * `browser.ts`). `send` reports a failure to send through `failed`.
 */
export interface Transport {
  send(text: string, failed: (err: Error) => void): void;
  close(): void;
}

/** A connected client of one daemon. */
export class NexusClient {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private subs = new Map<string, Subscription<unknown>>();
  /** Notifications that arrived before their subscription's answer was handled. */
  private early = new Map<string, unknown[]>();
  private closeListeners: (() => void)[] = [];

  /**
   * A client over an open `transport`; whoever made it hands each received
   * text frame to `received` and calls `closed` once when it closes.
   * `httpBase` (`http://host:port`) is where `GET /fs/read` is; `headers`
   * go with that request (the bearer token; none in a browser, whose
   * session cookie goes by itself).
   */
  constructor(
    private readonly transport: Transport,
    private readonly httpBase: string,
    private readonly headers: Record<string, string>,
  ) {}

  /** @internal */ received(text: string): void {
    this.onMessage(text);
  }

  /** @internal */ closed(): void {
    for (const p of this.pending.values()) p.reject(new Error("the connection to the daemon closed"));
    this.pending.clear();
    for (const s of this.subs.values()) s.end();
    this.subs.clear();
    for (const listener of this.closeListeners.splice(0)) listener();
  }

  /** Calls `listener` once when the connection closes (either side). */
  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  /** Closes the connection. */
  close(): void {
    this.transport.close();
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
      this.transport.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }), (err) => {
        this.pending.delete(id);
        reject(err);
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
    const res = await fetch(`${this.httpBase}/fs/read?${query}`, { headers: this.headers });
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
