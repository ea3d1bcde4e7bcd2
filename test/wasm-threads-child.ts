// For test/wasm-threads.test.ts: starts the backend from the environment (GLIT_WASM_THREADS among it), trains the tiny
// model a few steps and prints the backend and the losses as one JSON line, then returns without process.exit: the
// test checks that nothing (the wasm pthreads) keeps the process alive.
import { initBackend } from '../lib/kernels/backend';
import { tinyTrainingLosses } from './helpers';

void (async () => {
  const info = await initBackend();
  console.log(JSON.stringify({ info, losses: await tinyTrainingLosses(4) }));
})();
