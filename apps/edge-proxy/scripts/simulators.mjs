// Serves each listed vendor's simulator (its package's proxy dev kit) on 127.0.0.1, and makes demo sessions.
import { createAdaptorServer } from "@hono/node-server";
import { toBase64Url, toHex } from "@x/core-signing";
import { loadKits } from "./kits.mjs";

function randomText(bytes) {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** SHA-256 of a text, as lowercase hex: what PROXY_API_KEY_SHA256 lists. */
export async function sha256Hex(text) {
  return toHex(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))),
  );
}

/**
 * Serves a fetch handler on 127.0.0.1 at an ephemeral port. `setDown(true)` makes it act as a host
 * that is down: open connections are cut and new ones are closed at once, without an answer.
 */
async function listen(fetch) {
  const server = createAdaptorServer({ fetch, hostname: "127.0.0.1" });
  const sockets = new Set();
  let down = false;
  server.on("connection", (socket) => {
    if (down) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    setDown(value) {
      down = value;
      if (value) for (const socket of sockets) socket.destroy();
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Starts every listed vendor's simulator through its kit, each with keys and accounts of its own, and
 * makes an API key for the proxy's routes that ask for one (the proxy gets only its SHA-256).
 * Simulators, URLs and sessions are keyed by each vendor's member name ("sdkAuth"). `capacity`: the
 * accounts each simulator has (its kit's default when absent), so many sessions stay open at once.
 */
export async function startSimulators(options = {}) {
  const kits = await loadKits();
  const vendors = [];
  try {
    for (const { vendor, kit } of kits) {
      const sim = await kit.start(
        options.capacity === undefined ? {} : { capacity: options.capacity },
      );
      const server = await listen(sim.fetch);
      vendors.push({ vendor, kit, sim, server });
    }
  } catch (error) {
    await Promise.all(vendors.map(({ server }) => server.close()));
    throw error;
  }
  const byMember = (member) => {
    const found = vendors.find(({ vendor }) => vendor.member === member);
    if (!found)
      throw new Error(
        `no vendor ${member}; one of ${vendors.map(({ vendor }) => vendor.member).join(", ")}`,
      );
    return found;
  };

  const apiKey = `demo_${randomText(24)}`;
  const env = Object.assign({}, ...vendors.map(({ sim, server }) => sim.env(server.url)), {
    PROXY_API_KEY_SHA256: await sha256Hex(apiKey),
  });

  return {
    /** Each vendor of the list, its kit, its started simulator and its server, in the list's order. */
    vendors: vendors.map(({ vendor, kit, sim, server }) => ({ vendor, kit, sim, url: server.url })),
    /** The simulators themselves, for state checks and misbehaviour switches. */
    sims: Object.fromEntries(vendors.map(({ vendor, sim }) => [vendor.member, sim.simulator])),
    /** Base URL of each simulator. */
    urls: Object.fromEntries(vendors.map(({ vendor, server }) => [vendor.member, server.url])),
    /** The proxy's configuration against these simulators (secrets included: keep it out of files in the repository). */
    env,
    /** The accepted API key for the routes that ask for one. */
    apiKey,
    /** Makes a vendor act as a host that is down (true) or serves it again (false). */
    setDown(member, down) {
      byMember(member).server.setDown(down);
    },
    /** A fresh logged-in session of a vendor, as its member of the fan-out body. */
    async session(member) {
      const [session] = await byMember(member).sim.sessions(1);
      return session;
    },
    async close() {
      await Promise.all(vendors.map(({ server }) => server.close()));
    },
  };
}
