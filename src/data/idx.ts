/**
 * The IDX format of the MNIST family: a magic number (two zero bytes, a type
 * code, the number of dimensions), big-endian uint32 sizes, then the data.
 * Gzipped files are inflated with `node:zlib`, which Deno supports too, to
 * at most what the gzip trailer declares: a gzip bomb is refused, not inflated.
 *
 * @module
 */
import { gunzipSync } from 'node:zlib';
import { type Either, isLeft, left, right } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { decodeArg, NonNegativeInt, PositiveInt, positiveIntUpTo, showValue } from '../config.ts';
import { ConfigError } from '../errors.ts';

/** A parsed IDX file: its dimensions and its bytes (type code 0x08, unsigned bytes). */
export interface Idx {
  /** The dimensions (`[60000, 28, 28]` for the training images). */
  readonly dims: readonly number[];
  /** The values, row-major: as many bytes as the dimensions multiply to. */
  readonly data: Uint8Array;
}

/**
 * Why a data file could not be read: the file and what was wrong.
 *
 * @example
 * ```ts
 * import { isLeft } from 'fp-ts/lib/Either.js';
 * import { DatasetError, parseIdx } from 'tsnn/node';
 *
 * const r = parseIdx('labels.idx', new Uint8Array([1, 2, 3, 4]));
 * if (isLeft(r)) {
 *   console.log(r.left instanceof DatasetError, r.left.file); // true labels.idx
 *   console.log(r.left.detail); // wrong magic number 0x01020304: expected 0x0000080N (unsigned bytes, N dimensions)
 * }
 * ```
 */
export class DatasetError extends Error {
  /** The class name, shown in stack traces. */
  override name = 'DatasetError';
  /**
   * An error about `file`.
   *
   * @param file The file or folder (or, for a dataset not found, its name).
   * @param detail What was wrong with it; the message is `file: detail`.
   */
  constructor(readonly file: string, readonly detail: string) {
    super(`${file}: ${detail}`);
  }
}

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/**
 * The most bytes one IDX file may hold, inflated: 2^30 (1 GiB). The largest
 * MNIST-family file (EMNIST ByClass training images) holds 0.55 GB.
 *
 * @example
 * ```ts
 * console.log(MAX_IDX_BYTES); // 1073741824
 * ```
 */
export const MAX_IDX_BYTES = 2 ** 30;

const Rank = positiveIntUpTo(255);

/**
 * Inflate a gzip file to at most the size its trailer declares (ISIZE, RFC
 * 1952: the last member's inflated size mod 2^32), itself at most `maxBytes`.
 * zlib checks ISIZE once it has inflated everything, which is too late: a
 * 0.2 MB file of gzip members inflates to 200 MB first. So the trailer is
 * read first, and the inflation stops where it said it would.
 */
const gunzipCapped = (file: string, raw: Uint8Array, maxBytes: number): Either<DatasetError, Uint8Array> => {
  if (raw.length < 18) return left(new DatasetError(file, `corrupt or truncated gzip: ${raw.length} bytes, less than a gzip header and trailer`));
  const declared = new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getUint32(raw.length - 4, true);
  if (declared > maxBytes) {
    return left(
      new DatasetError(
        file,
        `corrupt or truncated gzip, or a gzip bomb: its trailer declares ${declared} inflated bytes, more than the ${maxBytes} an IDX file may hold here; refused before inflating`,
      ),
    );
  }
  try {
    return right(new Uint8Array(gunzipSync(raw, { maxOutputLength: Math.max(1, declared) })));
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      return left(
        new DatasetError(
          file,
          `corrupt or truncated gzip, or a gzip bomb: it inflates past the ${declared} bytes its trailer declares (several gzip members are not supported); refused`,
        ),
      );
    }
    return left(new DatasetError(file, `corrupt or truncated gzip: ${(e as Error).message}`));
  }
};

