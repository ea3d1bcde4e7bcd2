#!/usr/bin/env bash
# The whole test suite: strict type check, then every test file under node's built-in runner (one file at a time:
# the machine has 2 cores and several tests start Jupyter kernels or Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
# Type check with the project's TypeScript (5.9, strict) and with tslab's bundled 5.0, which compiles lib/ in notebooks.
# (`npx tsc` would find tslab's: both packages install a `tsc` binary.)
node node_modules/typescript/bin/tsc -p tsconfig.json --noEmit
node node_modules/@tslab/typescript-for-tslab/bin/tsc -p tsconfig.json --noEmit
echo "typecheck: ok (TypeScript $(node node_modules/typescript/bin/tsc -v | cut -d' ' -f2) and tslab's $(node node_modules/@tslab/typescript-for-tslab/bin/tsc -v | cut -d' ' -f2))"
# The formatter's check (npm run format fixes what it reports).
node node_modules/prettier/bin/prettier.cjs --check --log-level warn "lib/**/*.ts" "test/**/*.ts" "bench/**/*.ts" "scripts/**/*.ts" bin/glit.js
echo "format: ok (prettier $(node node_modules/prettier/bin/prettier.cjs --version))"
node --import tsx --test --test-concurrency=1 --test-reporter=spec test/*.test.ts
