// The dashboard in Debian's chromium (playwright-core), against a live
// daemon with one running workspace; started by tests/tests/dashboard.rs,
// which answers `@@kill` and `@@start` lines (the daemon killed with
// SIGKILL, then started again) with `ok` on stdin.
//
// Environment: NEXUS_TEST_ADDRESS (127.0.0.1:PORT), NEXUS_TEST_TOKEN (the
// daemon's token, to prove it never shows), NEXUS_TEST_WORKSPACE,
// NEXUS_TEST_SCREENSHOTS (a directory), NEXUS_BIN and what it needs
// (NEXUS_HOST, NEXUS_DATA_DIR, HOME).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { request } from "node:http";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";

const address = process.env.NEXUS_TEST_ADDRESS;
const token = process.env.NEXUS_TEST_TOKEN;
const ws = process.env.NEXUS_TEST_WORKSPACE;
const shots = process.env.NEXUS_TEST_SCREENSHOTS;
const base = `http://${address}`;
mkdirSync(shots, { recursive: true });

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
/** Asks the Rust side to do `what`, and waits for its answer. */
async function ask(what) {
  process.stdout.write(`@@${what}\n`);
  const { value } = await lines.next();
  assert.equal(value, "ok", `the test harness did not do ${what}`);
}

/** Runs the CLI against the test's daemon; returns its stdout. */
function nexus(...args) {
  return execFileSync(process.env.NEXUS_BIN, args, { encoding: "utf8" });
}

