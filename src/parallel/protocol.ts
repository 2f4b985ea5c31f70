/**
 * Messages between the training loop and its gradient workers.
 *
 * @module
 */

/**
 * How a worker thread rebuilds a function of the caller's (the model, or the
 * loss): an ES module, the export to call, and its arguments.
 */
export interface ModuleSpec {
  /**
   * The module, as `import()` in the worker takes it: a package name such as
   * `'tsnn'` (resolved from the worker's file, inside the tsnn package, so use
   * it for tsnn's own factories), or a file URL for a module of yours, e.g.
   * `new URL('./model.ts', import.meta.url).href` (`import.meta.resolve` gives one).
   */
  readonly module: string;
  /** The factory to call, e.g. `'resNet2'`; for a loss spec without `args`, the loss itself. */
  readonly export: string;
  /** The factory's arguments; must survive structured cloning. A loss spec may omit them (see `export`). */
  readonly args?: readonly unknown[];
}

/** How a worker rebuilds the model: `module[export](...args)`. */
export type ModelSpec = ModuleSpec;

import * as tf from '../tfjs/tf.ts';
import { kernelIo } from '../backend/kernel_io.ts';
import { flattenTree, type Tree, unflattenTree } from '../tree.ts';

/**
 * A tree's tensors as they cross threads: one flat buffer and, in order, each
 * leaf's dotted path and shape. The buffer is either transferred or a view of
 * a SharedArrayBuffer that both threads reuse from step to step.
 */
export interface Packed {
  readonly layout: readonly (readonly [string, readonly number[]])[];
  readonly data: Float32Array;
}

/** Copy `x`'s values into `target` at `at`: straight from backend memory when it can, else through dataSync. */
const readInto = (x: tf.Tensor, target: Float32Array, at: number): void => {
  const io = x.dtype === 'float32' ? kernelIo(tf.backend()) : undefined;
  target.set(io ? io.read(x) : x.dataSync() as Float32Array, at);
};

/**
 * Floats needed to pack a tree.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { packedSize } from './protocol.ts';
 *
 * const params = { w: tf.zeros([3, 2]), b: tf.zeros([2]) };
 * console.log(packedSize(params)); // 8
 * tf.dispose([params.w, params.b]);
 * ```
 */
export const packedSize = (t: Tree): number => flattenTree(t).reduce((n, [, x]) => n + x.size, 0);

/**
 * Copy a tree's tensors into one flat buffer: `into` when given (e.g. a view
 * of a SharedArrayBuffer, reused every step), else a new one to transfer.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { packTree } from './protocol.ts';
 *
 * const grads = { w: tf.tensor([[1, 2], [3, 4]]), b: tf.tensor([5, 6]) };
 * const p = packTree(grads); // a new buffer: post it with transfer, port.postMessage({ grads: p }, [p.data.buffer])
 * console.log(p.layout, p.data); // [ [ "b", [ 2 ] ], [ "w", [ 2, 2 ] ] ] Float32Array(6) [ 5, 6, 1, 2, 3, 4 ]
 * tf.dispose([grads.w, grads.b]);
 * ```
 */
export const packTree = (t: Tree, into?: Float32Array): Packed => {
  const pairs = flattenTree(t);
  const total = pairs.reduce((n, [, x]) => n + x.size, 0);
  if (into && into.length < total) throw new RangeError(`packTree: buffer holds ${into.length} floats, the tree needs ${total}`);
  const data = into ? into.subarray(0, total) : new Float32Array(total);
  let at = 0;
  for (const [, x] of pairs) {
    readInto(x, data, at);
    at += x.size;
  }
  return { layout: pairs.map(([p, x]) => [p, x.shape] as const), data };
};

/**
 * The leaves of a packed tree as views into its buffer, in order.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { packedLeaves, packTree } from './protocol.ts';
 *
 * const grads = { w: tf.tensor([[1, 2], [3, 4]]), b: tf.tensor([5, 6]) };
 * for (const [path, shape, values] of packedLeaves(packTree(grads))) console.log(path, shape, values);
 * // b [ 2 ] Float32Array(2) [ 5, 6 ]
 * // w [ 2, 2 ] Float32Array(4) [ 1, 2, 3, 4 ]
 * tf.dispose([grads.w, grads.b]);
 * ```
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
 * A tensor with a copy of `values` (a view into a packed buffer, which its
 * owner will overwrite). The wasm backend copies on upload; the cpu backend
 * would keep the array itself, so it gets its own copy.
 *
 * @example
 * ```ts
 * import { tensorFromView } from './protocol.ts';
 *
 * const buffer = new Float32Array([1, 2, 3, 4, 5, 6]);
 * const t = tensorFromView(buffer.subarray(2), [2, 2]);
 * buffer.fill(0); // the tensor holds its own copy
 * console.log(t.arraySync()); // [ [ 3, 4 ], [ 5, 6 ] ]
 * t.dispose();
 * ```
 */
