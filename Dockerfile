# syntax=docker/dockerfile:1
# Isogate with the bundled OHIF viewer. Node comes from the official node image (Debian
# bookworm); everything else is a Debian package. Build from the repository root:
#   docker build -t isogate .
# Not built in this project's CI (its machines have no Docker engine); see docs/deploy.md.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts run below, once the sources are in.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY scripts ./scripts
COPY src ./src
# Compiles to dist/, writes schema/, fetches the pinned OHIF build (checksum-checked) into
# vendor/ohif, then drops the build tools.
RUN npm run build \
  && node scripts/fetch-viewer.mjs \
  && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates curl tini \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --system --home-dir /var/lib/isogate --create-home isogate
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/schema ./schema
COPY --from=build /app/vendor ./vendor
RUN ln -s /app/bin/isogate.js /usr/local/bin/isogate

# Certificates (tls: auto) and the embedded index live here; keep it on a volume.
ENV ISOGATE_STATE_DIR=/var/lib/isogate \
    NODE_ENV=production
VOLUME /var/lib/isogate
USER isogate
EXPOSE 8443

# Liveness only; /__isogate/readyz says whether the sources have started.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD curl -fsS --cacert /var/lib/isogate/tls/cert.pem https://localhost:8443/__isogate/healthz \
    || exit 1

ENTRYPOINT ["tini", "--", "node", "/app/bin/isogate.js"]
# Browsers on other machines need https: a generated certificate unless --cert/--key are given.
CMD ["serve", "--host", "0.0.0.0", "--port", "8443", "--tls", "auto"]
