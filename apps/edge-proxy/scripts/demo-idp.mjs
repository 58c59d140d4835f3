// A demo identity provider for `npm start`: an ES256 key made at start (WebCrypto), its key set served
// on 127.0.0.1, and OpenID Connect back-channel logout tokens signed with it. For the demo only: a real
// provider (Keycloak, Okta, …) signs its own tokens; see docs/universal-logout.md.
import { createServer } from "node:http";

const encoder = new TextEncoder();
const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
const json64 = (value) => b64url(encoder.encode(JSON.stringify(value)));

/** Starts the demo provider; `audience` is the client id the proxy is configured with. */
export async function startDemoProvider(audience) {
  const { privateKey, publicKey } = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["sign", "verify"],
  );
  const jwk = {
    ...(await crypto.subtle.exportKey("jwk", publicKey)),
    kid: "demo-1",
    alg: "ES256",
    use: "sig",
  };
  const server = createServer((request, response) => {
    if (request.url !== "/jwks") {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    /** A logout token for the user `sub` and session `sid`, valid for `validSec` seconds. */
    async logoutToken(sub, sid, validSec) {
      const iat = Math.floor(Date.now() / 1000);
      const input = `${json64({ alg: "ES256", kid: "demo-1", typ: "logout+jwt" })}.${json64({
        iss: issuer,
        aud: audience,
        iat,
        exp: iat + validSec,
        jti: crypto.randomUUID(),
        sub,
        sid,
        events: { "http://schemas.openid.net/event/backchannel-logout": {} },
      })}`;
      const signature = await crypto.subtle.sign(
        { name: "ECDSA", hash: "SHA-256" },
        privateKey,
        encoder.encode(input),
      );
      return `${input}.${b64url(new Uint8Array(signature))}`;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
