// Runs against a live daemon: NEXUS_TEST_ADDRESS, NEXUS_TEST_TOKEN and a
// running busybox workspace NEXUS_TEST_WORKSPACE (tests/tests/typescript.rs
// sets them up).
import { test } from "node:test";
import assert from "node:assert/strict";
import { NexusClient, NexusError, API_VERSION } from "../dist/index.js";

const address = process.env.NEXUS_TEST_ADDRESS;
const token = process.env.NEXUS_TEST_TOKEN;
const workspace = process.env.NEXUS_TEST_WORKSPACE;
if (!address || !token || !workspace) throw new Error("set NEXUS_TEST_ADDRESS, NEXUS_TEST_TOKEN, NEXUS_TEST_WORKSPACE");

test("calls, files, exec and a stream against the daemon", async () => {
  const c = await NexusClient.connect(address, token);
  try {
    const info = await c.call("daemon.info", {});
    assert.equal(info.version, API_VERSION);
    const list = await c.call("workspace.list", {});
    assert.ok(list.some((w) => w.name === workspace && w.state === "running"));

    await c.call("fs.writeFile", { workspace, path: "/tmp/ts.txt", content: "from typescript\n" });
    const read = await c.call("fs.readFile", { workspace, path: "/tmp/ts.txt" });
    assert.equal(read.content, "from typescript\n");
    assert.equal(await c.call("fs.exists", { workspace, path: "/tmp/ts.txt" }), true);
    const stat = await c.call("fs.stat", { workspace, path: "/tmp/ts.txt" });
    assert.equal(stat.type, "file");
    assert.equal(stat.size, 16);

    // raw bytes over HTTP: the same content, a range, and fs.readFile's error kinds
    const bytes = await c.readBytes({ workspace, path: "/tmp/ts.txt" });
    assert.equal(Buffer.from(bytes.data).toString(), "from typescript\n");
    assert.equal(bytes.size, 16);
    const range = await c.readBytes({ workspace, path: "/tmp/ts.txt", offset: 5, length: 10 });
    assert.equal(Buffer.from(range.data).toString(), "typescript");
    await assert.rejects(c.readBytes({ workspace, path: "/no/such" }), (e) => e instanceof NexusError && e.kind === "file_not_found" && e.code === -32023);

    const run = await c.call("exec.run", { workspace, command: ["sh", "-c", "echo out; echo err >&2; exit 3"] });
    assert.deepEqual(run, { exitCode: 3, stdout: "out\n", stderr: "err\n" });

    const sub = await c.subscribe("exec.stream", { workspace, command: ["cat"], stdin: true });
    const started = await sub.next();
    assert.equal(started?.type, "started");
    await c.call("exec.write", { execId: started.execId, data: "piped\n" });
    await c.call("exec.closeStdin", { execId: started.execId });
    let out = "";
    let exit;
    for await (const ev of sub) {
      if (ev.type === "stdout") out += ev.data;
      if (ev.type === "exit") {
        exit = ev.exitCode;
        break;
      }
    }
    await sub.close();
    assert.equal(out, "piped\n");
    assert.equal(exit, 0);
  } finally {
    c.close();
  }
});

test("errors carry a stable code and data.kind", async () => {
  const c = await NexusClient.connect(address, token);
  try {
    await assert.rejects(c.call("workspace.get", { name: "ghost" }), (e) => {
      assert.ok(e instanceof NexusError);
      assert.equal(e.kind, "not_found");
      assert.equal(e.code, -32012);
      return true;
    });
    await assert.rejects(c.call("fs.readFile", { workspace, path: "/no/such" }), (e) => e.kind === "file_not_found");
    await assert.rejects(NexusClient.connect(address, "wrong"), (e) => e.kind === "unauthorized");
  } finally {
    c.close();
  }
});
