# syntax=docker/dockerfile:1
# Kipper GitOps bridge image: `kip serve` as a non-root user (uid 10001).
#
#   docker build -t <registry>/kipper:0.1.0 .
#   docker run --rm -p 8080:8080 <registry>/kipper:0.1.0      # embedded demo repo
#
# Runs unchanged with a read-only root filesystem (manifests/ mounts emptyDirs at
# /var/lib/kipper and /tmp). For reproducible builds pin the base images by digest
# (node:20-slim@sha256:…).

# ---- build: compile TypeScript, then drop the dev dependencies ----------------------
FROM node:20-slim AS build
WORKDIR /src
# Dependencies first, so this layer is reused while only the sources change. Scripts are
# skipped here because `prepare` (the tsc build) needs the sources copied below; the
# build runs explicitly after. The dev dependencies (typescript) are installed: no
# NODE_ENV=production in this stage.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime -------------------------------------------------------------------------
FROM node:20-slim
# git: the bridge serves its embedded config repo read-only with `git http-backend`.
# ca-certificates: https config repos (GitHub, GitLab). openssh-client: ssh:// remotes (ssh, ssh-keygen).
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 kipper \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin kipper \
 && mkdir -p /var/lib/kipper \
 && chown 10001:10001 /var/lib/kipper \
 && chmod 0700 /var/lib/kipper

WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
# The seed of the embedded config repo (the demo app), used when KIPPER_REPO_URL is unset.
COPY fixtures/seed ./fixtures/seed
# The console's CSS and ES module, served as they are (no build step).
COPY src/http/console/assets ./src/http/console/assets

# HOME: git reads $HOME/.gitconfig if present; point it at the writable /tmp rather than
# a home directory on the read-only root filesystem.
ENV NODE_ENV=production \
    HOME=/tmp \
    KIPPER_HOST=0.0.0.0 \
    KIPPER_PORT=8080 \
    KIPPER_DATA_DIR=/var/lib/kipper

USER 10001:10001
EXPOSE 8080
# Declared so that `docker run` without a volume still has a writable data dir.
VOLUME ["/var/lib/kipper"]
# No HEALTHCHECK: Kubernetes probes /healthz and /readyz (manifests/base/deployment.yaml);
# `docker run` users can `curl localhost:8080/readyz`.

# node is PID 1 and handles SIGTERM itself (finishes pushes in flight, exits 0).
ENTRYPOINT ["node", "bin/kip.js"]
CMD ["serve"]