export const tensorFromView = (values: Float32Array, shape: readonly number[]): tf.Tensor =>
  tf.tensor(tf.getBackend() === 'wasm' ? values : values.slice(), [...shape], 'float32');

/**
 * Rebuild a tree of tensors from {@link packTree}'s output.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { disposeTree } from 'tsnn';
 * import { packTree, unpackTree } from './protocol.ts';
 *
 * const params = { w: tf.tensor([[1, 2], [3, 4]]), b: tf.tensor([5, 6]) };
 * const copy = unpackTree(packTree(params)) as typeof params;
 * console.log(copy.w.arraySync(), copy.b.arraySync()); // [ [ 1, 2 ], [ 3, 4 ] ] [ 5, 6 ]
 * disposeTree(params);
 * disposeTree(copy);
 * ```
 */
export const unpackTree = (p: Packed): Tree => unflattenTree(packedLeaves(p).map(([path, shape, v]) => [path, tensorFromView(v, shape)] as const)) as Tree;

/**
 * A Float32Array over a fresh SharedArrayBuffer.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { packedSize, packTree, sharedFloats } from './protocol.ts';
 *
 * const grads = { w: tf.ones([3, 2]), b: tf.ones([2]) };
 * const p = packTree(grads, sharedFloats(packedSize(grads))); // posted once, both threads see p.data
 * console.log(p.data.length, p.data.buffer instanceof SharedArrayBuffer); // 8 true
 * tf.dispose([grads.w, grads.b]);
 * ```
 */
export const sharedFloats = (n: number): Float32Array => new Float32Array(new SharedArrayBuffer(n * 4));

/** The leaves' paths and shapes of a tree packed into a buffer both threads already hold. */
export type Layout = Packed['layout'];

/** Buffers the caller shares with a worker once (and again only when it outgrows them). */
export interface SharedInputs {
  /** The params, packed every step. */
  readonly params: Float32Array;
  /** The whole batch's inputs and labels; each worker reads its rows. */
  readonly x: Float32Array;
  readonly y: Int32Array;
}

export type ToWorker =
  | { readonly type: 'init'; readonly spec: ModelSpec; readonly lossSpec: ModuleSpec; readonly backend: string; readonly relaxedSimd: boolean }
  /**
   * Shared buffers for the steps that follow; no reply. Large buffers cross
   * threads once: Deno's worker_threads copies a posted 11 MB array in
   * hundreds of milliseconds, while reading shared memory costs nothing.
   */
  | ({ readonly type: 'buffers' } & SharedInputs)
  | {
    readonly type: 'step';
    /** The params' layout in the shared params buffer: read it before replying, it is rewritten for the next step. */
    readonly params: Layout;
    /**
     * The caller's engine knew every param to be finite (`finite_marks.ts`): the worker marks its
     * copies, sparing the NaN-keeping convolutions a probe of every filter.
     */
    readonly paramsFinite: boolean;
    readonly state: Packed;
    /** This shard's rows of the shared batch, and the shape of one input row. */
    readonly rows: readonly [number, number];
    readonly rowShape: readonly number[];
    readonly key: readonly [number, number];
    /** The shard's share of the batch: its loss is scaled by it, so the caller just sums gradients. */
    readonly weight: number;
  };

export type FromWorker =
  | { readonly type: 'ready' }
  | {
    readonly type: 'grads';
    /** The shard's weighted loss. */
    readonly loss: number;
    /** The gradients' layout in the worker's shared buffer, rewritten at its next step. */
    readonly grads: Layout;
    /** That buffer, sent when the worker (re)allocates it. */
    readonly gradBuffer?: Float32Array;
    readonly state: Packed;
  }
  | { readonly type: 'error'; readonly message: string };
