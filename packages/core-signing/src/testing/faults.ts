// Misbehaviour switches that every vendor simulator shares: slow answers, gateway errors, broken bodies.

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
  /** Apply the faults only to this many calls, then behave again. Unlimited by default. */
  times?: number;
}

/** A set of fault switches; `intercept()` returns the faulty answer to send, or undefined to go on normally. */
export class FaultSwitch {
  #faults: Faults = {};
  #remaining = Number.POSITIVE_INFINITY;

  /** Replaces the current faults. */
  set(faults: Faults): void {
    this.#faults = { ...faults };
    this.#remaining = faults.times ?? Number.POSITIVE_INFINITY;
  }

  clear(): void {
    this.set({});
  }

  get active(): Readonly<Faults> {
    return this.#faults;
  }

  /** Waits the delay, if any, and returns the faulty answer, if one is due. */
  async intercept(signal?: AbortSignal): Promise<Response | undefined> {
    if (this.#remaining <= 0) return undefined;
    const { delayMs, status, nonJson, truncatedJson } = this.#faults;
    if (delayMs === undefined && status === undefined && !nonJson && !truncatedJson)
      return undefined;
    this.#remaining--;
    if (delayMs) await sleep(delayMs, signal);
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
    return undefined;
  }

  /** Rewrites the content type of a normal answer when the `contentType` switch is on. */
  decorate(response: Response): Response {
    const { contentType } = this.#faults;
    if (contentType === undefined) return response;
    const headers = new Headers(response.headers);
    headers.set("content-type", contentType);
    return new Response(response.body, { status: response.status, headers });
  }
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
