#!/bin/bash
# The GPU rows of docs/performance.md's table: `npm run bench` on tfjs-webgpu (Dawn on the card's Vulkan driver)
# against PyTorch with CUDA (fp32, eager) on the same card. A few minutes on an H100/H200.
#
# Prepare here: `bash ../shared/device/pack.sh && bash bench/trim-device.sh` (.device/ fits the 64 MiB a run carries);
# then run on the device machine, carry [".device"], timeout_s ~480 (a fresh machine starts in minutes besides):
#   bash .device/on-device.sh bash bench/gpu.sh            (arguments go to the bench: default --quick)
# Writes bench-gpu.jsonl (one JSON object per case), bench-gpu.json (with the run's settings) and bench-gpu.log
# (progress, top kernels) to $OUT (or /tmp/bench-gpu). Rehearse on a CPU with
#   GLIT_WEBGPU_ADAPTER=opengles GLIT_REFERENCE_PYTHON=/usr/bin/python3 bash bench/gpu.sh --smoke
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/bench-gpu}
mkdir -p "$out"
export GLIT_BACKEND=${GLIT_BACKEND:-webgpu}
# The device image's python3 is the one with CUDA PyTorch (Debian's /usr/bin/python3 may lack torch there).
export GLIT_REFERENCE_PYTHON=${GLIT_REFERENCE_PYTHON:-$(command -v python3)}
# Where the Vulkan loader does not find the NVIDIA driver by itself (see the device README).
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; fi
export PYTHONUNBUFFERED=1

{
  echo "date: $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: none"
  "$GLIT_REFERENCE_PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'
  node --version
} 2>&1 | tee "$out/bench-gpu.log"

node --import tsx bench/bench.ts "$@" --json --profile --out "$out/bench-gpu.json" 2> >(tee -a "$out/bench-gpu.log" >&2) | tee "$out/bench-gpu.jsonl"
