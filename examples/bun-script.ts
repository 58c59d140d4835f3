// A Bun script that logs an eBET player out: the login notification, then the logout, with typed errors.
//
//   bun add @x/ebet
//   bun examples/bun-script.ts [username]
//
// With EBET_BASE_URL, EBET_CHANNEL_ID and EBET_PRIVATE_KEY set it calls eBET (from a whitelisted IP);
// without them it calls the eBET simulator of @x/ebet/testing, so it runs anywhere, offline.
import { EbetClient, EbetError } from "@x/ebet";
import { createEbetSimulator, EBET_TEST_PRIVATE_KEY } from "@x/ebet/testing";

const username = Bun.argv[2] ?? "demo";
const live = Bun.env.EBET_BASE_URL !== undefined;
const simulator = live ? undefined : createEbetSimulator();

const ebet = simulator
  ? new EbetClient({
      baseUrl: "https://ebet.simulator",
      channelId: 1,
      privateKey: EBET_TEST_PRIVATE_KEY, // a published test key: never for a real channel
      fetch: simulator.fetch,
    })
  : new EbetClient({
      baseUrl: Bun.env.EBET_BASE_URL ?? "",
      channelId: Number(Bun.env.EBET_CHANNEL_ID),
      privateKey: Bun.env.EBET_PRIVATE_KEY ?? "", // PKCS#1 or PKCS#8 PEM, or base64 DER
      timeoutMs: 5_000,
    });

try {
  if (simulator) {
    // Only the simulator: your login page does this once it has authenticated the player.
    const account = await ebet.callback({
      username,
      accessToken: "584c26e798deffc96cc7af073c184cd0",
    });
    console.log(`eBET: ${account.username} is in, wallet total ${account.money}`);
  }
  const { status, apiVersion } = await ebet.logout({ username });
  console.log(`eBET: ${username} logged out (status ${status}, API ${apiVersion})`);
} catch (error) {
  if (!(error instanceof EbetError)) throw error;
  // Every failure: vendor, code (eBET's own, e.g. 4037), kind, retryable, upstreamStatus, field.
  console.error(`eBET refused: ${error.code} (${error.kind}) ${error.message}`);
  process.exitCode = error.retryable ? 75 : 1;
}

// Refused input never reaches eBET: the error names the field.
const refused = await ebet.logout({ username: "" }).catch((error: unknown) => error);
if (refused instanceof EbetError) console.log(`eBET: refused before sending: ${refused.field}`);
