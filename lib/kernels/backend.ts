// Choosing and starting a TensorFlow.js backend, and saying which one runs where.
//
// GLIT_BACKEND=auto|tensorflow|webgpu|wasm|cpu (or `initBackend({backend})` in code). auto tries, in order:
// tfjs-node-gpu / tfjs-node when their native binding loads, webgpu when Dawn finds a real GPU adapter, wasm, cpu.
// A backend that was asked for by name and cannot start throws BackendUnavailableError with the cause and the fix;
// it never falls back. (tf.setBackend itself returns false and silently keeps the old backend: we check it.)
// GLIT_BLAS=auto|on|off (and GLIT_BLAS_LIBRARY): which GEMM wasm's products run, OpenBLAS or XNNPACK (wasm/blas-matmul.ts);
// the device line says which and, when auto could not use OpenBLAS, why.
// GLIT_WASM_THREADS=N (default 1): wasm's own kernels on N threads (wasm/threads.ts), fixed when wasm first starts.
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { selectFastPaths } from './fast-paths';
import { BLAS_MODES, BlasUnavailableError, OPENBLAS_LIBRARY, selectGemm, type BlasMode } from './wasm/blas-matmul';
import { registerWasmKernels } from './wasm/register';
import { parseWasmThreads, startWithThreads, WasmThreadsError } from './wasm/threads';

export const BACKENDS = ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendRequest = BackendName | 'auto';
/** Which Dawn adapter webgpu uses: the platform default (Vulkan on Linux), or Mesa's OpenGL ES (CPU; for tests). */
export type WebgpuAdapter = 'default' | 'opengles';

export interface BackendOptions {
  backend?: BackendRequest;
  webgpuAdapter?: WebgpuAdapter;
  /**
   * Options for Dawn's create(), e.g. 'disable-dawn-features=lazy_clear_resource_on_first_use' (the platform notes
   * measured a GLiT-Tiny step 19% faster with it on an H200). From GLIT_DAWN_TOGGLES, separated by spaces.
   */
  dawnOptions?: string[];
  /** The wasm products' GEMM: OpenBLAS (on), XNNPACK (off), or OpenBLAS when it loads and checks out (auto). */
  blas?: BlasMode;
  /** The OpenBLAS library file (default libopenblas.so.0). */
  blasLibrary?: string;
  /** wasm's threads (GLIT_WASM_THREADS, default 1): fixed when the wasm module first starts in a process. */
  wasmThreads?: number;
}

export interface BackendInfo {
  /** The tfjs backend that runs the math. */
  backend: BackendName;
  /** The device it runs on, in words (CPU model, GPU adapter, ...). */
  device: string;
  /** How it was chosen: the request, and for auto the backends that were tried before. */
  requested: BackendRequest;
  skipped?: string[];
  /** wasm: which GEMM its products run, and why XNNPACK's when GLIT_BLAS=auto could not use OpenBLAS. */
  gemm?: string;
  /** wasm: the threads of its own kernels (the OpenBLAS GEMM always runs one). */
  threads?: number;
}

export class BackendUnavailableError extends Error {
  constructor(
    readonly backend: BackendName,
    cause: string,
    fix: string,
  ) {
    super(`backend '${backend}' is not available: ${cause}\n  fix: ${fix}`);
    this.name = 'BackendUnavailableError';
  }
}

let current: BackendInfo | undefined;
/** The wasm settings (GEMM, threads) `current` was started with. */
let currentWasm: string | undefined;

