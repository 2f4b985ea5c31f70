/**
 * The small gradient transformations that optimizers are chained from.
 * Each has its own named state record, as in optax.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import * as t from 'io-ts';
import {
  decodeArg,
  Finite,
  func,
  hyper,
  type HyperC,
  type NoFields,
  NonNegative,
  optionSet,
  type OptionSetOf,
  type OptionsOf,
  Positive,
  type SameType,
  showValue,
  typesAgree,
  UnitInterval,
} from '../config.ts';
import { ConfigError } from '../errors.ts';
import { flattenTree, mapTree, type Tree, unflattenTree, zipTrees } from '../tree.ts';
import { type AnyTransformation, countOf, type GradientTransformation, type Hyper, hyperAt, newCount, type OptState, tidyTransformation } from './base.ts';
import { type AdamState, adamUpdate, described, descriptionOf, type Mask } from './fusion.ts';

/**
 * tfjs-core's tensor types under private aliases: `deno doc --lint` reports npm types named in a public type
 * as private-type-ref (see src/layer.ts); `@ignore`d aliases silence just that.
 *
 * @ignore
 */
type Scalar = tf.Scalar;

export type { AdamState, Mask };

const Rate: HyperC<typeof NonNegative> = hyper(NonNegative), Decay: HyperC<typeof UnitInterval> = hyper(UnitInterval);

// ---------------------------------------------------------------------------
// Scaling
// ---------------------------------------------------------------------------

/**
 * Multiply updates by `-lr` (a number or a schedule of the step): the last
 * link of every optimizer, turning directions into descent steps.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { chain, scaleByAdam, scaleByLearningRate } from 'tsnn';
 *
 * const params = { w: tf.tensor([1]) };
 * const opt = chain(scaleByAdam(), scaleByLearningRate(0.5));
 * const { updates } = opt.update({ w: tf.tensor([4]) }, opt.init(params), params);
 * console.log(Array.from((updates as { w: tf.Tensor }).w.dataSync())); // [-0.5]
 * ```
 */
export const scaleByLearningRate = (lr: Hyper): GradientTransformation<{ count: tf.Scalar }> => {
  decodeArg('scaleByLearningRate.lr', Rate, lr);
  return described(
    tidyTransformation({
      name: 'scaleByLearningRate',
      init: () => ({ count: newCount() }),
      update(grads, state) {
        const step = countOf(state.count);
        const rate = hyperAt(lr, step);
        return { updates: mapTree(grads, (g) => tf.mul(g, -rate)), state: { count: newCount(step + 1) } };
      },
    }),
    { kind: 'lr', lr },
  );
};

/**
 * Multiply updates by a constant.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { chain, scale } from 'tsnn';
 *
 * const sgd = chain(scale(-0.5)); // plain SGD with lr 0.5
 * const params = { w: tf.tensor([1]) };
 * const { updates } = sgd.update({ w: tf.tensor([2]) }, sgd.init(params), params);
 * console.log(Array.from((updates as { w: tf.Tensor }).w.dataSync())); // [-1]
 * ```
 */
export const scale = (factor: number): GradientTransformation<Record<string, never>> => {
  decodeArg('scale.factor', Finite, factor);
  return tidyTransformation({
    name: 'scale',
    init: () => ({}),
    update: (grads, state) => ({ updates: mapTree(grads, (g) => tf.mul(g, factor)), state }),
  });
};

// ---------------------------------------------------------------------------
// Adam and RMS
// ---------------------------------------------------------------------------

/** Adam's option fields (shared with the `adam` and `adamW` aliases); documented on {@link AdamOptions}. */
export const adamFields = {
  b1: Decay,
  b2: UnitInterval,
  eps: NonNegative,
  epsRoot: NonNegative,
};
const AdamOptionSet: OptionSetOf<NoFields, typeof adamFields> = optionSet('scaleByAdam', {}, adamFields);

