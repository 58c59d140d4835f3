// A user's first script with @x/ebet alone: log a player in and out against the eBET simulator.
import { EbetClient, EbetError } from "@x/ebet";
import { createEbetSimulator, EBET_TEST_PRIVATE_KEY } from "@x/ebet/testing";

const simulator = createEbetSimulator();
const ebet = new EbetClient({
  baseUrl: "https://ebet.test",
  channelId: 1,
  privateKey: EBET_TEST_PRIVATE_KEY,
  fetch: simulator.fetch,
});

await ebet.callback({ username: "demo", accessToken: "584c26e798deffc96cc7af073c184cd0" });
check(simulator.isPlaying("demo"), "the callback did not mark demo as playing");
const result = await ebet.logout({ username: "demo" });
check(result.status === 200, `logout answered status ${result.status}`);
check(!simulator.isPlaying("demo"), "demo is still playing after logout");

const calls = simulator.calls.length;
const refused = await ebet.logout({ username: "" }).catch((error) => error);
check(refused instanceof EbetError, `an empty username gave ${refused}, not an EbetError`);
check(refused.field === "username", `the refusal names ${refused.field}, not username`);
check(simulator.calls.length === calls, "refused input still reached the simulator");

console.log(`PICK-ONE-VENDOR ${JSON.stringify({ vendor: "ebet", ok: true })}`);

/**
 * @param {unknown} condition
 * @param {string} message
 * @returns {asserts condition}
 */
function check(condition, message) {
  if (!condition) throw new Error(message);
}
