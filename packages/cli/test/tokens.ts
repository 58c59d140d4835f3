// FunGame-shaped tokens for the tests, made with node:crypto (not with the code under test).
import { createHmac } from "node:crypto";

/** A FunGame-shaped HS256 JWT expiring at `exp` (seconds). */
export function jwt(exp: number): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const claims = {
    sub: "alice",
    jti: "0b6f1c9e-2d1f-4b59-9c1a-7a3e0c6a1f00",
    iss: "FunGame",
    aud: "FunGame Web API",
    exp,
  };
  const body = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`;
  return `${body}.${createHmac("sha256", "k".repeat(32)).update(body).digest("base64url")}`;
}