/** Options of {@link scaleByAdam}. */
export interface AdamOptions {
  /** First-moment decay (a number or a schedule, e.g. fastai's cycled momentum). Default 0.9. */
  readonly b1?: Hyper;
  /** Second-moment decay. Default 0.999. */
  readonly b2?: number;
  /** Added to the denominator, outside the square root. Default 1e-8. */
  readonly eps?: number;
  /** Added inside the square root. Default 0. */
  readonly epsRoot?: number;
}
typesAgree<SameType<AdamOptions, OptionsOf<typeof AdamOptionSet>>>();

const adamInit = (params: Tree): AdamState => ({ count: newCount(), mu: mapTree(params, (p) => tf.zerosLike(p)), nu: mapTree(params, (p) => tf.zerosLike(p)) });

/**
 * Adam's direction: bias-corrected `m̂ / (sqrt(v̂ + epsRoot) + eps)`.
 * With a schedule for `b1`, bias correction uses the current value, as fastai does.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { chain, scaleByAdam, scaleByLearningRate } from 'tsnn';
 *
 * const params = { w: tf.tensor([1]) };
 * const opt = chain(scaleByAdam({ b1: 0.9, b2: 0.99, eps: 1e-5 }), scaleByLearningRate(3e-3));
 * const state = opt.init(params);
 * console.log(Object.keys(state), Object.keys(state[0])); // [ "0", "1" ] [ "count", "mu", "nu" ]
 * ```
 */
export const scaleByAdam = (opts: AdamOptions = {}): GradientTransformation<AdamState> => {
  const d = AdamOptionSet.decode(opts);
  const o = { b1: d.b1 ?? 0.9, b2: d.b2 ?? 0.999, eps: d.eps ?? 1e-8, epsRoot: d.epsRoot ?? 0 };
  return described(
    tidyTransformation({ name: 'scaleByAdam', init: adamInit, update: (grads, state) => adamUpdate(grads, state, o) }),
    { kind: 'adam', hypers: o },
  );
};

/** RMSProp's option fields (shared with the `rmsprop` alias); documented on {@link RmsOptions}. */
export const rmsFields = {
  decay: UnitInterval,
  eps: NonNegative,
};
const RmsOptionSet: OptionSetOf<NoFields, typeof rmsFields> = optionSet('scaleByRms', {}, rmsFields);

/** Options of {@link scaleByRms}. */
export interface RmsOptions {
  /** Decay of the mean of squared gradients. Default 0.9. */
  readonly decay?: number;
  /** Added to the denominator. Default 1e-8. */
  readonly eps?: number;
}
typesAgree<SameType<RmsOptions, OptionsOf<typeof RmsOptionSet>>>();

/** State of {@link scaleByRms}. */
export type RmsState = { nu: Tree };

/**
 * RMSProp's direction: `g / (sqrt(v) + eps)` with `v` a decaying mean of `g²`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { chain, scaleByLearningRate, scaleByRms } from 'tsnn';
 *
 * const params = { w: tf.tensor([1]) };
 * const opt = chain(scaleByRms({ decay: 0.75 }), scaleByLearningRate(0.5));
 * const { updates } = opt.update({ w: tf.tensor([2]) }, opt.init(params), params);
 * console.log(Array.from((updates as { w: tf.Tensor }).w.dataSync())); // [-1]
 * ```
 */
export const scaleByRms = (opts: RmsOptions = {}): GradientTransformation<RmsState> => {
  const o = RmsOptionSet.decode(opts);
  const decay: number = o.decay ?? 0.9, eps: number = o.eps ?? 1e-8;
  return tidyTransformation({
    name: 'scaleByRms',
    init: (params) => ({ nu: mapTree(params, (p) => tf.zerosLike(p)) }),
    update(grads, state) {
      const nu = zipTrees([grads, state.nu], ([g, v]) => tf.add(tf.mul(v, decay), tf.mul(tf.square(g), 1 - decay)));
      const updates = zipTrees([grads, nu], ([g, v]) => tf.div(g, tf.add(tf.sqrt(v), eps)));
      return { updates, state: { nu } };
    },
  });
};

// ---------------------------------------------------------------------------
// Momentum
// ---------------------------------------------------------------------------

/** Momentum's option fields (shared with the `momentum` alias); documented on {@link TraceOptions}. */
export const traceFields = {
  decay: Decay,
  nesterov: t.boolean,
};
const TraceOptionSet: OptionSetOf<NoFields, typeof traceFields> = optionSet('trace', {}, traceFields);

