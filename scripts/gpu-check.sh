#!/usr/bin/env bash
# The GPU check, in one go: doctor in both device profiles, the model benchmark (x0_5 and x1_0 at
# 224, batch 8, 64 and 256), the guidelines benchmark (G1-G4: memory and launch effects, which a real
# GPU is where they should show), and a short training run (x1_0, 224, batch 96, on generated
# images), each step under its own time limit (60 + 60 + 180 + 90 + 120 s at most), then one JSON
# summary: ends inside 9 minutes, unpacking included.
#
# On a lent GPU machine, which starts bare (no Node, no Vulkan loader, no build): first, here,
#   bash scripts/gpu-carry.sh            # fills .gpu-carry/ (git-ignored): Node, dist + node_modules, libvulkan1
# then the device tool's run, exactly:
#   run(command: "bash scripts/gpu-check.sh", carry: [".gpu-carry"], timeout_s: 570)
# The script unpacks what it lacks from .gpu-carry (Node into /tmp, the Vulkan loader into / with
# dpkg -x, dist and node_modules into the tree), points Vulkan at the NVIDIA driver where one is
# mounted, and writes to $OUT (at most 8 files come back): summary.json, gpu-check.log,
# doctor-gpu.json, doctor-software.json, bench-model.json, bench-guidelines.json.
#
# Here, on a software adapter, with small sizes (the full ones are the default, for a real GPU):
#   GPU_CHECK_ADAPTER=llvmpipe GPU_CHECK_SIZE=small bash scripts/gpu-check.sh
# Environment: GPU_CHECK_ADAPTER (an --adapter filter; default the best adapter, a hardware GPU where
# there is one), GPU_CHECK_SIZE (full | small), GPU_CHECK_CARRY (default .gpu-carry), OUT (default
# test-artifacts/gpu-check).
set -uo pipefail
cd "$(dirname "$0")/.."
carry=${GPU_CHECK_CARRY:-.gpu-carry}
out=${OUT:-test-artifacts/gpu-check}
size=${GPU_CHECK_SIZE:-full}
adapter=${GPU_CHECK_ADAPTER:-}
case "$size" in full | small) ;; *) echo "gpu-check: GPU_CHECK_SIZE must be full or small, not '$size'" >&2; exit 2 ;; esac
mkdir -p "$out"
log="$out/gpu-check.log"
: >"$log"
started=$(date +%s)
say() { echo "gpu-check: $*" | tee -a "$log"; }

