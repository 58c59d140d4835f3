// Types of kits.mjs: the proxy's vendor list with each vendor's dev kit.
import type { ProxyKit } from "@x/core-signing/testing";

/** What the scripts read of a vendor list entry (its descriptor). */
export interface ListedVendor {
  readonly name: string;
  readonly label: string;
  readonly member: string;
  readonly package: string;
}

export const VENDORS: readonly ListedVendor[];

/** A vendor of the list and its dev kit. */
export interface VendorKit {
  vendor: ListedVendor;
  kit: ProxyKit;
}

export function loadKits(): Promise<VendorKit[]>;
export function pickSetting<T extends string>(
  setting: string,
  raw: string | undefined,
  all: readonly T[],
): T[];
