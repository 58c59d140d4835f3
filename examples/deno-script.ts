// A Deno script that logs a Huawei Cloud OneAccess session out with the RSA-OAEP X-signature.
//
//   deno run --allow-env=ONEACCESS_URL,ONEACCESS_CLIENT_ID --allow-net examples/deno-script.ts [token]
//
// With ONEACCESS_URL and ONEACCESS_CLIENT_ID set it calls your tenant; without them it calls the
// OneAccess simulator of @x/sdk-auth/testing, which needs no network permission at all.
import { type DeviceInfo, OneAccessClient, OneAccessError } from "npm:@x/sdk-auth";
import { createOneAccessSimulator } from "npm:@x/sdk-auth/testing";

const baseUrl = Deno.env.get("ONEACCESS_URL");
const simulator = baseUrl ? undefined : await createOneAccessSimulator();

const oneAccess = new OneAccessClient({
  baseUrl: baseUrl ?? "https://tenant.simulator",
  clientId: Deno.env.get("ONEACCESS_CLIENT_ID") ?? simulator?.options.clientId ?? "",
  ...(simulator ? { fetch: simulator.fetch } : {}),
});

const device: DeviceInfo = {
  osVersion: `Deno ${Deno.version.deno}`,
  fingerprint: "deno-example-0001",
  agent: navigator.userAgent,
};
const sessionToken = Deno.args[0] ?? simulator?.issueSession() ?? "";

try {
  // First call: public key and server time, then the logout. Later calls cost one request.
  const { body } = await oneAccess.logout({ sessionToken, device });
  console.log(`OneAccess: logged out (${JSON.stringify(body)})`);
} catch (error) {
  if (!(error instanceof OneAccessError)) throw error;
  console.error(`OneAccess refused: ${error.code} (${error.kind}) ${error.message}`);
  Deno.exitCode = 1;
}

// OneAccess has no idempotent logout: a second one names the session as unknown (APP.0007).
const again = await oneAccess.logout({ sessionToken, device }).catch((error: unknown) => error);
if (again instanceof OneAccessError) console.log(`OneAccess: a second logout is ${again.code}`);
