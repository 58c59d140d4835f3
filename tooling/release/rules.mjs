// The rules a published package must keep, as pure functions of its manifests and packed files:
// each returns a list of problems, one sentence each, empty when the package is fine.

/** Every publishable package exports these subpaths, each with `types` before `default`. */
export const REQUIRED_EXPORTS = [".", "./testing"];
/** A command's package (one with `bin`) has no simulator: it exports its API only. */
export const COMMAND_EXPORTS = ["."];

/** The subpaths a package must export: a vendor's API and simulator, a command's API. */
export function requiredExports(manifest) {
  return typeof manifest?.bin === "object" && manifest.bin !== null
    ? COMMAND_EXPORTS
    : REQUIRED_EXPORTS;
}
/** Files every tarball carries besides what `exports` points at. */
export const REQUIRED_FILES = ["package.json", "README.md", "LICENSE"];
const UNPUBLISHABLE_RANGE = /^(workspace|catalog|file|link|portal):/;
const FILES_NEVER_PACKED = [/\.test\.[cm]?[jt]s$/, /\.tsbuildinfo$/, /(^|\/)\.turbo\//];

/**
 * Problems with a package.json as it sits in the workspace.
 * `repositoryUrl`: the root's `repository.url`; `relDir`: the package folder from the root.
 */
export function sourceManifestProblems(manifest, { relDir, repositoryUrl }) {
  const problems = [];
  const expect = (condition, message) => {
    if (!condition) problems.push(message);
  };
  expect(manifest.license === "MIT", `"license" must be "MIT", found ${show(manifest.license)}`);
  expect(manifest.type === "module", `"type" must be "module"`);
  expect(manifest.sideEffects === false, `"sideEffects" must be false`);
  expect(
    typeof manifest.description === "string" && manifest.description.length > 0,
    `"description" is missing`,
  );
  expect(
    typeof manifest.engines?.node === "string",
    `"engines.node" must say which Node versions are supported`,
  );
  expect(
    Array.isArray(manifest.keywords) && manifest.keywords.length > 0,
    `"keywords" must list a few search words`,
  );
  expect(
    manifest.repository?.type === "git" && manifest.repository?.url === repositoryUrl,
    `"repository" must be { "type": "git", "url": ${show(repositoryUrl)}, ... } as in the root package.json, found ${show(manifest.repository)}`,
  );
  expect(
    manifest.repository?.directory === relDir,
    `"repository.directory" must be ${show(relDir)}, found ${show(manifest.repository?.directory)}`,
  );
  expect(typeof manifest.homepage === "string", `"homepage" is missing`);
  expect(typeof manifest.bugs?.url === "string", `"bugs.url" is missing`);
  expect(
    manifest.publishConfig?.access === "public",
    `"publishConfig.access" must be "public" (a scoped package is private on npm otherwise)`,
  );
  expect(
    Array.isArray(manifest.files) && manifest.files.includes("dist"),
    `"files" must list "dist"`,
  );
  problems.push(...exportsProblems(manifest.exports, requiredExports(manifest)));
  problems.push(...binProblems(manifest.bin));
  return problems;
}

/** A command's `bin`: each entry a built file under ./dist/. */
function binProblems(bin) {
  if (bin === undefined) return [];
  if (typeof bin !== "object" || bin === null) return [`"bin" must be an object of command names`];
  return Object.entries(bin)
    .filter(([, target]) => typeof target !== "string" || !/^\.\/dist\/.+\.js$/.test(target))
    .map(([name]) => `"bin.${name}" must point at a built .js file under ./dist/`);
}

function exportsProblems(exportsField, required) {
  if (typeof exportsField !== "object" || exportsField === null) {
    return [`"exports" must be an object of subpaths`];
  }
  const problems = [];
  for (const subpath of required) {
    const entry = exportsField[subpath];
    if (typeof entry !== "object" || entry === null) {
      problems.push(`"exports" must have ${show(subpath)} with "types" and "default"`);
      continue;
    }
    const keys = Object.keys(entry);
    if (keys[0] !== "types" || !keys.includes("default")) {
      problems.push(
        `"exports[${show(subpath)}]" must list "types" first, then "default", found ${show(keys)}`,
      );
    }
    for (const key of ["types", "default"]) {
      if (typeof entry[key] === "string" && !entry[key].startsWith("./dist/")) {
        problems.push(`"exports[${show(subpath)}].${key}" must point into ./dist/`);
      }
    }
  }
  return problems;
}

/**
 * Problems with a packed tarball: its package.json (`packed`), its file list (paths without the
 * leading `package/`), and the versions of the workspace packages it may depend on.
 */
export function packedProblems(packed, files, { workspaceVersions }) {
  const problems = [];
  const fileSet = new Set(files);
  for (const file of REQUIRED_FILES) {
    if (!fileSet.has(file)) problems.push(`the tarball lacks ${file}`);
  }
  for (const target of [...exportTargets(packed.exports), ...exportTargets(packed.bin ?? {})]) {
    if (!fileSet.has(target)) problems.push(`the tarball lacks ${target}, which "exports" names`);
  }
  for (const file of files) {
    if (FILES_NEVER_PACKED.some((pattern) => pattern.test(file))) {
      problems.push(`the tarball carries ${file}, which is not for users`);
    }
  }
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const [name, range] of Object.entries(packed[field] ?? {})) {
      if (UNPUBLISHABLE_RANGE.test(range)) {
        problems.push(
          `${field}.${name} is still ${show(range)} in the tarball: pack with pnpm, which replaces it`,
        );
        continue;
      }
      const current = workspaceVersions[name];
      if (current !== undefined && !caretAccepts(range, current)) {
        problems.push(
          `${field}.${name} is ${show(range)}, which does not accept the workspace's ${current}`,
        );
      }
    }
  }
  return problems;
}

