// The proxy's vendors with their dev kits: each entry of src/vendors/index.ts and `<package>/testing`'s proxyKit.
import { VENDORS } from "../src/vendors/index.ts";

export { VENDORS };

/** Every vendor of the list, in its order, with the proxy dev kit its package exports. */
export async function loadKits() {
  return Promise.all(
    VENDORS.map(async (vendor) => {
      const testing = await import(`${vendor.package}/testing`);
      if (typeof testing.proxyKit?.start !== "function") {
        throw new Error(
          `${vendor.package}/testing exports no proxyKit: the ${vendor.name} vendor needs one`,
        );
      }
      return { vendor, kit: testing.proxyKit };
    }),
  );
}

/**
 * Names picked in a setting (e.g. BENCH_VENDORS=ebet,lancens) out of `all`, in their order; every
 * one when the setting is unset or empty. An unknown name is an error naming the setting.
 */
export function pickSetting(setting, raw, all) {
  if (raw === undefined || raw.trim() === "") return [...all];
  const picked = raw.split(",").map((item) => item.trim());
  for (const item of picked) {
    if (!all.includes(item)) throw new Error(`${setting}: ${item} is not one of ${all.join(", ")}`);
  }
  return picked;
}
