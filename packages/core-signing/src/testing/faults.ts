// Misbehaviour switches that every vendor simulator shares: slow answers, gateway errors, broken bodies, cut connections, huge bodies.

/** What a simulator should do wrong, set by a test; every member is optional and off by default. */
export interface Faults {
  /** Wait this long before answering (or before failing, with the other switches). */
  delayMs?: number;
  /** Answer with this HTTP status and a gateway-style HTML page instead of the vendor's answer. */
  status?: number;
  /** Answer 200 with a body that is not JSON. */
  nonJson?: boolean;
  /** Answer 200 with JSON cut off half-way. */
  truncatedJson?: boolean;
  /** Answer with this content type instead of the vendor's JSON one. */
  contentType?: string;
  /**
   * Drop the connection without an answer. In process, the simulator's fetch rejects with the
   * TypeError a network fetch rejects with; served over HTTP by `@hono/node-server` (the simulator's
   * fetch given the server's `{ incoming }`), the socket is reset; served by anything else, the
   * answer's body fails on its first read.
   */
  reset?: boolean;
  /**
   * Answer 200 with a JSON content type and a streamed JSON body of OVERSIZED_BODY_BYTES (over
   * 10 MB), made chunk by chunk as it is read: never in memory at once.
   */
  oversizedBody?: boolean;
  /** Apply the faults only to this many calls, then behave again. Unlimited by default. */
  times?: number;
}

/** The length of the `oversizedBody` answer: 10.5 MiB, over both 10 MB and 10 MiB. */
export const OVERSIZED_BODY_BYTES: number = 10.5 * 1024 * 1024;
/** The `oversizedBody` answer is made in chunks of this size. */
export const OVERSIZED_CHUNK_BYTES: number = 64 * 1024;

/** Marks the answer that stands for a dropped connection, so that `settle` can turn it into a rejection. */
const RESET_HEADER = "x-simulator-fault";
const RESET_VALUE = "connection-reset";

/** What a network fetch rejects with when the peer resets the connection. */
export function connectionResetError(): TypeError {
  const cause = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
  return new TypeError("fetch failed", { cause });
}

interface SocketLike {
  destroy?: () => void;
  resetAndDestroy?: () => void;
}

/**
 * Resets the connection behind an `@hono/node-server` request (its `env.incoming.socket`), with a
 * TCP RST where the runtime can send one. True when there was a socket to cut.
 */
function cutConnection(env: unknown): boolean {
  if (typeof env !== "object" || env === null) return false;
  const incoming = (env as { incoming?: unknown }).incoming;
  if (typeof incoming !== "object" || incoming === null) return false;
  const socket = (incoming as { socket?: unknown }).socket as SocketLike | null | undefined;
  if (typeof socket !== "object" || socket === null) return false;
  if (typeof socket.resetAndDestroy === "function") {
    try {
      socket.resetAndDestroy();
      return true;
    } catch {
      // Not a TCP socket in a state that can send RST: a plain destroy drops it all the same.
    }
  }
  if (typeof socket.destroy === "function") {
    socket.destroy();
    return true;
  }
  return false;
}

/** A set of fault switches; `intercept()` returns the faulty answer to send, or undefined to go on normally. */
export class FaultSwitch {
  #faults: Faults = {};
  #remaining = Number.POSITIVE_INFINITY;
  #streamedBytes = 0;

  /** Replaces the current faults (and zeroes `streamedBytes`). */
  set(faults: Faults): void {
    this.#faults = { ...faults };
    this.#remaining = faults.times ?? Number.POSITIVE_INFINITY;
    this.#streamedBytes = 0;
  }

  clear(): void {
    this.set({});
  }

  get active(): Readonly<Faults> {
    return this.#faults;
  }

  /**
   * How many bytes of `oversizedBody` answers have been handed to readers since the faults were
   * set: a reader that stops at its limit keeps this far below OVERSIZED_BODY_BYTES.
   */
  get streamedBytes(): number {
    return this.#streamedBytes;
  }

