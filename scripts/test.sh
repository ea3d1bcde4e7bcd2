#!/usr/bin/env bash
# The whole test suite: strict type check, then every test file under node's built-in runner (one file at a time:
# the machine has 2 cores and several tests start Jupyter kernels or Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json --noEmit
echo "typecheck: ok"
node --import tsx --test --test-concurrency=1 --test-reporter=spec test/*.test.ts
