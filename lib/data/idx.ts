// The IDX format MNIST ships in: a big-endian header (0, 0, type 0x08 = unsigned byte, number of dimensions, then each
// dimension as a uint32) followed by the bytes. Read for MNIST; written and read for the Fashion-MNIST cache.
import * as fs from 'node:fs';
import { DataError, readDataFile } from './errors';
import { checkLabels, type ImageSet } from './image-set';

const UBYTE = 0x08;

interface Idx {
  dims: number[];
  data: Uint8Array;
}

function readIdx(file: string, allowedDims: number[], what: string): Idx {
  const buf = readDataFile(file);
  if (buf.length < 4) throw new DataError(file, `has ${buf.length} bytes, too few for an IDX header: truncated, or not an IDX file`);
  if (buf[0] !== 0 || buf[1] !== 0 || buf[2] !== UBYTE) {
    throw new DataError(file, `not an IDX file of unsigned bytes: it starts with 0x${buf.subarray(0, 4).toString('hex')}, expected 0x000008 and a dimension count`);
  }
  const ndims = buf[3];
  if (!allowedDims.includes(ndims)) throw new DataError(file, `is an IDX file with ${ndims} dimensions; ${what} need ${allowedDims.join(' or ')}`);
  const start = 4 + 4 * ndims;
  if (buf.length < start) throw new DataError(file, `is truncated inside its header (${buf.length} bytes)`);
  const dims = Array.from({ length: ndims }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  const end = start + dims.reduce((a, b) => a * b, 1);
  if (buf.length < end) {
    throw new DataError(file, `is truncated: its header describes ${dims.join('x')} ${what} (${end} bytes) but the file has ${buf.length} bytes`);
  }
  if (buf.length > end) {
    throw new DataError(file, `has ${buf.length - end} bytes after the ${dims.join('x')} ${what} its header describes: not an IDX file of ${what}`);
  }
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + start, end - start) };
}

/** Images (N x H x W, or N x H x W x C) and their labels (N) from two IDX files; labels must be in 0..numClasses-1. */
export function readIdxSet(imagesFile: string, labelsFile: string, numClasses: number): ImageSet {
  const images = readIdx(imagesFile, [3, 4], 'images');
  const labels = readIdx(labelsFile, [1], 'labels');
  const [count, height, width, channels = 1] = images.dims;
  if (labels.dims[0] !== count) {
    throw new DataError(labelsFile, `has ${labels.dims[0]} labels but ${imagesFile} has ${count} images: the two files do not belong together`);
  }
  const set = { images: images.data, labels: Int32Array.from(labels.data), count, height, width, channels };
  checkLabels(set.labels, numClasses, labelsFile);
  return set;
}

function idxBytes(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = UBYTE;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

/** Writes a set as two IDX files (grey images as N x H x W like MNIST, colour as N x H x W x C). */
export function writeIdxSet(set: ImageSet, imagesFile: string, labelsFile: string): void {
  if (set.labels.some((l) => l < 0 || l > 255)) throw new Error(`writeIdxSet: labels must fit in a byte for ${labelsFile}`);
  const dims = set.channels === 1 ? [set.count, set.height, set.width] : [set.count, set.height, set.width, set.channels];
  fs.writeFileSync(imagesFile, idxBytes(dims, set.images));
  fs.writeFileSync(labelsFile, idxBytes([set.count], Uint8Array.from(set.labels)));
}
