// `npm run bench`: training-step throughput and peak memory of our model on the active backend against the PyTorch
// reference on the same machine, one case after another (see bench/cases.ts). The numbers in docs/performance.md
// section come from here.
import * as os from 'node:os';
import { writeFileSync } from 'node:fs';
import { tokenCount } from '../lib/model/arch';
import { describeBackend, initBackend, optionsFromEnv, releaseBackend, type BackendInfo } from '../lib/kernels/backend';
import { flags, parseCommandArgs, UsageError } from '../lib/cli/command';
import { CASES, SCALES, type BenchCase, type BenchScale } from './cases';
import type { KernelTime, StepProfile } from './measure';
import { timePathSwitch } from './path-switch';
import { describeReference, referenceOptions, runReference, type ReferenceOptions } from './reference';
import { timeTrainCase } from './train-case';

const HELP = `usage: npm run bench -- [--quick | --full | --smoke] [--json] [--out FILE] [--cases ID,...] [--profile] [--no-reference]

Training-step throughput (images/s of forward + backward + clipping + AdamW, after warm-up, median of timed windows,
one sync per window) and peak memory, on the active backend, and the PyTorch reference (test/reference/glit_torch.py
through bench/torch_bench.py: same architecture, batch and recipe) on the same machine, run after ours.
  --quick          a few steps per case (default; about 2 minutes on a 2-core CPU)
  --full           more and longer windows
  --smoke          tiny batches, one step per window: checks that everything runs (tests, rehearsals); not a measurement
  --json           print one JSON object per case on stdout (progress goes to stderr)
  --out FILE       also write the results, with the run's settings, as one JSON document
  --cases IDS      only these cases (comma-separated): ${CASES.map((c) => c.id).join(', ')}
  --profile        print each case's top kernels (tf.profile) and add them to the JSON
  --no-reference   skip PyTorch (ratio and ref_img_per_s are then null)
Cases:
${CASES.map((c) => `  ${c.id.padEnd(20)} ${c.summary}`).join('\n')}
JSON fields: case, backend, device, img_per_s, ref_img_per_s, ratio (reference over ours: how many times faster
PyTorch is; for path-switch-28 the reference is ours on the same paths held fixed), peak_mem_mb (ours: tf.profile's
peak tensor bytes over one step, weights and optimizer state included), ref_peak_mem_mb (GPU:
torch.cuda.max_memory_allocated; CPU: peak RSS over the RSS before the model was built), reference, batch, image_size,
tokens, scale, window_s, ref_window_s, date; img_per_cpu_s, ref_img_per_cpu_s, cpu_ratio (the same per second of
each process's CPU time: on a shared CPU other processes barely move them; meaningless on a GPU); paths (path-switch-28: G per block of each path); kernels (--profile).
Environment: GLIT_BACKEND, GLIT_WEBGPU_ADAPTER, GLIT_BLAS, GLIT_WASM_THREADS (lib/kernels/backend.ts); GLIT_REFERENCE_PYTHON (default
/usr/bin/python3); GLIT_TORCH_THREADS (PyTorch's threads on a CPU, default 1; OpenBLAS always gets 1). PyTorch runs
without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, on the core its OpenBLAS detects (the reference column names it).`;

interface BenchLine {
  case: string;
  backend: string;
  device: string;
  img_per_s: number;
  ref_img_per_s: number | null;
  ratio: number | null;
  img_per_cpu_s: number;
  ref_img_per_cpu_s: number | null;
  cpu_ratio: number | null;
  peak_mem_mb: number;
  ref_peak_mem_mb: number | null;
  reference: string | null;
  batch: number;
  image_size: number;
  tokens: number;
  scale: BenchScale;
  window_s: number[];
  ref_window_s: number[] | null;
  date: string;
  paths?: string[];
  kernels?: KernelTime[];
}

