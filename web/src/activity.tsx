// The workspace page's activity: the daemon's progress events for the
// workspace while the page is open — a start's or rebuild's steps and
// each line of devcontainer.json's lifecycle hooks (step `hook`).
import { useEffect, useState } from "preact/hooks";
import { client } from "./api";

/** Lines kept. */
const KEEP = 500;

type Line = { at: number; step: string; message: string };

/** The progress of `workspace` from now on. */
export function Activity({ workspace }: { workspace: string }) {
  const [lines, setLines] = useState<Line[]>([]);
  const c = client.value;
  useEffect(() => {
    if (!c) return;
    let live = true;
    void (async () => {
      try {
        const events = await c.subscribe("events.subscribe", { workspace });
        for await (const ev of events) {
          if (!live) break;
          if (ev.type === "progress") {
            setLines((l) => [...l, { at: Date.now(), step: ev.step, message: ev.message }].slice(-KEEP));
          }
        }
        void events.close();
      } catch {
        // the connection dropped: the next one subscribes again
      }
    })();
    return () => {
      live = false;
    };
  }, [c, workspace]);
  if (lines.length === 0) {
    return <p class="muted text-sm">A start or rebuild shows its steps and its lifecycle hooks' output here.</p>;
  }
  return (
    <ol class="max-h-64 overflow-auto rounded bg-slate-100 p-2 font-mono text-xs dark:bg-slate-950" aria-label="Progress and hook output" data-testid="activity">
      {lines.map((l) => (
        <li class="break-all" data-step={l.step}>
          <span class="muted">{new Date(l.at).toLocaleTimeString()} {l.step}</span> {l.message}
        </li>
      ))}
    </ol>
  );
}
