// The app's routes from location.pathname, kept in a signal; links are
// plain <a href> that `navigate` intercepts (history API, no reload).
import { signal } from "@preact/signals";

/** The current path. */
export const path = signal(location.pathname);

/** Goes to `to` without a reload. */
export function navigate(to: string, replace = false): void {
  if (to === path.value) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  path.value = location.pathname;
  window.scrollTo(0, 0);
}

/** Follows same-origin link clicks through `navigate`. */
export function interceptLinks(): void {
  addEventListener("popstate", () => (path.value = location.pathname));
  document.addEventListener("click", (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest?.("a");
    if (!a || a.target || a.hasAttribute("download") || a.origin !== location.origin) return;
    e.preventDefault();
    navigate(a.pathname);
  });
}

/** Which page a path shows. */
export type Route =
  | { page: "overview" }
  | { page: "new" }
  | { page: "workspace"; name: string }
  | { page: "audit" }
  | { page: "missing" };

/** The route of `p`. */
export function route(p: string): Route {
  if (p === "/" || p === "/workspaces" || p === "/workspaces/") return { page: "overview" };
  if (p === "/workspaces/new") return { page: "new" };
  if (p === "/audit" || p === "/audit/") return { page: "audit" };
  const m = /^\/workspaces\/([a-z0-9][a-z0-9-]{0,62})\/?$/.exec(p);
  if (m) return { page: "workspace", name: m[1] };
  return { page: "missing" };
}
