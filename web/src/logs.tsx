// The workspace page's container log (`workspace.logs` with follow):
// search with next and previous match, follow mode that pauses while
// scrolled up, and download.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { client } from "./api";

/** Most log text kept on the page, in characters (the oldest goes first). */
const KEEP = 2_000_000;

/** The container log of `workspace`. */
export function Logs({ workspace }: { workspace: string }) {
  const [text, setText] = useState("");
  const [query, setQuery] = useState("");
  const [current, setCurrent] = useState(0);
  const [follow, setFollow] = useState(true);
  const pre = useRef<HTMLPreElement>(null);
  const c = client.value;

  useEffect(() => {
    if (!c) return;
    let live = true;
    setText("");
    void (async () => {
      try {
        const sub = await c.subscribe("workspace.logs", { workspace, follow: true });
        for await (const chunk of sub) {
          if (!live) break;
          if (chunk.text) setText((t) => (t + chunk.text).slice(-KEEP));
        }
        void sub.close();
      } catch {
        // a workspace without a container has no log yet
      }
    })();
    return () => {
      live = false;
    };
  }, [c, workspace]);

  // where the query matches, as offsets
  const matches = useMemo(() => {
    const q = query.toLowerCase();
    if (!q) return [] as number[];
    const lower = text.toLowerCase();
    const at: number[] = [];
    for (let i = lower.indexOf(q); i >= 0 && at.length < 10_000; i = lower.indexOf(q, i + q.length)) at.push(i);
    return at;
  }, [text, query]);

  useEffect(() => {
    const el = pre.current;
    if (el && follow && !query) el.scrollTop = el.scrollHeight;
  }, [text, follow, query]);

  useEffect(() => {
    pre.current?.querySelector("mark[data-current]")?.scrollIntoView({ block: "center" });
  }, [current, query]);

  const step = (by: number) => matches.length && setCurrent((i) => (i + by + matches.length) % matches.length);
  const download = () => {
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `${workspace}.log`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  // the text with the matches marked
  const parts = [];
  let from = 0;
  matches.forEach((m, i) => {
    parts.push(text.slice(from, m));
    parts.push(
      <mark class="bg-yellow-200 text-slate-950" data-current={i === current ? "" : undefined}>
        {text.slice(m, m + query.length)}
      </mark>,
    );
    from = m + query.length;
  });
  parts.push(text.slice(from));

  return (
    <div>
      <div class="mb-2 flex flex-wrap items-center gap-2">
        <label class="flex items-center gap-2 text-sm">
          <span>Search</span>
          <input
            class="field w-48"
            type="search"
            value={query}
            onInput={(e) => {
              setQuery(e.currentTarget.value);
              setCurrent(0);
            }}
            onKeyDown={(e) => e.key === "Enter" && step(e.shiftKey ? -1 : 1)}
          />
        </label>
        <span class="muted text-sm" aria-live="polite">
          {query ? (matches.length ? `${current + 1} of ${matches.length}` : "no match") : ""}
        </span>
        <button type="button" class="btn" disabled={!matches.length} onClick={() => step(-1)}>
          Previous
        </button>
        <button type="button" class="btn" disabled={!matches.length} onClick={() => step(1)}>
          Next
        </button>
        <label class="flex items-center gap-1 text-sm">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> Follow
        </label>
        <button type="button" class="btn ml-auto" onClick={download} disabled={!text}>
          Download
        </button>
      </div>
      <pre
        ref={pre}
        tabIndex={0}
        aria-label="Container log"
        class="h-64 overflow-auto rounded bg-slate-100 p-2 font-mono text-xs whitespace-pre-wrap break-all text-slate-900 dark:bg-slate-950 dark:text-slate-100"
        onScroll={(e) => {
          const el = e.currentTarget;
          const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < 8;
          if (!atEnd && follow) setFollow(false);
          else if (atEnd && !follow && !query) setFollow(true);
        }}
      >
        {text ? parts : <span class="muted">No output yet.</span>}
      </pre>
    </div>
  );
}
