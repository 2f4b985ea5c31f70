/**
 * The safetensors format (https://github.com/huggingface/safetensors):
 * an 8-byte little-endian header length N, N bytes of JSON header, then one
 * byte buffer that the tensors' `data_offsets` index completely, without holes.
 *
 * The reader accepts what the reference implementation (`Metadata::validate`
 * in safetensors/src/tensor.rs) accepts: entries in any order, sorted on
 * (start, end) so that zero-size tensors may share an offset with the next
 * one; JSON whitespace before `{` and after `}`; `__metadata__` absent or
 * null; every reference dtype. It refuses what the reference refuses:
 * headers over 100 MB or past the end of the file, invalid UTF-8 or JSON,
 * holes, overlaps, sizes that disagree with shape and dtype, arithmetic
 * overflow, sub-byte tensors that do not end on a byte, bytes after the
 * last tensor.
 *
 * The header can be read alone ({@link headerLength}, {@link decodeHeader}),
 * so that a file's structure is checked against its size before any tensor
 * data is read.
 *
 * @module
 */
import * as t from 'io-ts';
import { type Either, isLeft, left, right } from 'fp-ts/lib/Either.js';
import { formatErrors } from '../config.ts';
import { listedProblems } from '../errors.ts';

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/** The dtypes this library writes and reads. */
export type Dtype = 'F32' | 'I32' | 'U8';

/** Bits per element of every dtype the reference implementation knows. */
const DTYPE_BITS = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  F64: 64,
  I64: 64,
  U64: 64,
  C64: 64,
} as const;

/** Any dtype a valid safetensors file may declare. */
export type SafetensorsDtype = keyof typeof DTYPE_BITS;

/** One tensor as stored: dtype, shape and its values. */
export interface StoredTensor {
  /** The element type, one of those tsnn reads and writes. */
  readonly dtype: Dtype;
  /** The dimensions; `[]` for a scalar. */
  readonly shape: readonly number[];
  /** The values, row-major, in the array type of `dtype`. */
  readonly data: Float32Array | Int32Array | Uint8Array;
}

/** A decoded file: named tensors in file order, and the string metadata. */
export interface Safetensors {
  /** The tensors by name, in file order. */
  readonly tensors: Map<string, StoredTensor>;
  /** The header's `__metadata__`: string keys and values. */
  readonly metadata: Record<string, string>;
}

/** One header entry, validated; `begin` and `end` index the data buffer. */
export interface TensorInfo {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

/** A validated header: where the data buffer starts, the metadata, and the entries in file order. */
export interface SafetensorsHeader {
  readonly dataStart: number;
  readonly metadata: Record<string, string>;
  readonly tensors: readonly (readonly [string, TensorInfo])[];
}

/**
 * Why a file is not valid safetensors. `problems` holds them all; the
 * message lists the first 20.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, SafetensorsError } from 'tsnn';
 * const r = decodeSafetensors(new Uint8Array(3));
 * if (r._tag === 'Left') console.log(r.left instanceof SafetensorsError, r.left.problems);
 * // true [ "file is 3 bytes, too short for the 8-byte header length" ]
 * ```
 */
export class SafetensorsError extends Error {
  /** `'SafetensorsError'`. */
  override name = 'SafetensorsError';
  /**
   * Build the error; its message lists the first 20 problems.
   *
   * @param problems every reason the bytes are not valid safetensors
   */
  constructor(readonly problems: readonly string[]) {
    super(listedProblems(problems).join('; '));
  }
}

/** The reference implementation's bound on the header (`MAX_HEADER_SIZE`). */
export const MAX_HEADER = 100_000_000;

// Dims are u64 in the reference (JSON numbers are doubles here: u64::MAX - 1 reads as 2^64, whose
// products then overflow); offsets must be exact to index a real file.
const Dim = t.refinement(t.number, (n) => Number.isInteger(n) && n >= 0 && n <= 2 ** 64, 'non-negative integer');
const isOffset = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
const isOffsets = (u: unknown): u is [number, number] => Array.isArray(u) && u.length === 2 && isOffset(u[0]) && isOffset(u[1]);
const Entry = t.type({
  dtype: t.keyof(DTYPE_BITS, 'safetensors dtype'),
  shape: t.array(Dim),
  // Not t.tuple, which drops extra items; the reference refuses them.
  data_offsets: new t.Type<[number, number]>('[begin, end]', isOffsets, (u, c) => (isOffsets(u) ? t.success(u) : t.failure(u, c)), t.identity),
});

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error('safetensors: this library needs a little-endian platform');
}

