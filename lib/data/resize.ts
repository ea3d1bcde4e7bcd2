// Decoding image files and resizing images with sharp (libvips). sharp is asynchronous and runs on libuv's thread
// pool: a fixed number of images in flight keeps the pool busy while bounding memory.
import sharp from 'sharp';
import { DataError } from './errors';
import { emptySet, imageBytes, type ImageSet } from './image-set';
import type { ProgressCallback } from '../core/progress';

/** Images decoded or resized at once (libuv runs 4 by default; a few queued keep it busy). */
export const IMAGES_IN_FLIGHT = 8;

/** Runs fn(0) .. fn(count-1) with at most `limit` running at a time; stops starting new ones after the first error. */
export async function forEachLimited(count: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < count) {
      try {
        await fn(next++);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/**
 * Decodes an image file (anything sharp reads: JPEG, PNG, WebP, ...) into `out` as size x size RGB, HWC: turned
 * upright by its EXIF orientation, scaled so the shorter side is `size` and centre-cropped, transparency flattened
 * onto black, grey expanded to RGB.
 */
export async function decodeImageFile(file: string, size: number, out: Uint8Array): Promise<void> {
  let data: Buffer;
  try {
    data = await sharp(file).autoOrient().resize(size, size, { fit: 'cover' }).flatten().toColourspace('srgb').raw().toBuffer();
  } catch (e) {
    throw new DataError(file, `cannot be decoded as an image (${(e as Error).message})`, 'remove or replace the file');
  }
  if (data.length !== out.length) throw new DataError(file, `decoded to ${data.length} bytes, expected ${size}x${size} RGB (${out.length} bytes)`);
  out.set(data);
}

/** The set with every image resized to size x size (stretched: the images of one set share one aspect ratio). */
export async function resizeSet(set: ImageSet, size: number, task: string, onProgress: ProgressCallback): Promise<ImageSet> {
  if (set.height === size && set.width === size) return set;
  const out = emptySet(size, size, set.channels, set.count);
  out.labels.set(set.labels);
  const from = imageBytes(set);
  const to = imageBytes(out);
  let done = 0;
  await forEachLimited(set.count, IMAGES_IN_FLIGHT, async (i) => {
    const raw = { width: set.width, height: set.height, channels: set.channels as 1 | 3 };
    let image = sharp(set.images.subarray(i * from, (i + 1) * from), { raw }).resize(size, size, { fit: 'fill' });
    if (set.channels === 1) image = image.toColourspace('b-w'); // sharp would otherwise return RGB
    out.images.set(await image.raw().toBuffer(), i * to);
    onProgress({ task, done: ++done, total: set.count });
  });
  return out;
}
