import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  caretAccepts,
  exportTargets,
  jsrProblems,
  packedProblems,
  sourceManifestProblems,
  // @ts-expect-error: plain JavaScript module without declarations
} from "../release/rules.mjs";
import {
  publishablePackages,
  readCatalog,
  readJson,
  rootManifest,
  scopedPackagesUnder,
  // @ts-expect-error: plain JavaScript module without declarations
} from "../release/workspace.mjs";

const REPO = "git+https://github.com/acme/logout.git";

function goodManifest(): Record<string, unknown> {
  return {
    name: "@x/acme",
    version: "1.2.3",
    description: "Acme logout",
    license: "MIT",
    homepage: "https://github.com/acme/logout/tree/main/packages/acme#readme",
    bugs: { url: "https://github.com/acme/logout/issues" },
    repository: { type: "git", url: REPO, directory: "packages/acme" },
    type: "module",
    sideEffects: false,
    exports: {
      ".": { types: "./dist/index.d.ts", default: "./dist/index.js" },
      "./testing": { types: "./dist/testing/index.d.ts", default: "./dist/testing/index.js" },
      "./package.json": "./package.json",
    },
    files: ["dist", "src"],
    engines: { node: ">=20" },
    publishConfig: { access: "public" },
    keywords: ["acme"],
    dependencies: { "@x/core-signing": "workspace:^", hono: "catalog:" },
  };
}

const PACKED_FILES = [
  "package.json",
  "README.md",
  "LICENSE",
  "dist/index.js",
  "dist/index.d.ts",
  "dist/testing/index.js",
  "dist/testing/index.d.ts",
  "src/index.ts",
];

describe("sourceManifestProblems", () => {
  const options = { relDir: "packages/acme", repositoryUrl: REPO };

  it("finds nothing wrong with a complete manifest", () => {
    expect(sourceManifestProblems(goodManifest(), options)).toEqual([]);
  });

  it("names each missing or wrong field", () => {
    const manifest = goodManifest();
    manifest.license = "ISC";
    delete manifest.engines;
    delete manifest.publishConfig;
    manifest.repository = { type: "git", url: REPO, directory: "packages/other" };
    const problems = sourceManifestProblems(manifest, options).join("\n");
    expect(problems).toContain('"license" must be "MIT"');
    expect(problems).toContain('"engines.node"');
    expect(problems).toContain('"publishConfig.access"');
    expect(problems).toContain('"repository.directory" must be "packages/acme"');
  });

  it("wants types before default in every required subpath", () => {
    const manifest = goodManifest();
    manifest.exports = {
      ".": { default: "./dist/index.js", types: "./dist/index.d.ts" },
    };
    const problems = sourceManifestProblems(manifest, options).join("\n");
    expect(problems).toContain('"exports["."]" must list "types" first');
    expect(problems).toContain('"exports" must have "./testing"');
  });

  it("asks a command's package (one with bin) for its API only, and its bin in ./dist/", () => {
    const command = goodManifest();
    command.exports = { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } };
    command.bin = { acme: "./dist/bin.js" };
    expect(sourceManifestProblems(command, options)).toEqual([]);
    command.bin = { acme: "./src/bin.ts", other: "bin.js" };
    expect(sourceManifestProblems(command, options)).toEqual([
      '"bin.acme" must point at a built .js file under ./dist/',
      '"bin.other" must point at a built .js file under ./dist/',
    ]);
    const vendor = goodManifest();
    vendor.exports = command.exports;
    expect(sourceManifestProblems(vendor, options)).toContain(
      '"exports" must have "./testing" with "types" and "default"',
    );
  });
});

describe("packedProblems", () => {
  const packed = () => ({ ...goodManifest(), dependencies: { "@x/core-signing": "^0.1.0" } });
  const options = { workspaceVersions: { "@x/core-signing": "0.1.4" } };

  it("accepts a tarball with every file and real ranges", () => {
    expect(packedProblems(packed(), PACKED_FILES, options)).toEqual([]);
  });

  it("refuses workspace: and catalog: ranges left in the tarball", () => {
    const manifest = { ...packed(), dependencies: goodManifest().dependencies };
    const problems = packedProblems(manifest, PACKED_FILES, options).join("\n");
    expect(problems).toContain('dependencies.@x/core-signing is still "workspace:^"');
    expect(problems).toContain('dependencies.hono is still "catalog:"');
  });

  it("refuses a range on a workspace package that its current version does not meet", () => {
    const problems = packedProblems(packed(), PACKED_FILES, {
      workspaceVersions: { "@x/core-signing": "0.2.0" },
    });
    expect(problems).toEqual([
      'dependencies.@x/core-signing is "^0.1.0", which does not accept the workspace\'s 0.2.0',
    ]);
  });

  it("names missing files, missing export targets and files that are not for users", () => {
    const files = [
      ...PACKED_FILES.filter((file) => file !== "LICENSE" && file !== "dist/testing/index.d.ts"),
      "src/client.test.ts",
      "tsconfig.build.tsbuildinfo",
    ];
    const problems = packedProblems(packed(), files, options).join("\n");
    expect(problems).toContain("the tarball lacks LICENSE");
    expect(problems).toContain("the tarball lacks dist/testing/index.d.ts");
    expect(problems).toContain("carries src/client.test.ts");
    expect(problems).toContain("carries tsconfig.build.tsbuildinfo");
  });

  it("names a command's bin file missing from the tarball", () => {
    const manifest = { ...packed(), bin: { acme: "./dist/bin.js" } };
    expect(packedProblems(manifest, PACKED_FILES, options)).toEqual([
      'the tarball lacks dist/bin.js, which "exports" names',
    ]);
    expect(packedProblems(manifest, [...PACKED_FILES, "dist/bin.js"], options)).toEqual([]);
  });

  it("lists export targets without their leading ./", () => {
    expect(exportTargets(goodManifest().exports)).toEqual([
      "dist/index.d.ts",
      "dist/index.js",
      "dist/testing/index.d.ts",
      "dist/testing/index.js",
      "package.json",
    ]);
  });
});

