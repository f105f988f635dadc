// The OpenCode plugin of `nexus enforce`: when a session goes idle (the
// agent has stopped), it runs `nexus enforce --json` in the project, and if
// the project's checks fail it sends the session a prompt listing them, so
// the agent keeps working until they pass. Install: copy
// `dist/opencode.js` to `.opencode/plugin/nexus-enforce.js` (or import
// `NexusEnforce` from "@nexus-dev/sdk/dist/opencode.js" in a plugin file).
import { execFile } from "node:child_process";

/** One check's outcome, as `nexus enforce --json` prints it. */
export interface EnforceOutcome {
  check: string;
  passed: boolean;
  detail: string;
}

/** What the plugin needs of OpenCode's plugin context. */
export interface PluginContext {
  /** The project directory. */
  directory: string;
  /** OpenCode's SDK client; only `session.prompt` is used. */
  client: {
    session: {
      prompt(args: { path: { id: string }; body: { parts: { type: "text"; text: string }[] } }): Promise<unknown>;
    };
  };
}

/** An OpenCode bus event (`session.idle` carries `properties.sessionID`). */
export interface PluginEvent {
  type: string;
  properties?: { sessionID?: string };
}

/** Runs `nexus enforce --json` in `dir` (`NEXUS_BIN`, else `nexus` on PATH). */
export function enforce(dir: string): Promise<{ passed: boolean; checks: EnforceOutcome[] }> {
  const bin = process.env.NEXUS_BIN ?? "nexus";
  return new Promise((resolve, reject) => {
    execFile(bin, ["enforce", "--json", "--dir", dir], (error, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`nexus enforce printed no JSON (${error?.message ?? "no error"}): ${stderr}`));
      }
    });
  });
}

/** The prompt that keeps the agent working, or `null` when every check passes. */
export function followUp(result: { passed: boolean; checks: EnforceOutcome[] }): string | null {
  if (result.passed) return null;
  const failing = result.checks.filter((c) => !c.passed).map((c) => `- ${c.check}: ${c.detail}`);
  return `The project's checks (nexus enforce) do not pass yet. Fix these, then finish:\n${failing.join("\n")}`;
}

/** The plugin: OpenCode calls it with its context and gets the hooks back. */
export const NexusEnforce = async (ctx: PluginContext) => ({
  event: async ({ event }: { event: PluginEvent }): Promise<void> => {
    if (event.type !== "session.idle") return;
    const id = event.properties?.sessionID;
    if (!id) return;
    const text = followUp(await enforce(ctx.directory));
    if (text) await ctx.client.session.prompt({ path: { id }, body: { parts: [{ type: "text", text }] } });
  },
});
