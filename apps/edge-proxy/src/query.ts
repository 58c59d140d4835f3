// Query parameters: no API route takes any, so each one sent is refused by name (as an unknown
// JSON member is) instead of being silently ignored.
import type { MiddlewareHandler } from "hono";
import { invalidFields } from "./body.ts";
import type { ProxyEnv } from "./context.ts";

/** Longest parameter name repeated in a problem; longer ones are cut. */
const MAX_NAME = 64;

export const refuseQuery: MiddlewareHandler<ProxyEnv> = async (c, next) => {
  const query = new URL(c.req.url).searchParams;
  const names = [...new Set(query.keys())];
  if (names.length === 0) return next();
  throw invalidFields(
    names.map((name) => ({
      field: `query.${name.slice(0, MAX_NAME)}`,
      message: "is not a known query parameter",
    })),
  );
};