/** Reads GLIT_BACKEND, GLIT_WEBGPU_ADAPTER and GLIT_DAWN_TOGGLES, with a clear error for a value that is not allowed. */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): BackendOptions {
  const backend = (env.GLIT_BACKEND ?? 'auto').trim() || 'auto';
  if (backend !== 'auto' && !(BACKENDS as readonly string[]).includes(backend)) {
    throw new Error(`GLIT_BACKEND='${backend}' is not a backend: use one of auto, ${BACKENDS.join(', ')}`);
  }
  const adapter = (env.GLIT_WEBGPU_ADAPTER ?? 'default').trim() || 'default';
  if (adapter !== 'default' && adapter !== 'opengles') {
    throw new Error(`GLIT_WEBGPU_ADAPTER='${adapter}' is not an adapter: use default or opengles`);
  }
  const dawnOptions = (env.GLIT_DAWN_TOGGLES ?? '').split(/\s+/).filter(Boolean);
  const malformed = dawnOptions.find((o) => !/^[a-z-]+=\S+$/.test(o));
  if (malformed) {
    throw new Error(
      `GLIT_DAWN_TOGGLES: '${malformed}' is not a Dawn option: give name=value pairs separated by spaces, e.g. disable-dawn-features=lazy_clear_resource_on_first_use`,
    );
  }
  return {
    backend: backend as BackendRequest,
    webgpuAdapter: adapter as WebgpuAdapter,
    ...(dawnOptions.length > 0 ? { dawnOptions } : {}),
    ...wasmFromEnv(env),
  };
}

/** GLIT_BLAS, GLIT_BLAS_LIBRARY and GLIT_WASM_THREADS; initBackend reads them for options that leave them unsaid. */
export function wasmFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Required<Pick<BackendOptions, 'blas' | 'blasLibrary' | 'wasmThreads'>> {
  const blas = (env.GLIT_BLAS ?? 'auto').trim() || 'auto';
  if (!(BLAS_MODES as readonly string[]).includes(blas)) {
    throw new Error(`GLIT_BLAS='${blas}' is not a mode: use one of ${BLAS_MODES.join(', ')}`);
  }
  return {
    blas: blas as BlasMode,
    blasLibrary: env.GLIT_BLAS_LIBRARY?.trim() || OPENBLAS_LIBRARY,
    wasmThreads: parseWasmThreads(env.GLIT_WASM_THREADS),
  };
}

/**
 * Starts the requested backend (default: from the environment) and returns what runs. Calling it again with the same
 * request is cheap; a different request switches backends.
 */
export async function initBackend(given: BackendOptions = optionsFromEnv()): Promise<BackendInfo> {
  const options = { ...wasmFromEnv(), ...given };
  const requested = options.backend ?? 'auto';
  const wasm = `${options.blas} ${options.blasLibrary} ${options.wasmThreads}`;
  // Cheap for the same request again, unless tf.setBackend switched backends since (its fast paths would be stale).
  if (
    current &&
    tf.getBackend() === current.backend &&
    (current.requested === requested || current.backend === requested) &&
    currentWasm === wasm
  )
    return current;
  tf.enableProdMode(); // silences tfjs's "install tfjs-node" banner, which would land in notebooks
  if (requested !== 'auto') {
    current = { ...(await start(requested, options)), requested };
    currentWasm = wasm;
    return current;
  }
  const skipped: string[] = [];
  for (const name of BACKENDS) {
    try {
      const info = await start(name, { ...options, webgpuAdapter: 'default' }, true);
      current = { ...info, requested, skipped };
      currentWasm = wasm;
      return current;
    } catch (e) {
      // GLIT_BLAS=on asked for OpenBLAS, GLIT_WASM_THREADS for threads: no quiet cpu instead.
      if (e instanceof BlasUnavailableError || e instanceof WasmThreadsError) throw e;
      skipped.push(
        `${name}: ${e instanceof BackendUnavailableError ? e.message.split('\n')[0].replace(/^backend '\w+' is not available: /, '') : String(e)}`,
      );
    }
  }
  throw new Error(`no backend could start:\n  ${skipped.join('\n  ')}`);
}

/** The running backend, or an error telling the caller to start one. */
export function backendInfo(): BackendInfo {
  if (!current) throw new Error('no backend started yet: call initBackend() first');
  return current;
}

/** One line for logs and notebooks: `backend wasm on CPU (...)`. */
export function describeBackend(info: BackendInfo = backendInfo()): string {
  return `backend ${info.backend} on ${info.device}`;
}

/** Lets Node exit: Dawn keeps the event loop alive while navigator.gpu exists. */
export function releaseBackend(): void {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav && 'gpu' in nav) delete nav.gpu;
}

