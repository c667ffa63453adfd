# The medallion CLI, as the ECS job tasks run it: `docker run <image> run silver.tasks --job-bookmark-option job-bookmark-enable`,
# and as the pipeline's quality step runs it: `docker run <image> quality`.
# Built by `cdk deploy` (infra/constructs/job-compute.ts) for linux/amd64; synthesis only stages this folder.
FROM node:20-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false
WORKDIR /app

# Dependencies first, so a source edit does not reinstall them. The CLI runs TypeScript through tsx,
# which is a runtime dependency; DuckDB's native binding ships icu, json and parquet statically, so the
# container never downloads an extension (the job subnets have no internet route).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit \
 && npm cache clean --force

# Run-time sources only, with the quality rule sets (quality/rules/) the jobs and `medallion quality` read
# (.dockerignore leaves out tests, infra, docs, runbooks, benchmarks and local lakes).
COPY --chown=root:root . .

# tsx and DuckDB write only under /tmp, which the task mounts as a writable volume over a read-only root.
USER node
ENTRYPOINT ["node", "bin/medallion.js"]
CMD ["--help"]
