#!/usr/bin/env node
// Entry point of `npx glit`: runs the TypeScript CLI in lib/cli through tsx (no build step).
require('tsx/cjs/api').register();
require('../lib/cli/main.ts').main(process.argv.slice(2));
