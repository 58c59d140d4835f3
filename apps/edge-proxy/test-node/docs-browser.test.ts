// A real browser: headless Chromium opens /docs from `wrangler dev` and every route of the contract is listed.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTRACT_ROUTES, type ProcessGroup, runtimes, waitForLine } from "./harness.ts";

const run = promisify(execFile);
const CHROMIUM = "/usr/bin/chromium";
const INSTALL_COMMAND = "apt-get update && apt-get install -y chromium";
const SCREENSHOT = join(runtimes.APP, "test-artifacts", "docs.png");
const INSTALL_TIMEOUT_MS = 600_000;
const READY_TIMEOUT_MS = 90_000;
const RENDER_TIMEOUT_MS = 30_000;

/**
 * Debian's chromium, installed with apt-get when missing. Where that cannot be done the test fails
 * and says what to install: a browser test that quietly skipped would prove nothing.
 */
async function ensureChromium(): Promise<string> {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const cannot = (why: string) =>
    new Error(
      `The /docs browser test needs Debian's chromium at ${CHROMIUM}, and it is missing; ${why}. ` +
        `Install it (as root: ${INSTALL_COMMAND}) and run the tests again.`,
    );
  if (process.platform !== "linux" || !existsSync("/usr/bin/apt-get")) {
    throw cannot("this machine has no apt-get to install it with");
  }
  if (process.getuid?.() !== 0) throw cannot("installing it needs root and this test is not root");
  try {
    await run("sh", ["-c", INSTALL_COMMAND], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      timeout: INSTALL_TIMEOUT_MS - 10_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const detail = error as { stderr?: string; message: string };
    throw cannot(
      `\`${INSTALL_COMMAND}\` failed: ${(detail.stderr ?? detail.message).slice(-2000)}`,
    );
  }
  if (!existsSync(CHROMIUM)) throw cannot(`\`${INSTALL_COMMAND}\` did not install it`);
  return CHROMIUM;
}

interface CdpMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
}

/** A minimal Chrome DevTools Protocol client over the page's websocket. */
class DevTools {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, { resolve: (value: CdpMessage) => void }>();
  readonly #listeners: ((message: CdpMessage) => void)[] = [];
  #nextId = 0;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data)) as CdpMessage;
      if (message.id !== undefined) {
        this.#pending.get(message.id)?.resolve(message);
        this.#pending.delete(message.id);
      } else {
        for (const listener of this.#listeners) listener(message);
      }
    });
  }

  static connect(url: string): Promise<DevTools> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.addEventListener("open", () => resolve(new DevTools(socket)), { once: true });
      socket.addEventListener("error", () => reject(new Error(`cannot connect to ${url}`)), {
        once: true,
      });
    });
  }

  async send(method: string, params: Record<string, unknown> = {}) {
    const id = ++this.#nextId;
    const answer = new Promise<CdpMessage>((resolve) => this.#pending.set(id, { resolve }));
    this.#socket.send(JSON.stringify({ id, method, params }));
    const message = await answer;
    if (message.error) throw new Error(`${method}: ${message.error.message}`);
    return message.result ?? {};
  }

  on(listener: (message: CdpMessage) => void): void {
    this.#listeners.push(listener);
  }

  /** Evaluates an expression in the page and returns its value (by value). */
  async evaluate<T>(expression: string): Promise<T> {
    const result = await this.send("Runtime.evaluate", { expression, returnByValue: true });
    return (result.result as { value: T }).value;
  }

  close(): void {
    this.#socket.close();
  }
}

/** The operations the page lists, as "METHOD path" (Swagger UI's operation summaries). */
const LISTED_OPERATIONS = `[...document.querySelectorAll(".opblock-summary")].map((summary) => {
  const method = summary.querySelector(".opblock-summary-method")?.textContent ?? "";
  const pathElement = summary.querySelector(".opblock-summary-path");
  const path = pathElement?.getAttribute("data-path") ?? pathElement?.textContent ?? "";
  return method.trim().toUpperCase() + " " + path.replace(/\\u200b/g, "").trim();
})`;

