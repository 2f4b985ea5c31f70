/**
 * The unit of the library: a layer is a pair of pure functions over explicit
 * parameter and state records, as in JAX's stax.
 *
 * @module
 */
import * as tf from './tfjs/tf.ts';
import { showValue } from './config/messages.ts';
import { isKey, type Key } from './random.ts';
import type { Empty, Tree } from './tree.ts';
import { ConfigError, LayerError, ShapeError, showFullShape, showShape } from './errors.ts';

/**
 * tfjs-core's tensor, under a private alias. `deno doc --lint` reports any
 * npm type (tfjs's Tensor, io-ts's Errors) named directly in a public type
 * as private-type-ref, since npm modules are file: modules outside the
 * entrypoints' exports (denoland/deno#27364; the fix there covers only jsr:
 * and https:). An `@ignore`d alias on the path silences just those, and
 * re-exporting tfjs's own types would drag its .d.ts into the lint.
 *
 * @ignore
 */
type Tensor = tf.Tensor;

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/** A per-example shape: the batch axis is excluded. `[28, 28, 1]` for MNIST. */
export type Shape = readonly number[];

/** What flows between layers: a tensor, or a list of them (after `fanOut`). */
export type Flow = Tensor | readonly Tensor[];

/** The shape of a {@link Flow}: one shape, or one per branch. */
export type FlowShape = Shape | readonly Shape[];

/** The context of one call to `apply`. */
export interface Ctx {
  /** Training mode: batch statistics in batchNorm, dropout on. */
  readonly training: boolean;
  /** Randomness for dropout and similar; combinators give each child its own. */
  readonly key?: Key;
  /** Dotted path of the layer being applied; combinators extend it. */
  readonly path?: readonly string[];
  /** Called by combinators after each child, e.g. to record output shapes. */
  readonly observe?: (path: readonly string[], layer: string, y: Flow) => void;
}

/** What `init` returns. */
export interface Init<P extends Tree, S extends Tree> {
  /** The parameters drawn: what gradients and optimizers update. */
  readonly params: P;
  /** The initial state (batchNorm's running statistics); not trained by gradients. */
  readonly state: S;
  /** The per-example output shape, computed without running anything. */
  readonly outShape: FlowShape;
}

/** What `apply` returns: the output and the (possibly updated) state. */
export interface Applied<S extends Tree> {
  /** The output. */
  readonly y: Flow;
  /** The state after this call (updated running statistics in training mode). */
  readonly state: S;
}

/**
 * A layer: `init` draws parameters and computes the output shape without
 * running anything; `apply` is a pure function of params, state and input.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { dense, disposeTree, type Layer, prngKey } from 'tsnn';
 *
 * const layer: Layer = dense({ nf: 2 });
 * const { params, state, outShape } = layer.init(prngKey(0), [3]);
 * const x = tf.ones([4, 3]);
 * const { y } = layer.apply(params, state, x, { training: false });
 * console.log(outShape, (y as tf.Tensor).shape); // [ 2 ] [ 4, 2 ]
 * disposeTree({ params, x, y: y as tf.Tensor });
 * ```
 */
export interface Layer<P extends Tree = Tree, S extends Tree = Tree> {
  /** The kind of layer, used in messages: `conv2d`, `resBlock`, ... */
  readonly name: string;
  /** The key its parent uses for its params, when given with {@link withLabel}. */
  readonly label?: string;
  /** Draw params from `key` and compute the output shape for per-example input shape `inShape`. */
  init(key: Key, inShape: FlowShape): Init<P, S>;
  /** Run the layer on a batch `x`; a pure function of its arguments. */
  apply(params: P, state: S, x: Flow, ctx: Ctx): Applied<S>;
}

/** Any layer, whatever its param and state types. */
// deno-lint-ignore no-explicit-any
export type AnyLayer = Layer<any, any>;

/** A layer with neither params nor state. */
export type StatelessLayer = Layer<Empty, Empty>;

// ---------------------------------------------------------------------------
// Helpers for layer authors
// ---------------------------------------------------------------------------

