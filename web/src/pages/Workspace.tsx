// `/workspaces/:name`: one workspace — its actions (start, stop, rebuild,
// remove with confirmation), the SSH command to copy, its ports, a
// terminal in it, and its container log.
import { useEffect, useRef, useState } from "preact/hooks";
import type { PortInfo } from "@nexus-dev/sdk/browser";
import { client, daemon, loaded, message, refresh, workspaces } from "../api";
import { CopyButton, StateBadge } from "../components";
import { age } from "../format";
import { navigate } from "../router";
import { Terminal } from "../terminal";
import { Logs } from "../logs";
import { Charts } from "../charts";
import { Sharing } from "../sharing";
import { Activity } from "../activity";

type Action = "start" | "stop" | "rebuild";

function Actions({ name, state }: { name: string; state: string }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const dialog = useRef<HTMLDialogElement>(null);
  const run = async (what: Action | "remove", call: () => Promise<unknown>) => {
    setBusy(what);
    setError(null);
    try {
      await call();
      if (what === "remove") navigate("/");
      else await refresh(name);
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(null);
    }
  };
  const c = client.value;
  const act = (what: Action) => c && run(what, () => c.call(`workspace.${what}`, { workspace: name }));
  return (
    <div>
      <div class="flex flex-wrap gap-2">
        <button type="button" class="btn btn-primary" disabled={!c || busy !== null || state === "running"} onClick={() => act("start")}>
          {busy === "start" ? "Starting…" : "Start"}
        </button>
        <button type="button" class="btn" disabled={!c || busy !== null || state !== "running"} onClick={() => act("stop")}>
          {busy === "stop" ? "Stopping…" : "Stop"}
        </button>
        <button type="button" class="btn" disabled={!c || busy !== null} onClick={() => act("rebuild")}>
          {busy === "rebuild" ? "Rebuilding…" : "Rebuild"}
        </button>
        <button type="button" class="btn btn-danger" disabled={!c || busy !== null} onClick={() => dialog.current?.showModal()}>
          {busy === "remove" ? "Removing…" : "Remove…"}
        </button>
      </div>
      {error && (
        <p role="alert" class="mt-2 text-sm text-red-800 dark:text-red-200">
          {error}
        </p>
      )}
      <dialog ref={dialog} aria-labelledby="remove-title" class="panel m-auto max-w-md text-slate-900 backdrop:bg-black/50 dark:text-slate-100">
        <form
          method="dialog"
          onSubmit={(e) => {
            const force = (e.currentTarget.elements.namedItem("force") as HTMLInputElement).checked;
            const deleteBranch = (e.currentTarget.elements.namedItem("branch") as HTMLInputElement).checked;
            if ((e.submitter as HTMLButtonElement | null)?.value === "remove" && c) {
              void run("remove", () => c.call("workspace.remove", { workspace: name, force, deleteBranch }));
            }
          }}
        >
          <h2 id="remove-title" class="text-lg font-semibold">
            Remove {name}?
          </h2>
          <p class="mt-2 text-sm">Its container and worktree go. Uncommitted changes refuse the removal unless forced.</p>
          <label class="mt-3 flex items-center gap-2 text-sm">
            <input type="checkbox" name="force" /> Force (lose uncommitted changes)
          </label>
          <label class="mt-1 flex items-center gap-2 text-sm">
            <input type="checkbox" name="branch" /> Delete its branch too
          </label>
          <div class="mt-4 flex justify-end gap-2">
            <button class="btn" value="cancel">
              Cancel
            </button>
            <button class="btn btn-danger" value="remove">
              Remove
            </button>
          </div>
        </form>
      </dialog>
    </div>
  );
}

function Ports({ name, running }: { name: string; running: boolean }) {
  const [ports, setPorts] = useState<PortInfo[] | null>(null);
  const c = client.value;
  useEffect(() => {
    if (!c || !running) return;
    let live = true;
    c.call("ports.list", { workspace: name })
      .then((p) => live && setPorts(p))
      .catch(() => live && setPorts([]));
    return () => {
      live = false;
    };
  }, [c, name, running]);
  if (!running) return <p class="muted text-sm">Ports show while the workspace runs.</p>;
  if (!ports) return <p class="muted text-sm">Loading…</p>;
  if (ports.length === 0) return <p class="muted text-sm">No port is listening or forwarded.</p>;
  return (
    <ul class="space-y-1 text-sm">
      {ports.map((p) => (
        <li key={p.containerPort}>
          <span class="font-mono">{p.containerPort}</span>
          {p.label && <span class="muted"> ({p.label})</span>}
          {p.hostPort ? (
            <>
              {" → "}
              <a href={`http://${p.host && p.host !== "0.0.0.0" ? p.host : location.hostname}:${p.hostPort}/`} target="_blank" rel="noreferrer">
                host port {p.hostPort}
              </a>
            </>
          ) : (
            <span class="muted"> not forwarded</span>
          )}
        </li>
      ))}
    </ul>
  );
}

