// tfjs-wasm's threaded SIMD build in Node (GLIT_WASM_THREADS): the package turns threads off under Node, and its
// pthread workers need three things Node lacks or does differently (a worker from a blob: URL, the main script as a
// Blob, and a core count it halves as if every core were a hyperthread). Each is bridged here for the one start of the
// module, without changing the package; results equal one thread's bit for bit (test/wasm-threads.test.ts).
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

/** The environment variable, named in every error about it. */
export const WASM_THREADS_VAR = 'GLIT_WASM_THREADS';

/** The cores this process may use: the most threads GLIT_WASM_THREADS accepts. */
export const usableCores = (): number => nodeOs().availableParallelism();

/** GLIT_WASM_THREADS: unset or empty is 1; otherwise a whole number from 1 to the usable cores. */
export function parseWasmThreads(value: string | undefined, cores = usableCores()): number {
  const text = (value ?? '').trim();
  if (text === '') return 1;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > cores)
    throw new Error(
      `${WASM_THREADS_VAR}='${text}' is not a thread count: use a whole number from 1 to ${cores} (the cores this process may use), or leave it unset for 1`,
    );
  return n;
}

// The real module objects (a TypeScript namespace import is a read-only copy): the glue reads both when it starts.
const nodeOs = (): typeof import('node:os') => require('node:os');
const nodeWorkers = (): typeof import('node:worker_threads') => require('node:worker_threads');

interface WorkerSource {
  wasmWorkerContents: string;
}

/**
 * A pthread worker of the threaded glue: the package's own worker source evaluated (the glue asks for a blob: URL,
 * which Node cannot start), told to load the glue from disk (it sends a Blob of transpiled text), and never keeping
 * Node alive: XNNPACK's pool threads wait for work until the process ends.
 */
function pthreadWorker(base: typeof import('node:worker_threads').Worker) {
  const wasmOut = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd';
  const { wasmWorkerContents } = require(`${wasmOut}.worker.js`) as WorkerSource;
  // The source sits in a template literal in the package: its \n escapes arrived as line breaks.
  const source = wasmWorkerContents.replace(/\n/g, '\\n');
  const glue = require.resolve(`${wasmOut}.js`);
  return class PthreadWorker extends base {
    constructor() {
      super(source, { eval: true });
    }
    postMessage(message: unknown, transfer?: readonly import('node:worker_threads').TransferListItem[]): void {
      const m = message as { cmd?: string };
      super.postMessage(m?.cmd === 'load' ? { ...m, urlOrBlob: glue } : message, transfer);
    }
    ref(): void {}
  };
}

/**
 * Runs `start` (tf.setBackend('wasm')) so that the wasm module starts with `threads` threads, and checks that it did:
 * the count is fixed when the module first starts in a process, so a later request for another count throws.
 */
export async function startWithThreads(threads: number, start: () => Promise<void>): Promise<void> {
  const before = runningThreads();
  if (before !== undefined && before !== threads) throw fixedCount(threads, before);
  const os = nodeOs();
  const workers = nodeWorkers();
  const [cpus, Worker] = [os.cpus, workers.Worker];
  if (threads > 1 && before === undefined) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    setThreadsCount(threads);
    // The module clamps its pool to half the cores it sees (it assumes two hyperthreads a core).
    os.cpus = () => [...cpus(), ...cpus()];
    (workers as { Worker: unknown }).Worker = pthreadWorker(Worker);
  }
  try {
    await start();
  } finally {
    os.cpus = cpus;
    (workers as { Worker: unknown }).Worker = Worker;
  }
  const running = runningThreads();
  if (running !== threads) throw fixedCount(threads, running ?? 0);
}

/** The threads of the wasm module, or undefined before it has started in this process. */
function runningThreads(): number | undefined {
  try {
    return getThreadsCount();
  } catch {
    return undefined; // "WASM backend not initialized"
  }
}

/** The wasm module cannot run the threads asked for; never answered by starting another backend. */
export class WasmThreadsError extends Error {
  name = 'WasmThreadsError';
}

const fixedCount = (threads: number, running: number): Error =>
  new WasmThreadsError(
    `${WASM_THREADS_VAR}=${threads} but the wasm module runs ${running} thread${running === 1 ? '' : 's'} in this process: the count is fixed when the module first starts, so set ${WASM_THREADS_VAR} before anything starts the wasm backend (one count per process)`,
  );
