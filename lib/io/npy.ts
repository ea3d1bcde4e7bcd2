// NumPy's .npy format, float32 only: how images reach `glit predict` from Python (np.save(path, x.astype(np.float32))).
//   6 bytes "\x93NUMPY", 2 bytes version (1.0: u16 header length; 2.0 and 3.0: u32), then a Python dict literal
//   {'descr': '<f4', 'fortran_order': False, 'shape': (...), } padded with spaces and '\n', then the raw data.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic-files';

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

export class NpyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NpyError';
  }
}

const MAGIC = '\x93NUMPY';

/** Field `key` of the header dict, as the raw literal text. */
function headerField(header: string, key: string): string | undefined {
  return new RegExp(`['"]${key}['"]\\s*:\\s*('[^']*'|"[^"]*"|\\([^)]*\\)|\\[[^\\]]*\\]|True|False)`).exec(header)?.[1];
}

export function decodeNpy(bytes: Uint8Array, source = 'npy data'): NpyArray {
  const fail = (why: string): never => {
    throw new NpyError(`${source}: ${why}`);
  };
  if (bytes.length < 10 || String.fromCharCode(...bytes.subarray(0, 6)) !== MAGIC) fail('not a .npy file (no \\x93NUMPY magic); save the array with numpy.save');
  const [major, minor] = [bytes[6], bytes[7]];
  if (major < 1 || major > 3) fail(`unsupported .npy version ${major}.${minor} (readable: 1.0, 2.0, 3.0)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (dataStart > bytes.length) fail(`truncated: the header claims ${headerLength} bytes but the file ends first`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(8 + lengthBytes, dataStart));

  const descr = headerField(header, 'descr');
  if (!descr || descr.startsWith('[')) fail(`dtype ${descr ?? '(none)'} is not a plain float32 array; save x.astype(np.float32)`);
  const dtype = descr!.slice(1, -1);
  if (dtype !== '<f4') {
    const why = dtype === '>f4' ? 'big-endian float32; save x.astype("<f4")' : `dtype '${dtype}', not little-endian float32 '<f4'; save x.astype(np.float32)`;
    fail(why);
  }
  if (headerField(header, 'fortran_order') !== 'False') fail('the array is in Fortran order; save np.ascontiguousarray(x)');
  const shapeText = headerField(header, 'shape');
  if (!shapeText?.startsWith('(')) fail(`no shape in the header ${JSON.stringify(header.trim())}`);
  const shape = shapeText!
    .slice(1, -1)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`shape ${shapeText} is not a tuple of sizes`);
  const count = shape.reduce((n, d) => n * d, 1);
  if (bytes.length - dataStart !== count * 4) fail(`shape (${shape}) needs ${count * 4} data bytes but the file has ${bytes.length - dataStart}: truncated or not written by numpy.save`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + 4 * i, true);
  return { shape, data };
}

export function readNpy(path: string): NpyArray {
  return decodeNpy(readFileSync(path), path);
}

/** Version 1.0, little-endian float32, C order; the header padded so the data starts at a multiple of 64 (as numpy does). */
export function encodeNpy(a: NpyArray): Uint8Array {
  if (a.data.length !== a.shape.reduce((n, d) => n * d, 1)) throw new NpyError(`${a.data.length} values do not fill shape (${a.shape})`);
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + a.data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 6; i++) out[i] = MAGIC.charCodeAt(i);
  out[6] = 1;
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  a.data.forEach((v, i) => view.setFloat32(10 + header.length + 4 * i, v, true));
  return out;
}

export function writeNpy(path: string, a: NpyArray): void {
  writeFileAtomic(path, encodeNpy(a));
}
