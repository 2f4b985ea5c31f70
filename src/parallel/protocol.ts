/**
 * Messages between the training loop and its gradient workers.
 *
 * @module
 */

/** How a worker rebuilds the model: an ES module, the export to call, and its arguments. */
export interface ModelSpec {
  /** URL (or absolute path) of the module, e.g. `new URL('../mod.ts', import.meta.url).href`. */
  readonly module: string;
  /** The factory to call, e.g. `'resNet2'`. */
  readonly export: string;
  /** Its arguments; must survive structured cloning. */
  readonly args: readonly unknown[];
}

import * as tf from '@tensorflow/tfjs';
import { flattenTree, type Tree, unflattenTree } from '../tree.ts';

/**
 * A tree's tensors as they cross threads: one flat buffer (so it can be
 * transferred, not copied) and, in order, each leaf's dotted path and shape.
 */
export interface Packed {
  readonly layout: readonly (readonly [string, readonly number[]])[];
  readonly data: Float32Array;
}

/**
 * Copy a tree's tensors into one flat buffer, ready to transfer.
 *
 * @example
 * const p = packTree(grads);
 * port.postMessage({ grads: p }, [p.data.buffer]);
 */
export const packTree = (t: Tree): Packed => {
  const pairs = flattenTree(t);
  const data = new Float32Array(pairs.reduce((n, [, x]) => n + x.size, 0));
  let at = 0;
  for (const [, x] of pairs) {
    data.set(x.dataSync() as Float32Array, at);
    at += x.size;
  }
  return { layout: pairs.map(([p, x]) => [p, x.shape] as const), data };
};

/**
 * The leaves of a packed tree as views into its buffer, in order.
 *
 * @example
 * for (const [path, shape, values] of packedLeaves(p)) console.log(path, shape, values.length);
 */
export const packedLeaves = (p: Packed): (readonly [string, readonly number[], Float32Array])[] => {
  let at = 0;
  return p.layout.map(([path, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const view = p.data.subarray(at, at + size);
    at += size;
    return [path, shape, view] as const;
  });
};

/**
 * Rebuild a tree of tensors from {@link packTree}'s output.
 *
 * @example
 * const params = unpackTree(message.params);
 */
export const unpackTree = (p: Packed): Tree =>
  unflattenTree(packedLeaves(p).map(([path, shape, v]) => [path, tf.tensor(v, [...shape], 'float32')] as const)) as Tree;

export type ToWorker =
  | { readonly type: 'init'; readonly spec: ModelSpec; readonly backend: string; readonly labelSmoothing: number }
  | {
    readonly type: 'step';
    readonly params: Packed;
    readonly state: Packed;
    readonly x: Float32Array;
    readonly xShape: readonly number[];
    readonly y: Int32Array;
    readonly key: readonly [number, number];
    /** The shard's share of the batch: its loss is scaled by it, so the caller just sums gradients. */
    readonly weight: number;
  };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'grads'; /** The shard's weighted loss. */ readonly loss: number; readonly grads: Packed; readonly state: Packed }
  | { readonly type: 'error'; readonly message: string };
