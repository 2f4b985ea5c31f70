/**
 * Checkpoints: a whole train state (params, state, optimizer state, step,
 * key) and the model's configuration, in one safetensors file, written
 * atomically and validated against the model on load.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { type Either, isLeft, left, right } from 'fp-ts/lib/Either.js';
import type { AnyLayer, Shape } from '../layer.ts';
import type { AnyTransformation } from '../optim/base.ts';
import { isKey, type Key, prngKey } from '../random.ts';
import { flattenTree, type Tree, unflattenTree } from '../tree.ts';
import { disposeTrainState, initTrainState, type TrainState } from '../train/step.ts';
import { decodeSafetensors, encodeSafetensors, type StoredTensor } from './safetensors.ts';

const FORMAT = 'tsnn-checkpoint';
const VERSION = '1';
const GROUPS = [['params', 'params'], ['state', 'state'], ['opt', 'optState']] as const;

/**
 * Why a checkpoint could not be loaded: the file, and every problem found.
 *
 * @example
 * if (isLeft(r)) r.left.problems.forEach((p) => console.error(p));
 */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
  constructor(readonly file: string, readonly problems: readonly string[]) {
    super(`checkpoint '${file}': ${problems.length === 1 ? problems[0] : `\n  - ${problems.join('\n  - ')}`}`);
  }
}

/** A loaded checkpoint: the train state, and the configuration saved with it. */
export interface Loaded {
  readonly trainState: TrainState;
  readonly config: unknown;
}

// ---------------------------------------------------------------------------
// Save
// ---------------------------------------------------------------------------

const stored = (t: tf.Tensor): StoredTensor => {
  if (t.dtype === 'float32') return { dtype: 'F32', shape: t.shape, data: Float32Array.from(t.dataSync() as Float32Array) };
  if (t.dtype === 'int32') return { dtype: 'I32', shape: t.shape, data: Int32Array.from(t.dataSync() as Int32Array) };
  if (t.dtype === 'bool') return { dtype: 'U8', shape: t.shape, data: Uint8Array.from(t.dataSync() as Uint8Array) };
  throw new Error(`saveCheckpoint: cannot store dtype ${t.dtype}`);
};

/**
 * The checkpoint's bytes: tensors under `params.*`, `state.*`, `opt.*`; step, key and config in metadata.
 *
 * @example
 * fs.writeFileSync('ck.safetensors', encodeCheckpoint(ts, { model: 'resnet' }));
 */
export const encodeCheckpoint = (ts: TrainState, config: unknown = null): Uint8Array => {
  const tensors: [string, StoredTensor][] = [];
  for (const [prefix, field] of GROUPS) {
    for (const [path, t] of flattenTree(ts[field])) tensors.push([path ? `${prefix}.${path}` : prefix, stored(t)]);
  }
  return encodeSafetensors(tensors, {
    format: FORMAT,
    version: VERSION,
    step: String(ts.step),
    key: JSON.stringify(ts.key),
    config: JSON.stringify(config ?? null),
  });
};

/**
 * Write `bytes` to `file` atomically: a temporary file in the same folder,
 * flushed to disk, then renamed over the target. A crash mid-save leaves the
 * previous file intact.
 *
 * @example
 * writeFileAtomic('model.safetensors', bytes);
 */
