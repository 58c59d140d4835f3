// The Dockerfile at the repository root, without Docker: its rules, its build context, and its command line run as the image would run it.
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildContext,
  dockerfileProblems,
  dockerignore,
  type Image,
  imageOf,
  parseDockerfile,
  stagesOf,
} from "./dockerfile.ts";
import {
  json,
  type ProcessGroup,
  runtimes,
  type Simulators,
  START_TIMEOUT_MS,
  startSimulators,
  waitForLine,
} from "./harness.ts";

const DOCKERFILE = readFileSync(join(runtimes.ROOT, "Dockerfile"), "utf8");
const DOCKERIGNORE = readFileSync(join(runtimes.ROOT, ".dockerignore"), "utf8");
/** `pnpm deploy` copies the proxy and its production dependencies out of the store. */
const DEPLOY_TIMEOUT_MS = 90_000;
/** The entry's default SHUTDOWN_GRACE_MS is 10 s; a stop takes far less when nothing is in flight. */
const STOP_TIMEOUT_MS = 20_000;
const HEALTHCHECK_TIMEOUT_MS = 10_000;

// tooling/release/workspace.mjs is plain JavaScript; it is loaded by URL and typed here.
const workspace = (await import(
  new URL("../../../tooling/release/workspace.mjs", import.meta.url).href
)) as { pnpm(...args: string[]): [string, string[]] };

/** Resolves with how the group ended, or "timeout" once `ms` have passed. */
function ended(group: ProcessGroup, ms: number) {
  return Promise.race([
    group.exited,
    runtimes.sleep(ms).then(() => ({ code: "timeout" as const, signal: null })),
  ]);
}

describe("the Dockerfile reader", () => {
  it("joins continued lines, drops comments inside them, and reads exec form as JSON", () => {
    const [run, env, cmd, health] = parseDockerfile(
      [
        "# syntax=docker/dockerfile:1",
        "FROM node:24-slim AS build",
        "RUN --mount=type=cache,target=/c a \\",
        "# a comment inside the continuation",
        "",
        " && b",
        'ENV A=1 B="two words" C=three\\ words',
        'CMD ["node", "x.ts"]',
        'HEALTHCHECK --interval=5s CMD ["node", "-e", "1"]',
      ].join("\n"),
    ).slice(1);
    expect(run).toMatchObject({
      keyword: "RUN",
      line: 3,
      flags: { mount: "type=cache,target=/c" },
      text: "a  && b",
      exec: undefined,
    });
    expect(env?.env).toEqual([
      ["A", "1"],
      ["B", "two words"],
      ["C", "three words"],
    ]);
    expect(cmd?.exec).toEqual(["node", "x.ts"]);
    expect(health).toMatchObject({ flags: { interval: "5s" }, exec: ["node", "-e", "1"] });
  });

  it.each([
    ['CMD ["node", src/entry/node.ts]', /not a JSON array of strings/],
    ["ARG VERSION=1", /ARG is not an instruction this reader knows/],
    ["WORKDIR $HOME", /expands \$/],
    ["ENV PORT=$PORT", /expands \$/],
    ["RUN a \\", /ends in a line continuation/],
  ])("refuses what it would misread: %s", (line, message) => {
    expect(() => parseDockerfile(`FROM node:24-slim\n${line}\n`)).toThrow(message);
  });

  it("reads .dockerignore as Docker does: the last matching pattern decides, a folder's pattern covers its files", () => {
    const { excluded } = dockerignore(
      "*\n!apps/app\n**/node_modules\napps/app/public/*\n!apps/app/public/index.html\n",
    );
    expect(excluded("README.md")).toBe(true);
    expect(excluded("apps/other/x.ts")).toBe(true);
    expect(excluded("apps/app/src/x.ts")).toBe(false);
    expect(excluded("apps/app/node_modules/hono/package.json")).toBe(true);
    expect(excluded("apps/app/public/docs.js")).toBe(true);
    expect(excluded("apps/app/public/index.html")).toBe(false);
  });
});

