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

/** Tensors as they cross threads: dotted path, shape, values. */
export type Packed = readonly (readonly [string, readonly number[], Float32Array])[];

/**
 * Copy a tree's tensors out, each into its own buffer, so it can be transferred.
 *
 * @example
 * port.postMessage({ grads: packTree(grads) });
 */
export const packTree = (t: Tree): Packed =>
  flattenTree(t).map(([p, x]) => [p, x.shape, Float32Array.from(x.dataSync() as Float32Array)] as const);

/**
 * Rebuild a tree of tensors from {@link packTree}'s output.
 *
 * @example
 * const params = unpackTree(message.params);
 */
export const unpackTree = (p: Packed): Tree =>
  unflattenTree(p.map(([path, shape, data]) => [path, tf.tensor(data, [...shape], 'float32')] as const)) as Tree;

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
  };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'grads'; readonly loss: number; readonly grads: Packed; readonly state: Packed }
  | { readonly type: 'error'; readonly message: string };