/** The files `exports` points at, without the leading `./`. */
export function exportTargets(exportsField) {
  const targets = [];
  const visit = (value) => {
    if (typeof value === "string") targets.push(value.replace(/^\.\//, ""));
    else if (typeof value === "object" && value !== null) Object.values(value).forEach(visit);
  };
  visit(exportsField);
  return targets;
}

/**
 * Problems with a package's jsr.json, given its package.json, the pnpm catalog, and every workspace
 * package name (those come from JSR, through the Deno workspace, and need no import entry).
 */
export function jsrProblems(jsr, manifest, { catalog, workspaceNames }) {
  const problems = [];
  const expect = (condition, message) => {
    if (!condition) problems.push(message);
  };
  expect(jsr.name === manifest.name, `jsr.json "name" must be ${show(manifest.name)}`);
  expect(
    jsr.version === manifest.version,
    `jsr.json "version" is ${show(jsr.version)} but package.json says ${show(manifest.version)}: run node tooling/release/sync-jsr-versions.mjs`,
  );
  expect(jsr.license === "MIT", `jsr.json "license" must be "MIT"`);
  for (const subpath of requiredExports(manifest)) {
    const expected = sourceOf(manifest.exports?.[subpath]?.default);
    expect(
      jsr.exports?.[subpath] === expected,
      `jsr.json "exports[${show(subpath)}]" must be ${show(expected)} (the source of package.json's), found ${show(jsr.exports?.[subpath])}`,
    );
  }
  const include = jsr.publish?.include ?? [];
  for (const file of ["README.md", "LICENSE"]) {
    expect(include.includes(file), `jsr.json "publish.include" must list ${file}`);
  }
  const imports = jsr.imports ?? {};
  for (const [name, range] of Object.entries(manifest.dependencies ?? {})) {
    if (workspaceNames.includes(name)) {
      expect(
        imports[name] === undefined,
        `jsr.json must not map ${name}: the Deno workspace (packages/deno.json) publishes it as jsr:${name}`,
      );
      continue;
    }
    const version = String(range === "catalog:" ? catalog[name] : range).replace(/^[\^~]/, "");
    const expected = `npm:${name}@^${version}`;
    expect(
      imports[name] === expected,
      `jsr.json "imports" must map ${name} to ${show(expected)} (package.json's range), found ${show(imports[name])}`,
    );
  }
  for (const name of Object.keys(imports)) {
    expect(
      name in (manifest.dependencies ?? {}),
      `jsr.json maps ${name}, which is not a dependency in package.json`,
    );
  }
  return problems;
}

/** `./dist/testing/index.js` → `./src/testing/index.ts` */
function sourceOf(distPath) {
  if (typeof distPath !== "string") return undefined;
  return distPath.replace(/^\.\/dist\//, "./src/").replace(/\.js$/, ".ts");
}

/** Whether a `^x.y.z`, `~x.y.z` or exact range accepts `version` (plain x.y.z versions only). */
export function caretAccepts(range, version) {
  const match = /^([\^~]?)(\d+)\.(\d+)\.(\d+)$/.exec(range);
  const have = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!match || !have) return false;
  const [, operator, ...wantText] = match;
  const want = wantText.map(Number);
  const got = have.slice(1).map(Number);
  const compare = () => {
    for (let i = 0; i < 3; i++) {
      if (got[i] !== want[i]) return got[i] > want[i] ? 1 : -1;
    }
    return 0;
  };
  if (compare() < 0) return false;
  if (operator === "") return compare() === 0;
  if (operator === "~") return got[0] === want[0] && got[1] === want[1];
  // Caret: the left-most non-zero part may not change.
  if (want[0] !== 0) return got[0] === want[0];
  if (want[1] !== 0) return got[0] === 0 && got[1] === want[1];
  return got[0] === 0 && got[1] === 0 && got[2] === want[2];
}

function show(value) {
  return value === undefined ? "nothing" : JSON.stringify(value);
}
