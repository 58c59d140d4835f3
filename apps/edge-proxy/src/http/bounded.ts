// A body read as text up to a limit: a declared length over it is refused before reading, a stream
// is cancelled as soon as it passes it, and bytes that are not UTF-8 are refused (a plain Error).

/** The body is over the limit (declared or streamed); nothing more of it was read. */
export class BodyTooLarge extends Error {
  override name = "BodyTooLarge";
}

/** What `readBounded` reads: a Request or a Response. */
export type BodyMessage = Pick<Body, "arrayBuffer" | "body"> & { readonly headers: Headers };

/**
 * Reads a request's or an answer's body as UTF-8 text of at most `maxBytes`. A declared
 * Content-Length over the limit is refused before anything is read. A body the runtime itself
 * `framed` (a request its HTTP server received), with a plain declared length within the limit and
 * neither Content-Encoding nor Transfer-Encoding, is read whole by the runtime: its server reads no
 * more than that length (the bytes are counted again after), and its own read needs no stream
 * reader (on Node the server's request then never builds a stream at all). Any other body, an
 * answer a fetch handed over included, is read as a stream and cancelled as soon as it passes the
 * limit, whatever it declares.
 */
export async function readBounded(
  message: BodyMessage,
  maxBytes: number,
  framed = false,
): Promise<string> {
  // `body` is read only where it is needed: on Node, asking for it builds the stream.
  const { headers } = message;
  const declared = headers.get("content-length");
  if (Number(declared) > maxBytes) {
    await message.body?.cancel().catch(() => {});
    throw new BodyTooLarge();
  }
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  try {
    if (
      framed &&
      /^\d+$/.test(declared as string) &&
      !headers.has("content-encoding") &&
      !headers.has("transfer-encoding")
    ) {
      const bytes = await message.arrayBuffer();
      if (bytes.byteLength > maxBytes) throw new BodyTooLarge();
      return decoder.decode(bytes);
    }
    const { body } = message;
    if (body === null) return "";
    const reader = body.getReader();
    let text = "";
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new BodyTooLarge();
      }
      text += decoder.decode(value, { stream: true });
    }
    return text + decoder.decode();
  } catch (error) {
    if (error instanceof BodyTooLarge) throw error;
    // Any other failure: the body broke off, or is not UTF-8.
    throw new Error("unreadable, or not UTF-8", { cause: error });
  }
}
