# phasegate's workers and CLI. The Temporal server, its UI and NATS come from their own images
# (docker-compose.yml); nothing here downloads a binary from a website.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY cli cli
COPY config config
COPY decisions decisions
COPY workflows workflows
COPY activities activities
COPY workers workers
COPY simulator simulator
COPY lib lib
COPY scripts scripts
COPY test test
COPY bench bench
RUN node_modules/.bin/tsc -p tsconfig.json && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/config config
USER node
ENTRYPOINT ["node"]
CMD ["dist/cli/main.js", "--help"]
