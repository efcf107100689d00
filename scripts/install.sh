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
npm ci --no-audit --no-fund
