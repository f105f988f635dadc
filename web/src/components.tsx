// Small pieces every page uses: the state badge and the copy button.
import { useState } from "preact/hooks";
import type { WorkspaceState } from "@nexus-dev/sdk/browser";

const badge: Record<WorkspaceState, string> = {
  running: "bg-green-100 text-green-900 dark:bg-green-900 dark:text-green-100",
  stopped: "bg-slate-200 text-slate-900 dark:bg-slate-700 dark:text-slate-100",
  paused: "bg-sky-100 text-sky-900 dark:bg-sky-900 dark:text-sky-100",
  creating: "bg-amber-100 text-amber-950 dark:bg-amber-900 dark:text-amber-50",
  removing: "bg-red-100 text-red-900 dark:bg-red-900 dark:text-red-100",
};

/** A workspace state as a coloured badge. */
export function StateBadge({ state }: { state: WorkspaceState }) {
  return (
    <span class={`inline-block rounded-full px-2 py-0.5 text-xs font-semibold ${badge[state]}`} data-state={state}>
      {state}
    </span>
  );
}

/** A button that copies `text` and says so. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="btn"
      aria-label={label}
      onClick={async () => {
        await navigator.clipboard?.writeText(text).catch(() => undefined);
        setDone(true);
        setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? "Copied" : "Copy"}
    </button>
  );
}