/**
 * Parse IDX bytes (gzipped or not). Only unsigned-byte data (type 0x08),
 * which every MNIST-family file uses. At most `maxBytes` (default
 * {@link MAX_IDX_BYTES}) are inflated or accepted: a gzip file whose trailer
 * declares more, that inflates past what its trailer declares, or whose
 * header's dimensions multiply to more, is refused before the bytes are
 * allocated.
 *
 * @example
 * ```ts
 * import { gzipSync } from 'node:zlib';
 * import { isLeft, isRight } from 'fp-ts/lib/Either.js';
 * import { encodeIdx, parseIdx } from 'tsnn/node';
 *
 * const r = parseIdx('labels.idx', encodeIdx([3], Uint8Array.from([1, 2, 3])));
 * if (isRight(r)) console.log(r.right.dims, r.right.data); // [ 3 ] Uint8Array(3) [ 1, 2, 3 ]
 * // At most maxBytes (here 1000) are inflated: bigger files are a Left, refused before inflating.
 * const big = gzipSync(encodeIdx([2000], new Uint8Array(2000)));
 * const l = parseIdx('big.idx.gz', big, 1, 1000);
 * if (isLeft(l)) console.log(l.left.detail.startsWith('corrupt or truncated gzip, or a gzip bomb')); // true
 * ```
 */
export const parseIdx = (file: string, raw: Uint8Array, expectedRank?: number, maxBytes = MAX_IDX_BYTES): Either<DatasetError, Idx> => {
  if (expectedRank !== undefined) decodeArg('parseIdx.expectedRank', Rank, expectedRank);
  decodeArg('parseIdx.maxBytes', PositiveInt, maxBytes);
  let bytes = raw;
  if (isGzip(raw)) {
    const inflated = gunzipCapped(file, raw, maxBytes);
    if (isLeft(inflated)) return inflated;
    bytes = inflated.right;
  } else if (raw.length > maxBytes) {
    return left(new DatasetError(file, `${raw.length} bytes, more than the ${maxBytes} an IDX file may hold here`));
  }
  if (bytes.length < 4) return left(new DatasetError(file, `${bytes.length} bytes is too short for an IDX header`));
  const [z0, z1, type, rank] = bytes;
  if (z0 !== 0 || z1 !== 0 || type !== 0x08 || rank < 1) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
    return left(
      new DatasetError(file, `wrong magic number 0x${magic}: expected 0x0000080${expectedRank ?? 'N'} (unsigned bytes, ${expectedRank ?? 'N'} dimensions)`),
    );
  }
  if (expectedRank !== undefined && rank !== expectedRank) {
    return left(new DatasetError(file, `expected ${expectedRank} dimensions, the header says ${rank}`));
  }
  const headerLen = 4 + 4 * rank;
  if (bytes.length < headerLen) return left(new DatasetError(file, `header needs ${headerLen} bytes, the file has ${bytes.length}`));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  if (size > maxBytes - headerLen) {
    return left(new DatasetError(file, `header says [${dims.join(', ')}] = ${size} bytes of data, more than the ${maxBytes} an IDX file may hold here`));
  }
  const actual = bytes.length - headerLen;
  if (actual !== size) {
    return left(new DatasetError(file, `header says [${dims.join(', ')}] = ${size} bytes of data, the file has ${actual}`));
  }
  return right({ dims, data: bytes.subarray(headerLen) });
};

/** An IDX dimension: a uint32. */
const Dim = t.refinement(NonNegativeInt, (n) => n <= 0xffffffff, 'integer in 0..2^32-1');

/**
 * Encode bytes as IDX (for tests and for writing subsets). The dimensions
 * (1 to 255 of them, each a uint32) must multiply to `data.length`.
 *
 * @example
 * ```ts
 * import { encodeIdx } from 'tsnn/node';
 *
 * const bytes = encodeIdx([2, 2], new Uint8Array([1, 2, 3, 4]));
 * console.log(bytes.length); // 16
 * try {
 *   encodeIdx([2, 3], new Uint8Array(4));
 * } catch (e) {
 *   console.log((e as Error).message); // encodeIdx.dims: expected dimensions multiplying to the 4 data bytes, got [2, 3]
 * }
 * ```
 */
export const encodeIdx = (dims: readonly number[], data: Uint8Array): Uint8Array => {
  decodeArg(
    'encodeIdx.dims',
    t.refinement(t.readonlyArray(Dim, 'uint32 dimensions'), (d) => d.length >= 1 && d.length <= 255, '1 to 255 uint32 dimensions'),
    dims,
  );
  if (!(data instanceof Uint8Array)) throw new ConfigError([`encodeIdx.data: expected a Uint8Array, got ${showValue(data)}`]);
  if (dims.reduce((a, b) => a * b, 1) !== data.length) {
    throw new ConfigError([`encodeIdx.dims: expected dimensions multiplying to the ${data.length} data bytes, got ${showValue(dims)}`]);
  }
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set([0, 0, 0x08, dims.length]);
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
};
