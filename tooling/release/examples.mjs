// Runs the examples in examples/ as a user would, against the packed packages installed from their
// tarballs in a folder outside the workspace: biome on the sources, the Bun script on Bun, the Deno
// script through `deno check` and `deno run` (no network permission), and the Worker through tsc,
// an esbuild bundle and workerd (Miniflare), with its outbound fetch answered by the Lancens simulator.
//
//   node tooling/release/examples.mjs
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { BUN_ENV, bunBinary, DENO_ENV, denoBinary } from "../runtimes/binaries.mjs";
import {
  describeFailure,
  indent,
  installTarballs,
  makeTempDir,
  packAll,
  ROOT,
  run,
  seconds,
} from "./workspace.mjs";

const EXAMPLES = join(ROOT, "examples");
const PACKAGES = ["@x/core-signing", "@x/ebet", "@x/lancens", "@x/sdk-auth"];
const RUN_LIMIT_MS = 60_000;
/** Settings that would point the examples at real vendors: never inherited here. */
const LIVE_SETTINGS = [
  "EBET_BASE_URL",
  "EBET_CHANNEL_ID",
  "EBET_PRIVATE_KEY",
  "ONEACCESS_URL",
  "ONEACCESS_CLIENT_ID",
];

const started = performance.now();
const results = [];
async function step(name, body) {
  const stepStarted = performance.now();
  try {
    await body();
    results.push({ name, ok: true });
    console.log(`${name}: ok (${seconds(stepStarted)})`);
  } catch (error) {
    results.push({ name, ok: false });
    console.log(`${name}: FAILED (${seconds(stepStarted)})\n${indent(error.message)}`);
  }
}

/** Runs a command and throws, with its output, unless it exits 0 and prints every expected line. */
async function expectRun(label, command, args, options, expectedLines = []) {
  const result = await run(command, args, { timeoutMs: RUN_LIMIT_MS, ...options });
  if (result.code !== 0) throw new Error(describeFailure(label, result));
  for (const expected of expectedLines) {
    if (!result.stdout.includes(expected)) {
      throw new Error(
        `${label} did not print "${expected}"; it printed:\n${indent(result.stdout || "(nothing)")}`,
      );
    }
  }
  return result;
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const withoutLiveSettings = () => {
  const env = { ...process.env };
  for (const name of LIVE_SETTINGS) delete env[name];
  return env;
};

const temp = makeTempDir("x-examples-");
const app = join(temp, "app");
try {
  await step("install the packed packages", async () => {
    const tarballs = await packAll(join(temp, "tarballs"));
    cpSync(EXAMPLES, app, { recursive: true });
    const install = await installTarballs(
      app,
      PACKAGES.map((name) => tarballs.get(name)),
    );
    if (install.code !== 0) {
      throw new Error(
        `${describeFailure("npm install", install)}\n(third-party dependencies come from the npm registry)`,
      );
    }
  });

  await step("biome check examples", async () => {
    const biome = join(ROOT, "node_modules", "@biomejs", "biome", "bin", "biome");
    await expectRun("biome check examples", process.execPath, [biome, "check", "examples"], {
      cwd: ROOT,
    });
  });

  await step("examples/bun-script.ts on bun", async () => {
    await expectRun(
      "bun bun-script.ts",
      bunBinary(),
      ["bun-script.ts"],
      { cwd: app, env: { ...withoutLiveSettings(), ...BUN_ENV } },
      ["eBET: demo is in", "eBET: demo logged out (status 200", "refused before sending: username"],
    );
  });

  await step("examples/deno-script.ts on deno (check, then run offline)", async () => {
    const env = { ...withoutLiveSettings(), ...DENO_ENV };
    await expectRun("deno check deno-script.ts", denoBinary(), ["check", "deno-script.ts"], {
      cwd: app,
      env,
    });
    await expectRun(
      "deno run deno-script.ts",
      denoBinary(),
      [
        "run",
        "--no-prompt",
        "--no-lock",
        "--allow-env=ONEACCESS_URL,ONEACCESS_CLIENT_ID",
        "deno-script.ts",
      ],
      { cwd: app, env },
      ["OneAccess: logged out", "a second logout is APP.0007"],
    );
  });

  await step("examples/worker on workerd (tsc, bundle, Miniflare)", async () => {
    await checkWorkerTypes();
    await runWorker();
  });
} finally {
  rmSync(temp, { recursive: true, force: true });
}

async function checkWorkerTypes() {
  writeFileSync(
    join(app, "worker", "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        lib: ["ES2022", "DOM"],
        module: "ESNext",
        moduleResolution: "Bundler",
        strict: true,
        noEmit: true,
        types: [],
      },
      include: ["src"],
    }),
  );
  const tsc = join(ROOT, "tooling", "node_modules", "typescript", "bin", "tsc");
  await expectRun("tsc on examples/worker", process.execPath, [tsc, "-p", "tsconfig.json"], {
    cwd: join(app, "worker"),
  });
}

