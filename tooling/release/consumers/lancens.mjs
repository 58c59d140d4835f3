// A user's first script with @x/lancens alone: clear push tokens and log out against the simulator.
import { LancensClient, LancensError } from "@x/lancens";
import { createLancensSimulator } from "@x/lancens/testing";

const simulator = createLancensSimulator();
const { token } = await simulator.signIn();
await simulator.bindPushToken(token, "ring");
await simulator.bindPushToken(token, "message");

const lancens = new LancensClient({
  baseUrl: "https://weixin.lancens.com:6443",
  fetch: simulator.fetch,
});
const result = await lancens.logoutFully({ username: "lancens-user", token });
check(result.ok && result.session === "cleared", `logoutFully gave ${JSON.stringify(result)}`);
check(!simulator.isTokenValid(token), "the token is still valid after logout");
const left = simulator.pushTokens("lancens-user");
check(left.ring.length === 0 && left.message.length === 0, "push tokens are still bound");

const calls = simulator.calls.length;
const refused = await lancens.logout({ username: "abc", token }).catch((error) => error);
check(refused instanceof LancensError, `a short username gave ${refused}, not a LancensError`);
check(refused.field === "username", `the refusal names ${refused.field}, not username`);
check(simulator.calls.length === calls, "refused input still reached the simulator");

console.log(`PICK-ONE-VENDOR ${JSON.stringify({ vendor: "lancens", ok: true })}`);

/**
 * @param {unknown} condition
 * @param {string} message
 * @returns {asserts condition}
 */
function check(condition, message) {
  if (!condition) throw new Error(message);
}
