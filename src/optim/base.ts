/**
 * Optimizers as pure gradient transformations, in the style of optax:
 * `{ init(params) -> state, update(grads, state, params) -> { updates, state } }`.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import type * as t from 'io-ts';
import { guard, showValue } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { type Tree, zipTrees } from '../tree.ts';

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/** A schedule: a hyperparameter as a function of the optimizer step (0-based). */
export type StepSchedule = (step: number) => number;

/** A hyperparameter: a constant, or a schedule evaluated at the optimizer's step. */
export type Hyper = number | StepSchedule;

/** An optimizer state: a record of tensors, named per transform. */
export type OptState = Tree;

/** The result of one `update`: the updates to add to the params, and the new state. */
export interface Update<S extends OptState = OptState> {
  /** What to add to the params, leaf by leaf (see {@link applyUpdates}). */
  readonly updates: Tree;
  /** The transformation's new state. */
  readonly state: S;
}

/**
 * A gradient transformation. `update` is pure: it never disposes or mutates
 * its arguments. Its updates never share tensors with its state, but may be
 * the very `grads` tensors it was given (a pass-through).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { adam, chain, clipByGlobalNorm } from 'tsnn';
 *
 * const params = { w: tf.tensor([1, 2]) };
 * const grads = { w: tf.tensor([0.5, -0.5]) };
 * const opt = chain(clipByGlobalNorm(1), adam(0.5));
 * const optState = opt.init(params);
 * const { updates } = opt.update(grads, optState, params);
 * console.log(Array.from((updates as { w: tf.Tensor }).w.dataSync())); // [-0.5, 0.5]
 * ```
 */
export interface GradientTransformation<S extends OptState = OptState> {
  /** Shown in messages and in a chain's name: `chain(scaleByAdam, scaleByLearningRate)`. */
  readonly name: string;
  /** The initial state for these params (moments start at zero). */
  init(params: Tree): S;
  /** The updates for these gradients, and the next state. */
  update(grads: Tree, state: S, params: Tree): Update<S>;
}

/** New params and optimizer state after one step. */
export interface ParamStep<S extends OptState = OptState> {
  /** The params after the step. */
  readonly params: Tree;
  /** The optimizer's state after the step. */
  readonly state: S;
}

/** A gradient transformation with any state: what a chain or an option accepts. */
// deno-lint-ignore no-explicit-any
export type AnyTransformation = GradientTransformation<any>;

/**
 * The codec of an option or argument that must be a gradient transformation.
 *
 * @example
 * ```ts
 * import { decodeArg } from '../config.ts';
 * // decodeArg('chain.0', Transformation, 3) throws ConfigError: chain.0: expected a gradient transformation {init, update}, got 3
 * ```
 */
export const Transformation: t.Type<AnyTransformation, AnyTransformation, unknown> = guard<AnyTransformation>(
  'a gradient transformation {init, update}',
  (u) => typeof (u as AnyTransformation)?.init === 'function' && typeof (u as AnyTransformation)?.update === 'function',
);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/**
 * The value of a hyperparameter at a step: `h` is a finite number or a
 * schedule, `step` a non-negative integer, and a schedule must return a
 * finite number; anything else is a ConfigError.
 *
 * @example
 * ```ts
 * console.log(hyperAt(0.1, 5)); // 0.1
 * console.log(hyperAt((s) => 0.1 / (s + 1), 4)); // 0.02
 * // hyperAt(NaN, 0) throws ConfigError: hyperAt.h: expected a finite number or a schedule, got NaN
 * ```
 */
export const hyperAt = (h: Hyper, step: number): number => {
  if (!(Number.isInteger(step) && step >= 0)) throw new ConfigError([`hyperAt.step: expected non-negative integer, got ${showValue(step)}`]);
  if (typeof h === 'number' && Number.isFinite(h)) return h;
  if (typeof h !== 'function') throw new ConfigError([`hyperAt.h: expected a finite number or a schedule, got ${showValue(h)}`]);
  const v = h(step);
  // A schedule that returns NaN (oneCycle with a zero divisor, say) would silently poison every param.
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError([`schedule: expected a finite number at step ${step}, got ${showValue(v)}`]);
  return v;
};

/**
 * The step counter kept in a transform's state, as a JS number.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { adam } from 'tsnn';
 *
 * const params = { w: tf.tensor([1, 2]) };
 * const opt = adam(1e-3);
 * const { state } = opt.update({ w: tf.ones([2]) }, opt.init(params), params);
 * const first = (state as Record<string, { count: tf.Tensor }>)[0]; // scaleByAdam's state
 * console.log(countOf(first.count)); // 1
 * ```
 */
// A synchronous read that never waits on a GPU: every count is made from a JS number (newCount, or a
// checkpoint's values) and no kernel consumes it, so on WebGPU its values stay on the CPU. The webgpu
// suite trains under a trap that fails any synchronous read of GPU-held values.
export const countOf = (count: tf.Tensor): number => count.dataSync()[0];

/**
 * A fresh int32 scalar counter.
 *
 * @example
 * ```ts
 * const state = { count: newCount() };
 * console.log(countOf(state.count), state.count.dtype); // 0 int32
 * ```
 */
export const newCount = (n = 0): tf.Scalar => tf.scalar(n, 'int32');

/**
 * Add updates to params: `params + updates`, leaf by leaf.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { applyUpdates } from 'tsnn';
 *
 * const params = { w: tf.tensor([1, 2]) };
 * const newParams = applyUpdates(params, { w: tf.tensor([0.5, -0.5]) });
 * console.log(Array.from(newParams.w.dataSync())); // [1.5, 1.5]
 * ```
 */
export const applyUpdates = <P extends Tree>(params: P, updates: Tree): P => zipTrees([params, updates as P], ([p, u]) => tf.add(p, u));

/**
 * Run a transformation's `update` inside `tf.tidy`, so that only the updates
 * and the new state outlive it. Every transform in this library is wrapped.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { mapTree, tidyTransformation } from 'tsnn';
 *
 * const half = tidyTransformation({ name: 'half', init: () => ({}), update: (g, s) => ({ updates: mapTree(g, (x) => tf.mul(x, 0.5)), state: s }) });
 * const { updates } = half.update({ w: tf.tensor([2, 4]) }, {}, {});
 * console.log(Array.from((updates as { w: tf.Tensor }).w.dataSync())); // [1, 2]
 * ```
 */
export const tidyTransformation = <S extends OptState>(t: GradientTransformation<S>): GradientTransformation<S> => {
  if (typeof t?.init !== 'function' || typeof t?.update !== 'function') {
    throw new ConfigError([`tidyTransformation.t: expected a gradient transformation {name, init, update}, got ${showValue(t)}`]);
  }
  return {
    name: t.name,
    init: t.init,
    update: (grads, state, params) =>
      tf.tidy(() => {
        const r = t.update(grads, state, params);
        return { updates: r.updates as tf.Tensor, state: r.state as unknown as tf.Tensor };
      }) as unknown as Update<S>,
  };
};