  /** Whether a switch that replaces the answer is on (all but `contentType`). */
  #replaces(): boolean {
    const { delayMs, status, nonJson, truncatedJson, reset, oversizedBody } = this.#faults;
    return (
      delayMs !== undefined ||
      status !== undefined ||
      nonJson === true ||
      truncatedJson === true ||
      reset === true ||
      oversizedBody === true
    );
  }

  /**
   * Waits the delay, if any, and returns the faulty answer, if one is due. `env` is what the server
   * passed along with the request (`@hono/node-server` passes `{ incoming, outgoing }`): a `reset`
   * cuts that connection. Pass the answer through `settle` before handing it to a caller.
   */
  async intercept(signal?: AbortSignal, env?: unknown): Promise<Response | undefined> {
    if (this.#remaining <= 0 || !this.#replaces()) return undefined;
    const { delayMs, status, nonJson, truncatedJson, reset, oversizedBody } = this.#faults;
    this.#remaining--;
    if (delayMs) await sleep(delayMs, signal);
    if (reset) {
      cutConnection(env);
      return resetResponse();
    }
    if (status !== undefined) {
      return new Response(`<html><body><h1>${status} Gateway Error</h1></body></html>`, {
        status,
        headers: { "content-type": "text/html" },
      });
    }
    if (nonJson) {
      return new Response("<html><body>Service temporarily unavailable</body></html>", {
        status: 200,
        headers: { "content-type": "text/html" },
      });
    }
    if (truncatedJson) {
      return new Response('{"result": {"items": [1, 2', {
        status: 200,
        headers: { "content-type": "application/json" },
      });
    }
    if (oversizedBody) {
      return new Response(
        oversizedStream((bytes) => {
          this.#streamedBytes += bytes;
        }),
        { status: 200, headers: { "content-type": "application/json; charset=utf-8" } },
      );
    }
    return undefined;
  }

  /**
   * Rewrites the content type of a normal answer when the `contentType` switch is on. Alone,
   * `contentType` counts against `times` here, once per answer.
   */
  decorate(response: Response): Response {
    const { contentType } = this.#faults;
    if (contentType === undefined || isReset(response)) return response;
    if (!this.#replaces()) {
      if (this.#remaining <= 0) return response;
      this.#remaining--;
    }
    const headers = new Headers(response.headers);
    headers.set("content-type", contentType);
    return new Response(response.body, { status: response.status, headers });
  }

  /**
   * The answer as a caller of the simulator's fetch gets it: the stand-in for a dropped connection
   * becomes the rejection a network fetch gives (its body released); any other answer as is.
   */
  settle(response: Response): Response {
    if (!isReset(response)) return response;
    response.body?.cancel().catch(() => {});
    throw connectionResetError();
  }
}

function isReset(response: Response): boolean {
  return response.headers.get(RESET_HEADER) === RESET_VALUE;
}

/** The stand-in for a dropped connection: marked for `settle`, and its body fails on the first read. */
function resetResponse(): Response {
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.error(connectionResetError());
    },
  });
  return new Response(body, {
    status: 200,
    headers: { "content-type": "application/json", [RESET_HEADER]: RESET_VALUE },
  });
}

/**
 * `{"padding":"xxx…"}` of OVERSIZED_BODY_BYTES in all, made one chunk per pull: only what a reader
 * asks for is made, and `onChunk` counts it.
 */
function oversizedStream(onChunk: (bytes: number) => void): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const head = encoder.encode('{"padding":"');
  const tail = encoder.encode('"}');
  const filler = new Uint8Array(OVERSIZED_CHUNK_BYTES).fill(0x78);
  let sent = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const left = OVERSIZED_BODY_BYTES - sent;
        let chunk: Uint8Array;
        if (sent === 0) {
          chunk = new Uint8Array(OVERSIZED_CHUNK_BYTES);
          chunk.set(head);
          chunk.fill(0x78, head.length);
        } else if (left <= OVERSIZED_CHUNK_BYTES) {
          chunk = new Uint8Array(left);
          chunk.fill(0x78, 0, left - tail.length);
          chunk.set(tail, left - tail.length);
        } else {
          chunk = filler.slice();
        }
        sent += chunk.byteLength;
        onChunk(chunk.byteLength);
        controller.enqueue(chunk);
        if (sent >= OVERSIZED_BODY_BYTES) controller.close();
      },
    },
    { highWaterMark: 0 },
  );
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