describe("jsrProblems", () => {
  const good = () => ({
    name: "@x/acme",
    version: "1.2.3",
    license: "MIT",
    exports: { ".": "./src/index.ts", "./testing": "./src/testing/index.ts" },
    imports: { hono: "npm:hono@^4.13.19" },
    publish: { include: ["src/**/*.ts", "README.md", "LICENSE"] },
  });
  const options = { catalog: { hono: "4.13.19" }, workspaceNames: ["@x/core-signing", "@x/acme"] };

  it("accepts a jsr.json that agrees with package.json", () => {
    expect(jsrProblems(good(), goodManifest(), options)).toEqual([]);
  });

  it("names a version that changesets bumped in package.json only", () => {
    const problems = jsrProblems({ ...good(), version: "1.2.2" }, goodManifest(), options);
    expect(problems.join("\n")).toContain("sync-jsr-versions.mjs");
  });

  it("wants every third-party dependency mapped to npm: at package.json's version", () => {
    const problems = jsrProblems(
      { ...good(), imports: { hono: "npm:hono@^4.0.0", jose: "npm:jose@^6.0.0" } },
      goodManifest(),
      options,
    ).join("\n");
    expect(problems).toContain('must map hono to "npm:hono@^4.13.19"');
    expect(problems).toContain("maps jose, which is not a dependency");
  });

  it("reads a catalog entry that is itself a caret range", () => {
    const problems = jsrProblems(good(), goodManifest(), {
      ...options,
      catalog: { hono: "^4.13.19" },
    });
    expect(problems).toEqual([]);
  });

  it("leaves workspace packages to the Deno workspace", () => {
    const jsr = {
      ...good(),
      imports: { ...good().imports, "@x/core-signing": "jsr:@x/core-signing@^0.1.0" },
    };
    const problems = jsrProblems(jsr, goodManifest(), options).join("\n");
    expect(problems).toContain("must not map @x/core-signing");
  });

  it("wants exports that mirror package.json's, from src", () => {
    const jsr = { ...good(), exports: { ".": "./src/index.ts" } };
    const problems = jsrProblems(jsr, goodManifest(), options).join("\n");
    expect(problems).toContain('"exports["./testing"]" must be "./src/testing/index.ts"');
  });
});

describe("caretAccepts", () => {
  it.each([
    ["^0.1.0", "0.1.0", true],
    ["^0.1.0", "0.1.9", true],
    ["^0.1.0", "0.2.0", false],
    ["^0.0.3", "0.0.3", true],
    ["^0.0.3", "0.0.4", false],
    ["^1.2.3", "1.9.0", true],
    ["^1.2.3", "2.0.0", false],
    ["^1.2.3", "1.2.2", false],
    ["~1.2.3", "1.2.9", true],
    ["~1.2.3", "1.3.0", false],
    ["1.2.3", "1.2.3", true],
    ["1.2.3", "1.2.4", false],
    [">=1.0.0", "1.2.3", false],
  ])("%s accepts %s: %s", (range, version, expected) => {
    expect(caretAccepts(range, version)).toBe(expected);
  });
});

describe("scopedPackagesUnder", () => {
  const root = mkdtempSync(join(tmpdir(), "x-scoped-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("finds the scope's packages, nested ones included", () => {
    const make = (path: string) => {
      mkdirSync(join(root, path), { recursive: true });
      writeFileSync(join(root, path, "package.json"), "{}");
    };
    make("node_modules/@x/lancens");
    make("node_modules/@x/core-signing");
    make("node_modules/hono");
    make("node_modules/hono/node_modules/@x/ebet");
    make("node_modules/@noble/hashes/node_modules/@x/fungame");
    expect(scopedPackagesUnder(join(root, "node_modules"), "@x").sort()).toEqual([
      "@x/core-signing",
      "@x/ebet",
      "@x/fungame",
      "@x/lancens",
    ]);
    expect(scopedPackagesUnder(join(root, "missing"), "@x")).toEqual([]);
  });
});

describe("this repository's packages", () => {
  const packages = publishablePackages() as {
    name: string;
    dir: string;
    relDir: string;
    manifest: Record<string, unknown>;
  }[];
  const repositoryUrl = rootManifest().repository?.url;

  it("are the command, the core and the four vendors", () => {
    expect(packages.map((pkg) => pkg.name)).toEqual([
      "@x/cli",
      "@x/core-signing",
      "@x/ebet",
      "@x/fungame",
      "@x/lancens",
      "@x/sdk-auth",
    ]);
  });

  it.each(packages.map((pkg) => [pkg.name, pkg] as const))(
    "%s keeps the manifest and jsr.json rules",
    (_name, pkg) => {
      expect(sourceManifestProblems(pkg.manifest, { relDir: pkg.relDir, repositoryUrl })).toEqual(
        [],
      );
      expect(
        jsrProblems(readJson(join(pkg.dir, "jsr.json")), pkg.manifest, {
          catalog: readCatalog(),
          workspaceNames: packages.map((p) => p.name),
        }),
      ).toEqual([]);
    },
  );
});
