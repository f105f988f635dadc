// Light and dark themes: the choice saved in localStorage ("theme": "light"
// | "dark"; nothing else is ever stored there), else the system's.
import { signal } from "@preact/signals";

type Theme = "light" | "dark";

function initial(): Theme {
  const saved = localStorage.getItem("theme");
  if (saved === "light" || saved === "dark") return saved;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

/** The theme in use. */
export const theme = signal<Theme>(initial());

/** Puts `theme` on the page, and keeps doing so as it changes. */
export function applyTheme(): void {
  theme.subscribe((t) => {
    document.documentElement.classList.toggle("dark", t === "dark");
    document.documentElement.style.colorScheme = t;
  });
}

/** Switches to the other theme and saves the choice. */
export function toggleTheme(): void {
  theme.value = theme.value === "dark" ? "light" : "dark";
  localStorage.setItem("theme", theme.value);
}