/** Status of a WebSocket upgrade of `/` with `headers` (101 when accepted). */
function upgrade(headers) {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/`, {
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
        ...headers,
      },
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve(res.statusCode);
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("error", reject);
    req.end();
  });
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15_000);
const urls = [];
page.on("request", (r) => urls.push(r.url()));
let secret;

test.after(async () => {
  await browser.close();
  lines.return?.();
  process.stdin.destroy();
});

/** The terminal's text, row by row. */
const screen = () => page.locator("[data-testid=terminal] .xterm-rows").innerText();
/** Types `text` into the terminal (focused first). */
async function type(text) {
  await page.locator("[data-testid=terminal] .xterm-helper-textarea").focus();
  await page.keyboard.type(text);
}
/** Waits until the terminal shows `pattern`. */
async function shows(pattern, timeout = 10_000) {
  await page.waitForFunction(
    ([source, flags]) => new RegExp(source, flags).test(document.querySelector("[data-testid=terminal] .xterm-rows")?.innerText ?? ""),
    [pattern.source, pattern.flags],
    { timeout },
  );
}

test("signing in by link sets an HttpOnly SameSite=Strict cookie and puts no secret in URLs or storage", async () => {
  await page.goto(`${base}/`);
  await page.getByRole("heading", { name: "Sign in to Nexus" }).waitFor();
  await page.screenshot({ path: `${shots}/signed-out.png` });
  const link = nexus("dashboard", "--no-open").trim();
  assert.match(link, new RegExp(`^${base}/login\\?code=[0-9a-f]{64}$`));
  await page.goto(link);
  await page.waitForURL(`${base}/`);
  await page.getByRole("heading", { name: "Workspaces" }).waitFor();
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "nexus_session");
  assert.ok(session, JSON.stringify(cookies));
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  secret = session.value;
  assert.notEqual(secret, token, "the cookie is a session of its own, not the daemon's token");
  assert.equal(await page.evaluate(() => document.cookie), "", "scripts cannot read the cookie");
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  for (const s of [token, secret]) assert.ok(!storage.includes(s), "no secret in storage");
  // a link works once
  const again = await fetch(link);
  assert.equal(again.status, 401);
});

test("the session cookie opens the API only from the dashboard's own origin", async () => {
  const cookie = `nexus_session=${secret}`;
  assert.equal(await upgrade({ Cookie: cookie, Origin: base }), 101);
  assert.equal(await upgrade({ Cookie: cookie, Origin: "http://evil.example" }), 403);
  assert.equal(await upgrade({ Cookie: cookie }), 403, "no Origin at all");
  assert.equal(await upgrade({ Origin: base }), 401, "no cookie");
  assert.equal(await upgrade({ Cookie: "nexus_session=nxs_forged", Origin: base }), 401);
});

test("a state change made with the CLI shows within 1 s", async () => {
  const row = page.locator(`[data-testid=workspace-table] tr[data-workspace=${ws}] [data-state]`);
  await row.waitFor();
  assert.equal(await row.getAttribute("data-state"), "running");
  await page.screenshot({ path: `${shots}/overview-light.png`, fullPage: true });
  nexus("workspace", "stop", ws);
  const stopped = Date.now();
  await page.locator(`[data-testid=workspace-table] tr[data-workspace=${ws}] [data-state=stopped]`).waitFor({ timeout: 1000 });
  console.log(`stopped shown ${Date.now() - stopped} ms after the CLI returned`);
  nexus("workspace", "start", ws);
  await page.locator(`[data-testid=workspace-table] tr[data-workspace=${ws}] [data-state=running]`).waitFor({ timeout: 1000 });
});

test("CPU and memory show on the overview, and the workspace's charts fill from docker stats", async () => {
  const memory = page.locator(`[data-testid=workspace-table] tr[data-workspace=${ws}] [data-metric=memory]`);
  await page.waitForFunction((sel) => /\d/.test(document.querySelector(sel)?.textContent ?? ""), `[data-testid=workspace-table] tr[data-workspace=${ws}] [data-metric=memory]`);
  assert.match(await memory.innerText(), /^\d+(\.\d)? (B|KiB|MiB|GiB)$/);
  await page.goto(`${base}/workspaces/${ws}`);
  await page.waitForFunction(() => Number(document.querySelector("[data-testid=charts]")?.dataset.samples ?? 0) >= 2);
  assert.match(await page.locator("[data-testid=charts] [data-metric=cpu]").innerText(), /^\d+\.\d%$/);
  await page.goto(`${base}/`);
});

test("the page's buttons stop and start the workspace, and the start's hook output shows", async () => {
  await page.goto(`${base}/workspaces/${ws}`);
  const badge = page.locator("main h1 + [data-state]");
  await page.getByRole("button", { name: "Stop" }).click();
  await page.locator("main [data-state=stopped]").first().waitFor({ timeout: 30_000 });
  await page.getByRole("button", { name: "Start" }).click();
  await page.locator("main h1 + [data-state=running]").waitFor({ timeout: 30_000 });
  await page.locator("[data-testid=activity] [data-step=hook]").filter({ hasText: "HOOK-42" }).waitFor({ timeout: 30_000 });
  assert.equal(await badge.getAttribute("data-state"), "running");
  await page.goto(`${base}/`);
});

test("the terminal runs commands, follows resizes, pastes exactly and passes Ctrl-C", async () => {
  await page.getByRole("link", { name: ws, exact: true }).first().click();
  await page.waitForURL(`${base}/workspaces/${ws}`);
  await page.locator("[data-testid=terminal][data-state=open]").waitFor({ timeout: 15_000 });
  await type("echo MARK-$((6*7))\n");
  await shows(/MARK-42/);

  const term = page.locator("[data-testid=terminal]");
  const size = async () => `${await term.getAttribute("data-rows")} ${await term.getAttribute("data-cols")}`;
  const before = await size();
  await type("stty size\n");
  await shows(new RegExp(`^\\s*${before}\\s*$`, "m"));
  await page.setViewportSize({ width: 900, height: 900 });
  await page.waitForFunction((was) => {
    const t = document.querySelector("[data-testid=terminal]");
    return `${t.dataset.rows} ${t.dataset.cols}` !== was;
  }, before);
  await type("clear; stty size\n");
  await shows(new RegExp(`^\\s*${await size()}\\s*$`, "m"));

  // a 10 kB paste, byte-exact: 100 lines of 100 characters
  const text = Array.from({ length: 100 }, (_, i) => `${String(i).padStart(3, "0")}:` + randomBytes(48).toString("hex")).join("\n") + "\n";
  const sum = createHash("sha256").update(text).digest("hex");
  await type("clear; cat > /tmp/paste\n");
  await page.evaluate((t) => {
    const dt = new DataTransfer();
    dt.setData("text/plain", t);
    document.querySelector("[data-testid=terminal] .xterm-helper-textarea").dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
  }, text);
  await page.keyboard.press("Control+D");
  await type("clear; sha256sum /tmp/paste; wc -c < /tmp/paste\n");
  await shows(new RegExp(sum), 15_000);

  await type('clear; sleep 100; echo SL""EPT\n');
  await page.waitForTimeout(300);
  await page.keyboard.press("Control+C");
  await type("echo AFTER-$((1+1))\n");
  await shows(/AFTER-2/, 5000);
  assert.ok(!(await screen()).includes("SLEPT"));
  await page.setViewportSize({ width: 1280, height: 900 });
});

test("a daemon restart shows the banner, then the same shell comes back with its output", async () => {
  await type("clear; KEPT=shell-$((3*5)); echo KEEP-$((2*5))\n");
  await shows(/KEEP-10/);
  await ask("kill");
  await page.getByTestId("connection-banner").waitFor({ timeout: 5000 });
  assert.match(await page.getByTestId("connection-banner").innerText(), /Reconnecting/);
  await page.locator("[data-testid=terminal][data-state=reconnecting]").waitFor({ timeout: 5000 });
  await page.screenshot({ path: `${shots}/workspace-reconnecting.png`, fullPage: true });
  await ask("start");
  await page.locator("[data-testid=terminal][data-state=open]").waitFor({ timeout: 15_000 });
  await shows(/KEEP-10/);
  await type("echo SAME-$KEPT\n");
  await shows(/SAME-shell-15/);
  // and after a reload
  await page.reload();
  await page.locator("[data-testid=terminal][data-state=open]").waitFor({ timeout: 15_000 });
  await shows(/SAME-shell-15/);
});

const pages = [
  ["overview", "/"],
  ["workspace", `/workspaces/${ws}`],
  ["create", "/workspaces/new"],
];

/** Opens `path` and waits until it has drawn. */
async function open(path) {
  await page.goto(`${base}${path}`);
  await page.locator("main h1").first().waitFor();
  if (path.startsWith("/workspaces/") && path !== "/workspaces/new") {
    await page.locator("[data-testid=terminal][data-state=open]").waitFor({ timeout: 15_000 });
  }
}

test("no WCAG 2.1 AA violation on any page, in either theme", async () => {
  for (const theme of ["light", "dark"]) {
    await page.evaluate((t) => localStorage.setItem("theme", t), theme);
    for (const [name, path] of pages) {
      await open(path);
      assert.equal(await page.evaluate(() => document.documentElement.classList.contains("dark")), theme === "dark");
      const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
      const found = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
      assert.deepEqual(found, [], `${name} (${theme})`);
      await page.screenshot({ path: `${shots}/${name}-${theme}.png`, fullPage: true });
    }
  }
  await page.evaluate(() => localStorage.removeItem("theme"));
});

test("at 390 × 844 no page scrolls sideways", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [name, path] of pages) {
    await open(path);
    const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= width, `${name}: ${scroll} px wide in a ${width} px window`);
    await page.screenshot({ path: `${shots}/${name}-phone.png`, fullPage: true });
  }
});

test("no URL the browser asked for carried a secret", () => {
  for (const url of urls) {
    assert.ok(!url.includes(token), url);
    assert.ok(!secret || !url.includes(secret), url);
  }
});