/** The workspace page. */
export default function WorkspacePage({ name }: { name: string }) {
  const w = workspaces.value.get(name);
  useEffect(() => {
    document.title = `${name} · Nexus`;
    return () => {
      document.title = "Nexus";
    };
  }, [name]);
  if (!w) {
    return (
      <div class="panel">
        <h1 class="text-xl font-semibold">{name}</h1>
        <p class="mt-2">{loaded.value ? "No workspace has this name (any more)." : "Loading…"}</p>
        <p class="mt-2">
          <a href="/">Back to the workspaces</a>
        </p>
      </div>
    );
  }
  const running = w.state === "running";
  const ssh = `ssh -p ${w.sshPort} ${w.remoteUser}@${w.sshHost}`;
  return (
    <article aria-labelledby="ws-title" class="space-y-6">
      <div class="flex flex-wrap items-center gap-3">
        <h1 id="ws-title" class="text-2xl font-semibold break-all">
          {w.name}
        </h1>
        <StateBadge state={w.state} />
        {w.stateReason && <span class="muted text-sm">{w.stateReason}</span>}
      </div>
      <Actions name={w.name} state={w.state} />
      <div class="grid gap-4 md:grid-cols-2">
        <section class="panel" aria-labelledby="ssh-title">
          <h2 id="ssh-title" class="font-semibold">
            SSH
          </h2>
          <div class="mt-2 flex items-center gap-2">
            <code class="min-w-0 flex-1 truncate rounded bg-slate-100 px-2 py-1 font-mono text-xs dark:bg-slate-800" data-testid="ssh-command">
              {ssh}
            </code>
            <CopyButton text={ssh} label="Copy the ssh command" />
          </div>
          <div class="mt-2 flex items-center gap-2">
            <code class="min-w-0 flex-1 truncate rounded bg-slate-100 px-2 py-1 font-mono text-xs dark:bg-slate-800">
              nexus workspace ssh {w.name}
            </code>
            <CopyButton text={`nexus workspace ssh ${w.name}`} label="Copy the nexus ssh command" />
          </div>
        </section>
        <section class="panel" aria-labelledby="details-title">
          <h2 id="details-title" class="font-semibold">
            Details
          </h2>
          <dl class="mt-2 grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm">
            <dt class="muted">Branch</dt>
            <dd class="font-mono text-xs leading-5 break-all">{w.branch}</dd>
            <dt class="muted">Image</dt>
            <dd class="font-mono text-xs leading-5 break-all">{w.image}</dd>
            <dt class="muted">Repository</dt>
            <dd class="font-mono text-xs leading-5 break-all">{w.repository}</dd>
            <dt class="muted">Folder</dt>
            <dd class="font-mono text-xs leading-5 break-all">{w.workspaceFolder}</dd>
            {w.owner && (
              <>
                <dt class="muted">Owner</dt>
                <dd>{w.owner}</dd>
              </>
            )}
            <dt class="muted">Age</dt>
            <dd>{age(w.createdAt)}</dd>
          </dl>
        </section>
      </div>
      <section class="panel" aria-labelledby="charts-title">
        <h2 id="charts-title" class="mb-2 font-semibold">
          Resources
        </h2>
        {running ? <Charts workspace={w.name} /> : <p class="muted text-sm">Charts show while the workspace runs.</p>}
      </section>
      {daemon.value?.mode === "team" && (
        <section class="panel" aria-labelledby="sharing-title">
          <h2 id="sharing-title" class="mb-2 font-semibold">
            Sharing
          </h2>
          <Sharing workspace={w.name} />
        </section>
      )}
      <section class="panel" aria-labelledby="ports-title">
        <h2 id="ports-title" class="mb-2 font-semibold">
          Ports
        </h2>
        <Ports name={w.name} running={running} />
      </section>
      <section class="panel" aria-labelledby="terminal-title">
        <h2 id="terminal-title" class="mb-2 font-semibold">
          Terminal
        </h2>
        {running ? <Terminal workspace={w.name} /> : <p class="muted text-sm">Start the workspace to open a terminal.</p>}
      </section>
      <section class="panel" aria-labelledby="activity-title">
        <h2 id="activity-title" class="mb-2 font-semibold">
          Activity and hook output
        </h2>
        <Activity workspace={w.name} />
      </section>
      <section class="panel" aria-labelledby="logs-title">
        <h2 id="logs-title" class="mb-2 font-semibold">
          Container log
        </h2>
        <Logs workspace={w.name} />
      </section>
    </article>
  );
}
