# The medallion CLI, as the ECS job tasks run it: `docker run <image> run silver.tasks --job-bookmark-option job-bookmark-enable`,
# and as the pipeline's other steps run it: `docker run <image> quality`.
# Built by `cdk deploy` (infra/constructs/job-compute.ts) for linux/amd64; synthesis only stages this folder.

# Build: compile the run-time sources to JavaScript (tsconfig.build.json), so no task pays for transpiling at start-up.
FROM node:20-slim AS build
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY core core
COPY jobs jobs
COPY simulator simulator
COPY cli cli
RUN npx tsc -p tsconfig.build.json

# Run: production dependencies, the compiled CLI and the quality rule sets (quality/rules/) the jobs and
# `medallion quality` read. DuckDB's native binding ships icu, json and parquet statically, so the container never
# downloads an extension (the job subnets have no internet route).
FROM node:20-slim
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit \
 && npm cache clean --force
COPY --from=build /build/dist dist
COPY bin bin
COPY quality/rules quality/rules

# DuckDB writes only under /tmp, which the task mounts as a writable volume over a read-only root.
USER node
ENTRYPOINT ["node", "bin/medallion.js"]
CMD ["--help"]