/** Options of {@link trace}. */
export interface TraceOptions {
  /** The momentum, a number in [0, 1) or a schedule. Default 0.9. */
  readonly decay?: Hyper;
  /** Nesterov's variant. Default false. */
  readonly nesterov?: boolean;
}
typesAgree<SameType<TraceOptions, OptionsOf<typeof TraceOptionSet>>>();

/** State of {@link trace}. */
export type TraceState = { count: Scalar; trace: Tree };

/**
 * Momentum: `t = decay · t + g`; the update is `t`, or `g + decay · t` with Nesterov.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { chain, scaleByLearningRate, trace } from 'tsnn';
 *
 * const params = { w: tf.tensor([1]) };
 * const opt = chain(trace({ decay: 0.5, nesterov: true }), scaleByLearningRate(0.5));
 * const { updates } = opt.update({ w: tf.tensor([1]) }, opt.init(params), params);
 * console.log(Array.from((updates as { w: tf.Tensor }).w.dataSync())); // [-0.75]
 * ```
 */
export const trace = (opts: TraceOptions = {}): GradientTransformation<TraceState> => {
  const o = TraceOptionSet.decode(opts);
  const decay: Hyper = o.decay ?? 0.9, nesterov = o.nesterov ?? false;
  return tidyTransformation({
    name: 'trace',
    init: (params) => ({ count: newCount(), trace: mapTree(params, (p) => tf.zerosLike(p)) }),
    update(grads, state) {
      const step = countOf(state.count);
      const d = hyperAt(decay, step);
      const next = zipTrees([grads, state.trace], ([g, t]) => tf.add(tf.mul(t, d), g));
      // Updates never alias the state, so callers may dispose them freely.
      const updates = nesterov ? zipTrees([grads, next], ([g, t]) => tf.add(g, tf.mul(t, d))) : mapTree(next, (t) => tf.clone(t));
      return { updates, state: { count: newCount(step + 1), trace: next } };
    },
  });
};

// ---------------------------------------------------------------------------
// Weight decay, clipping, masking
// ---------------------------------------------------------------------------

/**
 * Decoupled weight decay: add `weightDecay · param` to the update (AdamW).
 * Put it before `scaleByLearningRate`, so the decay scales with the rate.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { addDecayedWeights, chain, scale } from 'tsnn';
 *
 * // Decay alone (zero gradient): the update is -lr * wd * w.
 * const params = { w: tf.tensor([1, 2]) };
 * const opt = chain(addDecayedWeights(0.5), scale(-0.5));
 * const { updates } = opt.update({ w: tf.zeros([2]) }, opt.init(params), params);
 * console.log(Array.from((updates as { w: tf.Tensor }).w.dataSync())); // [-0.25, -0.5]
 * ```
 */
export const addDecayedWeights = (weightDecay: Hyper): GradientTransformation<{ count: tf.Scalar }> => {
  decodeArg('addDecayedWeights.weightDecay', Rate, weightDecay);
  return described(
    tidyTransformation({
      name: 'addDecayedWeights',
      init: () => ({ count: newCount() }),
      update(grads, state, params) {
        const step = countOf(state.count);
        const wd = hyperAt(weightDecay, step);
        return {
          updates: wd === 0 ? grads : zipTrees([grads, params], ([g, p]) => tf.add(g, tf.mul(p, wd))),
          state: { count: newCount(step + 1) },
        };
      },
    }),
    { kind: 'decay', weightDecay },
  );
};

/**
 * Scale all updates down so that their global L2 norm is at most `maxNorm`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { clipByGlobalNorm } from 'tsnn';
 *
 * const clip = clipByGlobalNorm(1.0);
 * const g = { a: tf.tensor([3]), b: tf.tensor([4]) }; // global norm 5
 * const { updates } = clip.update(g, clip.init(g), g);
 * const u = updates as { a: tf.Tensor; b: tf.Tensor };
 * console.log(u.a.dataSync()[0].toFixed(2), u.b.dataSync()[0].toFixed(2)); // 0.60 0.80
 * ```
 */