// ---------------------------------------------------------------------------
// Encode
// ---------------------------------------------------------------------------

/**
 * Serialise named tensors and string metadata to safetensors bytes, in the
 * order given. The header is padded with spaces to a multiple of 8 bytes, as
 * the reference writer does, so the buffer is aligned.
 *
 * @example
 * ```ts
 * import { encodeSafetensors } from 'tsnn';
 * const bytes = encodeSafetensors([['w', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }]], { step: '3' });
 * console.log(bytes.length); // 104
 * ```
 */
export const encodeSafetensors = (
  tensors: readonly (readonly [string, StoredTensor])[],
  metadata: Record<string, string> = {},
): Uint8Array => {
  // The JSON is assembled by hand: an object would move integer-like names first.
  const parts: string[] = [];
  if (Object.keys(metadata).length) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  const seen = new Set<string>();
  let offset = 0;
  for (const [name, st] of tensors) {
    if (name === '__metadata__' || seen.has(name)) throw new SafetensorsError([`tensor name '${name}' is reserved or repeated`]);
    seen.add(name);
    const bytes = st.data.byteLength;
    const expected = st.shape.reduce((a, b) => a * b, 1) * DTYPE_BITS[st.dtype] / 8;
    if (bytes !== expected) {
      throw new SafetensorsError([`tensor '${name}': ${bytes} bytes of data for shape [${st.shape.join(', ')}] ${st.dtype}, expected ${expected}`]);
    }
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: st.dtype, shape: st.shape, data_offsets: [offset, offset + bytes] })}`);
    offset += bytes;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const n = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + n + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  let pos = 8 + n;
  for (const [, st] of tensors) {
    out.set(new Uint8Array(st.data.buffer, st.data.byteOffset, st.data.byteLength), pos);
    pos += st.data.byteLength;
  }
  return out;
};

// ---------------------------------------------------------------------------
// Decode
// ---------------------------------------------------------------------------

/**
 * The header length N from a file's first 8 bytes, checked against
 * `maxHeader` and the file's size.
 *
 * @example
 * ```ts
 * import { headerLength } from './safetensors.ts';
 * console.log(headerLength(new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0]), 16)); // { _tag: "Right", right: 8 }
 * ```
 */
export const headerLength = (prefix: Uint8Array, fileSize: number, maxHeader = MAX_HEADER): Either<SafetensorsError, number> => {
  const bad = (p: string) => left(new SafetensorsError([p]));
  if (prefix.length < 8 || fileSize < 8) return bad(`file is ${fileSize} bytes, too short for the 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(maxHeader)) return bad(`header length ${n} exceeds the ${maxHeader}-byte limit (corrupt file?)`);
  if (8 + Number(n) > fileSize) return bad(`header length ${n} runs past the end of the ${fileSize}-byte file (truncated?)`);
  return right(Number(n));
};

/** Bytes of one entry, or why it has none: a sub-byte total, or a count past 2^53. */
const byteSize = (e: t.TypeOf<typeof Entry>): number | string => {
  const elements = e.shape.includes(0) ? 0 : e.shape.reduce((a, b) => a * b, 1);
  const bits = elements * DTYPE_BITS[e.dtype];
  if (!Number.isSafeInteger(bits)) return `shape [${e.shape.join(', ')}] ${e.dtype} overflows`;
  if (bits % 8) return `shape [${e.shape.join(', ')}] ${e.dtype} is ${bits} bits, not a whole number of bytes`;
  return bits / 8;
};

/**
 * Parse and validate the N header bytes of a file of `fileSize` bytes: JSON
 * object, metadata, entries, and offsets that tile the rest of the file
 * exactly. No tensor data is needed.
 *
 * @example
 * ```ts
 * import { decodeHeader } from './safetensors.ts';
 * console.log(decodeHeader(new TextEncoder().encode('{}      '), 16)); // { _tag: "Right", right: { dataStart: 16, metadata: {}, tensors: [] } }
 * ```
 */
