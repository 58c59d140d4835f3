// Just enough DER to read and write RSA keys: SEQUENCE, INTEGER, NULL, OID, BIT STRING, OCTET STRING.

import { concatBytes, fromHex, toHex } from "./encoding.ts";
import { KeyFormatError } from "./errors.ts";

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
} as const;

export interface DerNode {
  tag: number;
  /** The contents, a view into the input. */
  value: Uint8Array;
}

function malformed(message: string): KeyFormatError {
  return new KeyFormatError("der", `malformed DER: ${message}`);
}

/** Reads the TLV elements laid end to end in `bytes`; every byte must belong to one. */
export function readDerSequence(bytes: Uint8Array): DerNode[] {
  const nodes: DerNode[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const tag = bytes[offset++] as number;
    if ((tag & 0x1f) === 0x1f) throw malformed("multi-byte tags are not used in RSA keys");
    if (offset >= bytes.length) throw malformed("truncated before a length");
    let length = bytes[offset++] as number;
    if (length & 0x80) {
      const count = length & 0x7f;
      if (count === 0 || count > 4) throw malformed(`unsupported length of ${count} bytes`);
      if (offset + count > bytes.length) throw malformed("truncated inside a length");
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + (bytes[offset++] as number);
      if (length < 0x80) throw malformed("long form used for a short length");
    }
    if (offset + length > bytes.length) {
      throw malformed(`element needs ${length} bytes, ${bytes.length - offset} remain (truncated)`);
    }
    nodes.push({ tag, value: bytes.subarray(offset, offset + length) });
    offset += length;
  }
  return nodes;
}

/** The single element that `bytes` must consist of, which must carry `tag`. */
export function readDerElement(bytes: Uint8Array, tag: number, what: string): DerNode {
  const nodes = readDerSequence(bytes);
  if (nodes.length !== 1) throw malformed(`${what}: expected one element, found ${nodes.length}`);
  const node = nodes[0] as DerNode;
  if (node.tag !== tag)
    throw malformed(
      `${what}: expected tag 0x${tag.toString(16)}, found 0x${node.tag.toString(16)}`,
    );
  return node;
}

/** The children of a SEQUENCE node. */
export function sequenceChildren(node: DerNode, what: string): DerNode[] {
  if (node.tag !== TAG.SEQUENCE) throw malformed(`${what}: expected a SEQUENCE`);
  return readDerSequence(node.value);
}

/** A non-negative INTEGER as a BigInt. */
export function derInteger(node: DerNode | undefined, what: string): bigint {
  if (!node || node.tag !== TAG.INTEGER) throw malformed(`${what}: expected an INTEGER`);
  if (node.value.length === 0) throw malformed(`${what}: empty INTEGER`);
  if ((node.value[0] as number) & 0x80) throw malformed(`${what}: negative INTEGER`);
  return BigInt(`0x${toHex(node.value)}`);
}

/** Dotted-decimal form of an OBJECT IDENTIFIER. */
export function derOid(node: DerNode | undefined, what: string): string {
  if (!node || node.tag !== TAG.OID || node.value.length === 0) {
    throw malformed(`${what}: expected an OBJECT IDENTIFIER`);
  }
  const bytes = node.value;
  const first = bytes[0] as number;
  const parts = [
    Math.min(2, Math.floor(first / 40)),
    first - Math.min(2, Math.floor(first / 40)) * 40,
  ];
  let value = 0;
  for (let i = 1; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join(".");
}

function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

export function derEncode(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const value = concatBytes(...contents);
  return concatBytes(Uint8Array.of(tag), encodeLength(value.length), value);
}

export function derEncodeInteger(value: bigint): Uint8Array {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (Number.parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  return derEncode(TAG.INTEGER, fromHex(hex));
}

/** AlgorithmIdentifier { rsaEncryption, NULL }, the same bytes in every PKCS#8 and SPKI RSA key. */
export const RSA_ALGORITHM_IDENTIFIER: Uint8Array = fromHex("300d06092a864886f70d0101010500");
export const RSA_ENCRYPTION_OID = "1.2.840.113549.1.1.1";