export const clipByGlobalNorm = (maxNorm: number): GradientTransformation<Record<string, never>> => {
  decodeArg('clipByGlobalNorm.maxNorm', Positive, maxNorm);
  return tidyTransformation({
    name: 'clipByGlobalNorm',
    init: () => ({}),
    update(grads, state) {
      const norm = tf.sqrt(tf.addN(flattenTree(grads).map(([, g]) => tf.sum(tf.square(g)))));
      const factor = tf.div(maxNorm, tf.maximum(norm, maxNorm));
      return { updates: mapTree(grads, (g) => tf.mul(g, factor)), state };
    },
  });
};

/**
 * The default weight-decay mask: weights of rank 2 and above (conv kernels,
 * dense matrices), not BatchNorm parameters or biases (fastai's `wd_bn_bias=False`).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { weightsOnly } from 'tsnn';
 *
 * console.log(weightsOnly('blocks.0.convs.0.bn.gamma', tf.ones([8]))); // false
 * console.log(weightsOnly('blocks.0.convs.0.conv.w', tf.ones([3, 3, 8, 8]))); // true
 * ```
 */
export const weightsOnly: Mask = (_path: string, p: tf.Tensor): boolean => p.rank >= 2;

/**
 * Apply `inner` only to the leaves that `mask` selects; the others pass through.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { addDecayedWeights, chain, masked, scale, weightsOnly } from 'tsnn';
 *
 * // Weight decay on the matrix only, not on the bias.
 * const params = { w: tf.ones([1, 2]), b: tf.ones([2]) };
 * const opt = chain(masked(addDecayedWeights(0.5), weightsOnly), scale(-1));
 * const { updates } = opt.update({ w: tf.zeros([1, 2]), b: tf.zeros([2]) }, opt.init(params), params);
 * const u = updates as { w: tf.Tensor; b: tf.Tensor };
 * console.log(Array.from(u.w.dataSync()), Array.from(u.b.dataSync())); // [-0.5, -0.5] [-0, -0]
 * ```
 */
export const masked = <S extends OptState>(inner: GradientTransformation<S>, mask: Mask): GradientTransformation<S> => {
  assertTransformation('masked.inner', inner);
  decodeArg('masked.mask', func<Mask>('a mask (path, param) => boolean'), mask);
  const select = (tree: Tree, params: Tree): Tree => {
    const chosen = new Set(flattenTree(params).filter(([p, t]) => mask(p, t)).map(([p]) => p));
    return unflattenTree(flattenTree(tree).filter(([p]) => chosen.has(p))) as Tree;
  };
  const inside = descriptionOf(inner);
  const masking = tidyTransformation({
    name: `masked(${inner.name})`,
    init: (params) => inner.init(select(params, params)),
    update(grads, state, params) {
      const r = inner.update(select(grads, params), state, select(params, params));
      const done = new Map(flattenTree(r.updates));
      // Leaves the mask skipped pass through unchanged.
      const updates = unflattenTree(flattenTree(grads).map(([p, g]) => [p, done.get(p) ?? g] as const)) as Tree;
      return { updates, state: r.state };
    },
  });
  // A masked unmasked decay is a decay with this mask (a decay already masked is left to run as it is).
  return inside?.kind === 'decay' && !inside.mask ? described(masking, { ...inside, mask }) : masking;
};

/**
 * Throw unless `t` is a transformation: helps users who pass a factory instead of its result.
 *
 * @example
 * ```ts
 * const t = scale(-0.1);
 * console.log(assertTransformation('fit.opt', t) === t); // true
 * // assertTransformation('fit.opt', scale) throws ConfigError: fit.opt: expected a gradient transformation {init, update}, got a function
 * ```
 */
export const assertTransformation = (owner: string, t: unknown): AnyTransformation => {
  if (typeof (t as AnyTransformation)?.init !== 'function' || typeof (t as AnyTransformation)?.update !== 'function') {
    throw new ConfigError([`${owner}: expected a gradient transformation {init, update}, got ${showValue(t)}`]);
  }
  return t as AnyTransformation;
};
