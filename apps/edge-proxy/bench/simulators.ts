// Every listed vendor's simulator (its package's proxy dev kit) for the benchmarks, in a process of their own, with a control API that mints credentials.
//
//   node bench/simulators.ts      prints one line `bench-simulators ready {json}` (URLs, the proxy's
//                                 environment), then serves until SIGTERM/SIGINT or stdin closes
//
// Every logout ends a session, so each measured request needs credentials of its own: the control
// API makes them in bulk, outside the timed part, for the request straight to the simulator
// ("direct": the upstream requests exactly as the proxy would send them, already signed) and for the
// request through the proxy. POST /delay makes every simulator answer later, like a distant vendor.
// Without `"fresh": true` in a /prepare body, sessions may repeat users logged out before where the
// vendor answers that as a success (the kits' `repeat`); with it, every logout is of a user of its
// own. POST /audit answers each kit's audit of the logout calls since the last /prepare of that
// vendor (the load run checks them). Only 127.0.0.1 is used.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import process from "node:process";
import { createAdaptorServer } from "@hono/node-server";
import { toBase64Url, toHex } from "@x/core-signing";
import type { KitAudit, KitRequest, KitSimulator, ProxyKit } from "@x/core-signing/testing";
import { type ListedVendor, loadKits } from "../scripts/kits.mjs";

const HOST = "127.0.0.1";
/**
 * Size of the keys the proxy signs with (eBET's channel key), made at start; unset: each vendor's
 * own fixed test key (eBET's: 1024 bits, as eBET hands them out).
 */
const SIGNING_KEY_BITS =
  process.env.BENCH_SIGNING_KEY_BITS === undefined || process.env.BENCH_SIGNING_KEY_BITS === ""
    ? undefined
    : Number(process.env.BENCH_SIGNING_KEY_BITS);
/** Sessions a kit can have open at once (FunGame: one account each, fixed at start). */
const CAPACITY = 40_000;
/** The most credentials one /prepare call makes. */
const MAX_PREPARE = 40_000;

/** A vendor's name in the list ("sdk-auth"). */
export type Vendor = string;

/** One HTTP request, serialisable: `path` is relative to the target's base URL. */
export type RequestSpec = KitRequest;

/** What /prepare answers. */
export interface Prepared {
  /** Base URL the requests go to (direct: the simulator); empty for the proxy (the caller knows it). */
  base: string;
  /** One entry per logout: the requests that make it, in order (the proxy: one; Lancens direct: three). */
  items: RequestSpec[][];
  /** Per vendor name, each item's session (its member of the fan-out body); for credentials made here. */
  sessions?: Record<Vendor, unknown[]>;
  /** Per vendor name, each item's session as the vendor's audit names it. */
  keys?: Record<Vendor, string[]>;
}

/** What /audit answers: each vendor's audit, by name. */
export type Audits = Record<Vendor, KitAudit>;

function randomText(bytes: number): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function sha256Hex(text: string): Promise<string> {
  return toHex(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))),
  );
}

/** Added before every simulator answer, as a network round trip to a real vendor would (POST /delay). */
let answerDelayMs = 0;

