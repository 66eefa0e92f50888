#!/usr/bin/env bash
# One-time set-up on Debian/Ubuntu: the software WebGPU adapters (Mesa llvmpipe through EGL,
# SwiftShader shipped with Chromium, which the browser tests also use), the npm packages, the build.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libvulkan1 chromium libegl1 libegl-mesa0 libgl1-mesa-dri)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
npm ci --no-audit --no-fund
npm run build