describe("the Dockerfile", () => {
  const context = buildContext(runtimes.ROOT, DOCKERIGNORE);
  const problemsOf = (text: string) => dockerfileProblems(stagesOf(parseDockerfile(text)), context);

  it("keeps every rule: Node 24, exec-form CMD as a non-root USER, HOST, PORT, the data VOLUME, SIGTERM, COPY sources in the context", () => {
    expect(problemsOf(DOCKERFILE)).toEqual([]);
  });

  // Each case breaks one rule in the real Dockerfile and expects the check to say so.
  it.each<[string, (text: string) => string, RegExp]>([
    [
      "a CMD in shell form",
      (t) => t.replace('CMD ["node", "dist/node/node.mjs"]', "CMD node dist/node/node.mjs"),
      /CMD in shell form/,
    ],
    ["an ENTRYPOINT", (t) => `${t}ENTRYPOINT ["tini", "--"]\n`, /ENTRYPOINT/],
    ["USER root", (t) => t.replace("USER node\n", "USER root\n"), /USER root: .*root/],
    ["a USER after CMD", (t) => `${t.replace("USER node\n", "")}USER node\n`, /no USER before CMD/],
    [
      "HOST on loopback",
      (t) => t.replace("HOST=0.0.0.0", "HOST=127.0.0.1"),
      /ENV HOST=127\.0\.0\.1/,
    ],
    [
      "a VOLUME that is not PROXY_DATA_DIR",
      (t) => t.replace("VOLUME /data\n", "VOLUME /var/lib/edge-proxy\n"),
      /PROXY_DATA_DIR=\/data is not a VOLUME/,
    ],
    [
      "a data folder the user cannot write",
      (t) => t.replace("RUN mkdir -p /data && chown node:node /data", "RUN mkdir -p /data"),
      /gives it to node/,
    ],
    [
      "EXPOSE of another port",
      (t) => t.replace("EXPOSE 8787", "EXPOSE 8080"),
      /EXPOSE 8080: must be PORT, 8787/,
    ],
    [
      "another stop signal",
      (t) => t.replace("STOPSIGNAL SIGTERM", "STOPSIGNAL SIGKILL"),
      /STOPSIGNAL SIGKILL/,
    ],
    [
      "a base image other than Node 24",
      (t) => t.replace("FROM node:24-slim\nWORKDIR /app", "FROM node:22-slim\nWORKDIR /app"),
      /node:22-slim: not an official Node\.js 24 image/,
    ],
    [
      "a COPY source that does not exist",
      (t) => t.replace("COPY packages/ packages/", "COPY pkgs/ packages/"),
      /COPY pkgs\/: not in the build context/,
    ],
    [
      "a COPY source .dockerignore leaves out",
      (t) => t.replace("COPY packages/ packages/", "COPY tooling/ tooling/"),
      /COPY tooling\/: not in the build context/,
    ],
    [
      "tests copied into the image",
      (t) =>
        t.replace(
          "COPY --from=build /out/ ./\n",
          "COPY --from=build /out/ ./\nCOPY apps/edge-proxy/test-node/ test-node/\n",
        ),
      /COPY from the build context into the image/,
    ],
    [
      "a folder other than pnpm deploy's",
      (t) => t.replace("COPY --from=build /out/ ./", "COPY --from=build /repo/ ./"),
      /takes \/repo\/, but pnpm deploy writes \/out/,
    ],
    [
      "a health check with curl",
      (t) =>
        t.replace(
          /HEALTHCHECK[^\n]*\\\n[^\n]*\n/,
          "HEALTHCHECK CMD curl -f http://127.0.0.1:8787/healthz\n",
        ),
      /HEALTHCHECK must run node/,
    ],
  ])("finds %s", (_, mutate, expected) => {
    const broken = mutate(DOCKERFILE);
    expect(broken).not.toBe(DOCKERFILE);
    expect(problemsOf(broken).join("\n")).toMatch(expected);
  });

  it("sends the build what it needs and no installs, build output, local data or secrets", () => {
    for (const needed of [
      "package.json",
      "pnpm-lock.yaml",
      "pnpm-workspace.yaml",
      "tsconfig.base.json",
      "packages/core-signing/src/index.ts",
      "packages/ebet/tsconfig.build.json",
      "apps/edge-proxy/package.json",
      "apps/edge-proxy/src/entry/node.ts",
      "apps/edge-proxy/public/docs/index.html",
    ]) {
      expect(context.files).toContain(needed);
    }
    const unwanted =
      /(^|\/)(node_modules|\.git|\.cache|dist|\.turbo|\.wrangler|data|coverage)(\/|$)|\.dev\.vars$|\.tsbuildinfo$/;
    expect(context.files.filter((file) => unwanted.test(file))).toEqual([]);
    expect(context.files.filter((file) => file.startsWith("tooling/"))).toEqual([]);
    // The check itself sees installs when .dockerignore lets them through.
    const leaky = buildContext(runtimes.ROOT, DOCKERIGNORE.replace("**/node_modules\n", ""));
    expect(leaky.files.some((file) => file.includes("/node_modules/"))).toBe(true);
  });
});