async function listen(fetch: (request: Request, env?: unknown) => Promise<Response>) {
  const delayed = async (request: Request, env?: unknown) => {
    if (answerDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, answerDelayMs));
    return fetch(request, env);
  };
  const server = createAdaptorServer({ fetch: delayed, hostname: HOST });
  // Idle keep-alive connections stay open longer than a client pools them (Node closes them after
  // 5 s by default, racing a client that reuses one at that moment: a lost connection, retried).
  if ("keepAliveTimeout" in server) {
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    url: `http://${HOST}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        if ("closeAllConnections" in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A vendor of the list with its kit, started and served. */
interface Served {
  vendor: ListedVendor;
  kit: ProxyKit;
  sim: KitSimulator<unknown, unknown>;
  url: string;
  close(): Promise<void>;
}

async function main(): Promise<void> {
  const served = new Map<Vendor, Served>();
  for (const { vendor, kit } of await loadKits()) {
    const sim = await kit.start({
      capacity: CAPACITY,
      load: true,
      ...(SIGNING_KEY_BITS === undefined ? {} : { signingKeyBits: SIGNING_KEY_BITS }),
    });
    const server = await listen(sim.fetch);
    served.set(vendor.name, { vendor, kit, sim, url: server.url, close: server.close });
  }
  const apiKey = `bench_${randomText(24)}`;
  const env: Record<string, string> = Object.assign(
    {},
    ...[...served.values()].map(({ sim, url }) => sim.env(url)),
    { PROXY_API_KEY_SHA256: await sha256Hex(apiKey) },
  );
  const json = { "content-type": "application/json" };

  /**
   * Sessions for `count` logouts of each of `vendors`, made after a reset of each (its audit starts
   * again, and what its simulator remembers of earlier calls is dropped).
   */
  async function sessionsOf(vendors: readonly Served[], count: number, fresh: boolean) {
    const made = new Map<Vendor, unknown[]>();
    for (const { vendor, sim } of vendors) {
      await sim.reset();
      made.set(vendor.name, await sim.sessions(count, { repeat: !fresh }));
    }
    const sessions = Object.fromEntries(made);
    const keys = Object.fromEntries(
      vendors.map(({ vendor, sim }) => [
        vendor.name,
        (made.get(vendor.name) as unknown[]).map((session) => sim.key(session)),
      ]),
    );
    return { made, sessions, keys };
  }

  async function prepareVendor(
    vendor: Served,
    mode: "direct" | "proxy",
    count: number,
    fresh: boolean,
  ): Promise<Prepared> {
    const { made, sessions, keys } = await sessionsOf([vendor], count, fresh);
    const list = made.get(vendor.vendor.name) as unknown[];
    if (mode === "direct") {
      return { base: vendor.url, items: await vendor.sim.direct(list, vendor.url), sessions, keys };
    }
    return {
      base: "",
      items: list.map((session) => [vendor.kit.route(session, apiKey)]),
      sessions,
      keys,
    };
  }

  /** `/v1/logout` bodies naming `vendors`, each with fresh credentials. */
  async function prepareFanOut(
    vendors: readonly Served[],
    count: number,
    fresh: boolean,
  ): Promise<Prepared> {
    const { made, sessions, keys } = await sessionsOf(vendors, count, fresh);
    const items = Array.from({ length: count }, (_, i) => {
      const body = Object.fromEntries(
        vendors.map(({ vendor }) => [vendor.member, (made.get(vendor.name) as unknown[])[i]]),
      );
      return [
        {
          method: "POST",
          path: "/v1/logout",
          headers: { authorization: `Bearer ${apiKey}`, ...json },
          body: JSON.stringify(body),
        },
      ];
    });
    return { base: "", items, sessions, keys };
  }

  async function control(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const input = (chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {}) as {
      vendor?: string;
      vendors?: string[];
      fresh?: boolean;
      mode?: string;
      count?: number;
      ms?: number;
    };
    const count = Number(input.count ?? 0);
    if (!Number.isInteger(count) || count < 0 || count > MAX_PREPARE) {
      throw new Error(`count must be a whole number from 0 to ${MAX_PREPARE}`);
    }
    const vendorOf = (name: unknown): Served => {
      const found = served.get(String(name));
      if (found === undefined) {
        throw new Error(`unknown vendor ${name}; one of ${[...served.keys()].join(", ")}`);
      }
      return found;
    };
    const fresh = input.fresh === true;
    let answer: unknown;
    if (request.url === "/prepare") {
      const mode = input.mode ?? "proxy";
      if (mode !== "direct" && mode !== "proxy") throw new Error("mode must be direct or proxy");
      answer = await prepareVendor(vendorOf(input.vendor), mode, count, fresh);
    } else if (request.url === "/delay") {
      const delay = Number(input.ms ?? 0);
      if (!Number.isInteger(delay) || delay < 0 || delay > 10_000) {
        throw new Error("ms must be a whole number from 0 to 10000");
      }
      answerDelayMs = delay;
      answer = { ms: delay };
    } else if (request.url === "/prepare-fanout") {
      answer = await prepareFanOut((input.vendors ?? []).map(vendorOf), count, fresh);
    } else if (request.url === "/audit") {
      const audits: Audits = Object.fromEntries(
        [...served].map(([name, { sim }]) => [name, sim.audit()]),
      );
      answer = audits;
    } else {
      response.writeHead(404).end();
      return;
    }
    const text = JSON.stringify(answer);
    response.writeHead(200, { "content-type": "application/json" }).end(text);
  }

  const controlServer = createServer((request, response) => {
    control(request, response).catch((error: unknown) => {
      response
        .writeHead(500, { "content-type": "text/plain" })
        .end(error instanceof Error ? error.message : String(error));
    });
  });
  await new Promise<void>((resolve) => controlServer.listen(0, HOST, () => resolve()));
  const address = controlServer.address();
  if (address === null || typeof address === "string") throw new Error("no control port");

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    controlServer.close();
    await Promise.all([...served.values()].map((vendor) => vendor.close()));
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // The benchmark owns this process: when it goes away (stdin closes), so does this one.
  process.stdin.on("end", stop);
  process.stdin.resume();

  const ready = {
    control: `http://${HOST}:${address.port}`,
    urls: Object.fromEntries([...served].map(([name, { url }]) => [name, url])),
    env,
    signingKeyBits: SIGNING_KEY_BITS ?? null,
  };
  process.stdout.write(`bench-simulators ready ${JSON.stringify(ready)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench-simulators: ${error instanceof Error ? error.stack : error}\n`);
    process.exit(1);
  });
}
