/**
 * Checkpoints: a whole train state (params, state, optimizer state, step,
 * key) and the model's configuration, as safetensors bytes, validated on
 * decoding. Files (written atomically) are checkpoint_file.ts, Node-only.
 *
 * Format version 2 carries a CRC-32 of the whole file in its metadata
 * (`checksum`, see checksum.ts): a changed byte anywhere (data, header, its
 * padding, the checksum itself) is refused. Version-1 files, written before
 * the checksum, still load, with every other check. Loading refuses, listing
 * each problem: a file that is not safetensors, another format or an unknown
 * version; tensors missing, extra, or of the wrong shape or dtype for the
 * model; values outside their domain (checkpoint_values.ts: non-finite
 * numbers, negative running variances, second moments or step counts); a
 * step, key or config that does not parse.
 *
 * Decoding (`loadCheckpoint` from a file) reads the 8-byte length, then the header (at most
 * 16 MiB), and validates it, the file's size against its offsets, and its
 * names, shapes and dtypes against the model, before it reads tensor data;
 * then it reads each tensor once, into its own buffer (which becomes the
 * tensor's). A refused header has only the tensors that match the model read
 * (for their values), so a hostile header never costs more reads than the
 * model's own size, whatever the file's size.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { type Either, isLeft, left, right } from 'fp-ts/lib/Either.js';
import { decodeArg, JsonValue } from '../config.ts';
import { ConfigError, listedProblems } from '../errors.ts';
import type { AnyLayer, Shape } from '../layer.ts';
import type { AnyTransformation } from '../optim/base.ts';
import { isKey, type Key, prngKey } from '../random.ts';
import { flattenTree, type Tree, unflattenTree } from '../tree.ts';
import { disposeTrainState, initTrainState, type TrainState } from '../train/step.ts';
import { CHECKSUM_FIELD, checksumAt, checksumOf, locateChecksum, stampChecksum, UNSTAMPED } from './checksum.ts';
import { valueProblem } from './checkpoint_values.ts';
import { decodeHeader, encodeSafetensors, headerLength, type StoredTensor, type TensorInfo } from './safetensors.ts';

const FORMAT = 'tsnn-checkpoint';
const VERSION = '2';
/** Versions this code reads: 1 (no checksum) and 2. */
const LEGACY = '1';
const GROUPS = [['params', 'params'], ['state', 'state'], ['opt', 'optState']] as const;
/** A checkpoint's header: names, shapes and the config; real ones are kilobytes. */
export const MAX_CHECKPOINT_HEADER = 16 * 1024 * 1024;

/**
 * Why a checkpoint could not be loaded: the file, and every problem found
 * (`problems` holds them all; the message lists the first 20).
 *
 * @example
 * ```ts
 * import { CheckpointError } from 'tsnn';
 * const e = new CheckpointError('ck.safetensors', ['params.w: missing']);
 * console.log(e.message); // checkpoint 'ck.safetensors': params.w: missing
 * ```
 */
export class CheckpointError extends Error {
  /** `'CheckpointError'`. */
  override name = 'CheckpointError';
  /**
   * Build the error; its message names the file and lists the first 20 problems.
   *
   * @param file the checkpoint's path (or a name for bytes from elsewhere)
   * @param problems every way the checkpoint does not fit
   */
  constructor(readonly file: string, readonly problems: readonly string[]) {
    const lines = listedProblems(problems);
    super(`checkpoint '${file}': ${lines.length === 1 ? lines[0] : `\n  - ${lines.join('\n  - ')}`}`);
  }
}

/** A loaded checkpoint: the train state, and the configuration saved with it. */
export interface Loaded {
  /** The state, as fresh tensors the caller owns. */
  readonly trainState: TrainState;
  /** The JSON configuration saved with it, parsed; `null` if none was saved. */
  readonly config: unknown;
}

// ---------------------------------------------------------------------------
// Save
// ---------------------------------------------------------------------------