async function runWorker() {
  const scriptPath = join(temp, "worker.mjs");
  await build({
    entryPoints: [join(app, "worker", "src", "index.ts")],
    outfile: scriptPath,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    logLevel: "silent",
  });
  const wranglerToml = readFileSync(join(EXAMPLES, "worker", "wrangler.toml"), "utf8");
  const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(wranglerToml)?.[1];
  assert(compatibilityDate, "examples/worker/wrangler.toml has no compatibility_date");

  // The simulator of the installed package answers every fetch the Worker makes.
  const testingModule = join(app, "node_modules", "@x", "lancens", "dist", "testing", "index.js");
  const { createLancensSimulator } = await import(pathToFileURL(testingModule).href);
  const sim = createLancensSimulator();
  const hosts = new Set();
  const mf = new Miniflare({
    modules: true,
    scriptPath,
    modulesRoot: temp, // module names relative to the bundle's folder, not to this process's cwd
    compatibilityDate,
    outboundService: async (request) => {
      hosts.add(new URL(request.url).host);
      const body = ["GET", "HEAD"].includes(request.method) ? undefined : await request.text();
      const answer = await sim.fetch(
        new Request(request.url, { method: request.method, headers: request.headers, body }),
      );
      return new Response(await answer.text(), {
        status: answer.status,
        headers: answer.headers,
      });
    },
  });
  try {
    const logout = async (body) => {
      const response = await mf.dispatchFetch("http://worker.example/logout", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(RUN_LIMIT_MS),
      });
      return { status: response.status, json: await response.json() };
    };

    const { token } = await sim.signIn();
    await sim.bindPushToken(token, "ring");
    await sim.bindPushToken(token, "message");
    const first = await logout({ username: "lancens-user", token });
    assert(
      first.status === 200 && first.json.ok === true && first.json.alreadyLoggedOut === false,
      `the first logout answered ${first.status} ${JSON.stringify(first.json)}`,
    );
    const steps = Object.values(first.json.steps ?? {});
    assert(
      steps.length === 3 && steps.every((outcome) => outcome === "cleared"),
      `the first logout's steps are ${JSON.stringify(first.json.steps)}, not three "cleared"`,
    );
    assert(!sim.isTokenValid(token), "the simulator still holds the token as valid");
    const left = sim.pushTokens("lancens-user");
    assert(left.ring.length + left.message.length === 0, "push tokens are still bound");
    assert(
      [...hosts].join() === "weixin.lancens.com:6443",
      `the Worker called ${[...hosts].join(", ")}, not weixin.lancens.com:6443`,
    );

    const second = await logout({ username: "lancens-user", token });
    assert(
      second.status === 200 && second.json.alreadyLoggedOut === true,
      `a second logout answered ${second.status} ${JSON.stringify(second.json)}`,
    );

    const calls = sim.calls.length;
    const refused = await logout({ username: "abc", token });
    assert(
      refused.status === 400 && refused.json.field === "username",
      `a 3-character username answered ${refused.status} ${JSON.stringify(refused.json)}`,
    );
    assert(sim.calls.length === calls, "refused input still reached Lancens");
    assert(!JSON.stringify(refused.json).includes(token), "the refusal repeats the token");

    const wrongMethod = await mf.dispatchFetch("http://worker.example/logout");
    await wrongMethod.arrayBuffer();
    assert(wrongMethod.status === 405, `GET /logout answered ${wrongMethod.status}, not 405`);
  } finally {
    await mf.dispose();
  }
}

const failed = results.filter((result) => !result.ok).length;
console.log(
  `examples: ${results.length - failed} of ${results.length} steps passed (${seconds(started)})`,
);
process.exit(failed === 0 ? 0 : 1);
