// The OpenCode plugin of `nexus enforce`, fed the events OpenCode sends; a
// stand-in `nexus` (NEXUS_BIN) prints what `nexus enforce --json` would.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NexusEnforce } from "../dist/opencode.js";

function fakeNexus(result, code) {
  const dir = mkdtempSync(join(tmpdir(), "nexus-opencode-"));
  const bin = join(dir, "nexus");
  writeFileSync(bin, `#!/bin/sh\ncat <<'JSON'\n${JSON.stringify(result)}\nJSON\nexit ${code}\n`);
  chmodSync(bin, 0o755);
  return { dir, bin };
}

function client() {
  const prompts = [];
  return { prompts, session: { prompt: async (args) => prompts.push(args) } };
}

test("a failing check on session.idle prompts the session with what fails", async () => {
  const { dir, bin } = fakeNexus(
    { passed: false, checks: [{ check: "clean", passed: false, detail: "uncommitted changes: a.txt; commit them" }] },
    1,
  );
  process.env.NEXUS_BIN = bin;
  const c = client();
  const hooks = await NexusEnforce({ directory: dir, client: c });
  await hooks.event({ event: { type: "session.idle", properties: { sessionID: "ses_1" } } });
  assert.equal(c.prompts.length, 1);
  assert.equal(c.prompts[0].path.id, "ses_1");
  assert.match(c.prompts[0].body.parts[0].text, /clean: uncommitted changes: a.txt/);
  // other events are not its business
  await hooks.event({ event: { type: "message.updated", properties: { sessionID: "ses_1" } } });
  assert.equal(c.prompts.length, 1);
});

test("passing checks let the session rest", async () => {
  const { dir, bin } = fakeNexus({ passed: true, checks: [{ check: "clean", passed: true, detail: "ok" }] }, 0);
  process.env.NEXUS_BIN = bin;
  const c = client();
  const hooks = await NexusEnforce({ directory: dir, client: c });
  await hooks.event({ event: { type: "session.idle", properties: { sessionID: "ses_2" } } });
  assert.equal(c.prompts.length, 0);
});
