// The four vendors' simulators (their packages' dev kits) served on 127.0.0.1, the command's settings
// for them, sessions to log out, and the count of calls that ended each session.
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { getRequestListener } from "@hono/node-server";
import type { KitSimulator, ProxyKit } from "@x/core-signing/testing";
import { type EbetSimulator, proxyKit as ebetKit } from "@x/ebet/testing";
import { proxyKit as fungameKit } from "@x/fungame/testing";
import { proxyKit as lancensKit } from "@x/lancens/testing";
import { proxyKit as sdkAuthKit } from "@x/sdk-auth/testing";
import { MEMBER_OF, VENDOR_NAMES, type VendorName } from "../src/sessions.ts";

const KITS: Record<VendorName, ProxyKit> = {
  ebet: ebetKit as ProxyKit,
  fungame: fungameKit as ProxyKit,
  "sdk-auth": sdkAuthKit as ProxyKit,
  lancens: lancensKit as ProxyKit,
};

export interface Served {
  url: string;
  /** Acts as a host that is down (connections cut) while true. */
  setDown(down: boolean): void;
  /** Answers every request with this status and headers instead of the simulator, while set. */
  setAnswer(answer: { status: number; headers?: Record<string, string> } | undefined): void;
  close(): Promise<void>;
}

/** Serves a fetch handler on 127.0.0.1 at an ephemeral port. */
export async function serve(
  fetch: (request: Request) => Promise<Response> | Response,
): Promise<Served> {
  let down = false;
  let answer: { status: number; headers?: Record<string, string> } | undefined;
  const listener = getRequestListener((request) =>
    answer === undefined ? fetch(request) : new Response(null, answer),
  );
  const server: Server = createServer(listener);
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    if (down) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setDown(value) {
      down = value;
      if (value) for (const socket of sockets) socket.destroy();
    },
    setAnswer(value) {
      answer = value;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Vendors {
  sims: Record<VendorName, KitSimulator<unknown, unknown>>;
  served: Record<VendorName, Served>;
  /** The command's environment for these simulators (secrets included). */
  env: Record<string, string>;
  /** `count` sessions per vendor, as list lines: line i names session i of every vendor. */
  lines(count: number, vendors?: readonly VendorName[]): Promise<Record<string, unknown>[]>;
  /**
   * For each vendor, how many calls ended each of the sessions made so far (the simulators' own
   * call logs): 1 each when every session ended exactly once.
   */
  endings(): Record<VendorName, Map<string, number>>;
  keyOf(vendor: VendorName, member: unknown): string;
  close(): Promise<void>;
}

/** Starts the four simulators, each with room for `capacity` open sessions. */
export async function startVendors(capacity: number): Promise<Vendors> {
  const sims = {} as Record<VendorName, KitSimulator<unknown, unknown>>;
  const served = {} as Record<VendorName, Served>;
  for (const vendor of VENDOR_NAMES) {
    sims[vendor] = await KITS[vendor].start({ capacity, load: true });
    const sim = sims[vendor];
    served[vendor] = await serve((request) => sim.fetch(request));
  }
  const env = Object.assign(
    {},
    ...VENDOR_NAMES.map((vendor) => sims[vendor].env(served[vendor].url)),
  );
  const made: Record<VendorName, unknown[]> = {
    ebet: [],
    fungame: [],
    "sdk-auth": [],
    lancens: [],
  };
  return {
    sims,
    served,
    env,
    async lines(count, vendors = VENDOR_NAMES) {
      const members = Object.fromEntries(
        await Promise.all(
          vendors.map(async (vendor) => [vendor, await sims[vendor].sessions(count)] as const),
        ),
      ) as Record<VendorName, unknown[]>;
      for (const vendor of vendors) made[vendor].push(...members[vendor]);
      return Array.from({ length: count }, (_, i) =>
        Object.fromEntries(vendors.map((vendor) => [MEMBER_OF[vendor], members[vendor][i]])),
      );
    },
    endings() {
      const out = {} as Record<VendorName, Map<string, number>>;
      for (const vendor of VENDOR_NAMES) {
        const sim = sims[vendor];
        const counts = new Map<string, number>();
        if (vendor === "ebet") {
          // eBET answers status 200 to a logout of a player who is not in a game too: only the
          // call that took the player out of a game ended the session.
          const ended = new Map<string, number>();
          for (const call of (sim.simulator as EbetSimulator).calls) {
            if (call.call !== "logout" || call.reason !== "logged out of the game") continue;
            const name = call.username as string;
            ended.set(name, (ended.get(name) ?? 0) + 1);
          }
          for (const member of made[vendor]) {
            const key = sim.key(member);
            counts.set(key, ended.get(key) ?? 0);
          }
        } else {
          const audit = sim.audit();
          for (const member of made[vendor]) {
            const key = sim.key(member);
            // The last step is the one that ends a session (Lancens clears its push tokens first).
            counts.set(key, audit.sessions[key]?.at(-1) ?? 0);
          }
        }
        out[vendor] = counts;
      }
      return out;
    },
    keyOf: (vendor, member) => sims[vendor].key(member),
    async close() {
      await Promise.all(VENDOR_NAMES.map((vendor) => served[vendor].close()));
    },
  };
}
