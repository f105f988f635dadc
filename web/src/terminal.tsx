// The workspace page's terminal: xterm.js on a kept terminal of the
// workspace (`exec.stream` with `pty` and `terminal`), so a reload, a
// dropped connection or a daemon restart comes back to the same shell with
// its recent output. Its id lives in sessionStorage, per tab and workspace
// (it is no secret: attaching needs the workspace's own permission).
import { useEffect, useRef, useState } from "preact/hooks";
import { Terminal as XTerm } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";
import type { NexusClient } from "@nexus-dev/sdk/browser";
import { client, message } from "./api";
import { theme } from "./theme";

const light = { background: "#ffffff", foreground: "#0f172a", cursor: "#0f172a", selectionBackground: "#c7d2fe" };
const dark = { background: "#020617", foreground: "#e2e8f0", cursor: "#e2e8f0", selectionBackground: "#3730a3" };

function newId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return "dash-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function storedId(workspace: string): string {
  const key = `terminal:${workspace}`;
  const id = sessionStorage.getItem(key) ?? newId();
  sessionStorage.setItem(key, id);
  return id;
}

/** Keys a phone keyboard lacks, as the bytes a terminal sends. */
const keys: [string, string][] = [
  ["Esc", "\x1b"],
  ["Tab", "\t"],
  ["←", "\x1b[D"],
  ["↑", "\x1b[A"],
  ["↓", "\x1b[B"],
  ["→", "\x1b[C"],
];

type State = { kind: "attaching" } | { kind: "open" } | { kind: "reconnecting" } | { kind: "ended"; code: number } | { kind: "failed"; error: string };

/** A terminal in running workspace `workspace`. */
export function Terminal({ workspace }: { workspace: string }) {
  const box = useRef<HTMLDivElement>(null);
  const term = useRef<XTerm | null>(null);
  const execId = useRef<string | null>(null);
  const ctrl = useRef(false);
  const [ctrlOn, setCtrlOn] = useState(false);
  const [state, setState] = useState<State>({ kind: "attaching" });
  const [generation, setGeneration] = useState(0);
  const c = client.value;

  // the xterm itself, once per mount
  useEffect(() => {
    const t = new XTerm({
      convertEol: false,
      cursorBlink: true,
      fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
      fontSize: 13,
      scrollback: 5000,
      theme: theme.value === "dark" ? dark : light,
    });
    const fit = new FitAddon();
    t.loadAddon(fit);
    t.open(box.current!);
    t.textarea?.setAttribute("aria-label", "Terminal input");
    // the size in cells, for people reading the page's tests
    const mark = () => {
      box.current?.setAttribute("data-cols", String(t.cols));
      box.current?.setAttribute("data-rows", String(t.rows));
    };
    const sized = t.onResize(mark);
    fit.fit();
    mark();
    term.current = t;
    const observer = new ResizeObserver(() => fit.fit());
    observer.observe(box.current!);
    const unTheme = theme.subscribe((v) => (t.options.theme = v === "dark" ? dark : light));
    return () => {
      observer.disconnect();
      sized.dispose();
      unTheme();
      t.dispose();
      term.current = null;
    };
  }, []);

  // a subscription to the kept terminal, again on every new connection
  useEffect(() => {
    const t = term.current;
    if (!t) return;
    if (!c) {
      if (execId.current) setState({ kind: "reconnecting" });
      t.options.disableStdin = true;
      return;
    }
    let live = true;
    let writes: Promise<unknown> = Promise.resolve();
    const send = (client: NexusClient, data: string) => {
      const id = execId.current;
      if (!id) return;
      // one write at a time, in order
      writes = writes.then(() => client.call("exec.write", { execId: id, data }).catch(() => undefined));
    };
    const input = t.onData((d) => {
      let data = d;
      if (ctrl.current && d.length === 1 && /[a-z@[\\\]^_ ]/i.test(d)) {
        data = String.fromCharCode(d.toUpperCase().charCodeAt(0) & 0x1f);
        ctrl.current = false;
        setCtrlOn(false);
      }
      send(c, data);
    });
    const resize = t.onResize(({ cols, rows }) => {
      const id = execId.current;
      if (id) void c.call("exec.resize", { execId: id, cols, rows }).catch(() => undefined);
    });
    const keyRow = (e: Event) => send(c, (e as CustomEvent<string>).detail);
    box.current?.addEventListener("nexus-key", keyRow);
    setState(execId.current ? { kind: "reconnecting" } : { kind: "attaching" });
    void (async () => {
      try {
        const sub = await c.subscribe("exec.stream", {
          workspace,
          command: [],
          terminal: storedId(workspace),
          pty: { cols: t.cols, rows: t.rows },
          stdin: true,
        });
        if (!live) {
          void sub.close();
          return;
        }
        for await (const ev of sub) {
          if (!live) break;
          if (ev.type === "started") {
            execId.current = ev.execId;
            // the kept terminal sends its recent output again: draw it on a clean screen
            t.reset();
            t.options.disableStdin = false;
            setState({ kind: "open" });
          } else if (ev.type === "stdout" || ev.type === "stderr") {
            t.write(ev.data);
          } else if (ev.type === "exit") {
            execId.current = null;
            sessionStorage.removeItem(`terminal:${workspace}`);
            t.options.disableStdin = true;
            setState({ kind: "ended", code: ev.exitCode });
          }
        }
        if (live) void sub.close();
      } catch (e) {
        if (live && client.value === c) setState({ kind: "failed", error: message(e) });
      }
    })();
    return () => {
      live = false;
      input.dispose();
      resize.dispose();
      box.current?.removeEventListener("nexus-key", keyRow);
    };
  }, [c, workspace, generation]);

  const key = (bytes: string) => box.current?.dispatchEvent(new CustomEvent("nexus-key", { detail: bytes }));
  const banner =
    state.kind === "reconnecting"
      ? "Reconnecting to the terminal… input is paused."
      : state.kind === "attaching"
        ? "Opening the terminal…"
        : state.kind === "ended"
          ? `The shell exited (code ${state.code}).`
          : state.kind === "failed"
            ? `The terminal failed: ${state.error}`
            : null;
  return (
    <div>
      {banner && (
        <div role="status" class="mb-2 flex items-center gap-3 rounded bg-amber-100 px-3 py-1.5 text-sm text-amber-950 dark:bg-amber-900 dark:text-amber-50" data-testid="terminal-banner">
          <span>{banner}</span>
          {(state.kind === "ended" || state.kind === "failed") && (
            <button type="button" class="btn" onClick={() => setGeneration((g) => g + 1)}>
              New shell
            </button>
          )}
        </div>
      )}
      <div ref={box} class="h-80 w-full overflow-hidden rounded border border-slate-300 p-1 dark:border-slate-700" data-testid="terminal" data-state={state.kind} />
      <div class="mt-2 flex flex-wrap gap-1" role="group" aria-label="Terminal keys">
        <button
          type="button"
          class="btn"
          aria-pressed={ctrlOn}
          onClick={() => {
            ctrl.current = !ctrl.current;
            setCtrlOn(ctrl.current);
            term.current?.focus();
          }}
        >
          Ctrl
        </button>
        {keys.map(([label, bytes]) => (
          <button
            type="button"
            class="btn"
            aria-label={label.length === 1 ? { "←": "Left", "↑": "Up", "↓": "Down", "→": "Right" }[label] : label}
            onClick={() => {
              key(bytes);
              term.current?.focus();
            }}
          >
            {label}
          </button>
        ))}
      </div>
    </div>
  );
}