describe("the image's command line, run outside a container", () => {
  const image: Image = imageOf(stagesOf(parseDockerfile(DOCKERFILE)));
  let simulators: Simulators;
  let scratch: string;
  /** What `COPY --from=build /out/ ./` puts in the WORKDIR: pnpm deploy's output, made here. */
  let deployed: string;

  beforeAll(async () => {
    simulators = await startSimulators();
    scratch = await mkdtemp(join(tmpdir(), "edge-proxy-image-"));
    deployed = join(scratch, "app");
    const deploy = image.deploy as NonNullable<Image["deploy"]>;
    // The build stage's own deploy command, offline: the store holds every package after the install.
    const [command, args] = workspace.pnpm(...deploy.args, "--offline", deployed);
    const group = runtimes.spawnGroup(command, args, { cwd: runtimes.ROOT });
    const exit = await ended(group, DEPLOY_TIMEOUT_MS);
    await runtimes.stopGroup(group);
    expect(exit, group.output.join("\n")).toEqual({ code: 0, signal: null });
  }, DEPLOY_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    await simulators?.close();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  /** Runs HEALTHCHECK's command as Docker would inside the container, with the port the server took. */
  async function healthcheck(port: string) {
    const [program, ...args] = image.healthcheck as string[];
    expect(program).toBe("node");
    const group = runtimes.spawnGroup(process.execPath, args, {
      env: { ...image.env, PORT: port },
    });
    const exit = await ended(group, HEALTHCHECK_TIMEOUT_MS);
    await runtimes.stopGroup(group);
    return exit;
  }

  /**
   * Runs `argv` in `cwd` with an image's ENV (`imageEnv`), the simulators' variables, a data folder
   * of its own and 127.0.0.1 on a free port; checks its store line, /healthz, /docs and the health
   * check; stops it with SIGTERM as `docker stop` would, and checks it says so and exits 0.
   */
  async function runLikeTheImage(
    argv: string[],
    cwd: string,
    store: string,
    imageEnv: Record<string, string>,
  ) {
    const dataDir = await mkdtemp(join(tmpdir(), "edge-proxy-volume-"));
    const group = runtimes.spawnGroup(argv[0] as string, argv.slice(1), {
      cwd,
      env: {
        ...imageEnv,
        ...simulators.env,
        PROXY_DATA_DIR: dataDir,
        HOST: "127.0.0.1",
        PORT: "0",
      },
    });
    try {
      const listening = await waitForLine(
        group,
        /^edge-proxy listening on (http:\/\/127\.0\.0\.1:(\d+))$/,
        START_TIMEOUT_MS,
      );
      const [, url, port] = listening as unknown as [string, string, string];
      expect(group.output).toContain(
        `edge-proxy: stores in SQLite (${store}), ${dataDir}/edge-proxy.db, WAL`,
      );
      expect(existsSync(join(dataDir, "edge-proxy.db"))).toBe(true);

      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      expect(await json(health)).toEqual({
        status: "ok",
        vendors: { ebet: true, fungame: true, "sdk-auth": true, lancens: true },
      });
      const docs = await fetch(`${url}/docs/`);
      await docs.arrayBuffer();
      expect(docs.status).toBe(200);
      expect(await healthcheck(port)).toEqual({ code: 0, signal: null });

      process.kill(group.child.pid as number, "SIGTERM");
      expect(await ended(group, STOP_TIMEOUT_MS)).toEqual({ code: 0, signal: null });
      expect(group.output).toContain("edge-proxy: stopped");
      expect(await healthcheck(port)).toEqual({ code: 1, signal: null });
    } finally {
      await runtimes.stopGroup(group);
      await rm(dataDir, { recursive: true, force: true });
    }
  }

  /** CMD's argv, with `node` the Node these tests run on. */
  const cmdArgv = () => {
    expect(image.cmd[0]).toBe("node");
    return [process.execPath, ...image.cmd.slice(1)];
  };

  it("runs in apps/edge-proxy, the package whose deploy output the WORKDIR holds", async () => {
    expect(image.workdir).toBe("/app");
    await runLikeTheImage(cmdArgv(), runtimes.APP, "node:sqlite", image.env);
  });

  it("runs in pnpm deploy's output, which holds the proxy's runtime files and no tests", async () => {
    expect(readdirSync(deployed).sort()).toEqual([
      "README.md",
      "dist",
      "node_modules",
      "package.json",
      "public",
      "src",
    ]);
    const own = (dir: string): string[] =>
      readdirSync(join(deployed, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? own(join(dir, entry.name)) : [join(dir, entry.name)],
      );
    const files = [...own("src"), ...own("dist"), ...own("public")];
    expect(files).toContain(join("dist", "node", "node.mjs"));
    expect(files).toContain(join("src", "entry", "bun.ts"));
    expect(files).toContain(join("public", "docs", "index.html"));
    expect(files.filter((file) => /\.test\.|(^|\/)test(-[a-z]+)?\//.test(file))).toEqual([]);
    // The workspace packages are folders of their own, not links back into the repository.
    const core = join(deployed, "node_modules", "@x", "core-signing", "package.json");
    expect(relative(runtimes.ROOT, realpathSync(core)).startsWith("..")).toBe(true);
    await runLikeTheImage(cmdArgv(), deployed, "node:sqlite", image.env);
  });

  it("runs the same files on Bun, as the Bun image of docs/deploy.md does", async () => {
    const docs = readFileSync(join(runtimes.ROOT, "docs", "deploy.md"), "utf8");
    const snippet = /```dockerfile\n([\s\S]*?)```/.exec(docs)?.[1];
    expect(snippet).toBeDefined();
    const bun = imageOf(stagesOf(parseDockerfile(snippet as string)));
    // The build stage's output, in the same WORKDIR, run by CMD with `bun` the repository's Bun.
    expect(bun.copied).toEqual(image.copied);
    expect(bun.workdir).toBe(image.workdir);
    expect(bun.cmd[0]).toBe("bun");
    const { env } = runtimes.entryCommand("bun");
    await runLikeTheImage([runtimes.bunBinary(), ...bun.cmd.slice(1)], deployed, "bun:sqlite", {
      ...(env as Record<string, string>),
      ...bun.env,
    });
  });
});
