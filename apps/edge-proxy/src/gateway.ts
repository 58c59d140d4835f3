// The vendors of one app: each configured vendor built on first use (its client, its keys imported
// once) and kept for the app's life; the fan-out body and job members derived from the list.
import * as v from "valibot";
import type { ProxyConfig } from "./config.ts";
import type { AnyVendor, VendorInstance, VendorRuntime } from "./vendors/descriptor.ts";
import { notConfigured } from "./vendors/shared.ts";

export class VendorGateway {
  readonly vendors: readonly AnyVendor[];
  readonly #byName: ReadonlyMap<string, AnyVendor>;
  readonly #byMember: ReadonlyMap<string, AnyVendor>;
  readonly #config: ProxyConfig;
  readonly #runtime: (vendor: AnyVendor) => VendorRuntime;
  readonly #instances = new Map<string, VendorInstance<unknown>>();

  constructor(
    vendors: readonly AnyVendor[],
    config: ProxyConfig,
    runtime: (vendor: AnyVendor) => VendorRuntime,
  ) {
    this.vendors = vendors;
    this.#byName = new Map(vendors.map((vendor) => [vendor.name, vendor]));
    this.#byMember = new Map(vendors.map((vendor) => [vendor.member, vendor]));
    this.#config = config;
    this.#runtime = runtime;
  }

  /** The descriptor of a vendor of this app, by name. */
  descriptor(name: string): AnyVendor {
    const found = this.#byName.get(name);
    if (found === undefined) throw notConfigured(name);
    return found;
  }

  /** The descriptor of a fan-out member, by member name. */
  byMember(member: string): AnyVendor | undefined {
    return this.#byMember.get(member);
  }

  configured(name: string): boolean {
    return this.#config.vendors.has(name);
  }

  /** The vendor built for this app; the 404 problem when it is off. */
  instance(name: string): VendorInstance<unknown> {
    const built = this.#instances.get(name);
    if (built !== undefined) return built;
    const descriptor = this.#byName.get(name);
    if (descriptor === undefined || !this.#config.vendors.has(name)) throw notConfigured(name);
    const instance = descriptor.create(this.#config.vendors.get(name), this.#runtime(descriptor));
    if ((descriptor.records === true) !== (instance.record !== undefined)) {
      throw new Error(
        `${name}: a vendor that keeps records has a record step, and only such a vendor`,
      );
    }
    this.#instances.set(name, instance);
    return instance;
  }
}

/**
 * The fan-out body of these vendors: each one's input under its member name, at least one; with
 * `extra`, a body that holds those members too (a session registration's).
 */
export function fanOutBody<const E extends v.ObjectEntries = Record<never, never>>(
  vendors: readonly AnyVendor[],
  extra?: E,
) {
  const members = vendors.map((vendor) => vendor.member);
  const names =
    members.length > 1
      ? `${members.slice(0, -1).join(", ")} or ${members[members.length - 1]}`
      : members.join("");
  return v.pipe(
    v.strictObject({
      ...(extra as E),
      ...Object.fromEntries(vendors.map((vendor) => [vendor.member, v.optional(vendor.input)])),
    }),
    v.check(
      (body) => members.some((member) => (body as Record<string, unknown>)[member] !== undefined),
      `must name at least one vendor: ${names}`,
    ),
  );
}

/** The secret values of a fan-out body (tokens, session tokens), per each vendor's descriptor. */
export function secretsOf(vendors: readonly AnyVendor[], body: Readonly<Record<string, unknown>>) {
  return vendors.flatMap((vendor) => {
    const input = Object.hasOwn(body, vendor.member) ? body[vendor.member] : undefined;
    return input === undefined ? [] : vendor.secrets(input);
  });
}