describe("/docs in headless Chromium, served by wrangler dev", () => {
  let wrangler: ProcessGroup | undefined;
  let chromium: ProcessGroup | undefined;
  let devtools: DevTools | undefined;
  const folders: string[] = [];
  let proxyUrl: string;
  let chromiumPath: string;

  beforeAll(async () => {
    chromiumPath = await ensureChromium();
    const stateDir = await mkdtemp(join(tmpdir(), "edge-proxy-docs-state-"));
    folders.push(stateDir);
    const port = await runtimes.freePort();
    proxyUrl = `http://127.0.0.1:${port}`;
    wrangler = runtimes.spawnGroup(
      process.execPath,
      runtimes.wranglerDevArgs({
        port,
        inspectorPort: await runtimes.freePort(),
        persistTo: stateDir,
      }),
      { env: { WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" } },
    );
    await runtimes.waitForHttp(`${proxyUrl}/healthz`, wrangler, READY_TIMEOUT_MS);
  }, INSTALL_TIMEOUT_MS + READY_TIMEOUT_MS);

  afterAll(async () => {
    devtools?.close();
    if (chromium) await runtimes.stopGroup(chromium);
    if (wrangler) await runtimes.stopGroup(wrangler);
    for (const folder of folders) await rm(folder, { recursive: true, force: true });
  });

  it("lists every route of the contract, loads nothing from elsewhere, and keeps a screenshot", async () => {
    const profile = await mkdtemp(join(tmpdir(), "edge-proxy-chromium-"));
    folders.push(profile);
    chromium = runtimes.spawnGroup(chromiumPath, [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
      `--user-data-dir=${profile}`,
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      "--window-size=1280,2000",
      "about:blank",
    ]);
    const listening = await waitForLine(
      chromium,
      /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//,
      READY_TIMEOUT_MS,
    );
    const targets = (await (await fetch(`http://127.0.0.1:${listening[1]}/json/list`)).json()) as {
      type: string;
      webSocketDebuggerUrl: string;
    }[];
    const page = targets.find((target) => target.type === "page");
    expect(page, JSON.stringify(targets)).toBeDefined();
    devtools = await DevTools.connect(
      (page as { webSocketDebuggerUrl: string }).webSocketDebuggerUrl,
    );

    const requested: string[] = [];
    const failed: string[] = [];
    devtools.on((message) => {
      if (message.method === "Network.requestWillBeSent") {
        const request = message.params?.request as { url?: string } | undefined;
        requested.push(String(request?.url));
      }
      if (message.method === "Network.loadingFailed") {
        failed.push(`${String(message.params?.errorText)} ${String(message.params?.requestId)}`);
      }
    });
    await devtools.send("Network.enable");
    await devtools.send("Page.enable");
    await devtools.send("Page.navigate", { url: `${proxyUrl}/docs` });

    const expected = CONTRACT_ROUTES.map(([method, path]) => `${method.toUpperCase()} ${path}`);
    let listed: string[] = [];
    const deadline = Date.now() + RENDER_TIMEOUT_MS;
    while (Date.now() < deadline) {
      // Tags the page shows collapsed are opened, as a reader would.
      await devtools.evaluate(
        `document.querySelectorAll(".opblock-tag-section:not(.is-open) .opblock-tag").forEach((tag) => tag.click())`,
      );
      listed = (await devtools.evaluate<string[] | undefined>(LISTED_OPERATIONS)) ?? [];
      if (expected.every((operation) => listed.includes(operation))) break;
      await runtimes.sleep(200);
    }
    const screenshot = await devtools.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: true,
    });
    await mkdir(join(runtimes.APP, "test-artifacts"), { recursive: true });
    await writeFile(SCREENSHOT, Buffer.from(String(screenshot.data), "base64"));

    const title = await devtools.evaluate<string>("document.title");
    expect(listed.sort(), `page "${title}" lists`).toEqual(expect.arrayContaining(expected));
    const elsewhere = requested.filter(
      (url) => !url.startsWith(`${proxyUrl}/`) && !/^(data|blob|about):/.test(url),
    );
    expect(elsewhere, "requests that left the proxy").toEqual([]);
    expect(failed, "requests that failed").toEqual([]);
  }, 60_000);
});
