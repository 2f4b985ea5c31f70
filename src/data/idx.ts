/**
 * The IDX format of the MNIST family: a magic number (two zero bytes, a type
 * code, the number of dimensions), big-endian uint32 sizes, then the data.
 * Gzipped files are inflated with `node:zlib`, which Deno supports too.
 *
 * @module
 */
import { gunzipSync } from 'node:zlib';
import { type Either, left, right } from 'fp-ts/lib/Either.js';

/** A parsed IDX file: its dimensions and its bytes (type code 0x08, unsigned bytes). */
export interface Idx {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

/**
 * Why a data file could not be read: the file and what was wrong.
 *
 * @example
 * if (isLeft(r)) console.error(r.left.file, r.left.detail);
 */
export class DatasetError extends Error {
  override name = 'DatasetError';
  constructor(readonly file: string, readonly detail: string) {
    super(`${file}: ${detail}`);
  }
}

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/**
 * Parse IDX bytes (gzipped or not). Only unsigned-byte data (type 0x08),
 * which every MNIST-family file uses.
 *
 * @example
 * const r = parseIdx('train-labels-idx1-ubyte.gz', bytes); // Right({ dims: [60000], data })
 */
export const parseIdx = (file: string, raw: Uint8Array, expectedRank?: number): Either<DatasetError, Idx> => {
  let bytes = raw;
  if (isGzip(raw)) {
    try {
      bytes = new Uint8Array(gunzipSync(raw));
    } catch (e) {
      return left(new DatasetError(file, `corrupt or truncated gzip: ${(e as Error).message}`));
    }
  }
  if (bytes.length < 4) return left(new DatasetError(file, `${bytes.length} bytes is too short for an IDX header`));
  const [z0, z1, type, rank] = bytes;
  if (z0 !== 0 || z1 !== 0 || type !== 0x08 || rank < 1) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
    return left(new DatasetError(file, `wrong magic number 0x${magic}: expected 0x0000080${expectedRank ?? 'N'} (unsigned bytes, ${expectedRank ?? 'N'} dimensions)`));
  }
  if (expectedRank !== undefined && rank !== expectedRank) {
    return left(new DatasetError(file, `expected ${expectedRank} dimensions, the header says ${rank}`));
  }
  const headerLen = 4 + 4 * rank;
  if (bytes.length < headerLen) return left(new DatasetError(file, `header needs ${headerLen} bytes, the file has ${bytes.length}`));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerLen;
  if (actual !== size) {
    return left(new DatasetError(file, `header says [${dims.join(', ')}] = ${size} bytes of data, the file has ${actual}`));
  }
  return right({ dims, data: bytes.subarray(headerLen) });
};

/**
 * Encode bytes as IDX (for tests and for writing subsets).
 *
 * @example
 * const bytes = encodeIdx([2, 2], new Uint8Array([1, 2, 3, 4]));
 */
export const encodeIdx = (dims: readonly number[], data: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set([0, 0, 0x08, dims.length]);
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
};
