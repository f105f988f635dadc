// The newest resource sample of every running workspace, for the
// overview: one `workspace.stats` subscription per running workspace,
// gathered and put on the page once a second (not once per sample).
import { effect, signal } from "@preact/signals";
import type { NexusClient, StatsSample, Subscription } from "@nexus-dev/sdk/browser";
import { client, workspaceList } from "./api";

/** The newest sample by workspace name. */
export const latest = signal<ReadonlyMap<string, StatsSample>>(new Map());

let pending = new Map<string, StatsSample>();
let open = new Map<string, Subscription<StatsSample>>();
let on: NexusClient | null = null;
const starting = new Set<string>();

async function follow(c: NexusClient, name: string): Promise<void> {
  starting.add(name);
  try {
    const sub = await c.subscribe("workspace.stats", { workspace: name });
    starting.delete(name);
    if (on !== c || open.has(name)) {
      void sub.close();
      return;
    }
    open.set(name, sub);
    for await (const s of sub) pending.set(name, s);
  } catch {
    // not running any more: the next list change decides
    starting.delete(name);
  } finally {
    if (on === c) open.delete(name);
  }
}

/** Keeps the subscriptions in step with the running workspaces. */
export function trackStats(): () => void {
  const flush = setInterval(() => {
    if (pending.size === 0) return;
    const next = new Map(latest.value);
    for (const [k, v] of pending) next.set(k, v);
    pending = new Map();
    latest.value = next;
  }, 1000);
  const stop = effect(() => {
    const c = client.value;
    const running = new Set(workspaceList.value.filter((w) => w.state === "running").map((w) => w.name));
    if (c !== on) {
      for (const s of open.values()) void s.close();
      open = new Map();
      on = c;
    }
    for (const [name, sub] of open) {
      if (!running.has(name)) {
        void sub.close();
        open.delete(name);
      }
    }
    if (c) for (const name of running) if (!open.has(name) && !starting.has(name)) void follow(c, name);
    const kept = new Map([...latest.value].filter(([name]) => running.has(name)));
    if (kept.size !== latest.value.size) latest.value = kept;
  });
  return () => {
    clearInterval(flush);
    stop();
    for (const s of open.values()) void s.close();
    open = new Map();
    on = null;
  };
}
