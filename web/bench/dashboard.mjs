// The dashboard's budgets in Debian's chromium (started by `scripts/bench.py
// dashboard`, which made N running workspaces): brotli bytes of what `/`
// and a workspace page load (from web/dist's .br twins of the files the
// browser asked for), the cold load of `/` until all N rows are drawn,
// without and with the CPU throttled 4×, median of 5 each; then it keeps
// the overview open, prints `open`, and waits for a line on stdin while
// the caller measures the daemon's CPU.
//
//   node bench/dashboard.mjs BASE_URL LOGIN_URL N WORKSPACE
import { readdirSync, statSync } from "node:fs";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const [base, login, n, workspace] = process.argv.slice(2);
const dist = new URL("../dist/", import.meta.url).pathname;
const brotli = (path) => {
  const name = path === "/" ? "index.html" : path.replace(/^\//, "");
  for (const candidate of [`${name}.br`, name]) {
    try {
      return statSync(dist + candidate).size;
    } catch {}
  }
  return 0;
};

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const signed = await browser.newContext();
const first = await signed.newPage();
await first.goto(login);
await first.waitForURL(`${base}/`);
const cookies = await signed.cookies();

/** Bytes (brotli) of the same-origin files `path` loads, and its cold load time to `ready`. */
async function load(path, ready, throttle = 1) {
  const context = await browser.newContext();
  await context.addCookies(cookies);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  if (throttle > 1) await cdp.send("Emulation.setCPUThrottlingRate", { rate: throttle });
  const paths = new Set();
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.origin === base && r.resourceType() !== "websocket") paths.add(u.pathname);
  });
  const t = Date.now();
  await page.goto(`${base}${path}`);
  await page.waitForFunction(ready, n, { timeout: 60_000 });
  const ms = Date.now() - t;
  await context.close();
  return { ms, bytes: [...paths].reduce((sum, p) => sum + brotli(p), 0) };
}

const rows = (count) => document.querySelectorAll("[data-testid=workspace-table] tr[data-workspace]").length >= Number(count);
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const overview = [];
const throttled = [];
let bytes = 0;
for (let i = 0; i < 5; i++) {
  const plain = await load("/", rows);
  overview.push(plain.ms);
  bytes = plain.bytes;
  throttled.push((await load("/", rows, 4)).ms);
}
const page = await load(`/workspaces/${workspace}`, () => document.querySelector("[data-testid=terminal][data-state=open]") && Number(document.querySelector("[data-testid=charts]")?.dataset.samples ?? 0) >= 1);
console.log(JSON.stringify({ overviewBytes: bytes, workspaceBytes: page.bytes, overviewMs: median(overview), throttledMs: median(throttled), workspaceMs: page.ms }));

// the overview stays open while the caller measures
const context = await browser.newContext();
await context.addCookies(cookies);
const open = await context.newPage();
await open.goto(`${base}/`);
await open.waitForFunction(rows, n);
console.log("open");
await createInterface({ input: process.stdin })[Symbol.asyncIterator]().next();
await browser.close();
process.exit(0);
