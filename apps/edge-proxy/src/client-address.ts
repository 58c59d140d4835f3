// The caller's network address on the local runtimes: the socket's peer, or behind trusted reverse
// proxies (PROXY_TRUSTED_PROXIES) the right-most X-Forwarded-For hop that is not one of them.
import type { ProxyContext } from "./context.ts";

interface SocketEnv {
  incoming?: { socket?: { remoteAddress?: unknown } };
  remoteAddr?: { hostname?: unknown };
  requestIP?: (request: Request) => { address?: unknown } | null;
}

/** The address of the connection the request came on, or undefined when the runtime gave none. */
export function socketAddress(c: ProxyContext): string | undefined {
  const env = c.env as SocketEnv | undefined;
  if (typeof env !== "object" || env === null) return undefined;
  const node = env.incoming?.socket?.remoteAddress;
  if (typeof node === "string") return node;
  const deno = env.remoteAddr?.hostname;
  if (typeof deno === "string") return deno;
  if (typeof env.requestIP === "function") {
    try {
      const bun = env.requestIP(c.req.raw)?.address;
      if (typeof bun === "string") return bun;
    } catch {
      // not a Bun server after all
    }
  }
  return undefined;
}

/** An address range: the network's bytes (4 for IPv4, 16 for IPv6) and its prefix length. */
export interface Cidr {
  bytes: Uint8Array;
  prefix: number;
}

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split(".");
  // Leading zeros are refused: some parsers read them as octal.
  if (parts.length !== 4 || !parts.every((part) => /^(0|[1-9]\d{0,2})$/.test(part))) {
    return undefined;
  }
  const bytes = parts.map(Number);
  return bytes.every((byte) => byte <= 255) ? bytes : undefined;
}

function parseIpv6(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string): number[] | undefined => {
    if (half === "") return [];
    const out: number[] = [];
    const pieces = half.split(":");
    for (const [index, piece] of pieces.entries()) {
      if (index === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIpv4(piece);
        if (v4 === undefined) return undefined;
        out.push(
          ((v4[0] as number) << 8) | (v4[1] as number),
          ((v4[2] as number) << 8) | (v4[3] as number),
        );
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
        out.push(Number.parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groupsOf(halves[0] as string);
  const tail = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...Array<number>(missing).fill(0), ...tail];
  return groups.flatMap((group) => [group >> 8, group & 0xff]);
}

/**
 * An IP address literal as bytes: 4 for IPv4 and for an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`
 * is 10.0.0.1, as a dual-stack socket reports it), 16 for other IPv6; undefined for anything else.
 */
export function parseIp(text: string): Uint8Array | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return new Uint8Array(v4);
  if (!text.includes(":")) return undefined;
  const v6 = parseIpv6(text);
  if (v6 === undefined) return undefined;
  const mapped = v6.slice(0, 10).every((byte) => byte === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return new Uint8Array(mapped ? v6.slice(12) : v6);
}

/** An address in one canonical form: dotted IPv4, or IPv6 as eight hexadecimal groups. */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  const groups: string[] = [];
  for (let i = 0; i < bytes.length; i += 2) {
    groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  }
  return groups.join(":");
}

/** Whether `address` lies in `range` (an IPv4 address never lies in an IPv6 range, nor the reverse). */
function contains(range: Cidr, address: Uint8Array): boolean {
  if (range.bytes.length !== address.length) return false;
  for (let bit = 0; bit < range.prefix; bit += 8) {
    const mask = (0xff << (8 - Math.min(8, range.prefix - bit))) & 0xff;
    const index = bit / 8;
    if (((address[index] as number) & mask) !== ((range.bytes[index] as number) & mask)) {
      return false;
    }
  }
  return true;
}

export function inRanges(address: Uint8Array, ranges: readonly Cidr[]): boolean {
  return ranges.some((range) => contains(range, address));
}

/** Ranges PROXY_TRUSTED_PROXIES may list at most. */
export const MAX_TRUSTED_RANGES = 100;

/**
 * Reads PROXY_TRUSTED_PROXIES: comma-separated addresses or CIDR ranges, IPv4 or IPv6 (a bare
 * address is a range of one). Returns the ranges, or the message naming the first bad entry.
 */
export function parseTrustedProxies(value: string): Cidr[] | string {
  const items = value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  if (items.length === 0) return "must list at least one address or CIDR range";
  if (items.length > MAX_TRUSTED_RANGES) return `must list at most ${MAX_TRUSTED_RANGES} ranges`;
  const ranges: Cidr[] = [];
  for (const item of items) {
    const quoted = JSON.stringify(item.slice(0, 64));
    const [address = "", prefixText, extra] = item.split("/");
    const bytes = parseIp(address);
    const bits = bytes === undefined ? 0 : bytes.length * 8;
    const prefix = prefixText === undefined ? bits : Number(prefixText);
    if (
      bytes === undefined ||
      extra !== undefined ||
      (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) ||
      prefix > bits
    ) {
      return `must be comma-separated IP addresses or CIDR ranges (10.0.0.0/8, fd00::/8), got ${quoted}`;
    }
    if (prefix === 0) return `must not trust every address, got ${quoted}`;
    const range = { bytes, prefix };
    if (!hostBitsClear(range)) {
      return `has host bits set in ${quoted}: give the network address of the range`;
    }
    ranges.push(range);
  }
  return ranges;
}

function hostBitsClear(range: Cidr): boolean {
  for (let bit = 0; bit < range.bytes.length * 8; bit++) {
    if (bit < range.prefix) continue;
    if (((range.bytes[bit >> 3] as number) >> (7 - (bit & 7))) & 1) return false;
  }
  return true;
}

/** X-Forwarded-For hops read at most: more than any real chain of proxies. */
const MAX_HOPS = 32;

/** One X-Forwarded-For entry: an address, with an optional port (`1.2.3.4:80`, `[::1]:443`). */
function parseHop(entry: string): Uint8Array | undefined {
  const text = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed) return parseIp(bracketed[1] as string);
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(text);
  return parseIp(withPort ? (withPort[1] as string) : text);
}

