// A user's first script with @x/fungame alone: log a user out against the FunGame simulator.
import { FunGameClient, FunGameError, inspectToken } from "@x/fungame";
import { createFunGameSimulator, DEFAULT_SIMULATOR_JWT_KEY } from "@x/fungame/testing";
import { verifyToken } from "@x/fungame/verify";

const simulator = createFunGameSimulator();
const fungame = new FunGameClient({ baseUrl: "https://fungame.test", fetch: simulator.fetch });

const token = await simulator.login("alice");
const verified = await verifyToken(token, { secret: DEFAULT_SIMULATOR_JWT_KEY });
check(verified.sub === "alice", `@x/fungame/verify verified the token as ${verified.sub}`);
const result = await fungame.logout(token);
check(result.alreadyLoggedOut === false, "the first logout says the session was already gone");
const { jti } = inspectToken(token);
check(jti !== undefined && simulator.isRevoked(jti), "the simulator did not revoke the token");

const again = await fungame.logout(token).catch((error) => error);
check(again instanceof FunGameError, `a second logout gave ${again}, not a FunGameError`);
check(again.kind === "unauthorized", `a second logout is ${again.kind}, not unauthorized`);

const calls = simulator.calls.length;
const refused = await fungame.logout("not a token").catch((error) => error);
check(
  refused instanceof FunGameError && refused.kind === "invalid_request",
  `bad token: ${refused}`,
);
check(simulator.calls.length === calls, "refused input still reached the simulator");

console.log(`PICK-ONE-VENDOR ${JSON.stringify({ vendor: "fungame", ok: true })}`);

/**
 * @param {unknown} condition
 * @param {string} message
 * @returns {asserts condition}
 */
function check(condition, message) {
  if (!condition) throw new Error(message);
}
