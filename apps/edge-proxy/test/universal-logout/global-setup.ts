// An identity provider's key set served on 127.0.0.1, for the Worker entry's own fetch: its key
// pair is made here with node:crypto, and the tests sign logout tokens with the private half.
import { generateKeyPairSync } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    idpIssuer: string;
    idpPrivateJwk: JsonWebKey;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const server = createServer((request, response) => {
    if (request.url !== "/jwks") {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), kid: "idp-1" }] }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  project.provide("idpIssuer", `http://127.0.0.1:${port}`);
  project.provide("idpPrivateJwk", privateKey.export({ format: "jwk" }) as JsonWebKey);
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