# xz without xz-utils: Python's lzma.
unxz_to() { if command -v xz >/dev/null; then xz -dc "$1" >"$2"; else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi; }
untar_xz() { if command -v xz >/dev/null; then tar -xJf "$1"; else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(".")' "$1"; fi; }

# 1. Node 20 or later: the carried binary where there is none.
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  [ -f "$carry/node.xz" ] || { say "no Node 20+ here and no $carry/node.xz: run scripts/gpu-carry.sh first and carry $carry"; exit 1; }
  mkdir -p /tmp/gpu-check-node
  unxz_to "$carry/node.xz" /tmp/gpu-check-node/node && chmod +x /tmp/gpu-check-node/node
  export PATH="/tmp/gpu-check-node:$PATH"
  say "node $(node --version) from $carry/node.xz"
fi
# 2. The build and the production node_modules.
if [ ! -f dist/cli.js ] || [ ! -f dist/bench/main.js ] || [ ! -d node_modules/webgpu ]; then
  [ -f "$carry/app.tar.xz" ] || { say "no dist/ or node_modules here and no $carry/app.tar.xz: run scripts/gpu-carry.sh first"; exit 1; }
  untar_xz "$carry/app.tar.xz"
  say "dist/ and node_modules from $carry/app.tar.xz"
fi
# 3. The Vulkan loader, and the NVIDIA driver's ICD where the machine mounts one.
export PATH="$PATH:/usr/sbin:/sbin"
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  for deb in "$carry"/debs/*.deb; do [ -f "$deb" ] && dpkg -x "$deb" / && say "unpacked $(basename "$deb")"; done
  ldconfig 2>/dev/null || true
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$nvidia_icd" ]; then
  export VK_DRIVER_FILES=$nvidia_icd
  [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] && export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$log" 2>&1

adapter_flag=()
[ -n "$adapter" ] && adapter_flag=(--adapter "$adapter")
if [ "$size" = full ]; then
  configs=x0_5:8:224,x0_5:64:224,x0_5:256:224,x1_0:8:224,x1_0:64:224,x1_0:256:224
  bench_flags=()
  train_images=192 train_size=224 train_batch=96 train_model=x1_0
else
  configs=x0_5:2:64,x1_0:2:64
  bench_flags=(--smoke)
  train_images=24 train_size=64 train_batch=8 train_model=x0_5
fi

steps=()
# step NAME LIMIT_S COMMAND...: runs COMMAND under a time limit, its output into the log.
step() {
  local name=$1 limit=$2 t0 rc
  shift 2
  t0=$(date +%s%N)
  say "$name: $*"
  timeout "$limit" "$@" >>"$log" 2>&1
  rc=$?
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  local seconds
  seconds=$((ms / 1000)).$(printf '%03d' $((ms % 1000)))
  say "$name: exit $rc after ${seconds} s"
  steps+=("{\"name\":\"$name\",\"exit\":$rc,\"seconds\":$seconds,\"limit\":$limit}")
}

for profile in gpu software; do
  step "doctor-$profile" 60 env SHUFFLENET_PROFILE=$profile bash -c 'node dist/cli.js doctor --json "$@" >"$0"' "$out/doctor-$profile.json" "${adapter_flag[@]}"
done
step bench-model 180 node dist/bench/main.js model "${bench_flags[@]}" --configs "$configs" --json "$out/bench-model.json" "${adapter_flag[@]}"
step bench-guidelines 90 node dist/bench/main.js guidelines "${bench_flags[@]}" --json "$out/bench-guidelines.json" "${adapter_flag[@]}"

# A short training run on generated two-class images (the real datasets stay off the device).
data=$(mktemp -d /tmp/gpu-check-data.XXXX)
node --input-type=module -e '
import { mkdirSync, writeFileSync } from "node:fs";
import { PNG } from "pngjs";
const [root, count] = [process.argv[1], Number(process.argv[2])];
let seed = 7;
const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
for (const [split, n] of [["train", count], ["val", Math.max(4, count / 6)]]) {
  for (let i = 0; i < n; i++) {
    const label = i % 2, png = new PNG({ width: 96, height: 96 });
    for (let p = 0; p < 96 * 96; p++) { const v = Math.floor(255 * Math.min(1, 0.3 * label + 0.7 * next())); png.data.set([v, v, v, 255], 4 * p); }
    mkdirSync(`${root}/${split}/${label}`, { recursive: true });
    writeFileSync(`${root}/${split}/${label}/${i}.png`, PNG.sync.write(png));
  }
}' "$data" "$train_images" >>"$log" 2>&1
step train 120 node dist/cli.js train --model "$train_model" --img-size "$train_size" --batch-size "$train_batch" --epochs 1 --freeze_layers false --pretrained false --workers 4 \
  --data_train "$data/train" --data_val "$data/val" --save_ret "$data/runs" "${adapter_flag[@]}"
rm -rf "$data"

total=$(( $(date +%s) - started ))
summary=$(printf '%s,' "${steps[@]}")
node --input-type=module -e '
import { existsSync, readFileSync, writeFileSync } from "node:fs";
const [out, size, total, steps] = [process.argv[1], process.argv[2], Number(process.argv[3]), JSON.parse(`[${process.argv[4].replace(/,$/, "")}]`)];
const read = (f) => (existsSync(`${out}/${f}`) ? JSON.parse(readFileSync(`${out}/${f}`, "utf8")) : null);
const doctor = (d) => d && { profile: d.profile, ok: d.ok, checks: d.checks.length, failed: d.checks.filter((c) => !c.ok).map((c) => c.name) };
const model = read("bench-model.json");
const log = readFileSync(`${out}/gpu-check.log`, "utf8").split("\n");
const summary = {
  size, seconds: total, ok: steps.every((s) => s.exit === 0), steps,
  adapter: read("doctor-gpu.json")?.adapter ?? null,
  doctor: { gpu: doctor(read("doctor-gpu.json")), software: doctor(read("doctor-software.json")) },
  model: model?.model?.map(({ profile, ...row }) => row) ?? null,
  guidelines: read("bench-guidelines.json")?.guidelines ?? null,
  train: log.filter((l) => /^epoch \d+\/\d+:|^best epoch|^error/.test(l)),
};
writeFileSync(`${out}/summary.json`, JSON.stringify(summary, null, 1) + "\n");
console.log(JSON.stringify({ ok: summary.ok, seconds: total, steps: steps.map((s) => `${s.name} ${s.exit} ${s.seconds}s`) }));
' "$out" "$size" "$total" "$summary" | tee -a "$log"
say "done in ${total} s; summary in $out/summary.json"
