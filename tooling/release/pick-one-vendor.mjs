// The pick-one-vendor install test. Packs every package with pnpm, then for each vendor, in a fresh
// folder outside the workspace: `npm install` that vendor's tarball and @x/core-signing's only (their
// other dependencies come from the npm registry), checks that no other @x package came along, checks
// a user's script against the installed types (tsc, strict), and runs that script, which logs out
// against `@x/<vendor>/testing`, under Node 20, Node 24, Bun and Deno. Then the command, `@x/cli`,
// the same way: its tarball with the core's and the four vendors' only, its `x-logout` bin checking a
// list on each runtime. Exits 1 on any failure.
//
//   node tooling/release/pick-one-vendor.mjs [vendor ...]      e.g. `... pick-one-vendor.mjs lancens`
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BUN_ENV, bunBinary, DENO_ENV, denoBinary, systemNode } from "../runtimes/binaries.mjs";
import {
  describeFailure,
  indent,
  installTarballs,
  makeTempDir,
  packAll,
  publishablePackages,
  ROOT,
  readJson,
  run,
  scopedPackagesUnder,
  seconds,
} from "./workspace.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const CORE = "@x/core-signing";
const RUN_LIMIT_MS = 60_000;
const REPORT_PREFIX = "PICK-ONE-VENDOR ";

const packages = publishablePackages();
const all = packages.map((pkg) => pkg.name);
/** Packages with a `bin` are commands, not vendors. */
const COMMANDS = packages.filter((pkg) => pkg.manifest.bin !== undefined).map((pkg) => pkg.name);
const vendors = all
  .filter((name) => name !== CORE && !COMMANDS.includes(name))
  .map((name) => name.slice("@x/".length));
// Vendor names (`lancens` or `@x/lancens`) pick vendors; other arguments, such as the ones `npm test --
// …` hands every step, are ignored. No vendor named: all of them.
const wanted = process.argv
  .slice(2)
  .map((arg) => arg.replace(/^@x\//, ""))
  .filter((arg) => vendors.includes(arg));
const chosen = wanted.length > 0 ? [...new Set(wanted)] : vendors;

const RUNTIMES = [
  { name: "node20", command: () => systemNode(20), args: [] },
  { name: "node24", command: () => systemNode(24), args: [] },
  { name: "bun", command: bunBinary, args: [], env: BUN_ENV },
  // No config flag: deno reads the folder's package.json and resolves from its node_modules, as a
  // Deno user of an npm install does.
  { name: "deno", command: denoBinary, args: ["run", "--no-prompt", "--no-lock"], env: DENO_ENV },
];

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2022", "DOM"],
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    exactOptionalPropertyTypes: true,
    allowJs: true,
    checkJs: true,
    noEmit: true,
    skipLibCheck: false,
    types: [],
  },
  files: ["logout.mjs"],
};

async function checkVendor(vendor, tarballs, temp) {
  const started = performance.now();
  const failures = [];
  const notes = [];
  const dir = join(temp, vendor);
  mkdirSync(dir);

  // 1. Install exactly two tarballs, as a user of one vendor would get them from npm.
  const install = await installTarballs(dir, [tarballs.get(`@x/${vendor}`), tarballs.get(CORE)]);
  if (install.code !== 0) {
    failures.push(
      `npm install of @x/${vendor} and ${CORE} from their tarballs failed (third-party dependencies come from the npm registry): ${describeFailure("npm", install)}`,
    );
    return { failures, notes };
  }
  notes.push(`installed in ${(install.ms / 1000).toFixed(1)} s`);

  // 2. Only this vendor and the core: nothing else of ours.
  const scoped = scopedPackagesUnder(join(dir, "node_modules"), "@x").sort();
  const expected = [CORE, `@x/${vendor}`].sort();
  if (JSON.stringify(scoped) !== JSON.stringify(expected)) {
    failures.push(
      `node_modules holds ${scoped.join(", ") || "no @x package"}; expected exactly ${expected.join(" and ")}`,
    );
  }
  const installed = readJson(join(dir, "node_modules", "@x", vendor, "package.json"));
  const coreRange = installed.dependencies?.[CORE];
  if (typeof coreRange !== "string" || !/^\^\d+\.\d+\.\d+$/.test(coreRange)) {
    failures.push(`the installed @x/${vendor} depends on ${CORE} ${coreRange}, not a ^x.y.z range`);
  }

  // 3. The user's script, checked against the installed declarations, then run on each runtime.
  copyFileSync(join(HERE, "consumers", `${vendor}.mjs`), join(dir, "logout.mjs"));
  writeFileSync(join(dir, "tsconfig.json"), `${JSON.stringify(TSCONFIG, null, 2)}\n`);
  const tsc = join(ROOT, "tooling", "node_modules", "typescript", "bin", "tsc");
  const types = await run(process.execPath, [tsc, "-p", "tsconfig.json"], {
    cwd: dir,
    timeoutMs: RUN_LIMIT_MS,
  });
  if (types.code !== 0)
    failures.push(describeFailure("tsc (strict, NodeNext) on the script", types));
  else notes.push("types ok");

  const results = await Promise.all(
    RUNTIMES.map((runtime) =>
      run(runtime.command(), [...runtime.args, "logout.mjs"], {
        cwd: dir,
        env: runtime.env ?? {},
        timeoutMs: RUN_LIMIT_MS,
      }),
    ),
  );
  RUNTIMES.forEach((runtime, i) => {
    const result = results[i];
    const line = result.stdout.split("\n").find((text) => text.startsWith(REPORT_PREFIX));
    const report = line ? JSON.parse(line.slice(REPORT_PREFIX.length)) : undefined;
    if (result.code === 0 && report?.ok === true && report.vendor === vendor) {
      notes.push(`${runtime.name} ok`);
    } else {
      failures.push(describeFailure(`the logout script on ${runtime.name}`, result));
    }
  });

  notes.push(seconds(started));
  return { failures, notes };
}

