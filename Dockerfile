# syntax=docker/dockerfile:1.7
# homelab-chatops — multi-arch (linux/arm64 for the Pi 5, linux/amd64): scripts/docker-build.sh

ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: compile TypeScript, then keep only production dependencies
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY commands ./commands
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime: what the bot shells out to (git for tasks, ssh for nodes, ansible for provisioning)
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ansible-core ca-certificates tini fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    CHATOPS_STATE_DIR=/var/lib/chatops \
    CHATOPS_HTTP_HOST=0.0.0.0 \
    CHATOPS_HTTP_PORT=9095
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY playbooks ./playbooks
COPY tasks ./tasks
# The image's node user (uid 1000) owns only the state directory.
RUN mkdir -p /var/lib/chatops && chown node:node /var/lib/chatops
USER node
VOLUME ["/var/lib/chatops"]
EXPOSE 9095
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.CHATOPS_HTTP_PORT||9095)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/src/main.js"]
# Mount a config at /config/config.yaml (chat.console.enabled: false in a cluster).
CMD ["--config", "/config/config.yaml"]
