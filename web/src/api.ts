// The dashboard's one connection to the daemon (the TypeScript SDK's
// browser client, authenticated by the session cookie), kept open: it
// reconnects after a drop or a daemon restart, and holds the workspace
// list live from `events.subscribe`.
import { computed, signal } from "@preact/signals";
import { connectHere, NexusError, type DaemonInfo, type NexusClient, type User, type Workspace } from "@nexus-dev/sdk/browser";

/** Where the connection is. */
export type Status = "connecting" | "open" | "reconnecting" | "signed-out";

/** The connection's status. */
export const status = signal<Status>("connecting");
/** The open client; `null` while (re)connecting. Pages subscribe through it, again after each reconnect. */
export const client = signal<NexusClient | null>(null);
/** The daemon's `daemon.info`. */
export const daemon = signal<DaemonInfo | null>(null);
/** Team mode: who signed this browser in. */
export const me = signal<User | null>(null);
/** Every workspace the caller sees, by name, as the daemon last said. */
export const workspaces = signal<ReadonlyMap<string, Workspace>>(new Map());
/** Whether the first list arrived. */
export const loaded = signal(false);
/** The workspaces as a list. */
export const workspaceList = computed(() => [...workspaces.value.values()]);

function put(w: Workspace): void {
  const next = new Map(workspaces.value);
  next.set(w.name, w);
  workspaces.value = next;
}

function drop(name: string): void {
  const next = new Map(workspaces.value);
  next.delete(name);
  workspaces.value = next;
}

/** Asks the daemon for `name` again and puts the answer in the list. */
export async function refresh(name: string): Promise<void> {
  const c = client.value;
  if (!c) return;
  try {
    put(await c.call("workspace.get", { workspace: name }));
  } catch (e) {
    if (e instanceof NexusError && e.kind === "not_found") drop(name);
  }
}

async function listAll(c: NexusClient): Promise<void> {
  const list = await c.call("workspace.list", {});
  workspaces.value = new Map(list.map((w) => [w.name, w]));
  loaded.value = true;
}

async function follow(c: NexusClient): Promise<void> {
  const events = await c.subscribe("events.subscribe", {});
  // what changed while the subscription was being made
  await listAll(c);
  for await (const ev of events) {
    if (ev.type !== "state") continue;
    const known = workspaces.value.get(ev.workspace);
    if (ev.state == null) drop(ev.workspace);
    else if (known) put({ ...known, state: ev.state });
    // a new workspace, or a state whose other fields changed with it (ports, image)
    if (ev.state != null && (!known || ev.state === "running")) void refresh(ev.workspace);
  }
}

let started = false;

/** Connects, and keeps reconnecting (250 ms, doubling to 2 s) until signed out. */
export function start(): void {
  if (started) return;
  started = true;
  void loop();
}

async function loop(): Promise<void> {
  let wait = 250;
  for (;;) {
    try {
      const c = await connectHere();
      wait = 250;
      const closed = new Promise<void>((resolve) => c.onClose(resolve));
      daemon.value = await c.call("daemon.info", {});
      me.value = daemon.value.mode === "team" ? ((await c.call("auth.whoami", {})).user ?? null) : null;
      client.value = c;
      status.value = "open";
      void follow(c).catch(() => c.close());
      await closed;
    } catch (e) {
      if (e instanceof NexusError && e.kind === "unauthorized") {
        status.value = "signed-out";
        client.value = null;
        return;
      }
    }
    client.value = null;
    status.value = "reconnecting";
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 2000);
  }
}

/** Signs this browser out (the daemon ends the cookie's session). */
export async function signOut(): Promise<void> {
  await fetch("/logout", { method: "POST" });
  client.value?.close();
  status.value = "signed-out";
}

/** A daemon error's message, for people. */
export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