/** A list a user would check first: a FunGame token (a JWT in form) and a Lancens session. */
const LIST = `${[
  { fungame: { token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl" } },
  { lancens: { username: "lancens-user", token: "t0ken" } },
]
  .map((line) => JSON.stringify(line))
  .join("\n")}\n`;

/**
 * The command as a user installs it: its tarball, whose four vendors and core come along (from their
 * tarballs here, from the registry for a user), then `x-logout --version` and a dry run of a list on
 * each runtime, through the bin npm links.
 */
async function checkCommand(name, tarballs, temp) {
  const started = performance.now();
  const failures = [];
  const notes = [];
  const dir = join(temp, name.slice("@x/".length));
  mkdirSync(dir);
  const own = [name, CORE, ...vendors.map((vendor) => `@x/${vendor}`)];
  const install = await installTarballs(
    dir,
    own.map((pkg) => tarballs.get(pkg)),
  );
  if (install.code !== 0) {
    failures.push(`npm install of ${name} failed: ${describeFailure("npm", install)}`);
    return { failures, notes };
  }
  notes.push(`installed in ${(install.ms / 1000).toFixed(1)} s`);
  const manifest = readJson(join(dir, "node_modules", ...name.split("/"), "package.json"));
  writeFileSync(join(dir, "sessions.jsonl"), LIST);
  const settings = {
    FUNGAME_BASE_URL: "https://fungame.example",
    LANCENS_BASE_URL: "https://weixin.lancens.com:6443",
  };
  for (const [command, relative] of Object.entries(manifest.bin ?? {})) {
    const bin = join(dir, "node_modules", ".bin", command);
    const runs = RUNTIMES.map((runtime) => ({
      runtime,
      // Node runs the linked bin itself (its shebang); Bun and Deno run the file it links to.
      file: runtime.name.startsWith("node")
        ? bin
        : join(dir, "node_modules", ...name.split("/"), relative),
    }));
    const results = await Promise.all(
      runs.flatMap(({ runtime, file }) => {
        const node = runtime.name.startsWith("node");
        // Node through the linked bin itself: its shebang finds this runtime's node on the PATH.
        const exe = node ? file : runtime.command();
        const command = node
          ? []
          : [...runtime.args, ...(runtime.name === "deno" ? ["-A"] : []), file];
        const env = {
          ...(runtime.env ?? {}),
          ...settings,
          // The Node of this runtime, for the bin's `#!/usr/bin/env node`.
          PATH: `${dirname(runtime.command())}:${process.env.PATH ?? ""}`,
        };
        return [
          run(exe, [...command, "--version"], { cwd: dir, env, timeoutMs: RUN_LIMIT_MS }),
          run(exe, [...command, "sessions.jsonl", "--dry-run"], {
            cwd: dir,
            env,
            timeoutMs: RUN_LIMIT_MS,
          }),
        ];
      }),
    );
    runs.forEach(({ runtime }, i) => {
      const version = results[2 * i];
      const dry = results[2 * i + 1];
      if (version.code !== 0 || version.stdout.trim() !== manifest.version) {
        failures.push(describeFailure(`${command} --version on ${runtime.name}`, version));
      } else if (
        dry.code !== 0 ||
        !dry.stdout.includes("2 line(s) checked, all usable; nothing was sent")
      ) {
        failures.push(describeFailure(`${command} --dry-run on ${runtime.name}`, dry));
      } else notes.push(`${runtime.name} ok`);
    });
  }
  notes.push(seconds(started));
  return { failures, notes };
}

const started = performance.now();
const temp = makeTempDir("x-pick-one-vendor-");
let failed = 0;
try {
  const tarballs = await packAll(join(temp, "tarballs"));
  console.log(`packed ${tarballs.size} packages in ${seconds(started)}`);
  for (const vendor of chosen) {
    let outcome;
    try {
      outcome = await checkVendor(vendor, tarballs, temp);
    } catch (error) {
      outcome = { failures: [String(error?.stack ?? error)], notes: [] };
    }
    const { failures, notes } = outcome;
    if (failures.length > 0) failed++;
    console.log(`${vendor}: ${failures.length === 0 ? "ok" : "FAILED"}; ${notes.join(", ")}`);
    for (const failure of failures) console.log(indent(failure));
  }
  if (wanted.length === 0) {
    for (const command of COMMANDS) {
      let outcome;
      try {
        outcome = await checkCommand(command, tarballs, temp);
      } catch (error) {
        outcome = { failures: [String(error?.stack ?? error)], notes: [] };
      }
      const { failures, notes } = outcome;
      if (failures.length > 0) failed++;
      console.log(`${command}: ${failures.length === 0 ? "ok" : "FAILED"}; ${notes.join(", ")}`);
      for (const failure of failures) console.log(indent(failure));
    }
  }
} finally {
  rmSync(temp, { recursive: true, force: true });
}
const checked = chosen.length + (wanted.length === 0 ? COMMANDS.length : 0);
console.log(
  `pick-one-vendor: ${checked - failed} of ${checked} packages (${chosen.length} vendors alone${wanted.length === 0 ? `, ${COMMANDS.join(", ")}` : ""}) install and run on node20, node24, bun and deno (${seconds(started)})`,
);
process.exit(failed === 0 ? 0 : 1);