async function start(
  name: BackendName,
  options: BackendOptions,
  auto = false,
): Promise<Omit<BackendInfo, 'requested'>> {
  switch (name) {
    case 'tensorflow':
      return startTensorflow();
    case 'webgpu':
      return startWebgpu(options.webgpuAdapter ?? 'default', options.dawnOptions ?? [], auto);
    case 'wasm':
      const threads = options.wasmThreads ?? 1;
      await startWithThreads(threads, () =>
        setBackendOrThrow(
          'wasm',
          'the WebAssembly module did not initialise',
          'reinstall @tensorflow/tfjs-backend-wasm (npm ci)',
        ),
      );
      // tfjs-wasm's Slice and Split copy their whole input through JavaScript for every piece (wasm/slice.ts).
      registerWasmKernels();
      const gemm = selectGemm(options.blas ?? 'auto', options.blasLibrary);
      const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? ', SIMD' : '';
      return {
        backend: 'wasm',
        device: `${cpuModel()} (WebAssembly${simd}, ${threads} thread${threads > 1 ? 's' : ''}; ${gemm})`,
        gemm,
        threads,
      };
    case 'cpu':
      await setBackendOrThrow('cpu', 'tfjs-backend-cpu did not initialise', 'reinstall @tensorflow/tfjs (npm ci)');
      return { backend: 'cpu', device: `${cpuModel()} (plain JavaScript)` };
  }
}

async function setBackendOrThrow(name: string, cause: string, fix: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new BackendUnavailableError(name as BackendName, cause, fix);
  await tf.ready();
  selectFastPaths(name); // the layers' faster versions for this backend, if it has any (fast-paths.ts)
}

function cpuModel(): string {
  const cpus = os.cpus();
  return `CPU ${cpus[0]?.model?.trim() ?? 'unknown'} x${cpus.length}`;
}

// --- tensorflow (libtensorflow through tfjs-node-gpu or tfjs-node) ---------------------------------------------------

type Require = (id: string) => unknown;

/**
 * Loads tfjs-node-gpu or else tfjs-node, and explains failures: not installed, or installed without its native
 * library (npm skipped or could not run the install script that downloads libtensorflow). Exported for tests.
 */
export function loadTensorflowBinding(req: Require = require): { pkg: string } {
  const problems: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      req(pkg);
      return { pkg };
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const notInstalled = err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(`'${pkg}'`);
      problems.push(
        notInstalled
          ? `${pkg} is not installed`
          : `${pkg} is installed but its native library did not load (${firstLine(err.message)})`,
      );
    }
  }
  const installedBroken = problems.some((p) => p.includes('native library'));
  throw new BackendUnavailableError(
    'tensorflow',
    problems.join('; '),
    installedBroken
      ? 'its install script downloads libtensorflow: run `npm rebuild @tensorflow/tfjs-node-gpu` (or tfjs-node) on a machine with internet access; the GPU build needs CUDA 11.2 and cuDNN 8.1 (see environment.md)'
      : 'run `npm install @tensorflow/tfjs-node-gpu@4.22.0` (NVIDIA GPU with CUDA 11.2 + cuDNN 8.1) or `npm install @tensorflow/tfjs-node@4.22.0` (CPU) with internet access; see environment.md',
  );
}

async function startTensorflow(): Promise<Omit<BackendInfo, 'requested'>> {
  const { pkg } = loadTensorflowBinding();
  await setBackendOrThrow(
    'tensorflow',
    `${pkg} loaded but the 'tensorflow' backend did not initialise`,
    'reinstall it; see environment.md',
  );
  const gpu = pkg.endsWith('-gpu');
  return {
    backend: 'tensorflow',
    device: gpu ? `CUDA GPU via libtensorflow (${pkg})` : `${cpuModel()} via libtensorflow (${pkg})`,
  };
}

// --- webgpu (Dawn through the npm `webgpu` package) -------------------------------------------------------------------

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}

let webgpuAdapterInUse: WebgpuAdapter | undefined;

