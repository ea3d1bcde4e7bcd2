// Backends: the same seed trains to the same losses on cpu, wasm and webgpu (Dawn on Mesa here); a backend asked for
// by name either runs or fails saying why, never silently another one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  BackendUnavailableError,
  initBackend,
  loadTensorflowBinding,
  optionsFromEnv,
  releaseBackend,
  type BackendName,
} from '../lib/kernels/backend';
import type { BlasMode } from '../lib/kernels/wasm/blas-matmul';
import { runGlit, tinyTrainingLosses } from './helpers';

async function lossesOn(backend: BackendName, steps: number, blas?: BlasMode): Promise<number[]> {
  const info = await initBackend({ backend, webgpuAdapter: 'opengles', ...(blas && { blas }) });
  assert.equal(info.backend, backend);
  assert.equal(tf.getBackend(), backend);
  return tinyTrainingLosses(steps);
}

test('a tiny model trains to the same losses on cpu, wasm (both GEMMs) and webgpu from one seed', async () => {
  const cpu = await lossesOn('cpu', 4);
  assert.ok(cpu[3] < cpu[0], `loss should fall: ${cpu}`);
  // wasm on each GEMM: its layers differ between them (lib/kernels/wasm/).
  const runs = [['wasm', 'on'], ['wasm', 'off'], ['webgpu']] as const;
  for (const [backend, blas] of runs) {
    const other = await lossesOn(backend, 4, blas);
    const name = blas ? `${backend} (GLIT_BLAS=${blas})` : backend;
    other.forEach((l, i) =>
      assert.ok(Math.abs(l - cpu[i]) <= 1e-4 * Math.abs(cpu[i]), `${name} step ${i}: ${l} vs cpu ${cpu[i]}`),
    );
  }
  releaseBackend();
});

test('GLIT_BACKEND values are checked', () => {
  assert.deepEqual(optionsFromEnv({ GLIT_BACKEND: 'wasm' }).backend, 'wasm');
  assert.equal(optionsFromEnv({}).backend, 'auto');
  assert.throws(
    () => optionsFromEnv({ GLIT_BACKEND: 'cuda' }),
    /GLIT_BACKEND='cuda' is not a backend: use one of auto, tensorflow, webgpu, wasm, cpu/,
  );
  assert.throws(() => optionsFromEnv({ GLIT_WEBGPU_ADAPTER: 'metal' }), /GLIT_WEBGPU_ADAPTER='metal'/);
});

test('tfjs-node problems are told apart: not installed vs installed without libtensorflow', () => {
  const missing = (id: string) => Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
  assert.throws(
    () =>
      loadTensorflowBinding((id) => {
        throw missing(id);
      }),
    (e: Error) => {
      assert.ok(e instanceof BackendUnavailableError);
      assert.match(e.message, /tfjs-node-gpu is not installed; @tensorflow\/tfjs-node is not installed/);
      assert.match(e.message, /npm install @tensorflow\/tfjs-node-gpu@4\.22\.0/);
      return true;
    },
  );
  const broken = (id: string) => {
    if (id.endsWith('-gpu'))
      throw Object.assign(new Error("Cannot find module '/x/lib/napi-v8/tfjs_binding.node'"), {
        code: 'MODULE_NOT_FOUND',
      });
    throw missing(id);
  };
  assert.throws(
    () => loadTensorflowBinding(broken),
    /installed but its native library did not load .*tfjs_binding\.node.*\n  fix: .*npm rebuild/s,
  );
  assert.deepEqual(
    loadTensorflowBinding((id) => (id.endsWith('-gpu') ? {} : missing(id))),
    { pkg: '@tensorflow/tfjs-node-gpu' },
  );
});

// The CLI in a fresh process, as a user runs it: a backend asked for runs as itself or exits 1 with a reason.
for (const backend of ['tensorflow', 'webgpu', 'wasm', 'cpu']) {
  test(`glit backend --backend ${backend} runs that backend or fails loudly`, () => {
    const r = runGlit(['backend', '--backend', backend, '--json']);
    if (r.status === 0) {
      assert.equal(JSON.parse(r.stdout).backend, backend, r.stdout);
    } else {
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`backend '${backend}' is not available: .+\\n  fix: .+`));
      assert.ok(
        backend === 'tensorflow' || backend === 'webgpu',
        `${backend} should start on every machine: ${r.stderr}`,
      );
    }
  });
}

test('GLIT_WEBGPU_ADAPTER=opengles runs webgpu on Mesa and says so, with the Dawn options of GLIT_DAWN_TOGGLES', () => {
  const toggles = 'disable-dawn-features=lazy_clear_resource_on_first_use';
  const r = runGlit(['backend', '--json'], {
    GLIT_BACKEND: 'webgpu',
    GLIT_WEBGPU_ADAPTER: 'opengles',
    GLIT_DAWN_TOGGLES: toggles,
  });
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.backend, 'webgpu');
  assert.match(info.device, /OpenGL ES, CPU; disable-dawn-features=lazy_clear_resource_on_first_use/);
  assert.throws(
    () => optionsFromEnv({ GLIT_DAWN_TOGGLES: 'lazy_clear_resource_on_first_use' }),
    /not a Dawn option: give name=value pairs/,
  );
});
