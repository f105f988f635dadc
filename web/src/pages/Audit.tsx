// `/audit` (team mode, site admins): the audit log, newest first, filtered
// by person, workspace and time (`audit.list`).
import { useEffect, useState } from "preact/hooks";
import type { AuditEntry } from "@nexus-dev/sdk/browser";
import { client, me, message } from "../api";

/** The audit page. */
export default function AuditPage() {
  const [rows, setRows] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filters, setFilters] = useState({ user: "", workspace: "", since: "" });
  const c = client.value;

  useEffect(() => {
    document.title = "Audit log · Nexus";
  }, []);
  useEffect(() => {
    if (!c) return;
    let live = true;
    const since = filters.since ? Math.floor(new Date(filters.since).getTime() / 1000) : null;
    c.call("audit.list", {
      user: filters.user || null,
      workspace: filters.workspace || null,
      since,
      limit: 500,
    })
      .then((r) => live && (setRows(r), setError(null)))
      .catch((e) => live && setError(message(e)));
    return () => {
      live = false;
    };
  }, [c, filters]);

  if (me.value && !me.value.admin) {
    return <p class="panel">The audit log is for site admins.</p>;
  }
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title" class="mb-4 text-2xl font-semibold">
        Audit log
      </h1>
      <form
        class="mb-4 flex flex-wrap items-end gap-3"
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          setFilters({
            user: String(f.get("user") ?? "").trim(),
            workspace: String(f.get("workspace") ?? "").trim(),
            since: String(f.get("since") ?? ""),
          });
        }}
      >
        <label class="flex flex-col text-sm">
          <span class="mb-1 font-medium">Person</span>
          <input class="field w-40" name="user" autocomplete="off" />
        </label>
        <label class="flex flex-col text-sm">
          <span class="mb-1 font-medium">Workspace</span>
          <input class="field w-40" name="workspace" autocomplete="off" />
        </label>
        <label class="flex flex-col text-sm">
          <span class="mb-1 font-medium">Since</span>
          <input class="field" type="datetime-local" name="since" />
        </label>
        <button class="btn btn-primary">Filter</button>
      </form>
      {error && (
        <p role="alert" class="text-sm text-red-800 dark:text-red-200">
          {error}
        </p>
      )}
      {rows && rows.length === 0 && <p class="panel">No entry matches.</p>}
      {rows && rows.length > 0 && (
        <div class="overflow-x-auto">
          <table class="w-full border-collapse text-left text-sm" data-testid="audit-table">
            <caption class="sr-only">Audit entries, newest first</caption>
            <thead>
              <tr class="border-b border-slate-300 dark:border-slate-700">
                <th scope="col" class="py-2 pr-3">When</th>
                <th scope="col" class="py-2 pr-3">Who</th>
                <th scope="col" class="py-2 pr-3">Action</th>
                <th scope="col" class="py-2 pr-3">Target</th>
                <th scope="col" class="py-2 pr-3">Outcome</th>
                <th scope="col" class="py-2 pr-3">Detail</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.seq} class="border-b border-slate-200 dark:border-slate-800" data-action={r.action}>
                  <td class="py-2 pr-3 whitespace-nowrap">{new Date(r.at).toLocaleString()}</td>
                  <td class="py-2 pr-3">{r.actor}</td>
                  <td class="py-2 pr-3 font-mono text-xs">{r.action}</td>
                  <td class="py-2 pr-3">{r.target}</td>
                  <td class="py-2 pr-3">{r.outcome}</td>
                  <td class="py-2 pr-3 font-mono text-xs break-all">{r.detail}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
