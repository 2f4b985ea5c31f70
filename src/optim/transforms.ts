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
  showValue,
  UnitInterval,
} from '../config.ts';
import { ConfigError } from '../errors.ts';
import { flattenTree, mapTree, type Tree, unflattenTree, zipTrees } from '../tree.ts';
import { type AnyTransformation, countOf, type GradientTransformation, type Hyper, hyperAt, newCount, type OptState, tidyTransformation } from './base.ts';
import { type AdamState, adamUpdate, described, descriptionOf, type Mask } from './fusion.ts';

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
 * chain(scaleByAdam(), scaleByLearningRate(1e-3))
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
 * chain(scale(-0.1)) // plain SGD with lr 0.1
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

/** Adam's option fields (shared with the `adam` and `adamW` aliases). */
export const adamFields = {
  /** First-moment decay (a number or a schedule, e.g. fastai's cycled momentum). Default 0.9. */
  b1: Decay,
  /** Second-moment decay. Default 0.999. */
  b2: UnitInterval,
  /** Added to the denominator, outside the square root. Default 1e-8. */
  eps: NonNegative,
  /** Added inside the square root. Default 0. */
  epsRoot: NonNegative,
};
const AdamOptions: OptionSetOf<NoFields, typeof adamFields> = optionSet('scaleByAdam', {}, adamFields);

/** Options of {@link scaleByAdam}. */
export type AdamOptions = OptionsOf<typeof AdamOptions>;

const adamInit = (params: Tree): AdamState => ({ count: newCount(), mu: mapTree(params, (p) => tf.zerosLike(p)), nu: mapTree(params, (p) => tf.zerosLike(p)) });

/**
 * Adam's direction: bias-corrected `m̂ / (sqrt(v̂ + epsRoot) + eps)`.
 * With a schedule for `b1`, bias correction uses the current value, as fastai does.
 *
 * @example
 * chain(scaleByAdam({ b1: 0.9, b2: 0.99, eps: 1e-5 }), scaleByLearningRate(3e-3))
 */
export const scaleByAdam = (opts: AdamOptions = {}): GradientTransformation<AdamState> => {
  const d = AdamOptions.decode(opts);
  const o = { b1: d.b1 ?? 0.9, b2: d.b2 ?? 0.999, eps: d.eps ?? 1e-8, epsRoot: d.epsRoot ?? 0 };
  return described(
    tidyTransformation({ name: 'scaleByAdam', init: adamInit, update: (grads, state) => adamUpdate(grads, state, o) }),
    { kind: 'adam', hypers: o },
  );
};

/** RMSProp's option fields (shared with the `rmsprop` alias). */
export const rmsFields = {
  /** Decay of the mean of squared gradients. Default 0.9. */
  decay: UnitInterval,
  /** Added to the denominator. Default 1e-8. */
  eps: NonNegative,
};
const RmsOptions: OptionSetOf<NoFields, typeof rmsFields> = optionSet('scaleByRms', {}, rmsFields);

/** Options of {@link scaleByRms}. */
export type RmsOptions = OptionsOf<typeof RmsOptions>;

/** State of {@link scaleByRms}. */
export type RmsState = { nu: Tree };

/**
 * RMSProp's direction: `g / (sqrt(v) + eps)` with `v` a decaying mean of `g²`.
 *
 * @example
 * chain(scaleByRms({ decay: 0.9 }), scaleByLearningRate(1e-3))
 */
export const scaleByRms = (opts: RmsOptions = {}): GradientTransformation<RmsState> => {
  const o = RmsOptions.decode(opts);
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

/** Momentum's option fields (shared with the `momentum` alias). */
export const traceFields = {
  /** The momentum, a number in [0, 1) or a schedule. Default 0.9. */
  decay: Decay,
  /** Nesterov's variant. Default false. */
  nesterov: t.boolean,
};
const TraceOptions: OptionSetOf<NoFields, typeof traceFields> = optionSet('trace', {}, traceFields);

/** Options of {@link trace}. */
export type TraceOptions = OptionsOf<typeof TraceOptions>;

/** State of {@link trace}. */
export type TraceState = { count: tf.Scalar; trace: Tree };

/**
 * Momentum: `t = decay · t + g`; the update is `t`, or `g + decay · t` with Nesterov.
 *
 * @example
 * chain(trace({ decay: 0.9, nesterov: true }), scaleByLearningRate(0.1))
 */
export const trace = (opts: TraceOptions = {}): GradientTransformation<TraceState> => {
  const o = TraceOptions.decode(opts);
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
 * chain(scaleByAdam(), addDecayedWeights(0.01), scaleByLearningRate(1e-3))
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
 * chain(clipByGlobalNorm(1.0), adam(1e-3))
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
 * weightsOnly('blocks.0.convs.0.bn.gamma', gamma) // false
 */
export const weightsOnly: Mask = (_path, p) => p.rank >= 2;

/**
 * Apply `inner` only to the leaves that `mask` selects; the others pass through.
 *
 * @example
 * chain(scaleByAdam(), masked(addDecayedWeights(0.01), weightsOnly), scaleByLearningRate(1e-3))
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
 * assertTransformation('fit.opt', scale(-0.1)); // the transformation
 * // assertTransformation('fit.opt', scale) throws ConfigError: fit.opt: expected a gradient transformation {init, update}, got a function
 * ```
 */
export const assertTransformation = (owner: string, t: unknown): AnyTransformation => {
  if (typeof (t as AnyTransformation)?.init !== 'function' || typeof (t as AnyTransformation)?.update !== 'function') {
    throw new ConfigError([`${owner}: expected a gradient transformation {init, update}, got ${showValue(t)}`]);
  }
  return t as AnyTransformation;
};
