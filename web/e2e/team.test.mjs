// The dashboard in team mode, in Debian's chromium (playwright-core);
// started by `the_dashboard_in_team_mode_…` in tests/tests/team.rs, with a
// team-mode daemon whose site admin (ana) owns workspace
// NEXUS_TEST_WORKSPACE, and a second person (bo).
//
// Environment: NEXUS_TEST_ADDRESS, NEXUS_TEST_ADMIN_LINK and
// NEXUS_TEST_USER_LINK (each person's one-time sign-in link),
// NEXUS_TEST_WORKSPACE, NEXUS_TEST_SCREENSHOTS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";

const base = `http://${process.env.NEXUS_TEST_ADDRESS}`;
const ws = process.env.NEXUS_TEST_WORKSPACE;
const shots = process.env.NEXUS_TEST_SCREENSHOTS;
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
/** A browser of its own for one person, signed in with `link`. */
async function person(link) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(link);
  await page.waitForURL(`${base}/`);
  await page.getByRole("heading", { name: "Workspaces" }).waitFor();
  return page;
}
const ana = await person(process.env.NEXUS_TEST_ADMIN_LINK);
const bo = await person(process.env.NEXUS_TEST_USER_LINK);

test.after(() => browser.close());

/** Whether `page`'s overview lists the workspace, after a reload. */
async function listed(page) {
  await page.goto(`${base}/`);
  await page.locator("p[aria-live]").filter({ hasText: /shown/ }).waitFor();
  return (await page.locator(`[data-testid=workspace-table] tr[data-workspace=${ws}]`).count()) > 0;
}

test("each person sees only what they may", async () => {
  assert.equal(await ana.getByTestId("signed-in-as").innerText(), "ana");
  assert.equal(await bo.getByTestId("signed-in-as").innerText(), "bo");
  assert.equal(await listed(ana), true);
  assert.equal(await listed(bo), false, "not shared with bo yet");
  assert.equal(await ana.getByRole("link", { name: "Audit log" }).count(), 1, "a site admin's link");
  assert.equal(await bo.getByRole("link", { name: "Audit log" }).count(), 0);
  const owner = ana.locator(`[data-testid=workspace-table] tr[data-workspace=${ws}] td`).nth(7);
  assert.equal(await owner.innerText(), "ana");
});

test("the owner shares the workspace, changes the role and removes the share", async () => {
  await ana.goto(`${base}/workspaces/${ws}`);
  await ana.getByRole("heading", { name: "Sharing" }).waitFor();
  await ana.getByLabel("Person or @team").fill("bo");
  await ana.locator("select[name=permission]").selectOption("viewer");
  await ana.getByRole("button", { name: "Share", exact: true }).click();
  await ana.locator("[data-testid=shares] li[data-user=bo][data-permission=viewer]").waitFor();
  assert.equal(await listed(bo), true, "shared with bo");

  await ana.getByLabel("Role of bo").selectOption("editor");
  await ana.locator("[data-testid=shares] li[data-user=bo][data-permission=editor]").waitFor();
  await ana.screenshot({ path: `${shots}/team-workspace-light.png`, fullPage: true });

  await ana.getByRole("button", { name: "Remove bo" }).click();
  await ana.getByText("Not shared with anyone.").waitFor();
  assert.equal(await listed(bo), false, "the share is gone");
});

test("the audit log shows the shares, filtered by workspace, to site admins only", async () => {
  await ana.goto(`${base}/audit`);
  await ana.getByLabel("Workspace", { exact: true }).fill(ws);
  await ana.getByRole("button", { name: "Filter" }).click();
  await ana.locator("[data-testid=audit-table] tr[data-action='workspace.unshare']").waitFor();
  assert.ok((await ana.locator("[data-testid=audit-table] tr[data-action='workspace.share']").count()) >= 2, "shared, then changed");
  const targets = await ana.locator("[data-testid=audit-table] tbody tr td:nth-child(4)").allInnerTexts();
  assert.ok(targets.every((t) => t === ws), targets.join(", "));
  // the times are this year's (the log counts milliseconds)
  const when = await ana.locator("[data-testid=audit-table] tbody tr td:nth-child(1)").first().innerText();
  assert.ok(when.includes(String(new Date().getFullYear())), when);
  await bo.goto(`${base}/audit`);
  await bo.getByText("The audit log is for site admins.").waitFor();
});

test("no WCAG 2.1 AA violation on the team pages, in either theme, and none scrolls sideways at 390 px", async () => {
  for (const theme of ["light", "dark"]) {
    await ana.evaluate((t) => localStorage.setItem("theme", t), theme);
    for (const [name, path] of [
      ["team-workspace", `/workspaces/${ws}`],
      ["team-audit", "/audit"],
    ]) {
      await ana.goto(`${base}${path}`);
      await ana.locator("main h1").first().waitFor();
      await ana.locator(path === "/audit" ? "[data-testid=audit-table]" : "[data-testid=terminal][data-state=open]").waitFor();
      const result = await new AxeBuilder({ page: ana }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
      const found = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
      assert.deepEqual(found, [], `${name} (${theme})`);
      await ana.screenshot({ path: `${shots}/${name}-${theme}.png`, fullPage: true });
    }
  }
  await ana.setViewportSize({ width: 390, height: 844 });
  for (const [name, path] of [
    ["team-workspace", `/workspaces/${ws}`],
    ["team-audit", "/audit"],
  ]) {
    await ana.goto(`${base}${path}`);
    await ana.locator("main h1").first().waitFor();
    const [scroll, width] = await ana.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= width, `${name}: ${scroll} px wide in a ${width} px window`);
    await ana.screenshot({ path: `${shots}/${name}-phone.png`, fullPage: true });
  }
});