export const writeFileAtomic = (file: string, bytes: Uint8Array): void => {
  const dir = nodePath.dirname(nodePath.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = nodePath.join(dir, `.${nodePath.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, bytes);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  try {
    // Persist the rename itself; not every platform lets a folder be fsynced.
    const dfd = fs.openSync(dir, 'r');
    fs.fsyncSync(dfd);
    fs.closeSync(dfd);
  } catch { /* best effort */ }
};

/**
 * Save a train state and the model's configuration as safetensors, atomically.
 *
 * @example
 * saveCheckpoint('runs/resnet.safetensors', ts, { model: 'resnet', nIn: 1, nClasses: 10 });
 */
export const saveCheckpoint = (file: string, ts: TrainState, config: unknown = null): void =>
  writeFileAtomic(file, encodeCheckpoint(ts, config));

// ---------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------

/** What a checkpoint must match: the model, optimizer and input shape that made it. */
export interface CheckpointTemplate {
  readonly model: AnyLayer;
  readonly opt: AnyTransformation;
  readonly inShape: Shape;
}

const DTYPES: Record<string, StoredTensor['dtype']> = { float32: 'F32', int32: 'I32', bool: 'U8' };

/**
 * Decode checkpoint bytes against a template. Every offending path is reported.
 *
 * @example
 * decodeCheckpoint('ck', bytes, { model, opt, inShape: [28, 28, 1] })
 */
export const decodeCheckpoint = (file: string, bytes: Uint8Array, template: CheckpointTemplate): Either<CheckpointError, Loaded> => {
  const decoded = decodeSafetensors(bytes);
  if (isLeft(decoded)) return left(new CheckpointError(file, ['not a valid safetensors file', ...decoded.left.problems]));
  const { tensors, metadata } = decoded.right;
  const problems: string[] = [];
  if (metadata.format !== FORMAT) problems.push(`metadata.format: expected '${FORMAT}', got ${JSON.stringify(metadata.format)}`);
  const step = Number(metadata.step);
  if (!Number.isInteger(step) || step < 0) problems.push(`metadata.step: expected non-negative integer, got ${JSON.stringify(metadata.step)}`);
  let key: Key | undefined, config: unknown = null;
  try {
    const k = JSON.parse(metadata.key ?? 'null');
    if (isKey(k)) key = k as Key;
    else problems.push(`metadata.key: expected two uint32 words, got ${JSON.stringify(metadata.key)}`);
  } catch {
    problems.push(`metadata.key: expected JSON, got ${JSON.stringify(metadata.key)}`);
  }
  try {
    config = JSON.parse(metadata.config ?? 'null');
  } catch {
    problems.push(`metadata.config: expected JSON, got ${JSON.stringify(metadata.config)}`);
  }
  // The expected structure comes from the model itself.
  const reference = initTrainState(template.model, template.opt, prngKey(0), template.inShape);
  const expected = new Map<string, { shape: number[]; dtype: string }>();
  for (const [prefix, field] of GROUPS) {
    for (const [path, t] of flattenTree(reference[field])) expected.set(path ? `${prefix}.${path}` : prefix, { shape: t.shape, dtype: DTYPES[t.dtype] });
  }
  disposeTrainState(reference);
  for (const [name, e] of expected) {
    const got = tensors.get(name);
    if (!got) problems.push(`${name}: missing`);
    else if (got.shape.join() !== e.shape.join()) problems.push(`${name}: expected shape [${e.shape.join(', ')}], got [${got.shape.join(', ')}]`);
    else if (got.dtype !== e.dtype) problems.push(`${name}: expected dtype ${e.dtype}, got ${got.dtype}`);
  }
  for (const name of tensors.keys()) if (!expected.has(name)) problems.push(`${name}: unexpected (not in the model)`);
  for (const [name, st] of tensors) {
    if (st.dtype === 'F32' && !(st.data as Float32Array).every(Number.isFinite)) problems.push(`${name}: holds non-finite values`);
  }
  if (problems.length) return left(new CheckpointError(file, problems));
  const group = (prefix: string): Tree =>
    unflattenTree([...tensors].filter(([n]) => n === prefix || n.startsWith(`${prefix}.`)).map(([n, st]) =>
      [n === prefix ? '' : n.slice(prefix.length + 1), tf.tensor(st.data, [...st.shape], st.dtype === 'F32' ? 'float32' : st.dtype === 'I32' ? 'int32' : 'bool')] as const
    )) as Tree;
  return right({
    trainState: { params: group('params'), state: group('state'), optState: group('opt'), step, key: key! },
    config,
  });
};

/**
 * Load a checkpoint and validate it against the model: missing, extra,
 * wrongly shaped or typed tensors, and corrupt or truncated files, give a
 * `CheckpointError` listing every problem.
 *
 * @example
 * const r = loadCheckpoint('runs/resnet.safetensors', { model, opt, inShape: [28, 28, 1] });
 * if (isRight(r)) resume(r.right.trainState);
 */
export const loadCheckpoint = (file: string, template: CheckpointTemplate): Either<CheckpointError, Loaded> => {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(fs.readFileSync(file));
  } catch (e) {
    return left(new CheckpointError(file, [`cannot read: ${(e as Error).message}`]));
  }
  return decodeCheckpoint(file, bytes, template);
};

/**
 * {@link loadCheckpoint} for scripts: throws the `CheckpointError`.
 *
 * @example
 * const { trainState } = loadCheckpointOrThrow('best.safetensors', { model, opt, inShape: [28, 28, 1] });
 */
export const loadCheckpointOrThrow = (file: string, template: CheckpointTemplate): Loaded => {
  const r = loadCheckpoint(file, template);
  if (isLeft(r)) throw r.left;
  return r.right;
};
