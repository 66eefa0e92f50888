#!/usr/bin/env bash
# Prepares .gpu-carry/ (git-ignored), what scripts/gpu-check.sh brings to a bare GPU machine that has
# neither Node nor a Vulkan loader nor this project's build:
#   node.xz        this machine's Node binary (x86-64 Linux), xz-compressed
#   app.tar.xz     dist/ (engine, CLI and benchmarks, freshly built) and the production node_modules
#                  (Dawn for linux-x64 only)
#   debs/*.deb     Debian's Vulkan loader (libvulkan1), unpacked there with dpkg -x
# About 35 MiB in all, inside the 64 MiB a device run may carry. Run from anywhere:
#   bash scripts/gpu-carry.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(uname -m)" = x86_64 ] || { echo "gpu-carry: this machine is $(uname -m); the GPU machine is x86-64, so the carried Node and Dawn must come from an x86-64 machine" >&2; exit 1; }
command -v xz >/dev/null || { echo "gpu-carry: xz is missing: apt-get install xz-utils" >&2; exit 1; }
out=.gpu-carry
rm -rf "$out"
mkdir -p "$out/debs"

echo "gpu-carry: building dist/ and dist/bench/"
npm run build >/dev/null
npx tsc -p bench

echo "gpu-carry: compressing $(command -v node) ($(node --version))"
xz -T0 -6 -c "$(readlink -f "$(command -v node)")" >"$out/node.xz"

echo "gpu-carry: packing dist/ and the production node_modules"
modules=$(npm ls --omit=dev --all --parseable 2>/dev/null | sed -n "s|^$PWD/||p" | grep '^node_modules/' | sort -u)
# shellcheck disable=SC2086
tar -cJf "$out/app.tar.xz" --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' --exclude='node_modules/webgpu/dist/linux-arm64' dist $modules

echo "gpu-carry: downloading Debian's Vulkan loader"
(cd "$out/debs" && apt-get download libvulkan1 >/dev/null)

du -sh "$out" "$out"/* "$out"/debs/*
