// Serves the four vendor simulators on 127.0.0.1 with keys made at start, and mints demo users and tokens.
import { createAdaptorServer } from "@hono/node-server";
import { toBase64Url, toHex } from "@x/core-signing";
import { generateKeyPair } from "@x/core-signing/rsa";
import { createEbetSimulator } from "@x/ebet/testing";
import { createFunGameSimulator } from "@x/fungame/testing";
import { createLancensSimulator } from "@x/lancens/testing";
import { createOneAccessSimulator } from "@x/sdk-auth/testing";

/** The proxy's vendor names, as its routes and its fan-out body spell them. */
export const VENDORS = ["ebet", "fungame", "sdkAuth", "lancens"];

/** FunGame accounts are fixed when its simulator is made: this many, one fresh session each. */
const FUNGAME_ACCOUNTS = 64;

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
 * Starts the four simulators. Every key and secret is made here, at start: the eBET channel key
 * pair (its public half registered in the eBET simulator), FunGame's JWT key, OneAccess's key pair,
 * and an API key for the proxy's eBET routes (the proxy gets only its SHA-256).
 */
export async function startSimulators() {
  const channelKey = await generateKeyPair(2048);
  const channelId = 1000 + Math.floor(Math.random() * 9000);
  const ebet = createEbetSimulator({
    channels: [{ channelId, publicKey: channelKey.publicKey }],
    users: [],
  });

  const fungameAccounts = Array.from({ length: FUNGAME_ACCOUNTS }, (_, index) => [
    `player${String(index + 1).padStart(2, "0")}`,
    randomText(12),
  ]);
  const fungameJwtKey = randomText(32);
  const fungame = createFunGameSimulator({
    jwtKey: fungameJwtKey,
    users: Object.fromEntries(fungameAccounts),
  });

  const sdkAuthClientId = "edge-proxy-demo";
  const sdkAuth = await createOneAccessSimulator({ clientId: sdkAuthClientId });
  const lancens = createLancensSimulator({ users: [] });

  const servers = {};
  try {
    servers.ebet = await listen(ebet.fetch);
    servers.fungame = await listen(fungame.fetch);
    servers.sdkAuth = await listen(sdkAuth.fetch);
    servers.lancens = await listen(lancens.fetch);
  } catch (error) {
    await Promise.all(Object.values(servers).map((server) => server.close()));
    throw error;
  }

  const apiKey = `demo_${randomText(24)}`;
  const env = {
    EBET_BASE_URL: servers.ebet.url,
    EBET_CHANNEL_ID: String(channelId),
    EBET_PRIVATE_KEY: channelKey.toPem(),
    EBET_TIMESTAMP_UNIT: "s",
    FUNGAME_BASE_URL: servers.fungame.url,
    FUNGAME_JWT_SECRET: fungameJwtKey,
    SDK_AUTH_BASE_URL: servers.sdkAuth.url,
    SDK_AUTH_CLIENT_ID: sdkAuthClientId,
    LANCENS_BASE_URL: servers.lancens.url,
    PROXY_API_KEY_SHA256: await sha256Hex(apiKey),
  };

  let serial = 0;
  let fungameNext = 0;
  const next = () => String(++serial).padStart(3, "0");

  return {
    /** The simulators themselves, for state checks and misbehaviour switches. */
    sims: { ebet, fungame, sdkAuth, lancens },
    /** Base URL of each simulator. */
    urls: Object.fromEntries(VENDORS.map((vendor) => [vendor, servers[vendor].url])),
    /** The proxy's configuration against these simulators (secrets included: keep it out of files in the repository). */
    env,
    /** The accepted API key for the eBET routes. */
    apiKey,
    /** Makes a vendor act as a host that is down (true) or serves it again (false). */
    setDown(vendor, down) {
      servers[vendor].setDown(down);
    },
    /** A new eBET player, in a game now, so that a logout has something to end. */
    ebetUser(username = `player${next()}`) {
      ebet.addUser({ username, channelId, playing: true });
      return username;
    },
    /** A FunGame bearer token of a fresh session (each call uses another account). */
    async fungameToken() {
      const account = fungameAccounts[fungameNext++];
      if (!account) throw new Error(`only ${FUNGAME_ACCOUNTS} FunGame sessions per simulator`);
      return fungame.login(account[0], account[1]);
    },
    /** A live OneAccess session token. */
    sdkAuthSession(userName = `user${next()}`, sessionToken) {
      return sdkAuth.issueSession(
        sessionToken === undefined ? { userName } : { userName, sessionToken },
      );
    },
    /** A new Lancens user, logged in: its username and login token. */
    async lancensLogin(username = `lancens-user-${next()}`) {
      const password = randomText(9);
      lancens.addUser({ username, password });
      const answer = await lancens.signIn(username, password);
      return { username, token: answer.token };
    },
    async close() {
      await Promise.all(Object.values(servers).map((server) => server.close()));
    },
  };
}