async function startWebgpu(
  adapter: WebgpuAdapter,
  dawnOptions: string[],
  auto: boolean,
): Promise<Omit<BackendInfo, 'requested'>> {
  if (webgpuAdapterInUse && webgpuAdapterInUse !== adapter) {
    throw new BackendUnavailableError(
      'webgpu',
      `this process already set up webgpu on the '${webgpuAdapterInUse}' adapter`,
      'use one webgpu adapter per process',
    );
  }
  if (auto && adapter === 'default' && process.platform === 'linux' && !hasVulkanLoader()) {
    // Checked before Dawn starts, which would print its own warning on every run of a CPU-only machine.
    throw new BackendUnavailableError(
      'webgpu',
      'no Vulkan loader (libvulkan.so.1) on this machine',
      'apt-get install libvulkan1 on a machine with a GPU',
    );
  }
  let dawn: typeof import('webgpu');
  try {
    dawn = await import('webgpu');
  } catch (e) {
    throw new BackendUnavailableError(
      'webgpu',
      `the npm package 'webgpu' (Dawn) did not load: ${firstLine(String(e))}`,
      'npm ci (it ships dawn.node for linux-x64, darwin and win32)',
    );
  }
  const g = globalThis as Record<string, unknown> & { navigator?: { gpu?: GPU } };
  if (!g.navigator?.gpu) {
    Object.assign(globalThis, dawn.globals);
    if (adapter === 'opengles') process.env.EGL_PLATFORM ??= 'surfaceless';
    const gpu = dawn.create([...(adapter === 'opengles' ? ['backend=opengles'] : []), ...dawnOptions]);
    if (adapter === 'opengles') {
      // Mesa's GL ES only offers WebGPU's compatibility feature level.
      const request = gpu.requestAdapter.bind(gpu);
      gpu.requestAdapter = (o?: GPURequestAdapterOptions) =>
        request({ ...o, featureLevel: 'compatibility' } as GPURequestAdapterOptions);
    }
    // Node's own global navigator (Node >= 21) is read-only; Node 20 has none.
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    webgpuAdapterInUse = adapter;
  }
  const found = (await g.navigator!.gpu!.requestAdapter()) as GpuAdapterLike | null;
  if (!found) {
    releaseBackend();
    throw new BackendUnavailableError(
      'webgpu',
      adapter === 'opengles'
        ? "Dawn found no OpenGL ES adapter (Mesa's EGL/GLES libraries missing?)"
        : 'Dawn found no GPU adapter (no Vulkan loader libvulkan.so.1, or no Vulkan driver for a GPU)',
      adapter === 'opengles'
        ? 'apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri'
        : "on an NVIDIA machine install the Vulkan loader (apt-get install libvulkan1) with the driver's Vulkan ICD; on a machine without a GPU set GLIT_WEBGPU_ADAPTER=opengles to run webgpu on Mesa's CPU OpenGL ES (slow, for tests)",
    );
  }
  const info = found.info ?? {};
  const words = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s.trim()).join(' ');
  const software = /llvmpipe|swiftshader|lavapipe|softpipe/i.test(words);
  if (auto && software) {
    throw new BackendUnavailableError(
      'webgpu',
      `only a software adapter was found (${words})`,
      'auto picks webgpu only on a real GPU',
    );
  }
  await import('@tensorflow/tfjs-backend-webgpu'); // registers only when navigator.gpu exists at import
  await setBackendOrThrow(
    'webgpu',
    `tfjs-backend-webgpu did not initialise on ${words || 'the adapter'}`,
    'check the GPU driver; see environment.md',
  );
  const options = dawnOptions.length > 0 ? `; ${dawnOptions.join(' ')}` : '';
  return {
    backend: 'webgpu',
    device: `${words || 'unnamed adapter'} (Dawn ${adapter === 'opengles' ? 'OpenGL ES, CPU' : 'native'}${options})`,
  };
}

function hasVulkanLoader(): boolean {
  try {
    return execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }).includes('libvulkan.so.1');
  } catch {
    return true; // cannot tell: let Dawn try
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}
