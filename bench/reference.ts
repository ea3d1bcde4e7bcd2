// The PyTorch side of a case: bench/torch_bench.py on the same architecture, batch, recipe and step plan, in a child
// process that runs after ours (never beside it: the two would share the cores).
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { Architecture } from '../lib/model/arch';
import { BENCH_TRAIN, type StepPlan } from './cases';

export interface ReferenceResult {
  img_per_s: number;
  window_s: number[];
  img_per_cpu_s: number;
  peak_mem_mb: number;
  mem_method: string;
  device: string;
  torch: string;
  threads: number;
  /** The core of the OpenBLAS that PyTorch loaded (e.g. Cooperlake), null when it runs another BLAS. */
  blas_core: string | null;
}

export interface ReferenceOptions {
  python: string;
  /** 'cuda' when ours runs on a GPU (the driver fails if PyTorch sees none); else the CPU. */
  device: 'cpu' | 'cuda';
  /** PyTorch's intra-op threads on the CPU (OpenBLAS itself always gets one; see docs/performance.md, Setup). */
  threads: number;
}

const SCRIPT = path.join(__dirname, 'torch_bench.py');

export function referenceOptions(onGpu: boolean, env: NodeJS.ProcessEnv = process.env): ReferenceOptions {
  const threads = Number(env.GLIT_TORCH_THREADS ?? 1);
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(`GLIT_TORCH_THREADS='${env.GLIT_TORCH_THREADS}' is not a positive integer`);
  return { python: env.GLIT_REFERENCE_PYTHON ?? '/usr/bin/python3', device: onGpu ? 'cuda' : 'cpu', threads };
}

export function runReference(arch: Architecture, plan: StepPlan, options: ReferenceOptions): ReferenceResult {
  const job = { arch, ...plan, ...BENCH_TRAIN, device: options.device };
  const threads =
    options.device === 'cpu' ? { OMP_NUM_THREADS: String(options.threads), OPENBLAS_NUM_THREADS: '1' } : {};
  // OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which some machines set for older OpenBLAS builds, can force a slower core
  // than the one OpenBLAS detects: the reference runs with the detected one (its core is reported).
  const { OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE, ...env } = process.env;
  const r = spawnSync(options.python, [SCRIPT], {
    input: JSON.stringify(job),
    encoding: 'utf8',
    env: { ...env, ...threads, PYTHONDONTWRITEBYTECODE: '1' },
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) {
    const why = r.error ? String(r.error) : r.stderr.trim().split('\n').slice(-3).join('\n    ');
    throw new Error(
      `the PyTorch reference failed (${options.python} ${path.relative(process.cwd(), SCRIPT)}):\n    ${why}\n` +
        '  fix: npm run setup installs python3-torch; or set GLIT_REFERENCE_PYTHON to a python with torch; or pass --no-reference',
    );
  }
  return JSON.parse(r.stdout) as ReferenceResult;
}

/** "PyTorch 1.13.1 cpu, 1 thread (OpenBLAS Cooperlake, 1 thread)" / "PyTorch 2.11.0 NVIDIA H100 80GB HBM3 (fp32, eager)". */
export const describeReference = (r: ReferenceResult): string =>
  `PyTorch ${r.torch} ${r.device}${r.device === 'cpu' ? `, ${r.threads} thread${r.threads > 1 ? 's' : ''} (${r.blas_core ? `OpenBLAS ${r.blas_core}` : 'not OpenBLAS'}, 1 thread)` : ' (fp32, eager)'}`;