/**
 * The client behind trusted proxies. When the socket peer is not trusted it is the client, and
 * X-Forwarded-For is not read. Otherwise the hops are walked from the right (the entry the nearest
 * proxy appended) and the first one that is not trusted is the client. A malformed entry ends the
 * walk at the last trusted hop, so that the key is always an address one of our proxies saw, never
 * text the caller chose; a chain of trusted hops only ends at its left-most address.
 */
export function forwardedClient(
  peer: string,
  forwardedFor: string | undefined,
  trusted: readonly Cidr[],
): string {
  const peerBytes = parseIp(peer.replace(/%.*$/, ""));
  if (peerBytes === undefined || !inRanges(peerBytes, trusted)) return peer;
  let client = peerBytes;
  const hops = forwardedFor === undefined ? [] : forwardedFor.split(",");
  for (let i = hops.length - 1; i >= Math.max(0, hops.length - MAX_HOPS); i--) {
    const hop = parseHop(hops[i] as string);
    if (hop === undefined) break;
    client = hop;
    if (!inRanges(hop, trusted)) break;
  }
  return formatIp(client);
}

/**
 * The client address function of the Bun, Deno and Node entries: the socket's peer, or with
 * trusted proxies configured the client they forwarded for.
 */
export function localClientAddress(
  trusted: readonly Cidr[],
): (c: ProxyContext) => string | undefined {
  if (trusted.length === 0) return socketAddress;
  return (c) => {
    const peer = socketAddress(c);
    if (peer === undefined) return undefined;
    return forwardedClient(peer, c.req.header("x-forwarded-for"), trusted);
  };
}

const LOOPBACK = parseTrustedProxies("127.0.0.0/8, ::1") as Cidr[];

/** An https URL, or http to this machine only (localhost, 127.0.0.0/8, ::1): keys are never read in clear. */
export function isSecureOrLoopback(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === "https:") return true;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const address = parseIp(host);
  return host === "localhost" || (address !== undefined && inRanges(address, LOOPBACK));
}
