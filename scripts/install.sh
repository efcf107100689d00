#!/usr/bin/env bash
# Installs what `isogate serve` needs: Node.js 20+ and npm from Debian when missing, then the
# npm packages and the pinned OHIF viewer (fetched from the npm registry by `npm ci`).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm
fi
# Debian 12's own nodejs is 18: too old for Isogate (and for undici 7). Say so plainly.
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "install: Isogate needs Node.js 20 or newer; this is $(node --version)." >&2
  echo "  Install Node.js 20 (e.g. from NodeSource or nvm), then run this script again." >&2
  exit 1
fi
npm ci --no-audit --no-fund