/**
 * An `apply` that runs inside `tf.tidy`: what it makes along the way is
 * disposed, so that a call outside any tidy (or under a gradient tape)
 * leaves only the output and the new state. Every built-in layer's `apply`
 * is one of these; wrap your own layer's with it too.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { type Empty, evalCtx, type Layer, prngKey, tidyApply } from 'tsnn';
 *
 * const softplus: Layer<Empty, Empty> = {
 *   name: 'softplus',
 *   init: (_key, inShape) => ({ params: {}, state: {}, outShape: inShape }),
 *   apply: tidyApply((_params, state, x) => ({ y: tf.log1p(tf.exp(x as tf.Tensor)), state })),
 * };
 * const x = tf.zeros([1, 2]);
 * const before = tf.memory().numTensors;
 * const { y } = softplus.apply({}, {}, x, evalCtx); // the exp in between is disposed
 * console.log(tf.memory().numTensors - before); // 1
 * console.log((y as tf.Tensor).arraySync()); // [ [ 0.6931471824645996, 0.6931471824645996 ] ]
 * tf.dispose([x, y as tf.Tensor]);
 * softplus.init(prngKey(0), [2]).outShape; // [2]
 * ```
 */
export const tidyApply = <P extends Tree, S extends Tree>(apply: Layer<P, S>['apply']): Layer<P, S>['apply'] => (params, state, x, ctx) =>
  tf.tidy(() => {
    const r = apply(params, state, x, ctx);
    return { y: r.y as tf.Tensor | tf.Tensor[], state: r.state as unknown as tf.Tensor };
  }) as unknown as Applied<S>;

/**
 * The tensor a layer's `apply` needs from its params or state, or a
 * `LayerError` naming it and what was there instead (a model's apply handed
 * another model's, or a partial, record).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 *
 * const weight = tf.ones([2, 2]);
 * console.log(paramTensor('conv2d', 'params', { weight }, 'weight') === weight); // true
 * try {
 *   paramTensor('conv2d', 'params', {}, 'weight');
 * } catch (e) {
 *   console.log((e as Error).message); // conv2d '<root>': params.weight: expected a tensor, got undefined
 * }
 * weight.dispose();
 * ```
 */
export const paramTensor = (layer: string, record: 'params' | 'state', tree: unknown, field: string): Tensor => {
  const t = (tree as Record<string, unknown> | undefined)?.[field];
  if (t instanceof tf.Tensor && !t.isDisposed) return t;
  const got = t instanceof tf.Tensor ? 'a disposed tensor' : t === undefined ? 'undefined' : typeof t === 'object' ? 'a record' : String(t);
  throw new LayerError(layer, [], `${record}.${field}: expected a tensor, got ${got}`);
};

/**
 * The evaluation context.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { disposeTree, dropout, evalCtx, prngKey } from 'tsnn';
 *
 * const layer = dropout({ rate: 0.5 });
 * const { params, state } = layer.init(prngKey(0), [4]);
 * const x = tf.ones([1, 4]);
 * const { y } = layer.apply(params, state, x, evalCtx); // dropout is off when evaluating
 * console.log((y as tf.Tensor).arraySync()); // [ [ 1, 1, 1, 1 ] ]
 * disposeTree({ x, y: y as tf.Tensor });
 * ```
 */
export const evalCtx: Ctx = { training: false };

/**
 * The training context, optionally with a key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { disposeTree, dropout, prngKey, trainCtx } from 'tsnn';
 *
 * const layer = dropout({ rate: 0.5 });
 * const { params, state } = layer.init(prngKey(0), [1000]);
 * const x = tf.ones([1, 1000]);
 * const { y } = layer.apply(params, state, x, trainCtx(prngKey(3))); // about half the values dropped
 * const kept = tf.sum(tf.notEqual(y as tf.Tensor, 0));
 * console.log(kept.dataSync()[0] > 400 && kept.dataSync()[0] < 600); // true
 * disposeTree({ x, y: y as tf.Tensor, kept });
 * ```
 */
export const trainCtx = (key?: Key): Ctx => {
  if (key !== undefined && !isKey(key)) throw new ConfigError([`trainCtx.key: expected a PRNG key (prngKey(seed)) or nothing, got ${showValue(key)}`]);
  return { training: true, key };
};