/** A GPU runs GLiT-Tiny at batch 64; a CPU (webgpu on Mesa included) gets the small plans. */
const onGpu = (info: BackendInfo): boolean =>
  (info.backend === 'webgpu' && optionsFromEnv().webgpuAdapter !== 'opengles') ||
  (info.backend === 'tensorflow' && info.device.includes('CUDA'));

const round = (x: number, digits = 3): number => Number(x.toPrecision(digits));

const TOP_KERNELS = 10;

function kernelTable(profile: StepProfile): string {
  const total = profile.kernels.reduce((s, k) => s + k.ms, 0);
  if (total === 0)
    return `    ${profile.kernelCount} kernel calls; no kernel times (a webgpu adapter without timestamp-query reports none)`;
  return [
    `    ${profile.kernelCount} kernel calls, ${total.toFixed(0)} ms summed kernel time; top ${TOP_KERNELS}:`,
    ...profile.kernels
      .slice(0, TOP_KERNELS)
      .map(
        (k) =>
          `    ${k.name.padEnd(34)} ${k.ms.toFixed(1).padStart(8)} ms ${((k.ms / total) * 100).toFixed(0).padStart(3)}%  x${k.calls}`,
      ),
  ].join('\n');
}

async function runCase(
  c: BenchCase,
  scale: BenchScale,
  info: BackendInfo,
  gpu: boolean,
  reference: ReferenceOptions | null,
): Promise<{ line: BenchLine; profile: StepProfile }> {
  const plan = c.plan[scale][gpu ? 'gpu' : 'cpu'];
  const base = {
    case: c.id,
    backend: info.backend,
    device: info.device,
    batch: plan.batch,
    scale,
    date: new Date().toISOString().slice(0, 10),
  };
  if (c.kind === 'switch') {
    const r = await timePathSwitch(c, plan);
    const line = {
      ...base,
      img_per_s: round(r.switching.imgPerS),
      ref_img_per_s: round(r.fixed.imgPerS),
      ratio: round(r.fixed.imgPerS / r.switching.imgPerS),
      img_per_cpu_s: round(r.switching.imgPerCpuS),
      ref_img_per_cpu_s: round(r.fixed.imgPerCpuS),
      cpu_ratio: round(r.fixed.imgPerCpuS / r.switching.imgPerCpuS),
      peak_mem_mb: round(r.profile.peakMb),
      ref_peak_mem_mb: null,
      reference: 'ours, the same paths held fixed',
      image_size: r.model.imageSize,
      tokens: tokenCount(r.model),
      window_s: r.switching.windowS.map((s) => round(s)),
      ref_window_s: r.fixed.windowS.map((s) => round(s)),
      paths: r.paths,
    };
    return { line, profile: r.profile };
  }
  const ours = await timeTrainCase({ ...c, kind: c.kind }, plan);
  const ref = reference ? runReference(ours.arch, plan, reference) : null;
  const line = {
    ...base,
    img_per_s: round(ours.timing.imgPerS),
    ref_img_per_s: ref && round(ref.img_per_s),
    ratio: ref && round(ref.img_per_s / ours.timing.imgPerS),
    img_per_cpu_s: round(ours.timing.imgPerCpuS),
    ref_img_per_cpu_s: ref && round(ref.img_per_cpu_s),
    cpu_ratio: ref && round(ref.img_per_cpu_s / ours.timing.imgPerCpuS),
    peak_mem_mb: round(ours.profile.peakMb),
    ref_peak_mem_mb: ref && round(ref.peak_mem_mb),
    reference: ref && describeReference(ref),
    image_size: ours.arch.model.imageSize,
    tokens: tokenCount(ours.arch.model),
    window_s: ours.timing.windowS.map((s) => round(s)),
    ref_window_s: ref && ref.window_s.map((s) => round(s)),
  };
  return { line, profile: ours.profile };
}