/** `t` as stored, its values given (a backend may hand back its own array, or another dtype's for bool: each is copied as stored). */
const stored = (owner: string, t: tf.Tensor, values: tf.TypedArray): StoredTensor => {
  if (t.dtype === 'float32') return { dtype: 'F32', shape: t.shape, data: Float32Array.from(values as Float32Array) };
  if (t.dtype === 'int32') return { dtype: 'I32', shape: t.shape, data: Int32Array.from(values as Int32Array) };
  if (t.dtype === 'bool') return { dtype: 'U8', shape: t.shape, data: Uint8Array.from(values as Uint8Array) };
  throw new Error(`${owner}: cannot store dtype ${t.dtype}`);
};

/**
 * The checkpoint's bytes: tensors under `params.*`, `state.*`, `opt.*`; step,
 * key, config and the checksum in metadata. Async because the values are
 * read with `data()`, as on WebGPU, where a synchronous read is impossible:
 * all of them in one wait.
 *
 * @example
 * ```ts
 * import { adamW, dense, disposeTrainState, encodeCheckpoint, initTrainState, prngKey } from 'tsnn';
 *
 * const ts = initTrainState(dense({ nf: 2 }), adamW(1e-3), prngKey(0), [3]);
 * const bytes = await encodeCheckpoint(ts, { model: 'tiny' });
 * console.log(bytes instanceof Uint8Array, bytes.length > 0); // true true
 * disposeTrainState(ts);
 * ```
 */
export const encodeCheckpoint = (ts: TrainState, config: unknown = null): Promise<Uint8Array> => encodeCheckpointFor('encodeCheckpoint', ts, config);

/** {@link encodeCheckpoint}, its errors naming `owner` (`saveCheckpoint` for the file writer). */
export const encodeCheckpointFor = async (owner: string, ts: TrainState, config: unknown): Promise<Uint8Array> => {
  decodeArg(`${owner}.config`, JsonValue, config);
  if (!(Number.isSafeInteger(ts.step) && ts.step >= 0)) {
    throw new ConfigError([`${owner}.trainState.step: expected non-negative integer, got ${ts.step}`]);
  }
  const named: [string, tf.Tensor][] = GROUPS.flatMap(([prefix, field]) =>
    flattenTree(ts[field]).map(([path, t]): [string, tf.Tensor] => [path ? `${prefix}.${path}` : prefix, t])
  );
  const values = await Promise.all(named.map(([, t]) => t.data()));
  const tensors = named.map(([name, t], i): [string, StoredTensor] => [name, stored(owner, t, values[i])]);
  // What loading would refuse is never written: an atomic save of it would replace a good file with one that cannot load.
  const bad = tensors.map(([name, st]) => valueProblem(name, st.data, st.dtype === 'F32', false)).filter((p) => p !== undefined);
  if (bad.length) throw new ConfigError(listedProblems(bad.map((p) => `${owner}.trainState: ${p}`)));
  return stampChecksum(encodeSafetensors(tensors, {
    format: FORMAT,
    version: VERSION,
    step: String(ts.step),
    key: JSON.stringify(ts.key),
    config: JSON.stringify(config ?? null),
    [CHECKSUM_FIELD]: UNSTAMPED,
  }));
};

// ---------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------

/** What a checkpoint must match: the model, optimizer and input shape that made it. */
export interface CheckpointTemplate {
  /** The model the checkpoint's params and state must fit. */
  readonly model: AnyLayer;
  /**
   * The optimizer the checkpoint's optimizer state must fit. Without one,
   * the optimizer state is not loaded (its bytes still count in the checksum),
   * and `optState` comes back empty: for inference.
   */
  readonly opt?: AnyTransformation;
  /** The input shape, batch excluded, the model is initialised at. */
  readonly inShape: Shape;
}

/** Bytes to decode from: their count, and fresh (aligned, unshared) copies of any range. */
export interface Source {
  readonly size: number;
  read(pos: number, length: number): Uint8Array;
}

const DTYPES: Record<string, StoredTensor['dtype']> = { float32: 'F32', int32: 'I32', bool: 'U8' };
const CANONICAL_STEP = /^(0|[1-9][0-9]*)$/;

interface Expected {
  readonly shape: readonly number[];
  readonly dtype: StoredTensor['dtype'];
  readonly tfDtype: 'float32' | 'int32' | 'bool';
}