/**
 * Set a layer's label: the key under which its parent combinator stores
 * its params and state (a checkpoint path segment, e.g. `convs` in
 * `blocks.2.convs.0.bn.gamma`). Compare {@link withKind}, which sets the name
 * shown in messages.
 *
 * @example
 * ```ts
 * import { convLayer, disposeTree, prngKey, serial, withLabel } from 'tsnn';
 *
 * const model = serial(withLabel('convs', serial(convLayer(3, 16), convLayer(16, 16))));
 * const { params } = model.init(prngKey(0), [8, 8, 3]);
 * console.log(Object.keys(params)); // [ "convs" ]
 * disposeTree(params);
 * ```
 */
export const withLabel = <P extends Tree, S extends Tree>(label: string, layer: Layer<P, S>): Layer<P, S> => {
  if (typeof label !== 'string' || !/^[A-Za-z_][\w-]*$/.test(label)) {
    throw new ConfigError([`withLabel.label: expected an identifier (letters, digits, _ or -, not starting with a digit), got ${showValue(label)}`]);
  }
  // A record key such as `__proto__` or `constructor` would reach the prototype of the params record.
  if (label in Object.prototype) throw new ConfigError([`withLabel.label: ${JSON.stringify(label)} is reserved (a property of every JS object)`]);
  return { name: layer.name, label, init: layer.init, apply: layer.apply };
};

/**
 * A single per-example shape, or a ShapeError naming the layer.
 *
 * @example
 * ```ts
 * const [h, w, c] = singleShape('conv2d', [28, 28, 1]);
 * console.log(h, w, c); // 28 28 1
 * try {
 *   singleShape('conv2d', [[28, 28, 1], [28, 28, 1]]);
 * } catch (e) {
 *   console.log((e as Error).message); // conv2d '<root>': expected one input, got 2 branches
 * }
 * ```
 */
export const singleShape = (layer: string, s: FlowShape): Shape => {
  if (s.length > 0 && Array.isArray(s[0])) {
    throw new ShapeError(layer, [], `expected one input, got ${s.length} branches`);
  }
  return s as Shape;
};

/**
 * A single tensor input, or a ShapeError naming the layer.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 *
 * const x = tf.zeros([2, 3]);
 * console.log(singleInput('dense', x).shape); // [ 2, 3 ]
 * try {
 *   singleInput('dense', [x, x]);
 * } catch (e) {
 *   console.log((e as Error).message); // dense '<root>': expected one input tensor, got a list of 2
 * }
 * x.dispose();
 * ```
 */
export const singleInput = (layer: string, x: Flow): Tensor => {
  if (Array.isArray(x)) throw new ShapeError(layer, [], `expected one input tensor, got a list of ${x.length}`);
  return x as Tensor;
};

/**
 * Check an input against an expected per-example pattern (`null` = any size).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 *
 * const x = tf.zeros([8, 14, 14, 16]);
 * expectInput('conv2d', x, [null, null, 16]); // fine: returns
 * try {
 *   expectInput('conv2d', x, [null, null, 3]);
 * } catch (e) {
 *   console.log((e as Error).message); // conv2d '<root>': expected input [*, *, *, 3], got [8, 14, 14, 16]
 * }
 * x.dispose();
 * ```
 */
export const expectInput = (layer: string, x: Tensor, pattern: readonly (number | null)[]): void => {
  const ok = x.rank === pattern.length + 1 && pattern.every((d, i) => d === null || d === x.shape[i + 1]);
  if (!ok) {
    throw new ShapeError(layer, [], `expected input ${showShape(pattern)}, got ${showFullShape(x.shape)}`);
  }
};

/**
 * Check an init-time shape against a pattern (`null` = any size).
 *
 * @example
 * ```ts
 * expectShape('dense', [784], [null]); // fine: returns
 * try {
 *   expectShape('dense', [28, 28], [null]);
 * } catch (e) {
 *   console.log((e as Error).message); // dense '<root>': expected input shape [*, *], got [*, 28, 28]
 * }
 * ```
 */
export const expectShape = (layer: string, shape: Shape, pattern: readonly (number | null)[]): void => {
  const ok = shape.length === pattern.length && pattern.every((d, i) => d === null || d === shape[i]);
  if (!ok) throw new ShapeError(layer, [], `expected input shape ${showShape(pattern)}, got ${showShape(shape)}`);
};

/**
 * The output shape from `init`, with a batch axis prepended.
 *
 * @example
 * ```ts
 * console.log(withBatch(8, [28, 28, 1])); // [ 8, 28, 28, 1 ]
 * ```
 */
export const withBatch = (batch: number, s: Shape): number[] => [batch, ...s];
