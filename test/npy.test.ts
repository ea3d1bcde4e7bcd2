// .npy files: what numpy writes reads here (versions 1.0 and 2.0), what we write numpy reads, and every other kind of
// array is refused saying what to do.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { decodeNpy, encodeNpy, NpyError, readNpy, writeNpy } from '../lib/io/npy';
import { tempFolder } from './helpers';

const PYTHON = process.env.GLIT_REFERENCE_PYTHON ?? '/usr/bin/python3';
const temp = tempFolder('glit-npy-');

function python(code: string): void {
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${PYTHON} with numpy is needed (npm run setup installs it): ${r.stderr ?? r.error}`);
}

/** A .npy file with the given header dict and data, built by hand. */
function npyWithHeader(header: string, data: Uint8Array, version = 1): Uint8Array {
  const text = Buffer.from(header + '\n');
  const lengthBytes = version === 1 ? 2 : 4;
  const out = new Uint8Array(8 + lengthBytes + text.length + data.length);
  out.set(Buffer.from('\x93NUMPY', 'latin1'));
  out[6] = version;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  out.set(text, 8 + lengthBytes);
  out.set(data, 8 + lengthBytes + text.length);
  return out;
}

test('round trip, with the data 64-byte aligned as numpy writes it', () => {
  for (const shape of [[2, 3, 4, 5], [7], []]) {
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i / 3 - 1);
    const bytes = encodeNpy({ shape, data });
    assert.equal((10 + new DataView(bytes.buffer).getUint16(8, true)) % 64, 0);
    assert.deepEqual(decodeNpy(bytes), { shape, data });
  }
});

test("numpy reads ours, and we read numpy's versions 1.0 and 2.0", () => {
  const ours = temp('ours.npy');
  writeNpy(ours, { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) });
  python(
    `import numpy as np; a = np.load(${JSON.stringify(ours)}); assert a.dtype == np.float32 and a.shape == (2, 3) and a[1, 2] == 6.5, a`,
  );
  const v1 = temp('v1.npy');
  const v2 = temp('v2.npy');
  python(
    `import numpy as np; a = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 8; np.save(${JSON.stringify(v1)}, a)\n` +
      `with open(${JSON.stringify(v2)}, 'wb') as f: np.lib.format.write_array(f, a, version=(2, 0))`,
  );
  const expected = { shape: [2, 3, 4], data: Float32Array.from({ length: 24 }, (_, i) => i / 8) };
  assert.deepEqual(readNpy(v1), expected);
  assert.deepEqual(readNpy(v2), expected);
});

test('other dtypes, byte order, Fortran order, truncation and non-npy files are refused with what to do', () => {
  const f4 = new Uint8Array(8);
  const cases: [string, Uint8Array, RegExp][] = [
    [
      'magic',
      Buffer.from('not an array at all'),
      /not a \.npy file \(no \\x93NUMPY magic\); save the array with numpy\.save/,
    ],
    [
      'float64',
      npyWithHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)),
      /dtype '<f8', not little-endian float32 '<f4'; save x\.astype\(np\.float32\)/,
    ],
    [
      'uint8',
      npyWithHeader("{'descr': '|u1', 'fortran_order': False, 'shape': (8,), }", new Uint8Array(8)),
      /dtype '\|u1'/,
    ],
    [
      'big-endian',
      npyWithHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", f4),
      /big-endian float32; save x\.astype\("<f4"\)/,
    ],
    [
      'structured',
      npyWithHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", f4),
      /is not a plain float32 array/,
    ],
    [
      'fortran',
      npyWithHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }", f4),
      /Fortran order; save np\.ascontiguousarray\(x\)/,
    ],
    [
      'truncated',
      npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f4),
      /shape \(3\) needs 12 data bytes but the file has 8/,
    ],
    [
      'version',
      npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f4, 9),
      /unsupported \.npy version 9\.0/,
    ],
  ];
  for (const [name, bytes, message] of cases) {
    const file = temp(`${name}.npy`);
    writeFileSync(file, bytes);
    assert.throws(
      () => readNpy(file),
      (e: Error) => {
        assert.ok(e instanceof NpyError, `${name}: ${e}`);
        assert.match(e.message, message, name);
        assert.ok(e.message.startsWith(file), `${name}: the error names the file`);
        return true;
      },
    );
  }
});

test('headers numpy refuses are refused here too: missing or extra keys, a shape that is not a tuple of sizes', () => {
  const f4 = new Uint8Array(8);
  const cases: [string, string, RegExp][] = [
    ['extra-key', "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }", /not a string|keys/],
    [
      'missing-key',
      "{'descr': '<f4', 'shape': (2,), }",
      /the header has the keys descr, shape, numpy needs exactly descr, fortran_order, shape/,
    ],
    ['words', "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 'a'), }", /the shape is not a tuple of sizes/],
    ['list-shape', "{'descr': '<f4', 'fortran_order': False, 'shape': 2, }", /not a string|shape is not a tuple/],
    ['not-a-dict', "descr: '<f4', fortran_order: False, shape: (2,)", /not a dict literal/],
    [
      'fortran-not-bool',
      "{'descr': '<f4', 'fortran_order': 'no', 'shape': (2,), }",
      /fortran_order is not True or False/,
    ],
  ];
  for (const [name, header, message] of cases) {
    const file = temp(`bad-${name}.npy`);
    writeFileSync(file, npyWithHeader(header, f4));
    assert.throws(
      () => readNpy(file),
      (e: Error) => e instanceof NpyError && message.test(e.message) && e.message.startsWith(file),
      name,
    );
    // numpy itself refuses the same file
    const r = spawnSync(PYTHON, [
      '-c',
      `import numpy as np\ntry:\n  np.load(${JSON.stringify(file)})\nexcept Exception:\n  raise SystemExit(3)`,
    ]);
    assert.equal(r.status, 3, `numpy should refuse ${name} too`);
  }
  // numpy's reader lets a negative size through; an array cannot have one.
  const file = temp('bad-negative.npy');
  writeFileSync(file, npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", f4));
  assert.throws(() => readNpy(file), /the shape is not a tuple of sizes/);
});

test('a folder or a missing file given as the input says so', () => {
  const dir = temp();
  assert.throws(
    () => readNpy(dir),
    new RegExp(`^Error: ${dir.replace(/[/.]/g, '\\$&')}: is a folder, expected a file|${dir}: is a folder`),
  );
  assert.throws(() => readNpy(temp('none.npy')), /none\.npy: not found/);
});
