// GLIT_WASM_THREADS (lib/kernels/wasm/threads.ts): tfjs-wasm's threaded build trains the tiny model to the same losses
// as one thread, bit for bit, on both GEMM paths; the process exits by itself right after; the device line says how
// many threads; bad counts and a second count in one process fail naming the variable.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { initBackend, optionsFromEnv, releaseBackend, type BackendInfo } from '../lib/kernels/backend';
import { usableCores } from '../lib/kernels/wasm/threads';
import { ROOT } from './helpers';

after(releaseBackend);

interface ChildRun {
  info: BackendInfo;
  losses: number[];
  /** Milliseconds from the child's result line to its exit. */
  exitMs: number;
}

/** Runs test/wasm-threads-child.ts on wasm with `env`; rejects unless it prints its line and exits 0. */
function child(env: NodeJS.ProcessEnv): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const script = path.join(ROOT, 'test/wasm-threads-child.ts');
    const p = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: ROOT,
      env: { ...process.env, GLIT_BACKEND: 'wasm', ...env },
    });
    let [stdout, stderr, printed] = ['', '', 0];
    p.stdout.on('data', (d) => {
      stdout += d;
      if (stdout.includes('\n')) printed ||= Date.now();
    });
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const how = signal === 'SIGKILL' ? 'did not exit within 60 s' : `ended with ${code ?? signal}`;
      if (code !== 0) return reject(new Error(`child ${JSON.stringify(env)} ${how}: ${stderr}`));
      resolve({ ...JSON.parse(stdout), exitMs: Date.now() - printed });
    });
  });
}

const twoCores = { skip: usableCores() < 2 && 'needs 2 cores' };

for (const blas of ['off', 'on'] as const) {
  test(
    `2 wasm threads train to the same losses as 1, bit for bit, and exit by themselves (GLIT_BLAS=${blas})`,
    twoCores,
    async () => {
      const [one, two] = await Promise.all(['1', '2'].map((n) => child({ GLIT_WASM_THREADS: n, GLIT_BLAS: blas })));
      assert.equal(one.info.threads, 1);
      assert.equal(two.info.threads, 2);
      assert.match(one.info.device, /\(WebAssembly, SIMD, 1 thread; /);
      const gemm = blas === 'on' ? 'GEMM OpenBLAS \\w+, 1 thread' : 'GEMM XNNPACK';
      assert.match(two.info.device, new RegExp(`\\(WebAssembly, SIMD, 2 threads; ${gemm}`));
      assert.deepEqual(two.losses, one.losses);
      assert.ok(one.losses[3] < one.losses[0], `the loss should fall: ${one.losses}`);
      assert.ok(two.exitMs < 5000, `the threaded child took ${two.exitMs} ms to exit after its result`);
    },
  );
}

test('GLIT_WASM_THREADS must be a whole number from 1 to the usable cores', () => {
  assert.equal(optionsFromEnv({}).wasmThreads, 1);
  assert.equal(optionsFromEnv({ GLIT_WASM_THREADS: ' 1 ' }).wasmThreads, 1);
  const cores = usableCores();
  assert.equal(optionsFromEnv({ GLIT_WASM_THREADS: String(cores) }).wasmThreads, cores);
  for (const bad of ['0', '-1', 'x', '1.5', '2e0', String(cores + 1)]) {
    assert.throws(
      () => optionsFromEnv({ GLIT_WASM_THREADS: bad }),
      new RegExp(
        `^Error: GLIT_WASM_THREADS='${bad.replace('.', '\\.')}' is not a thread count: use a whole number from 1 to ${cores}`,
      ),
    );
  }
});

test('a second thread count in one process fails naming GLIT_WASM_THREADS, with no other backend instead', async () => {
  const info = await initBackend({ backend: 'wasm', wasmThreads: 1, blas: 'off' });
  assert.equal(info.threads, 1);
  for (const backend of ['wasm', 'auto'] as const) {
    await assert.rejects(
      initBackend({ backend, wasmThreads: 2, blas: 'off' }),
      /GLIT_WASM_THREADS=2 but the wasm module runs 1 thread in this process: the count is fixed when the module first starts/,
    );
  }
});
