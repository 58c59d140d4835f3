# The edge proxy (apps/edge-proxy) as a container on Node.js 24: its stores in SQLite under /data, or
# in PostgreSQL when DATABASE_URL is set. Built from the repository root, because the proxy imports
# the workspace packages (@x/*) by their package.json exports, which point at their built dist/:
#
#   docker build -t edge-proxy .
#
# docs/deploy.md says how to run it; apps/edge-proxy/test-node/dockerfile.test.ts checks it.

# The build: the workspace packages compiled to dist/, the proxy's /docs assets and openapi.json
# generated and its Node entry built as JavaScript (dist/node), then `pnpm deploy` writes the
# proxy's own files (package.json "files": src, dist, public) and its production dependencies to
# /out, the workspace packages as folders of their published files.
FROM node:24-slim AS build
WORKDIR /repo
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json ./
# The pnpm that package.json pins (packageManager).
RUN npm install --global "$(node -p 'require("./package.json").packageManager')"
COPY packages/ packages/
COPY apps/edge-proxy/ apps/edge-proxy/
RUN pnpm install --frozen-lockfile --filter "@x/edge-proxy..." \
 && pnpm --filter "@x/edge-proxy..." run build \
 && pnpm --filter @x/edge-proxy deploy --prod --legacy /out

# The image: pnpm deploy's output, no tests and no build tools. `node dist/node/node.mjs` reads only
# dist/ and public/; src/ and node_modules/ are there for the Bun image of docs/deploy.md, which
# runs the same folder. The files belong to root, so the process cannot change its own code; /data
# is its own.
FROM node:24-slim
WORKDIR /app
COPY --from=build /out/ ./
RUN mkdir -p /data && chown node:node /data
ENV HOST=0.0.0.0 \
    PORT=8787 \
    PROXY_DATA_DIR=/data
VOLUME /data
EXPOSE 8787
USER node
# The entry stops accepting on SIGTERM, lets requests in flight finish within SHUTDOWN_GRACE_MS
# (10 s by default), hands running outbox attempts back and exits 0: give the container longer
# than that before it is killed (docker stop -t, Kubernetes terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
# Slim images have no curl: Node asks /healthz itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/node/node.mjs"]
