// The Node entry's upstream fetch: node:http(s) with keep-alive, returning standard Responses.
//
// Node's global fetch builds its answer through several layers of WHATWG streams; on a 2-core machine
// that costs about 0.6 ms per upstream call against a plain node:http request (docs/performance.md,
// case `node-hop`). The proxy makes one to three upstream calls per logout, so the Node entry sends
// them with this function instead. It keeps fetch's contract where the proxy relies on it: the
// request's method, headers, body and AbortSignal; redirects per `request.redirect` (follow, manual,
// error); gzip, deflate and br answers decoded; network failures rejected as TypeError("fetch failed")
// with the cause; the answer's body streamed, so a reader can stop early without buffering it all.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";

const MAX_REDIRECTS = 20;
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface NodeFetchOptions {
  /** Idle sockets kept per origin; defaults to 64. */
  maxFreeSockets?: number;
}

/** A fetch over node:http and node:https with one keep-alive agent per protocol. */
export function createNodeFetch(
  options: NodeFetchOptions = {},
): (request: Request) => Promise<Response> {
  const agentOptions = { keepAlive: true, maxFreeSockets: options.maxFreeSockets ?? 64 };
  const agents = { http: new HttpAgent(agentOptions), https: new HttpsAgent(agentOptions) };

  const once = (
    url: URL,
    method: string,
    headers: Headers,
    body: Uint8Array | undefined,
    signal: AbortSignal,
  ): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const secure = url.protocol === "https:";
      const outgoing: Record<string, string> = {};
      headers.forEach((value, name) => {
        outgoing[name] = value;
      });
      outgoing["accept-encoding"] ??= "gzip, deflate, br";
      if (body !== undefined) outgoing["content-length"] = String(body.byteLength);
      const send = secure ? httpsRequest : httpRequest;
      const onAbort = () => {
        req.destroy();
        reject(signal.reason);
      };
      const req = send(
        url,
        { method, headers: outgoing, agent: secure ? agents.https : agents.http },
        (res) => {
          signal.removeEventListener("abort", onAbort);
          resolve(res);
        },
      );
      req.on("error", (cause) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) reject(signal.reason);
        else reject(new TypeError("fetch failed", { cause }));
      });
      signal.addEventListener("abort", onAbort, { once: true });
      req.end(body);
    });

  return async (request) => {
    const signal = request.signal;
    let url = new URL(request.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError("fetch failed", {
        cause: new Error(`unsupported protocol ${url.protocol}`),
      });
    }
    let method = request.method;
    const headers = new Headers(request.headers);
    let body = request.body === null ? undefined : new Uint8Array(await request.arrayBuffer());
    for (let redirects = 0; ; redirects++) {
      const res = await once(url, method, headers, body, signal);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (
        REDIRECT_STATUSES.has(status) &&
        location !== undefined &&
        request.redirect !== "manual"
      ) {
        res.resume();
        if (request.redirect === "error" || redirects >= MAX_REDIRECTS) {
          throw new TypeError("fetch failed", {
            cause: new Error(
              request.redirect === "error" ? "unexpected redirect" : "redirect count exceeded",
            ),
          });
        }
        const next = new URL(location, url);
        if (next.origin !== url.origin) {
          headers.delete("authorization");
          headers.delete("cookie");
        }
        if (status === 303 || ((status === 301 || status === 302) && method === "POST")) {
          if (method !== "HEAD") method = "GET";
          body = undefined;
          headers.delete("content-type");
          headers.delete("content-length");
        }
        url = next;
        continue;
      }
      return toResponse(res, method, signal);
    }
  };
}

function decoded(res: IncomingMessage): Readable {
  const encoding = res.headers["content-encoding"]?.trim().toLowerCase();
  const decoder =
    encoding === "gzip" || encoding === "x-gzip"
      ? createGunzip()
      : encoding === "deflate"
        ? createInflate()
        : encoding === "br"
          ? createBrotliDecompress()
          : undefined;
  if (decoder === undefined) return res;
  res.on("error", (error) => decoder.destroy(error));
  return res.pipe(decoder);
}

function toResponse(res: IncomingMessage, method: string, signal: AbortSignal): Response {
  const status = res.statusCode ?? 0;
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2)
    headers.append(raw[i] as string, raw[i + 1] as string);
  const init = { status, statusText: res.statusMessage ?? "", headers };
  if (method === "HEAD" || NULL_BODY_STATUSES.has(status)) {
    res.resume();
    return new Response(null, init);
  }
  const source = decoded(res);
  const onAbort = () => source.destroy(signal.reason instanceof Error ? signal.reason : undefined);
  signal.addEventListener("abort", onAbort, { once: true });
  // Events can still arrive after the reader cancelled or the stream ended: they are dropped.
  let open = true;
  const finish = () => {
    open = false;
    signal.removeEventListener("abort", onAbort);
  };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      source.on("data", (chunk: Buffer) => {
        if (!open) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) source.pause();
      });
      source.once("end", () => {
        if (!open) return;
        finish();
        controller.close();
      });
      source.on("error", (cause) => {
        if (!open) return;
        finish();
        controller.error(new TypeError("terminated", { cause }));
      });
      // A socket closed before the body ended, without an error event of its own.
      res.once("aborted", () => source.destroy(new Error("the connection closed mid-answer")));
    },
    pull() {
      if (open) source.resume();
    },
    cancel() {
      finish();
      source.destroy();
      res.destroy();
    },
  });
  return new Response(stream, init);
}