/** Every tensor name, shape and dtype the template's model and optimizer make. */
const expectedOf = (template: CheckpointTemplate): Map<string, Expected> => {
  const expected = new Map<string, Expected>();
  tf.tidy(() => {
    const reference: TrainState = template.opt
      ? initTrainState(template.model, template.opt, prngKey(0), template.inShape)
      : { ...template.model.init(prngKey(0), template.inShape), optState: {}, step: 0, key: prngKey(0) };
    try {
      for (const [prefix, field] of GROUPS) {
        for (const [path, t] of flattenTree(reference[field])) {
          expected.set(path ? `${prefix}.${path}` : prefix, { shape: t.shape, dtype: DTYPES[t.dtype], tfDtype: t.dtype as Expected['tfDtype'] });
        }
      }
    } finally {
      disposeTrainState(reference);
    }
  });
  return expected;
};

const typed = (raw: Uint8Array, dtype: string): StoredTensor['data'] =>
  dtype === 'F32'
    ? new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4)
    : dtype === 'I32'
    ? new Int32Array(raw.buffer, raw.byteOffset, raw.length / 4)
    : raw;

/** Decodes a checkpoint from `src`, reading only what the checks need (see the module doc). */
export const decodeFrom = (file: string, src: Source, template: CheckpointTemplate): Either<CheckpointError, Loaded> => {
  const fail = (problems: readonly string[]) => left(new CheckpointError(file, problems));
  const notSafetensors = (p: readonly string[]) => fail(['not a valid safetensors file', ...p]);
  // 1. The header alone: its length, its JSON, its offsets against the file's size.
  const n = headerLength(src.read(0, Math.min(8, src.size)), src.size, MAX_CHECKPOINT_HEADER);
  if (isLeft(n)) return notSafetensors(n.left.problems);
  const head = src.read(0, 8 + n.right);
  const h = decodeHeader(head.subarray(8), src.size);
  if (isLeft(h)) return notSafetensors(h.left.problems);
  const { metadata, tensors: infos, dataStart } = h.right;
  const show = (v: string | undefined) => (v === undefined ? 'nothing' : JSON.stringify(v));
  if (metadata.format !== FORMAT) return fail([`metadata.format: expected '${FORMAT}', got ${show(metadata.format)} (not a tsnn checkpoint)`]);
  if (metadata.version !== VERSION && metadata.version !== LEGACY) {
    return fail([`metadata.version: expected '${VERSION}' (or '${LEGACY}', written before checksums), got ${show(metadata.version)}`]);
  }
  const problems: string[] = [];
  // 2. The checksum's place; version 2 must have one, a version-1 file that has one is held to it.
  let at: number | undefined;
  if (metadata.version === VERSION || Object.hasOwn(metadata, CHECKSUM_FIELD)) {
    const found = locateChecksum(head);
    if (typeof found === 'string') problems.push(`metadata.${CHECKSUM_FIELD}: ${found} (corrupt file?)`);
    else if (metadata[CHECKSUM_FIELD] !== checksumAt(head, found)) {
      problems.push(`metadata.${CHECKSUM_FIELD}: the field found in the header is not the metadata's (corrupt file?)`);
    } else at = found;
  }
  // 3. Step, key, config.
  const stepText = metadata.step;
  const step = Number(stepText);
  if (stepText === undefined || !CANONICAL_STEP.test(stepText) || !Number.isSafeInteger(step)) {
    problems.push(`metadata.step: expected a non-negative integer in decimal, got ${show(stepText)}`);
  }
  let key: Key | undefined, config: unknown = null;
  try {
    const k = JSON.parse(metadata.key ?? 'null');
    if (isKey(k)) key = k as Key;
    else problems.push(`metadata.key: expected two uint32 words, got ${show(metadata.key)}`);
  } catch {
    problems.push(`metadata.key: expected JSON, got ${show(metadata.key)}`);
  }
  try {
    config = JSON.parse(metadata.config ?? 'null');
  } catch {
    problems.push(`metadata.config: expected JSON, got ${show(metadata.config)}`);
  }
  // 4. The tensors the model expects, by name, shape and dtype. (A template that cannot be
  // initialised, say for a wrong inShape, is the caller's bug, not the file's: that throws.)
  const expected = expectedOf(template);
  const byName = new Map<string, TensorInfo>(infos);
  const matched = new Set<string>();
  for (const [name, e] of expected) {
    const got = byName.get(name);
    if (!got) problems.push(`${name}: missing`);
    else if (got.shape.join() !== e.shape.join()) problems.push(`${name}: expected shape [${e.shape.join(', ')}], got [${got.shape.join(', ')}]`);
    else if (got.dtype !== e.dtype && !(e.dtype === 'U8' && got.dtype === 'BOOL')) problems.push(`${name}: expected dtype ${e.dtype}, got ${got.dtype}`);
    else matched.add(name);
  }
  // Without an optimizer its tensors are read for the checksum alone.
  const unused = (name: string) => template.opt === undefined && (name === 'opt' || name.startsWith('opt.'));
  for (const [name] of infos) if (!expected.has(name) && !unused(name)) problems.push(`${name}: unexpected (not in the model)`);
  // 5. The data, each tensor once, in file order, which the checksum continues over. A file already
  // refused has only its matching tensors read, for their values: never more bytes than the model's own.
  const whole = problems.length === 0;
  const data = new Map<string, StoredTensor>(), summed: Uint8Array[] = [];
  for (const [name, info] of infos) {
    if (!matched.has(name) && !(whole && unused(name))) continue;
    const raw = src.read(dataStart + info.begin, info.end - info.begin);
    summed.push(raw);
    if (!matched.has(name)) continue;
    data.set(name, { dtype: info.dtype === 'BOOL' ? 'U8' : info.dtype as StoredTensor['dtype'], shape: info.shape, data: typed(raw, info.dtype) });
  }
  if (whole && at !== undefined) {
    const sum = checksumOf(head, at, summed);
    if (sum !== metadata[CHECKSUM_FIELD]) {
      problems.push(
        `checksum mismatch: the file says ${metadata[CHECKSUM_FIELD]}, its bytes give ${sum} (the file is corrupt: changed or damaged after it was written)`,
      );
    }
  }
  for (const [name, st] of data) {
    const p = valueProblem(name, st.data, st.dtype === 'F32', expected.get(name)!.tfDtype === 'bool');
    if (p) problems.push(p);
  }
  if (problems.length) return fail(problems);
  // 6. Only now tensors: a refused file allocates none.
  const group = (prefix: string): Tree =>
    unflattenTree(
      [...data].filter(([n]) => n === prefix || n.startsWith(`${prefix}.`)).map(([n, st]) =>
        [n === prefix ? '' : n.slice(prefix.length + 1), tf.tensor(st.data, [...st.shape], expected.get(n)!.tfDtype)] as const
      ),
    ) as Tree;
  return right({
    trainState: { params: group('params'), state: group('state'), optState: group('opt'), step, key: key! },
    config,
  });
};

