#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine (run as root): the Debian
# packages the tests start for real (Chromium, Orthanc with its DICOMweb plugin, nginx, Apache,
# Caddy, pydicom's test files), then the npm packages and the pinned OHIF viewer.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(chromium orthanc orthanc-dicomweb orthanc-postgresql postgresql nginx apache2 caddy
  python3-pydicom wrk fonts-dejavu-core ca-certificates iproute2)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-test-deps: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Debian services must not start themselves here: tests start what they use on free ports.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Stop any copy a package post-install started anyway, so no service holds port 80 or 8042.
for service in nginx apache2 caddy orthanc; do
  if command -v service >/dev/null 2>&1; then service "$service" stop >/dev/null 2>&1 || true; fi
done

npm ci --no-audit --no-fund