function table(lines: BenchLine[]): string {
  const rows = [
    ['case', 'batch', 'ours img/s', 'ref img/s', 'ratio', 'cpu ratio', 'ours MB', 'ref MB', 'reference'],
    ...lines.map((l) =>
      [
        l.case,
        l.batch,
        l.img_per_s,
        l.ref_img_per_s ?? '-',
        l.ratio ?? '-',
        l.cpu_ratio ?? '-',
        l.peak_mem_mb,
        l.ref_peak_mem_mb ?? '-',
        l.reference ?? '-',
      ].map(String),
    ),
  ];
  const last = rows[0].length - 1;
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
  return rows
    .map((r) =>
      r
        .map((cell, col) => (col === 0 || col === last ? cell.padEnd(widths[col]) : cell.padStart(widths[col])))
        .join('  '),
    )
    .join('\n');
}

const BENCH_OPTIONS = {
  ...flags(['out', 'cases'], ['quick', 'full', 'smoke', 'json', 'profile', 'no-reference']),
  help: { type: 'boolean', short: 'h' },
} as const;

async function main(argv: string[]): Promise<void> {
  const { values } = parseCommandArgs(argv, BENCH_OPTIONS, false);
  if (values.help) {
    console.log(HELP);
    return;
  }
  const scales = SCALES.filter((s) => values[s]);
  if (scales.length > 1) throw new UsageError(`choose one of --${SCALES.join(', --')}`);
  const scale: BenchScale = scales[0] ?? 'quick';
  const ids = values.cases?.split(',').map((s) => s.trim()) ?? CASES.map((c) => c.id);
  const unknown = ids.filter((id) => !CASES.some((c) => c.id === id));
  if (unknown.length)
    throw new UsageError(`unknown case ${unknown.join(', ')}: use ${CASES.map((c) => c.id).join(', ')}`);
  const cases = CASES.filter((c) => ids.includes(c.id));

  const info = await initBackend();
  const gpu = onGpu(info);
  const reference = values['no-reference'] ? null : referenceOptions(gpu);
  const log = (line: string) => console.error(line);
  log(
    `bench (${scale}): ${describeBackend(info)}; ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(2)}`,
  );
  const lines: BenchLine[] = [];
  for (const c of cases) {
    const started = Date.now();
    const { line, profile } = await runCase(c, scale, info, gpu, reference);
    if (values.profile) line.kernels = profile.kernels.slice(0, TOP_KERNELS).map((k) => ({ ...k, ms: round(k.ms) }));
    lines.push(line);
    log(
      `${c.id}: ours ${line.img_per_s} img/s (batch ${line.batch}, windows ${line.window_s.join(' ')} s), ` +
        `${line.reference ?? 'no reference'}: ${line.ref_img_per_s ?? '-'} img/s, ratio ${line.ratio ?? '-'} (by CPU time ${line.cpu_ratio ?? '-'}), ` +
        `peak ${line.peak_mem_mb} MB (${((Date.now() - started) / 1000).toFixed(0)} s)`,
    );
    if (values.profile) log(kernelTable(profile));
    if (values.json) console.log(JSON.stringify(line));
  }
  if (!values.json) console.log(table(lines));
  if (values.out) {
    const document = {
      command: `npm run bench -- ${argv.join(' ')}`.trim(),
      scale,
      backend: info,
      load_average: os.loadavg(),
      cases: lines,
    };
    writeFileSync(values.out, JSON.stringify(document, null, 2) + '\n');
    log(`wrote ${values.out}`);
  }
}

main(process.argv.slice(2)).then(
  () => {
    releaseBackend();
    process.exit(0); // the wasm runtime and Dawn can keep the event loop alive
  },
  (e) => {
    const message = e instanceof Error ? e.message : String(e);
    // What tfjs-wasm reports when its heap (4 GB at most) cannot hold a step.
    const hint = /memory access out of bounds/.test(message)
      ? ' (the wasm heap is full: a smaller batch, see bench/cases.ts)'
      : '';
    console.error(`bench: ${message}${hint}`);
    if (e instanceof UsageError) console.error(`\n${HELP}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
