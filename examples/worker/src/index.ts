// A Cloudflare Worker that logs a Lancens user out: both push tokens cleared, then the session.
//
//   POST /logout  { "username": "…", "token": "…" }
//   → 200 { "ok": true, "alreadyLoggedOut": false, "steps": { "ringPushToken": "cleared", … } }
//   → 4xx/5xx { "code", "kind", "field"?, "message", … } when the input or Lancens refuses
import { isLancensError, LANCENS_BASE_URL, LancensClient, type StepOutcome } from "@x/lancens";

export interface Env {
  /** Where Lancens lives; https://weixin.lancens.com:6443 when unset. */
  LANCENS_BASE_URL?: string;
}

/** HTTP status for each error kind of the shared @x contract. */
const STATUS_OF_KIND: Record<string, number> = {
  invalid_request: 400,
  unauthorized: 401,
  not_found: 404,
  rate_limited: 429,
  misconfigured: 500,
  upstream: 502,
  unavailable: 503,
};

let client: LancensClient | undefined; // one per isolate

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname !== "/logout") return Response.json({ message: "not found" }, { status: 404 });
    if (request.method !== "POST") {
      return Response.json({ message: "use POST" }, { status: 405, headers: { allow: "POST" } });
    }
    let body: { username?: unknown; token?: unknown };
    try {
      body = (await request.json()) as typeof body;
    } catch {
      return Response.json({ message: "the body must be a JSON object" }, { status: 400 });
    }

    client ??= new LancensClient({
      baseUrl: env.LANCENS_BASE_URL ?? LANCENS_BASE_URL,
      timeoutMs: 8_000,
    });
    try {
      // The client checks both values before any request and names the one it refuses.
      const result = await client.logoutFully(body as { username: string; token: string });
      return Response.json({
        ok: result.ok,
        alreadyLoggedOut: result.alreadyLoggedOut,
        steps: {
          ringPushToken: describe(result.ringPushToken),
          messagePushToken: describe(result.messagePushToken),
          session: describe(result.session),
        },
      });
    } catch (error) {
      if (!isLancensError(error)) throw error;
      return Response.json(error.toJSON(), { status: STATUS_OF_KIND[error.kind] ?? 500 });
    }
  },
};

function describe(step: StepOutcome): unknown {
  return isLancensError(step) ? step.toJSON() : step;
}
