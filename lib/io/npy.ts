// NumPy's .npy format, float32 only: how images reach `glit predict` from Python (np.save(path, x.astype(np.float32))).
//   6 bytes "\x93NUMPY", 2 bytes version (1.0: u16 header length; 2.0 and 3.0: u32), then a Python dict literal
//   {'descr': '<f4', 'fortran_order': False, 'shape': (...), } padded with spaces and '\n', then the raw data.
import { writeFileAtomic } from './atomic-files';
import { readFileChecked } from './read-file';

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

type HeaderValue = string | boolean | number[];
/** A list where descr should be a string: a structured dtype. */
const STRUCTURED = Symbol('structured dtype');

/**
 * The header as numpy's own reader takes it: a dict literal with exactly the keys descr, fortran_order and shape;
 * descr a string (a list means a structured dtype, refused by the caller), fortran_order a bool, shape a tuple of sizes.
 */
function parseHeader(header: string, fail: (why: string) => never): Record<string, HeaderValue | typeof STRUCTURED> {
  let i = 0;
  const space = () => {
    while (i < header.length && ' \t\n\r'.includes(header[i])) i++;
  };
  const expect = (c: string) => {
    space();
    if (header[i] !== c)
      fail(`the header is not a dict literal as numpy writes it (expected '${c}' at character ${i})`);
    i++;
  };
  const string = (): string => {
    space();
    const quote = header[i];
    if (quote !== "'" && quote !== '"') fail(`the header has a key or value that is not a string at character ${i}`);
    const end = header.indexOf(quote, i + 1);
    if (end < 0) fail('the header has an unterminated string');
    const text = header.slice(i + 1, end);
    i = end + 1;
    return text;
  };
  const value = (): HeaderValue | typeof STRUCTURED => {
    space();
    if (header.startsWith('True', i) || header.startsWith('False', i)) {
      const v = header.startsWith('True', i);
      i += v ? 4 : 5;
      return v;
    }
    if (header[i] === '[') return STRUCTURED;
    if (header[i] !== '(') return string();
    i++;
    const sizes: number[] = [];
    for (space(); header[i] !== ')'; space()) {
      const digits = /^\d+/.exec(header.slice(i))?.[0];
      if (!digits) fail(`the shape is not a tuple of sizes (at character ${i})`);
      sizes.push(Number(digits));
      i += digits!.length;
      space();
      if (header[i] === ',') i++;
      else if (header[i] !== ')') fail(`the shape is not a tuple of sizes (at character ${i})`);
    }
    i++;
    return sizes;
  };
  const fields: Record<string, HeaderValue | typeof STRUCTURED> = {};
  expect('{');
  for (space(); header[i] !== '}'; space()) {
    const key = string();
    expect(':');
    const v = value();
    if (v === STRUCTURED) return { ...fields, [key]: v };
    fields[key] = v;
    space();
    if (header[i] === ',') i++;
    else if (header[i] !== '}') fail(`the header is not a dict literal as numpy writes it (at character ${i})`);
  }
  const keys = Object.keys(fields).sort().join(', ');
  if (keys !== 'descr, fortran_order, shape')
    fail(`the header has the keys ${keys || '(none)'}, numpy needs exactly descr, fortran_order, shape`);
  return fields;
}

export function decodeNpy(bytes: Uint8Array, source = 'npy data'): NpyArray {
  const fail = (why: string): never => {
    throw new NpyError(`${source}: ${why}`);
  };
  if (bytes.length < 10 || String.fromCharCode(...bytes.subarray(0, 6)) !== MAGIC)
    fail('not a .npy file (no \\x93NUMPY magic); save the array with numpy.save');
  const [major, minor] = [bytes[6], bytes[7]];
  if (major < 1 || major > 3) fail(`unsupported .npy version ${major}.${minor} (readable: 1.0, 2.0, 3.0)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (dataStart > bytes.length) fail(`truncated: the header claims ${headerLength} bytes but the file ends first`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(8 + lengthBytes, dataStart));

  const fields = parseHeader(header, fail);
  const descr = fields.descr;
  if (typeof descr !== 'string')
    fail(
      `dtype ${descr === STRUCTURED ? '(a structured dtype)' : '(none)'} is not a plain float32 array; save x.astype(np.float32)`,
    );
  const dtype = descr as string;
  if (dtype !== '<f4') {
    const why =
      dtype === '>f4'
        ? 'big-endian float32; save x.astype("<f4")'
        : `dtype '${dtype}', not little-endian float32 '<f4'; save x.astype(np.float32)`;
    fail(why);
  }
  if (fields.fortran_order === true) fail('the array is in Fortran order; save np.ascontiguousarray(x)');
  if (fields.fortran_order !== false) fail('fortran_order is not True or False in the header');
  if (!Array.isArray(fields.shape)) fail('shape is not a tuple of sizes in the header');
  const shape = fields.shape as number[];
  const count = shape.reduce((n, d) => n * d, 1);
  if (bytes.length - dataStart !== count * 4)
    fail(
      `shape (${shape}) needs ${count * 4} data bytes but the file has ${bytes.length - dataStart}: truncated or not written by numpy.save`,
    );
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + 4 * i, true);
  return { shape, data };
}

export function readNpy(path: string): NpyArray {
  return decodeNpy(readFileChecked(path), path);
}

/** Version 1.0, little-endian float32, C order; the header padded so the data starts at a multiple of 64 (as numpy does). */
export function encodeNpy(a: NpyArray): Uint8Array {
  if (a.data.length !== a.shape.reduce((n, d) => n * d, 1))
    throw new NpyError(`${a.data.length} values do not fill shape (${a.shape})`);
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
