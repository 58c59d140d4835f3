// A body read as text up to a limit: a declared length over it is refused before reading, a stream
// is cancelled as soon as it passes it, and bytes that are not UTF-8 are refused.

/** The body is over the limit (declared or streamed); nothing more of it was read. */
export class BodyTooLarge extends Error {
  override name = "BodyTooLarge";
}

/** The body could not be read, or is not UTF-8 text. */
export class BodyUnreadable extends Error {
  override name = "BodyUnreadable";
}

/** Reads `body` (with its declared Content-Length, if any) as UTF-8 text of at most `maxBytes`. */
export async function readBounded(
  body: ReadableStream<Uint8Array> | null,
  declaredLength: string | null,
  maxBytes: number,
): Promise<string> {
  if (declaredLength !== null && Number(declaredLength) > maxBytes) {
    await body?.cancel().catch(() => {});
    throw new BodyTooLarge(`the body is over ${maxBytes} bytes`);
  }
  if (body === null) return "";
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  let text = "";
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new BodyTooLarge(`the body is over ${maxBytes} bytes`);
      }
      text += decoder.decode(value, { stream: true });
    }
    return text + decoder.decode();
  } catch (error) {
    if (error instanceof BodyTooLarge) throw error;
    throw new BodyUnreadable("the body could not be read as UTF-8 text");
  }
}
