// The workspace page's sharing panel (team mode): who else has the
// workspace, as viewer, editor or owner; add, change and remove
// (`workspace.shares`, `workspace.share`, `workspace.unshare`).
import { useEffect, useState } from "preact/hooks";
import type { Share } from "@nexus-dev/sdk/browser";
import { client, message } from "./api";

const roles = ["viewer", "editor", "owner"] as const;
type Role = (typeof roles)[number];

/** The shares of `workspace`. */
export function Sharing({ workspace }: { workspace: string }) {
  const [shares, setShares] = useState<Share[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const c = client.value;

  const reload = async () => {
    if (!c) return;
    try {
      setShares(await c.call("workspace.shares", { workspace }));
    } catch (e) {
      setError(message(e));
    }
  };
  useEffect(() => {
    void reload();
  }, [c, workspace]);

  const act = async (call: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await call();
      await reload();
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };
  const share = (user: string, permission: Role) => c && act(() => c.call("workspace.share", { workspace, user, permission }));

  return (
    <div>
      {shares && shares.length === 0 && <p class="muted text-sm">Not shared with anyone.</p>}
      {shares && shares.length > 0 && (
        <ul class="mb-3 space-y-2" data-testid="shares">
          {shares.map((s) => (
            <li key={s.user} class="flex flex-wrap items-center gap-2 text-sm" data-user={s.user} data-permission={s.permission}>
              <span class="min-w-24 font-medium">{s.user}</span>
              <label class="flex items-center gap-1">
                <span class="sr-only">Role of {s.user}</span>
                <select class="field" value={s.permission} disabled={busy} onChange={(e) => share(s.user, e.currentTarget.value as Role)}>
                  {roles.map((r) => (
                    <option value={r}>{r}</option>
                  ))}
                </select>
              </label>
              {s.expiresAt && <span class="muted">until {new Date(s.expiresAt * 1000).toLocaleString()}</span>}
              <button type="button" class="btn" disabled={busy} onClick={() => c && act(() => c.call("workspace.unshare", { workspace, user: s.user }))}>
                Remove {s.user}
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        class="flex flex-wrap items-end gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          const user = String(f.get("user") ?? "").trim();
          if (user) void share(user, String(f.get("permission")) as Role);
          e.currentTarget.reset();
        }}
      >
        <label class="flex flex-col text-sm">
          <span class="mb-1 font-medium">Person or @team</span>
          <input class="field w-40" name="user" required autocomplete="off" />
        </label>
        <label class="flex flex-col text-sm">
          <span class="mb-1 font-medium">Role</span>
          <select class="field" name="permission">
            {roles.map((r) => (
              <option value={r}>{r}</option>
            ))}
          </select>
        </label>
        <button class="btn btn-primary" disabled={!c || busy}>
          Share
        </button>
      </form>
      {error && (
        <p role="alert" class="mt-2 text-sm text-red-800 dark:text-red-200">
          {error}
        </p>
      )}
    </div>
  );
}
