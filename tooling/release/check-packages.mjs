// Checks every package as users get it: the manifest rules, the pnpm-packed tarball (publint --strict,
// arethetypeswrong with the ESM-only profile), jsr.json, and `deno publish --dry-run` for JSR.
// Prints one line per package and check; exits 1 on any problem.
//
//   node tooling/release/check-packages.mjs
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { DENO_ENV, denoBinary } from "../runtimes/binaries.mjs";
import { jsrProblems, packedProblems, sourceManifestProblems } from "./rules.mjs";
import {
  describeFailure,
  indent,
  makeTempDir,
  packAll,
  publishablePackages,
  ROOT,
  readCatalog,
  readJson,
  rootManifest,
  run,
  seconds,
  withDenoNodeTypes,
} from "./workspace.mjs";

const started = performance.now();
const packages = publishablePackages();
const problems = [];
const report = (pkg, check, found) => {
  for (const problem of found) problems.push(`${pkg}: ${check}: ${problem}`);
  console.log(`${pkg}: ${check} ${found.length === 0 ? "ok" : `FAILED (${found.length})`}`);
  for (const problem of found) console.log(indent(problem));
};

const repositoryUrl = rootManifest().repository?.url;
const rootLicense = readFileSync(join(ROOT, "LICENSE"), "utf8");
const workspaceVersions = Object.fromEntries(packages.map((p) => [p.name, p.manifest.version]));
const workspaceNames = packages.map((p) => p.name);
const catalog = readCatalog();

// 1. package.json and LICENSE as they sit in the repository.
for (const pkg of packages) {
  const found = sourceManifestProblems(pkg.manifest, { relDir: pkg.relDir, repositoryUrl });
  let license = "";
  try {
    license = readFileSync(join(pkg.dir, "LICENSE"), "utf8");
  } catch {}
  if (license !== rootLicense)
    found.push(`${pkg.relDir}/LICENSE must be a copy of the root LICENSE`);
  report(pkg.name, "manifest", found);
}

// 2. The tarballs pnpm makes, which is what `pnpm publish` uploads.
const temp = makeTempDir("x-check-packages-");
try {
  const tarballs = await packAll(temp);
  for (const pkg of packages) {
    const tarball = tarballs.get(pkg.name);
    const listing = await run("tar", ["-tzf", tarball]);
    const packedJson = await run("tar", ["-xzOf", tarball, "package/package.json"]);
    if (listing.code !== 0 || packedJson.code !== 0) {
      report(pkg.name, "tarball", [describeFailure(`reading ${tarball}`, listing)]);
      continue;
    }
    const files = listing.stdout
      .split("\n")
      .filter(Boolean)
      .map((line) => line.replace(/^package\//, ""));
    report(
      pkg.name,
      `tarball (${files.length} files)`,
      packedProblems(JSON.parse(packedJson.stdout), files, { workspaceVersions }),
    );

    const bytes = readFileSync(tarball);
    const linted = await publint({
      pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) },
      strict: true,
      level: "suggestion",
    });
    report(
      pkg.name,
      "publint --strict",
      linted.messages.map(
        (message) => `${message.type}: ${formatMessage(message, linted.pkg, { color: false })}`,
      ),
    );
  }

  // arethetypeswrong loads TypeScript per run: run them side by side.
  const attw = join(
    ROOT,
    "tooling",
    "node_modules",
    "@arethetypeswrong",
    "cli",
    "dist",
    "index.js",
  );
  const typeChecks = await Promise.all(
    packages.map((pkg) =>
      run(
        process.execPath,
        [attw, tarballs.get(pkg.name), "--profile", "esm-only", "--format", "ascii", "--no-color"],
        { timeoutMs: 120_000, env: { FORCE_COLOR: "0" } },
      ),
    ),
  );
  packages.forEach((pkg, i) => {
    const result = typeChecks[i];
    report(
      pkg.name,
      "arethetypeswrong (esm-only)",
      result.code === 0 ? [] : [describeFailure("attw", result)],
    );
  });
} finally {
  rmSync(temp, { recursive: true, force: true });
}

// 3. JSR: jsr.json against package.json, then deno's own dry run of the whole Deno workspace.
const denoWorkspace = readJson(join(ROOT, "packages", "deno.json"));
for (const pkg of packages) {
  const found = jsrProblems(readJson(join(pkg.dir, "jsr.json")), pkg.manifest, {
    catalog,
    workspaceNames,
  });
  const member = `./${pkg.relDir.slice("packages/".length)}`;
  if (!denoWorkspace.workspace?.includes(member)) {
    found.push(`packages/deno.json "workspace" must list ${member}`);
  }
  report(pkg.name, "jsr.json", found);
}

const dryRun = await withDenoNodeTypes(() =>
  run(denoBinary(), ["publish", "--dry-run", "--allow-dirty"], {
    cwd: join(ROOT, "packages"),
    env: { ...DENO_ENV, DENO_LOG: "info,deno::tools::publish::unfurl=debug" },
    timeoutMs: 180_000,
  }),
);
const denoFound = [];
if (dryRun.code !== 0) {
  denoFound.push(describeFailure("deno publish --dry-run", dryRun));
} else {
  // Every bare specifier must become jsr: or npm: in the published files; a relative path here means
  // deno fell back to node_modules and JSR users would get a broken import.
  const unfurled = [
    ...`${dryRun.stdout}\n${dryRun.stderr}`.matchAll(
      /Unfurled specifier: (\S+) from (\S+) -> (\S+)/g,
    ),
  ];
  if (unfurled.length === 0) {
    denoFound.push(
      "deno printed no 'Unfurled specifier' lines, so the JSR imports could not be checked (has deno's log format changed?)",
    );
  }
  const broken = new Set();
  for (const [, specifier, from, target] of unfurled) {
    const bare = !specifier.startsWith(".") && !specifier.startsWith("/");
    if (bare && !/^(jsr|npm):/.test(target)) broken.add(`${specifier} (in ${from}) -> ${target}`);
  }
  for (const line of broken) {
    denoFound.push(`would publish ${line}: add the package to that jsr.json's "imports"`);
  }
}
report("packages/", "deno publish --dry-run", denoFound);

console.log(
  `\ncheck-packages: ${packages.length} packages, ${problems.length} problem(s), ${seconds(started)}`,
);
process.exit(problems.length === 0 ? 0 : 1);
