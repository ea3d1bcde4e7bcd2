#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine (run as root, or with sudo available):
# npm packages from the lockfile, and the Debian packages for headless notebooks (nbconvert, nbclient), the classic
# Notebook and Chromium (the figure-render and browser tests), Mesa GL (webgpu through Dawn on the CPU), PyTorch (the
# reference in parity tests) and Slurm with munge (the one-node cluster of scripts/slurm-local.sh that tests
# --executor slurm).
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel jupyter-notebook chromium
      libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri
      python3-torch python3-numpy libopenblas0-pthread
      slurm-wlm munge)
missing=()
for p in "${debs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  echo "setup: (Jupyter's nbconvert/nbclient run notebooks headless, the classic Notebook and chromium are the browser tests' front end, Mesa runs webgpu on the CPU, python3-torch is the parity oracle, slurm-wlm and munge run the test cluster)" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >/dev/null
fi
# Notebooks are committed without outputs, whatever a session saved (scripts/strip-notebook-outputs.js, .gitattributes).
if git rev-parse --git-dir >/dev/null 2>&1; then
  git config filter.notebook-outputs.clean "node scripts/strip-notebook-outputs.js"
  git config filter.notebook-outputs.smudge cat
fi
echo "setup: ready (node $(node -v), TypeScript $(node node_modules/typescript/bin/tsc -v | cut -d' ' -f2))" >&2
