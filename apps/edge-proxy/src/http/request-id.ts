// The request ids the proxy takes from callers' X-Request-Id: one pattern for the app and its document.

/** Short, printable, and without separators that could forge a log field. */
export const REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}$/;

/** The caller's id when it has the form of one, else a random UUID. */
export function requestIdOf(offered: string | null | undefined): string {
  return offered !== undefined && offered !== null && REQUEST_ID.test(offered)
    ? offered
    : crypto.randomUUID();
}
