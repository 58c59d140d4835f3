// The proxy's vendors, in order: the one list the scripts, the bench, the load run and the size check follow.

/** What every vendor's descriptor holds of its identity. */
interface ListedVendor {
  readonly name: string;
  readonly label: string;
  readonly member: string;
  readonly package: string;
}

export const VENDORS: readonly ListedVendor[] = [
  { name: "ebet", label: "eBET", member: "ebet", package: "@x/ebet" },
  { name: "fungame", label: "FunGame", member: "fungame", package: "@x/fungame" },
  { name: "sdk-auth", label: "Huawei Cloud OneAccess", member: "sdkAuth", package: "@x/sdk-auth" },
  { name: "lancens", label: "Lancens", member: "lancens", package: "@x/lancens" },
];
