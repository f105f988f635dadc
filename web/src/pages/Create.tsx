// `/workspaces/new`: a workspace from a repository on the daemon's
// machine — name, branch or ref, template or image, an SSH key — with the
// create's progress streamed live (the daemon's `progress` events).
import { useEffect, useState } from "preact/hooks";
import type { TemplateInfo } from "@nexus-dev/sdk/browser";
import { client, message, refresh } from "../api";
import { navigate } from "../router";

type Line = { step: string; message: string };

/** The create page. */
export default function CreatePage() {
  const [templates, setTemplates] = useState<TemplateInfo[]>([]);
  const [progress, setProgress] = useState<Line[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const c = client.value;

  useEffect(() => {
    document.title = "New workspace · Nexus";
    if (c) void c.call("template.list", {}).then(setTemplates, () => setTemplates([]));
  }, [c]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!c) return;
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const field = (k: string) => String(form.get(k) ?? "").trim();
    const name = field("name");
    const source = field("source");
    setBusy(true);
    setError(null);
    setProgress([]);
    const events = await c.subscribe("events.subscribe", { workspace: name }).catch(() => null);
    void (async () => {
      if (!events) return;
      for await (const ev of events) {
        if (ev.type === "progress") setProgress((p) => [...p, { step: ev.step, message: ev.message }]);
      }
    })();
    try {
      const keys = field("keys")
        .split("\n")
        .map((k) => k.trim())
        .filter(Boolean);
      await c.call("workspace.create", {
        name,
        repository: field("repository"),
        from: field("from") || null,
        template: source.startsWith("template:") ? source.slice("template:".length) : null,
        image: source === "image" ? field("image") || null : null,
        authorizedKeys: keys,
      });
      await refresh(name);
      navigate(`/workspaces/${name}`);
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
      void events?.close();
    }
  };

  return (
    <section aria-labelledby="create-title" class="max-w-2xl">
      <h1 id="create-title" class="mb-4 text-2xl font-semibold">
        New workspace
      </h1>
      <form class="panel space-y-4" onSubmit={submit}>
        <label class="flex flex-col text-sm">
          <span class="mb-1 font-medium">Name</span>
          <input class="field" name="name" required pattern="[a-z0-9][a-z0-9\-]{0,62}" autocomplete="off" aria-describedby="name-help" />
          <span id="name-help" class="muted mt-1 text-xs">
            Lowercase letters, digits and dashes; the branch is nexus/NAME.
          </span>
        </label>
        <label class="flex flex-col text-sm">
          <span class="mb-1 font-medium">Repository</span>
          <input class="field font-mono" name="repository" required placeholder="/home/me/src/app or https://…/app.git" aria-describedby="repo-help" />
          <span id="repo-help" class="muted mt-1 text-xs">
            A git repository on the daemon's machine, or a git URL (the daemon keeps a mirror of it).
          </span>
        </label>
        <label class="flex flex-col text-sm">
          <span class="mb-1 font-medium">Branch or ref to start from</span>
          <input class="field font-mono" name="from" placeholder="HEAD" />
        </label>
        <label class="flex flex-col text-sm">
          <span class="mb-1 font-medium">Configuration</span>
          <select class="field" name="source">
            <option value="devcontainer">the repository's devcontainer.json (or the default template)</option>
            {templates.map((t) => (
              <option value={`template:${t.name}`}>
                template {t.name}: {t.description}
              </option>
            ))}
            <option value="image">an image…</option>
          </select>
        </label>
        <label class="flex flex-col text-sm">
          <span class="mb-1 font-medium">Image (with “an image…”)</span>
          <input class="field font-mono" name="image" placeholder="debian:bookworm" />
        </label>
        <label class="flex flex-col text-sm">
          <span class="mb-1 font-medium">SSH public keys</span>
          <textarea class="field font-mono" name="keys" rows={3} placeholder="ssh-ed25519 AAAA… me@laptop" aria-describedby="keys-help" />
          <span id="keys-help" class="muted mt-1 text-xs">
            One per line (authorized_keys lines), for ssh into the workspace.
          </span>
        </label>
        <button class="btn btn-primary" disabled={!c || busy}>
          {busy ? "Creating…" : "Create"}
        </button>
        {error && (
          <p role="alert" class="text-sm text-red-800 dark:text-red-200">
            {error}
          </p>
        )}
      </form>
      {progress.length > 0 && (
        <ol class="panel mt-4 space-y-1 font-mono text-xs" aria-label="Progress" aria-live="polite">
          {progress.map((p) => (
            <li>
              <span class="muted">{p.step}</span> {p.message}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
