// The safetensors format (github.com/huggingface/safetensors), the interchange format for weights with PyTorch:
//   8 bytes   header length N, unsigned 64-bit little-endian
//   N bytes   JSON: {"__metadata__": {string: string}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}
//             (padded with spaces), offsets relative to the data section that follows
//   the rest  raw little-endian tensor data, C order
// Reads F32, F16, BF16, F64 and I64 (as float32, or exact scalars); writes F32 and I64. Writes are atomic.
import { writeFileAtomic } from './atomic-files';
import { readFileChecked } from './read-file';
import { showValue } from '../core/show-value';

export const READABLE_DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I64'] as const;
export type Dtype = (typeof READABLE_DTYPES)[number];

/** A tensor as stored: its dtype, shape and raw little-endian bytes (a view into the file). */
export interface StoredTensor {
  dtype: Dtype;
  shape: number[];
  bytes: Uint8Array;
}

export interface Safetensors {
  /** In the file's order. */
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

/** A tensor to write: float32 data, or integers (PyTorch's int64, e.g. BatchNorm's num_batches_tracked). */
export interface TensorToWrite {
  dtype: 'F32' | 'I64';
  shape: number[];
  values: ArrayLike<number>;
}

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

const BYTES: Record<Dtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8 };
/** The safetensors reference implementation refuses headers over 100 MB; a larger "length" means another format. */
const MAX_HEADER = 100_000_000;

const elementCount = (shape: number[]): number => shape.reduce((n, d) => n * d, 1);

/** Says what a file that is not safetensors probably is, so the error can point at the conversion. */
function guessFormat(bytes: Uint8Array): string {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b)
    return ' It looks like a PyTorch .pth/.pt file (a zip archive): convert it to safetensors first (see environment.md, "weights").';
  if (bytes[0] === 0x80 && bytes[1] <= 5)
    return ' It looks like a legacy PyTorch pickle: convert it to safetensors first (see environment.md, "weights").';
  if (bytes[0] === 0x93 && String.fromCharCode(...bytes.subarray(1, 6)) === 'NUMPY') return ' It is a NumPy .npy file.';
  return '';
}

/** Parses a whole safetensors file held in memory; `source` names it in errors. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): Safetensors {
  const notSafetensors = (why: string): never => {
    throw new SafetensorsError(`${source} is not a safetensors file: ${why}.${guessFormat(bytes)}`);
  };
  if (bytes.length < 8) notSafetensors(`it has ${bytes.length} bytes, fewer than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) {
    notSafetensors(
      `its first 8 bytes give a header of ${headerLength} bytes, but the file has ${bytes.length - 8} bytes after them`,
    );
  }
  const headerEnd = 8 + Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, headerEnd)));
  } catch (e) {
    notSafetensors(`its header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    notSafetensors('its header is not a JSON object');
  const data = bytes.subarray(headerEnd);
  const bad = (what: string): never => {
    throw new SafetensorsError(`${source}: ${what}`);
  };

  const metadata: Record<string, string> = {};
  const tensors = new Map<string, StoredTensor>();
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) bad('__metadata__ must be an object of strings');
      for (const [key, value] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof value !== 'string') bad(`__metadata__.${key} must be a string, got ${showValue(value)}`);
        metadata[key] = value as string;
      }
      continue;
    }
    const {
      dtype,
      shape,
      data_offsets: offsets,
    } = (entry ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!READABLE_DTYPES.includes(dtype as Dtype))
      bad(`tensor '${name}' has dtype ${showValue(dtype)}; readable dtypes are ${READABLE_DTYPES.join(', ')}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
      bad(`tensor '${name}' has shape ${showValue(shape)}; expected an array of non-negative integers`);
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      bad(`tensor '${name}' has data_offsets ${showValue(offsets)}; expected [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as number[];
    const needed = elementCount(shape as number[]) * BYTES[dtype as Dtype];
    if (end - begin !== needed)
      bad(`tensor '${name}' spans ${end - begin} bytes, but ${dtype} [${shape}] needs ${needed}`);
    if (end > data.length)
      bad(
        `the file is truncated: tensor '${name}' ends at byte ${end} of the data section, which has only ${data.length} bytes; write or download it again`,
      );
    spans.push({ name, begin, end });
    tensors.set(name, { dtype: dtype as Dtype, shape: shape as number[], bytes: data.subarray(begin, end) });
  }
  spans.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i].begin < spans[i - 1].end)
      bad(`tensors '${spans[i - 1].name}' and '${spans[i].name}' overlap in the data section`);
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string): Safetensors {
  return decodeSafetensors(readFileChecked(path), path);
}

/** One element of a stored tensor as a JS number (I64 exact up to 2^53). */
function elementReader(dtype: Dtype): (view: DataView, i: number) => number {
  switch (dtype) {
    case 'F32':
      return (v, i) => v.getFloat32(4 * i, true);
    case 'F64':
      return (v, i) => v.getFloat64(8 * i, true);
    case 'I64':
      return (v, i) => Number(v.getBigInt64(8 * i, true));
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const word = new DataView(new ArrayBuffer(4));
      return (v, i) => {
        word.setUint32(0, v.getUint16(2 * i, true) << 16);
        return word.getFloat32(0);
      };
    }
    case 'F16':
      return (v, i) => {
        const h = v.getUint16(2 * i, true);
        const sign = h & 0x8000 ? -1 : 1;
        const exponent = (h >> 10) & 0x1f;
        const fraction = h & 0x3ff;
        if (exponent === 0) return sign * fraction * 2 ** -24; // subnormal
        if (exponent === 31) return fraction ? NaN : sign * Infinity;
        return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
      };
  }
}

/** The tensor's values converted to float32, in C order. */
export function toFloat32(t: StoredTensor): Float32Array {
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const read = elementReader(t.dtype);
  const out = new Float32Array(elementCount(t.shape));
  for (let i = 0; i < out.length; i++) out[i] = read(view, i);
  return out;
}

/** The value of a one-element tensor, exactly (for counters such as num_batches_tracked). */
export function scalarValue(t: StoredTensor, name: string): number {
  if (elementCount(t.shape) !== 1)
    throw new SafetensorsError(`tensor '${name}' should hold one value but has shape [${t.shape}]`);
  return elementReader(t.dtype)(new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength), 0);
}

/** The file's bytes: header padded with spaces to a multiple of 8 so the data section is aligned, as the reference writer does. */
export function encodeSafetensors(
  tensors: Iterable<[string, TensorToWrite]>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const entries = [...tensors];
  const header: Record<string, unknown> = Object.keys(metadata).length > 0 ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new SafetensorsError("'__metadata__' is reserved and cannot name a tensor");
    const size = elementCount(t.shape) * BYTES[t.dtype];
    if (t.values.length !== elementCount(t.shape))
      throw new SafetensorsError(`tensor '${name}': ${t.values.length} values do not fill shape [${t.shape}]`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [name, t] of entries) {
    for (let i = 0; i < t.values.length; i++) {
      if (t.dtype === 'F32') {
        view.setFloat32(at, t.values[i], true);
        at += 4;
      } else {
        if (!Number.isSafeInteger(t.values[i]))
          throw new SafetensorsError(`tensor '${name}' is I64 but holds ${t.values[i]}, not an integer`);
        view.setBigInt64(at, BigInt(t.values[i]), true);
        at += 8;
      }
    }
  }
  return out;
}

/** Writes atomically (temporary file, then rename): a crash never leaves a half-written checkpoint. */
export function writeSafetensors(
  path: string,
  tensors: Iterable<[string, TensorToWrite]>,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
