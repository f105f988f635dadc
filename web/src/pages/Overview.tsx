// `/`: every workspace with its state, branch, image, SSH port, owner and
// age; table or cards, filtered and sorted; live from the daemon's events.
import { signal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { Workspace, WorkspaceState } from "@nexus-dev/sdk/browser";
import { daemon, loaded, status, workspaceList } from "../api";
import { StateBadge } from "../components";
import { age, bytes, percent } from "../format";
import { latest, trackStats } from "../stats";

/** CPU and memory of a running workspace, from its newest sample. */
function usage(name: string): { cpu: string; memory: string } {
  const s = latest.value.get(name);
  return s ? { cpu: percent(s.cpuPercent), memory: bytes(s.memoryBytes) } : { cpu: "–", memory: "–" };
}

type SortKey = "name" | "state" | "age";
const filter = signal("");
const stateFilter = signal<"" | WorkspaceState>("");
const sortKey = signal<SortKey>("name");
const view = signal<"table" | "cards">("table");

function matches(w: Workspace): boolean {
  const f = filter.value.trim().toLowerCase();
  if (stateFilter.value && w.state !== stateFilter.value) return false;
  if (!f) return true;
  return [w.name, w.branch, w.image, w.owner ?? ""].some((v) => v.toLowerCase().includes(f));
}

const order: Record<WorkspaceState, number> = { running: 0, creating: 1, paused: 2, stopped: 3, removing: 4 };

function compare(a: Workspace, b: Workspace): number {
  switch (sortKey.value) {
    case "state":
      return order[a.state] - order[b.state] || a.name.localeCompare(b.name);
    case "age":
      return b.createdAt - a.createdAt;
    default:
      return a.name.localeCompare(b.name);
  }
}

function Controls({ team }: { team: boolean }) {
  return (
    <div class="mb-4 flex flex-wrap items-end gap-3">
      <label class="flex flex-col text-sm">
        <span class="mb-1 font-medium">Filter</span>
        <input
          class="field w-56"
          type="search"
          value={filter.value}
          onInput={(e) => (filter.value = e.currentTarget.value)}
          placeholder={team ? "name, branch, image, owner" : "name, branch, image"}
        />
      </label>
      <label class="flex flex-col text-sm">
        <span class="mb-1 font-medium">State</span>
        <select class="field" value={stateFilter.value} onChange={(e) => (stateFilter.value = e.currentTarget.value as WorkspaceState)}>
          <option value="">any</option>
          {Object.keys(order).map((s) => (
            <option value={s}>{s}</option>
          ))}
        </select>
      </label>
      <label class="flex flex-col text-sm">
        <span class="mb-1 font-medium">Sort by</span>
        <select class="field" value={sortKey.value} onChange={(e) => (sortKey.value = e.currentTarget.value as SortKey)}>
          <option value="name">name</option>
          <option value="state">state</option>
          <option value="age">newest</option>
        </select>
      </label>
      <div role="group" aria-label="View" class="ml-auto hidden gap-1 sm:flex">
        <button type="button" class="btn" aria-pressed={view.value === "table"} onClick={() => (view.value = "table")}>
          Table
        </button>
        <button type="button" class="btn" aria-pressed={view.value === "cards"} onClick={() => (view.value = "cards")}>
          Cards
        </button>
      </div>
    </div>
  );
}

function Table({ list, team }: { list: Workspace[]; team: boolean }) {
  return (
    <table class="w-full border-collapse text-left text-sm" data-testid="workspace-table">
      <caption class="sr-only">Workspaces</caption>
      <thead>
        <tr class="border-b border-slate-300 dark:border-slate-700">
          <th scope="col" class="py-2 pr-3">Name</th>
          <th scope="col" class="py-2 pr-3">State</th>
          <th scope="col" class="py-2 pr-3">Branch</th>
          <th scope="col" class="py-2 pr-3">Image</th>
          <th scope="col" class="py-2 pr-3">SSH port</th>
          <th scope="col" class="py-2 pr-3 text-right">CPU</th>
          <th scope="col" class="py-2 pr-3 text-right">Memory</th>
          {team && <th scope="col" class="py-2 pr-3">Owner</th>}
          <th scope="col" class="py-2 pr-3">Age</th>
        </tr>
      </thead>
      <tbody>
        {list.map((w) => (
          <tr key={w.name} class="border-b border-slate-200 dark:border-slate-800" data-workspace={w.name}>
            <td class="py-2 pr-3 font-medium">
              <a href={`/workspaces/${w.name}`}>{w.name}</a>
            </td>
            <td class="py-2 pr-3">
              <StateBadge state={w.state} />
            </td>
            <td class="py-2 pr-3 font-mono text-xs">{w.branch}</td>
            <td class="max-w-56 truncate py-2 pr-3 font-mono text-xs" title={w.image}>
              {w.image}
            </td>
            <td class="py-2 pr-3 font-mono text-xs">{w.sshPort}</td>
            <td class="py-2 pr-3 text-right tabular-nums" data-metric="cpu">{usage(w.name).cpu}</td>
            <td class="py-2 pr-3 text-right tabular-nums" data-metric="memory">{usage(w.name).memory}</td>
            {team && <td class="py-2 pr-3">{w.owner}</td>}
            <td class="py-2 pr-3">{age(w.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Cards({ list, team }: { list: Workspace[]; team: boolean }) {
  return (
    <ul class="grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-3" data-testid="workspace-cards">
      {list.map((w) => (
        <li key={w.name} class="panel" data-workspace={w.name}>
          <div class="flex items-center justify-between gap-2">
            <a href={`/workspaces/${w.name}`} class="truncate font-semibold">
              {w.name}
            </a>
            <StateBadge state={w.state} />
          </div>
          <dl class="mt-2 grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm">
            <dt class="muted">Branch</dt>
            <dd class="truncate font-mono text-xs leading-5">{w.branch}</dd>
            <dt class="muted">Image</dt>
            <dd class="truncate font-mono text-xs leading-5" title={w.image}>
              {w.image}
            </dd>
            <dt class="muted">SSH port</dt>
            <dd class="font-mono text-xs leading-5">{w.sshPort}</dd>
            <dt class="muted">CPU, memory</dt>
            <dd class="tabular-nums">
              {usage(w.name).cpu}, {usage(w.name).memory}
            </dd>
            {team && (
              <>
                <dt class="muted">Owner</dt>
                <dd>{w.owner}</dd>
              </>
            )}
            <dt class="muted">Age</dt>
            <dd>{age(w.createdAt)}</dd>
          </dl>
        </li>
      ))}
    </ul>
  );
}

/** The overview page. */
export function Overview() {
  useEffect(() => trackStats(), []);
  const team = daemon.value?.mode === "team";
  const list = workspaceList.value.filter(matches).sort(compare);
  const all = workspaceList.value.length;
  return (
    <section aria-labelledby="overview-title">
      <div class="mb-4 flex flex-wrap items-baseline justify-between gap-2">
        <h1 id="overview-title" class="text-2xl font-semibold">
          Workspaces
        </h1>
        <p class="muted text-sm" aria-live="polite">
          {loaded.value ? `${list.length} of ${all} shown` : status.value === "open" ? "Loading…" : ""}
        </p>
      </div>
      <Controls team={team} />
      {loaded.value && all === 0 && (
        <p class="panel">
          No workspaces yet. <a href="/workspaces/new">Create one</a>, or run <code class="font-mono">nexus workspace create NAME</code> in a
          git repository.
        </p>
      )}
      {list.length > 0 && (
        <>
          {/* phones always get cards; wider screens the chosen view */}
          <div class={view.value === "table" ? "hidden sm:block" : "hidden"}>
            <Table list={list} team={team} />
          </div>
          <div class={view.value === "table" ? "sm:hidden" : ""}>
            <Cards list={list} team={team} />
          </div>
        </>
      )}
    </section>
  );
}
