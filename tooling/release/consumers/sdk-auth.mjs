// A user's first script with @x/sdk-auth alone: an OAEP-signed logout against the OneAccess simulator.
import { OneAccessClient, OneAccessError } from "@x/sdk-auth";
import { createOneAccessSimulator } from "@x/sdk-auth/testing";

const simulator = await createOneAccessSimulator();
const oneAccess = new OneAccessClient({
  baseUrl: "https://tenant.example.com",
  clientId: simulator.options.clientId,
  fetch: simulator.fetch,
});
const device = { osVersion: "Android 10", fingerprint: "156aysdna213sc50", agent: "pick-one" };

const sessionToken = simulator.issueSession();
await oneAccess.logout({ sessionToken, device });
check(!simulator.hasSession(sessionToken), "the session is still open after logout");

const again = await oneAccess.logout({ sessionToken, device }).catch((error) => error);
check(again instanceof OneAccessError, `a second logout gave ${again}, not a OneAccessError`);
check(again.code === "APP.0007", `a second logout is ${again.code}, not APP.0007`);

const calls = simulator.count();
const refused = await oneAccess.logout({ sessionToken: "", device }).catch((error) => error);
check(refused instanceof OneAccessError, `an empty token gave ${refused}, not a OneAccessError`);
check(refused.field === "sessionToken", `the refusal names ${refused.field}, not sessionToken`);
check(simulator.count() === calls, "refused input still reached the simulator");

console.log(`PICK-ONE-VENDOR ${JSON.stringify({ vendor: "sdk-auth", ok: true })}`);

/**
 * @param {unknown} condition
 * @param {string} message
 * @returns {asserts condition}
 */
function check(condition, message) {
  if (!condition) throw new Error(message);
}
