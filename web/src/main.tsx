// The dashboard's entry: theme, routes, the connection, and the frame
// every page sits in (header, connection banner, main landmark).
import { render } from "preact";
import { lazy, Suspense } from "preact/compat";
import "./styles.css";
import { applyTheme, theme, toggleTheme } from "./theme";
import { interceptLinks, path, route } from "./router";
import { daemon, me, signOut, start, status } from "./api";
import { Overview } from "./pages/Overview";

// the workspace page carries the terminal and charts: loaded when opened
const WorkspacePage = lazy(() => import("./pages/Workspace"));
const CreatePage = lazy(() => import("./pages/Create"));
const AuditPage = lazy(() => import("./pages/Audit"));

function Banner() {
  const s = status.value;
  if (s === "open") return null;
  const text =
    s === "connecting"
      ? "Connecting to the daemon…"
      : s === "reconnecting"
        ? "The connection to the daemon dropped. Reconnecting…"
        : null;
  if (!text) return null;
  return (
    <div role="status" class="bg-amber-100 px-4 py-2 text-sm text-amber-950 dark:bg-amber-900 dark:text-amber-50" data-testid="connection-banner">
      {text}
    </div>
  );
}

function SignedOut() {
  return (
    <div class="panel mx-auto mt-10 max-w-xl">
      <h1 class="text-xl font-semibold">Sign in to Nexus</h1>
      <p class="mt-3">
        This browser is not signed in. On the machine of the daemon, run <code class="font-mono">nexus dashboard</code>{" "}
        and open the link it prints. The link works once, for 60 seconds.
      </p>
    </div>
  );
}

function Missing() {
  return (
    <div class="panel">
      <h1 class="text-xl font-semibold">No such page</h1>
      <p class="mt-2">
        <a href="/">Back to the workspaces</a>
      </p>
    </div>
  );
}

function Page() {
  if (status.value === "signed-out") return <SignedOut />;
  const r = route(path.value);
  switch (r.page) {
    case "overview":
      return <Overview />;
    case "new":
      return <CreatePage />;
    case "workspace":
      return <WorkspacePage name={r.name} />;
    case "audit":
      return <AuditPage />;
    default:
      return <Missing />;
  }
}

function App() {
  const dark = theme.value === "dark";
  return (
    <div class="min-h-screen">
      <a href="#main" class="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:p-2 dark:focus:bg-slate-900">
        Skip to content
      </a>
      <header class="border-b border-slate-200 dark:border-slate-800">
        <nav aria-label="Main" class="mx-auto flex max-w-6xl flex-wrap items-center gap-x-4 gap-y-2 px-4 py-3">
          <a href="/" class="flex items-center gap-2 font-semibold text-slate-900 no-underline dark:text-slate-100">
            <img src="/favicon.svg" alt="" width="24" height="24" />
            Nexus
          </a>
          <a href="/">Workspaces</a>
          <a href="/workspaces/new">New workspace</a>
          {me.value?.admin && <a href="/audit">Audit log</a>}
          <span class="ml-auto flex items-center gap-2">
            {me.value && (
              <span class="text-sm" data-testid="signed-in-as">
                {me.value.name}
              </span>
            )}
            {daemon.value && <span class="muted hidden text-sm sm:inline">nexusd {daemon.value.version}</span>}
            <button type="button" class="btn" onClick={toggleTheme} aria-label={dark ? "Use the light theme" : "Use the dark theme"} data-testid="theme-toggle">
              {dark ? "Light" : "Dark"}
            </button>
            {status.value === "open" && (
              <button type="button" class="btn" onClick={() => void signOut()}>
                Sign out
              </button>
            )}
          </span>
        </nav>
      </header>
      <Banner />
      <main id="main" class="mx-auto max-w-6xl px-4 py-6">
        <Suspense fallback={<p class="muted">Loading…</p>}>
          <Page />
        </Suspense>
      </main>
    </div>
  );
}

applyTheme();
interceptLinks();
start();
render(<App />, document.getElementById("app")!);