export const decodeHeader = (json: Uint8Array, fileSize: number): Either<SafetensorsError, SafetensorsHeader> => {
  const bad = (p: string) => left(new SafetensorsError([p]));
  let header: unknown;
  try {
    // ignoreBOM keeps a byte-order mark, which the reference refuses as JSON too.
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(json);
    if (text.charCodeAt(text.search(/[^ \t\n\r]/)) !== 0x7b) return bad(`header does not start with '{'`);
    header = JSON.parse(text);
  } catch (e) {
    return bad(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  const problems: string[] = [];
  const { __metadata__: meta, ...entries } = header as Record<string, unknown>;
  let metadata: Record<string, string> = {};
  if (meta !== undefined && meta !== null) {
    const m = t.record(t.string, t.string).decode(meta);
    if (isLeft(m)) problems.push(...formatErrors('__metadata__', m.left));
    else metadata = m.right;
  }
  const decoded: [string, TensorInfo][] = [];
  for (const [name, value] of Object.entries(entries)) {
    const e = Entry.decode(value);
    if (isLeft(e)) {
      problems.push(...formatErrors(name, e.left));
      continue;
    }
    const [begin, end] = e.right.data_offsets;
    const size = byteSize(e.right);
    if (typeof size === 'string') problems.push(`${name}: ${size}`);
    else if (end < begin || end - begin !== size) {
      problems.push(`${name}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, shape [${e.right.shape.join(', ')}] ${e.right.dtype} needs ${size}`);
    }
    decoded.push([name, { dtype: e.right.dtype, shape: e.right.shape, begin, end }]);
  }
  // As the reference: sorted on (start, end), the offsets must tile the buffer from 0 to its end.
  decoded.sort(([, a], [, b]) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const [name, e] of decoded) {
    if (e.begin !== covered) problems.push(`${name}: data starts at byte ${e.begin}, expected ${covered} (hole or overlap)`);
    covered = Math.max(covered, e.end);
  }
  const dataStart = 8 + json.length, buffer = fileSize - dataStart;
  if (covered !== buffer) problems.push(`tensors cover ${covered} bytes but the data buffer has ${buffer} (truncated or padded file?)`);
  return problems.length ? left(new SafetensorsError(problems)) : right({ dataStart, metadata, tensors: decoded });
};

/**
 * Parse and validate safetensors bytes: header length, JSON header, dtypes,
 * shapes against byte sizes, and offsets that cover the buffer exactly. Each
 * tensor's values are copied out (aligned, detached from `bytes`).
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from 'tsnn';
 * const r = decodeSafetensors(encodeSafetensors([['w', { dtype: 'I32', shape: [1], data: new Int32Array([7]) }]]));
 * if (r._tag === 'Right') console.log(r.right.tensors.get('w')); // { dtype: "I32", shape: [ 1 ], data: Int32Array(1) [ 7 ] }
 * ```
 */
export const decodeSafetensors = (bytes: Uint8Array, maxHeader = MAX_HEADER): Either<SafetensorsError, Safetensors> => {
  const n = headerLength(bytes, bytes.length, maxHeader);
  if (isLeft(n)) return n;
  const h = decodeHeader(bytes.subarray(8, 8 + n.right), bytes.length);
  if (isLeft(h)) return h;
  const problems: string[] = [];
  const tensors = new Map<string, StoredTensor>();
  for (const [name, e] of h.right.tensors) {
    // A copy, aligned and detached (a Node Buffer's `slice` would be a view).
    const raw = new Uint8Array(e.end - e.begin);
    raw.set(bytes.subarray(h.right.dataStart + e.begin, h.right.dataStart + e.end));
    const data = e.dtype === 'F32'
      ? new Float32Array(raw.buffer)
      : e.dtype === 'I32'
      ? new Int32Array(raw.buffer)
      : e.dtype === 'U8' || e.dtype === 'BOOL'
      ? raw
      : null;
    if (data === null) problems.push(`${name}: dtype ${e.dtype} is valid safetensors but not supported here (F32, I32, U8, BOOL)`);
    else tensors.set(name, { dtype: e.dtype === 'BOOL' ? 'U8' : e.dtype as Dtype, shape: e.shape, data });
  }
  return problems.length ? left(new SafetensorsError(problems)) : right({ tensors, metadata: h.right.metadata });
};
