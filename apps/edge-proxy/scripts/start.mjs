// `npm start`: every listed vendor's simulator and the proxy under `wrangler dev` (workerd), demo keys made at
// start, and one checked curl per vendor. Ctrl-C stops everything; START_EXIT_AFTER_READY=1 stops after printing.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDemoProvider } from "./demo-idp.mjs";
import { startSimulators } from "./simulators.mjs";
import {
  APP,
  builtEntryProblem,
  entryCommand,
  freePort,
  portIsFree,
  spawnGroup,
  stopGroup,
  waitForHttp,
  wranglerDevArgs,
} from "./start-runtimes.mjs";

/** wrangler dev's usual port, taken when free; any free port otherwise. */
const PREFERRED_PORT = 8787;
const READY_TIMEOUT_MS = 90_000;
const REQUEST_TIMEOUT_MS = 15_000;
const exitAfterReady = process.env.START_EXIT_AFTER_READY === "1";

const say = (line = "") => process.stdout.write(`${line}\n`);
const warn = (line) => process.stderr.write(`${line}\n`);

class StartError extends Error {}

/** A shell word: single-quoted unless it is plainly safe. */
function shellWord(text) {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The curl command line that sends `demo` to the proxy at `baseUrl`. */
function curlCommand(baseUrl, demo) {
  const words = ["curl", "-sS", "-X", demo.method, `${baseUrl}${demo.path}`];
  for (const [name, value] of Object.entries(demo.headers)) words.push("-H", `${name}: ${value}`);
  if (demo.body !== undefined) words.push("--data", demo.body);
  return words.map(shellWord).join(" ");
}

/** Sends `demo` once, as its curl would, and fails unless the proxy answers a logout success. */
async function check(baseUrl, demo) {
  const response = await fetch(`${baseUrl}${demo.path}`, {
    method: demo.method,
    headers: demo.headers,
    body: demo.body ?? null,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (response.status !== 200 || json?.ok !== true) {
    throw new StartError(
      `the ${demo.vendor} demo curl does not work: HTTP ${response.status} ${text.slice(0, 500)}`,
    );
  }
  return json;
}

/**
 * The demo requests, one per vendor: its kit's logout route for a session made in its simulator now.
 * Called twice: once for the requests the script sends to check the demo, once for the curls it
 * prints. A logout ends its session (and the proxy's deny-list refuses, e.g., a FunGame token after
 * its logout), so the printed curls carry credentials of their own, unused, in requests otherwise the same.
 */
async function makeDemos(simulators) {
  const demos = [];
  for (const { vendor, kit, sim } of simulators.vendors) {
    const [session] = await sim.sessions(1);
    demos.push({ vendor: vendor.name, ...kit.route(session, simulators.apiKey) });
  }
  return demos;
}

/** The client id the demo identity provider's logout tokens name. */
const DEMO_CLIENT = "edge-proxy-demo";
/** How long the printed logout token stays valid: within the window the demo provider is given. */
const DEMO_TOKEN_SEC = 2_400;

/**
 * Registers a demo user's FunGame and Lancens sessions (made in the simulators now) with the proxy
 * for the demo provider's `subject` and `sid`; returns the sessions.
 */
async function registerDemo(baseUrl, simulators, issuer, subject, sid) {
  const fungame = await simulators.session("fungame");
  const lancens = await simulators.session("lancens");
  const response = await fetch(`${baseUrl}/v1/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${simulators.apiKey}` },
    body: JSON.stringify({ issuer, subject, sid, fungame, lancens }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (response.status !== 201) {
    throw new StartError(
      `the universal-logout demo registration failed: HTTP ${response.status} ${(await response.text()).slice(0, 500)}`,
    );
  }
  return { fungame, lancens };
}

/** The back-channel logout curl of a logout token, printing the HTTP status it gets. */
function backchannelCurl(baseUrl, token) {
  return curlCommand(baseUrl, {
    method: "POST",
    path: "/v1/backchannel-logout",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `logout_token=${token}`,
  }).replace(/^curl -sS /, "curl -sS -o /dev/null -w '%{http_code}\\n' ");
}

/**
 * Universal logout on the Node entry: a demo provider, a demo
 * user registered twice, one logout sent and its sessions seen ended, the other's curl returned.
 */
async function universalDemo(simulators, onLine) {
  const idp = await startDemoProvider(DEMO_CLIENT);
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const { command, args } = entryCommand("node");
  const entry = spawnGroup(command, args, {
    env: {
      ...simulators.env,
      PROXY_STORE: "memory",
      PORT: String(port),
      UNIVERSAL_LOGOUT_OIDC: JSON.stringify([
        { issuer: idp.issuer, jwksUrl: idp.jwksUrl, audience: DEMO_CLIENT, maxAgeSec: 3000 },
      ]),
    },
    onLine,
  });
  const stop = async () => {
    await stopGroup(entry);
    await idp.close();
  };
  try {
    await waitForHttp(`${baseUrl}/healthz`, entry, READY_TIMEOUT_MS);
    const checked = await registerDemo(baseUrl, simulators, idp.issuer, "demo-check", "sid-check");
    const check = await fetch(`${baseUrl}/v1/backchannel-logout`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `logout_token=${await idp.logoutToken("demo-check", "sid-check", DEMO_TOKEN_SEC)}`,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (check.status !== 200) {
      throw new StartError(
        `the universal-logout demo does not work: HTTP ${check.status} ${(await check.text()).slice(0, 500)}`,
      );
    }
    const lancens = simulators.sims.lancens;
    for (let i = 0; i < 100 && lancens.isTokenValid(checked.lancens.token); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (lancens.isTokenValid(checked.lancens.token)) {
      throw new StartError("the universal-logout demo queued its logout, but Lancens never saw it");
    }
    await registerDemo(baseUrl, simulators, idp.issuer, "demo-user", "sid-user");
    const token = await idp.logoutToken("demo-user", "sid-user", DEMO_TOKEN_SEC);
    return { baseUrl, issuer: idp.issuer, curl: backchannelCurl(baseUrl, token), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Writes the proxy's variables to a private .env file in a fresh temporary folder, never in the repository. */
function writeEnvFile(env) {
  const folder = mkdtempSync(join(tmpdir(), "edge-proxy-start-"));
  const file = join(folder, "proxy.env");
  const lines = Object.entries(env).map(
    ([name, value]) => `${name}=${JSON.stringify(String(value))}`,
  );
  writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { folder, file };
}

function checkCheckout() {
  const missing = [
    ["wrangler.toml", "the Workers configuration"],
    ["src/app.ts", "the proxy app"],
    ["public/docs/index.html", "the /docs page (made by the build: run `npm start` at the root)"],
  ].filter(([path]) => !existsSync(join(APP, path)));
  if (missing.length > 0) {
    throw new StartError(
      `this checkout lacks ${missing.map(([path, what]) => `${path} (${what})`).join(", ")}`,
    );
  }
  // The universal-logout demo runs the built Node entry: say so before anything starts.
  const unbuilt = builtEntryProblem();
  if (unbuilt !== undefined) throw new StartError(unbuilt);
}

async function main() {
  let stopRequested = false;
  let wakeStop = () => {};
  const stopSignal = new Promise((resolve) => {
    wakeStop = resolve;
  });
  const onSignal = (name) => {
    if (stopRequested) return;
    stopRequested = true;
    warn(`\nstart: ${name}: stopping the proxy and the simulators`);
    wakeStop(name);
  };
  for (const name of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(name, () => onSignal(name));
  const stopped = () => {
    if (stopRequested) throw new StartError("stopped before the proxy was ready");
  };

  let simulators;
  let wrangler;
  let stopUniversal;
  let envFolder;
  let forward = false;
  try {
    checkCheckout();
    simulators = await startSimulators();
    const labels = simulators.vendors.map(({ vendor }) => vendor.label);
    say(`start: started the ${labels.join(", ")} simulators on 127.0.0.1`);
    stopped();
    for (const { vendor, url } of simulators.vendors) say(`  ${vendor.member.padEnd(8)} ${url}`);

    const port = (await portIsFree(PREFERRED_PORT)) ? PREFERRED_PORT : await freePort();
    const inspectorPort = await freePort();
    const envFile = writeEnvFile(simulators.env);
    envFolder = envFile.folder;
    const baseUrl = `http://127.0.0.1:${port}`;
    const args = wranglerDevArgs({
      port,
      inspectorPort,
      envFile: envFile.file,
      persistTo: process.env.EDGE_PROXY_STATE_DIR || undefined,
    });
    say(`start: starting the proxy under wrangler dev (workerd) on ${baseUrl}`);
    wrangler = spawnGroup(process.execPath, args, {
      env: {
        WRANGLER_SEND_METRICS: "false",
        WRANGLER_HIDE_BANNER: "true",
        NO_COLOR: "1",
        FORCE_COLOR: "0",
      },
      onLine: (line) => {
        if (forward) say(`[proxy] ${line}`);
      },
    });
    const ready = waitForHttp(`${baseUrl}/healthz`, wrangler, READY_TIMEOUT_MS);
    ready.catch(() => {}); // Awaited just below; a stop during the wait leaves it to fail unheard.
    await Promise.race([ready, stopSignal]);
    stopped();

    const checks = await makeDemos(simulators);
    const demos = await makeDemos(simulators);
    for (const demo of checks) {
      await check(baseUrl, demo);
      stopped();
    }

    say("");
    say(`edge-proxy (wrangler dev, workerd) is ready: ${baseUrl}`);
    say(`API reference:  ${baseUrl}/docs`);
    say(`OpenAPI:        ${baseUrl}/openapi.json`);
    for (const { vendor, kit } of simulators.vendors) {
      if (kit.record === undefined) continue;
      say(
        `${vendor.label} logouts recorded at the edge (its deny-list): a Durable Object (SQLite), kept across restarts of wrangler dev`,
      );
    }
    say("");
    say("One logout per vendor, each for a live demo session made in its simulator just now.");
    say("(The same requests, for twin sessions, were sent once before printing and answered ok.)");
    for (const demo of demos) {
      say(`# ${demo.vendor} (checked: ok)`);
      say(curlCommand(baseUrl, demo));
    }
    const universal = await universalDemo(simulators, (line) => {
      if (forward) say(`[node] ${line}`);
    });
    stopUniversal = universal.stop;
    stopped();
    say("");
    say(
      `Universal logout runs on the Bun, Deno and Node entries: here the Node entry at ${universal.baseUrl}.`,
    );
    say(`A demo identity provider (${universal.issuer}) signs a back-channel logout for the user`);
    say(
      '"demo-user", whose FunGame and Lancens sessions are registered; the curl prints 200, and the',
    );
    say(
      "sessions end (docs/universal-logout.md). The same logout for another registered user was sent",
    );
    say("before printing and ended its sessions.");
    say("# universal-logout (checked: ok)");
    say(universal.curl);
    say("");
    if (exitAfterReady) {
      say("start: START_EXIT_AFTER_READY=1: stopping");
      return 0;
    }
    say("Press Ctrl-C to stop the proxy and the simulators. Proxy log:");
    forward = true;
    const outcome = await Promise.race([
      stopSignal.then(() => "signal"),
      wrangler.exited.then(() => "wrangler"),
    ]);
    if (outcome === "wrangler") {
      warn("start: wrangler dev stopped on its own");
      return 1;
    }
    return 0;
  } catch (error) {
    if (error instanceof StartError) {
      if (stopRequested) return 0;
      warn(`start: ${error.message}`);
    } else {
      warn(`start: ${error?.stack ?? error}`);
    }
    if (wrangler && !forward) {
      warn("start: wrangler output:");
      for (const line of wrangler.output.slice(-80)) warn(`  ${line}`);
    }
    return 1;
  } finally {
    forward = false;
    if (stopUniversal) await stopUniversal();
    if (wrangler) await stopGroup(wrangler);
    if (simulators) await simulators.close();
    if (envFolder) rmSync(envFolder, { recursive: true, force: true });
    say("start: stopped");
  }
}

process.exit(await main());
