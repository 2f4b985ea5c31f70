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

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/** A per-example shape: the batch axis is excluded. `[28, 28, 1]` for MNIST. */
export type Shape = readonly number[];

/** What flows between layers: a tensor, or a list of them (after `fanOut`). */
export type Flow = tf.Tensor | readonly tf.Tensor[];

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
  readonly params: P;
  readonly state: S;
  readonly outShape: FlowShape;
}

/** What `apply` returns: the output and the (possibly updated) state. */
export interface Applied<S extends Tree> {
  readonly y: Flow;
  readonly state: S;
}

/**
 * A layer: `init` draws parameters and computes the output shape without
 * running anything; `apply` is a pure function of params, state and input.
 *
 * @example
 * const { params, state, outShape } = layer.init(prngKey(0), [28, 28, 1]);
 * const { y } = layer.apply(params, state, x, { training: false });
 */
export interface Layer<P extends Tree = Tree, S extends Tree = Tree> {
  /** The kind of layer, used in messages: `conv2d`, `resBlock`, ... */
  readonly name: string;
  /** The key its parent uses for its params, when given with {@link withLabel}. */
  readonly label?: string;
  init(key: Key, inShape: FlowShape): Init<P, S>;
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
 * import type { Empty } from './tree.ts';
 * const softplus: Layer<Empty, Empty> = {
 *   name: 'softplus',
 *   init: (_key, inShape) => ({ params: {}, state: {}, outShape: inShape }),
 *   apply: tidyApply((_params, state, x) => ({ y: tf.log1p(tf.exp(x as tf.Tensor)), state })),
 * };
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
 * // inside conv2d's apply: const weight = paramTensor('conv2d', 'params', params, 'weight');
 * // apply({}, ...) throws LayerError: conv2d '<root>': params.weight: expected a tensor, got undefined
 * ```
 */
export const paramTensor = (layer: string, record: 'params' | 'state', tree: unknown, field: string): tf.Tensor => {
  const t = (tree as Record<string, unknown> | undefined)?.[field];
  if (t instanceof tf.Tensor && !t.isDisposed) return t;
  const got = t instanceof tf.Tensor ? 'a disposed tensor' : t === undefined ? 'undefined' : typeof t === 'object' ? 'a record' : String(t);
  throw new LayerError(layer, [], `${record}.${field}: expected a tensor, got ${got}`);
};

/**
 * The evaluation context.
 *
 * @example
 * layer.apply(params, state, x, evalCtx)
 */
export const evalCtx: Ctx = { training: false };

/**
 * The training context, optionally with a key.
 *
 * @example
 * layer.apply(params, state, x, trainCtx(prngKey(3)))
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
 * const convs = withLabel('convs', serial(convLayer(3, 16), convLayer(16, 16)));
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
 * const [h, w, c] = singleShape('conv2d', inShape);
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
 * const x4 = singleInput('conv2d', x);
 */
export const singleInput = (layer: string, x: Flow): tf.Tensor => {
  if (Array.isArray(x)) throw new ShapeError(layer, [], `expected one input tensor, got a list of ${x.length}`);
  return x as tf.Tensor;
};

/**
 * Check an input against an expected per-example pattern (`null` = any size).
 *
 * @example
 * expectInput('conv2d', x, [null, null, 3]); // throws unless x is [b, h, w, 3]
 */
export const expectInput = (layer: string, x: tf.Tensor, pattern: readonly (number | null)[]): void => {
  const ok = x.rank === pattern.length + 1 && pattern.every((d, i) => d === null || d === x.shape[i + 1]);
  if (!ok) {
    throw new ShapeError(layer, [], `expected input ${showShape(pattern)}, got ${showFullShape(x.shape)}`);
  }
};

/**
 * Check an init-time shape against a pattern (`null` = any size).
 *
 * @example
 * expectShape('dense', inShape, [null]); // throws unless inShape is [n]
 */
export const expectShape = (layer: string, shape: Shape, pattern: readonly (number | null)[]): void => {
  const ok = shape.length === pattern.length && pattern.every((d, i) => d === null || d === shape[i]);
  if (!ok) throw new ShapeError(layer, [], `expected input shape ${showShape(pattern)}, got ${showShape(shape)}`);
};

/**
 * The output shape from `init`, with a batch axis prepended.
 *
 * @example
 * withBatch(8, [28, 28, 1]) // [8, 28, 28, 1]
 */
export const withBatch = (batch: number, s: Shape): number[] => [batch, ...s];