/** A fresh copy of a range: `slice` would not do, as a Node Buffer's `slice` is a view. */
const copyOf = (bytes: Uint8Array, pos: number, length: number): Uint8Array => {
  const out = new Uint8Array(length);
  out.set(bytes.subarray(pos, pos + length));
  return out;
};

/**
 * Decode checkpoint bytes against a template. Every offending path is reported.
 *
 * @example
 * ```ts
 * import { adamW, decodeCheckpoint, dense, disposeTrainState, encodeCheckpoint, initTrainState, prngKey } from 'tsnn';
 *
 * const model = dense({ nf: 2 }), opt = adamW(1e-3);
 * const ts = initTrainState(model, opt, prngKey(0), [3]);
 * const r = decodeCheckpoint('in memory', await encodeCheckpoint(ts, { lr: 1e-3 }), { model, opt, inShape: [3] });
 * if (r._tag === 'Right') {
 *   console.log(r.right.trainState.step, r.right.config); // 0 { lr: 0.001 }
 *   disposeTrainState(r.right.trainState);
 * }
 * disposeTrainState(ts);
 * ```
 */
export const decodeCheckpoint = (file: string, bytes: Uint8Array, template: CheckpointTemplate): Either<CheckpointError, Loaded> =>
  decodeFrom(file, { size: bytes.length, read: (pos, length) => copyOf(bytes, pos, length) }, template);
