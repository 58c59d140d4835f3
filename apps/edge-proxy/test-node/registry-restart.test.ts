// Universal logout's registrations across a kill -9 of the entry, on each durable store: SQLite
// (Node), Deno KV (Deno) and PostgreSQL (Node); after the restart a trigger still ends them.
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type PostgresServer, startPostgres } from "../../../tooling/postgres/server.mjs";
import { type Runtime, runtimes, startEntry, startSimulators } from "./harness.ts";

const GTR_ISSUER = "https://okta.example";
const GTR_BEARER = `gtr-${randomUUID()}`;
const digest = (text: string) => createHash("sha256").update(text).digest("hex");

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 100));
  if (!check()) throw new Error(`still not so: ${what}`);
}

describe.each<[string, Runtime, boolean]>([
  ["Node on SQLite", "node", false],
  ["Deno on Deno KV", "deno", false],
  ["Node on PostgreSQL", "node", true],
])("registrations on %s across a kill -9", (_name, runtime, postgres) => {
  let server: PostgresServer | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it("are still there after the entry is killed and started again, and a trigger ends them", async () => {
    const simulators = await startSimulators({ capacity: 5 });
    const dataDir = await mkdtemp(join(tmpdir(), "edge-proxy-universal-kill-"));
    if (postgres) server = await startPostgres();
    const env: Record<string, string> = {
      ...simulators.env,
      PROXY_DATA_DIR: dataDir,
      ...(server === undefined ? {} : { DATABASE_URL: server.url }),
      UNIVERSAL_LOGOUT_GTR: JSON.stringify([
        { issuer: GTR_ISSUER, bearerSha256: digest(GTR_BEARER) },
      ]),
      LOGOUT_RETRY_BASE_MS: "200",
      LOGOUT_RETRY_MAX_DELAY_MS: "1000",
    };
    const lancens = (
      simulators.sims as unknown as {
        lancens: { isTokenValid(t: string): boolean };
      }
    ).lancens;
    try {
      let proxy = await startEntry(runtime, env);
      const session = (await simulators.session("lancens")) as { token: string };
      const registered = await fetch(`${proxy.url}/v1/sessions`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${simulators.apiKey}`,
        },
        body: JSON.stringify({ issuer: GTR_ISSUER, subject: "opaque:k-1", lancens: session }),
      });
      expect(registered.status).toBe(201);
      // Killed without a word, then started again on the same store.
      await runtimes.killGroup(proxy.group);
      proxy = await startEntry(runtime, env);
      try {
        const answer = await fetch(`${proxy.url}/v1/global-token-revocation`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${GTR_BEARER}` },
          body: JSON.stringify({ sub_id: { format: "opaque", id: "k-1" } }),
        });
        expect(answer.status, await answer.clone().text()).toBe(204);
        await until("the Lancens session ended", () => !lancens.isTokenValid(session.token));
      } finally {
        await proxy.stop();
      }
    } finally {
      await simulators.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
