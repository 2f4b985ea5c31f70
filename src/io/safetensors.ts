/**
 * The safetensors format (https://github.com/huggingface/safetensors):
 * an 8-byte little-endian header length N, N bytes of JSON header, then one
 * byte buffer that the tensors' `data_offsets` index completely, without holes.
 *
 * @module
 */
import * as t from 'io-ts';
import { type Either, isLeft, left, right } from 'fp-ts/lib/Either.js';
import { formatErrors } from '../config.ts';

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/** The dtypes this library writes and reads. */
export type Dtype = 'F32' | 'I32' | 'U8';

const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

/** One tensor as stored: dtype, shape and its values. */
export interface StoredTensor {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array | Uint8Array;
}

/** A decoded file: named tensors in file order, and the string metadata. */
export interface Safetensors {
  readonly tensors: Map<string, StoredTensor>;
  readonly metadata: Record<string, string>;
}

/**
 * Why a file is not valid safetensors.
 *
 * @example
 * if (isLeft(r)) console.error(r.left.problems);
 */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

const MAX_HEADER = 100_000_000;

const NonNegInt = t.refinement(t.number, (n) => Number.isInteger(n) && n >= 0, 'non-negative integer');
const Entry = t.type({
  dtype: t.keyof(DTYPE_BYTES, 'safetensors dtype'),
  shape: t.array(NonNegInt),
  data_offsets: t.tuple([NonNegInt, NonNegInt]),
});

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error('safetensors: this library needs a little-endian platform');
}

// ---------------------------------------------------------------------------
// Encode
// ---------------------------------------------------------------------------

/**
 * Serialise named tensors and string metadata to safetensors bytes. The
 * header is padded with spaces to a multiple of 8 bytes, as the reference
 * writer does, so the buffer is aligned.
 *
 * @example
 * const bytes = encodeSafetensors([['w', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }]], { step: '3' });
 */
export const encodeSafetensors = (
  tensors: readonly (readonly [string, StoredTensor])[],
  metadata: Record<string, string> = {},
): Uint8Array => {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, st] of tensors) {
    if (name === '__metadata__' || name in header) throw new SafetensorsError([`tensor name '${name}' is reserved or repeated`]);
    const bytes = st.data.byteLength;
    const expected = st.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[st.dtype];
    if (bytes !== expected) throw new SafetensorsError([`tensor '${name}': ${bytes} bytes of data for shape [${st.shape.join(', ')}] ${st.dtype}, expected ${expected}`]);
    header[name] = { dtype: st.dtype, shape: st.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
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
 * Parse and validate safetensors bytes: header length, JSON header, dtypes,
 * shapes against byte sizes, and offsets that cover the buffer exactly.
 *
 * @example
 * const r = decodeSafetensors(bytes); // Either<SafetensorsError, Safetensors>
 */
export const decodeSafetensors = (bytes: Uint8Array): Either<SafetensorsError, Safetensors> => {
  const bad = (...p: string[]) => left(new SafetensorsError(p));
  if (bytes.length < 8) return bad(`file is ${bytes.length} bytes, too short for the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER)) return bad(`header length ${n} exceeds the ${MAX_HEADER}-byte limit (corrupt file?)`);
  const headerLen = Number(n);
  if (8 + headerLen > bytes.length) return bad(`header length ${headerLen} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
    if (!text.startsWith('{')) return bad(`header does not start with '{'`);
    header = JSON.parse(text);
  } catch (e) {
    return bad(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return bad('header is not a JSON object');
  const problems: string[] = [];
  const { __metadata__: meta, ...entries } = header as Record<string, unknown>;
  let metadata: Record<string, string> = {};
  if (meta !== undefined) {
    const m = t.record(t.string, t.string).decode(meta);
    if (isLeft(m)) problems.push(...formatErrors('__metadata__', m.left));
    else metadata = m.right;
  }
  const buffer = bytes.subarray(8 + headerLen);
  const decoded: [string, t.TypeOf<typeof Entry>][] = [];
  for (const [name, value] of Object.entries(entries)) {
    const e = Entry.decode(value);
    if (isLeft(e)) {
      problems.push(...formatErrors(name, e.left));
      continue;
    }
    const [begin, end] = e.right.data_offsets;
    const size = e.right.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[e.right.dtype];
    if (end < begin || end - begin !== size) {
      problems.push(`${name}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, shape [${e.right.shape.join(', ')}] ${e.right.dtype} needs ${size}`);
    }
    decoded.push([name, e.right]);
  }
  // The offsets must tile the buffer: sorted, contiguous, from 0 to its end.
  const sorted = [...decoded].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  let expect = 0;
  for (const [name, e] of sorted) {
    if (e.data_offsets[0] !== expect) problems.push(`${name}: data starts at byte ${e.data_offsets[0]}, expected ${expect} (hole or overlap)`);
    expect = Math.max(expect, e.data_offsets[1]);
  }
  if (expect !== buffer.length) problems.push(`tensors cover ${expect} bytes but the data buffer has ${buffer.length} (truncated or padded file?)`);
  if (problems.length) return left(new SafetensorsError(problems));
  const tensors = new Map<string, StoredTensor>();
  for (const [name, e] of decoded) {
    const [begin, end] = e.data_offsets;
    const raw = buffer.slice(begin, end); // copy: aligned and detached from the file buffer
    const data = e.dtype === 'F32' ? new Float32Array(raw.buffer) : e.dtype === 'I32' ? new Int32Array(raw.buffer) : e.dtype === 'U8' || e.dtype === 'BOOL' ? raw : null;
    if (data === null) {
      problems.push(`${name}: dtype ${e.dtype} is valid safetensors but not supported here (F32, I32, U8, BOOL)`);
      continue;
    }
    tensors.set(name, { dtype: e.dtype === 'BOOL' ? 'U8' : e.dtype as Dtype, shape: e.shape, data });
  }
  return problems.length ? left(new SafetensorsError(problems)) : right({ tensors, metadata });
};
