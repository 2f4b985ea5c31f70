/**
 * Ready-made optimizers, each a `chain` of small transforms.
 *
 * @module
 */
import type * as t from 'io-ts';
import {
  decodeArg,
  func,
  hyper,
  type HyperC,
  type NoFields,
  NonNegative,
  optionSet,
  type OptionSetOf,
  type OptionsOf,
  type SameType,
  typesAgree,
} from '../config.ts';
import type { GradientTransformation, Hyper, OptState } from './base.ts';
import { chain } from './chain.ts';
import {
  adamFields,
  type AdamOptions,
  addDecayedWeights,
  type Mask,
  masked,
  rmsFields,
  type RmsOptions,
  scaleByAdam,
  scaleByLearningRate,
  scaleByRms,
  trace,
  traceFields,
  weightsOnly,
} from './transforms.ts';

const Rate: HyperC<typeof NonNegative> = hyper(NonNegative);
const MaskFn: t.Type<Mask, Mask, unknown> = func<Mask>('a mask (path, param) => boolean');

/**
 * Stochastic gradient descent: `p ← p − lr · g`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { sgd } from 'tsnn';
 *
 * const params = { w: tf.tensor([1, 2]) };
 * const opt = sgd(0.5);
 * const { updates } = opt.update({ w: tf.tensor([1, -1]) }, opt.init(params), params);
 * console.log(Array.from((updates as { w: tf.Tensor }).w.dataSync())); // [-0.5, 0.5]
 * ```
 */
export const sgd = (lr: Hyper): GradientTransformation<OptState> => chain(scaleByLearningRate(decodeArg('sgd.lr', Rate, lr)));

const momentumOptional = {
  momentum: traceFields.decay,
  nesterov: traceFields.nesterov,
};
const MomentumOptionSet: OptionSetOf<NoFields, typeof momentumOptional> = optionSet('momentum', {}, momentumOptional);

/** Options of {@link momentum}. */
export interface MomentumOptions {
  /** The momentum, a number in [0, 1) or a schedule. Default 0.9. */
  readonly momentum?: Hyper;
  /** Nesterov's variant. Default false. */
  readonly nesterov?: boolean;
}
typesAgree<SameType<MomentumOptions, OptionsOf<typeof MomentumOptionSet>>>();

/**
 * SGD with (optionally Nesterov) momentum.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { momentum, stepParams } from 'tsnn';
 *
 * const params = { w: tf.tensor([1, 2]) };
 * const opt = momentum(0.5, { momentum: 0.5, nesterov: true });
 * const next = stepParams(opt, { w: tf.tensor([1, 1]) }, opt.init(params), params);
 * console.log(Array.from((next.params as { w: tf.Tensor }).w.dataSync())); // [0.25, 1.25]
 * ```
 */
export const momentum = (lr: Hyper, opts: MomentumOptions = {}): GradientTransformation<OptState> => {
  const o = MomentumOptionSet.decode(opts);
  return chain(trace({ decay: o.momentum ?? 0.9, nesterov: o.nesterov ?? false }), scaleByLearningRate(decodeArg('momentum.lr', Rate, lr)));
};

const RmspropOptionSet: OptionSetOf<NoFields, typeof rmsFields> = optionSet('rmsprop', {}, rmsFields);

/** Options of {@link rmsprop}: those of {@link scaleByRms}. */
export type RmspropOptions = RmsOptions;
typesAgree<SameType<RmspropOptions, OptionsOf<typeof RmspropOptionSet>>>();

/**
 * RMSProp.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { rmsprop } from 'tsnn';
 *
 * const params = { w: tf.tensor([1, 2]) };
 * const opt = rmsprop(0.5, { decay: 0.75 });
 * const { updates } = opt.update({ w: tf.tensor([1, -1]) }, opt.init(params), params);
 * console.log(Array.from((updates as { w: tf.Tensor }).w.dataSync())); // [-1, 1]
 * ```
 */
export const rmsprop = (lr: Hyper, opts: RmspropOptions = {}): GradientTransformation<OptState> =>
  chain(scaleByRms(RmspropOptionSet.decode(opts)), scaleByLearningRate(decodeArg('rmsprop.lr', Rate, lr)));

const AdamAliasOptionSet: OptionSetOf<NoFields, typeof adamFields> = optionSet('adam', {}, adamFields);

/** Options of {@link adam}: those of {@link scaleByAdam}. */
export type AdamAliasOptions = AdamOptions;
typesAgree<SameType<AdamAliasOptions, OptionsOf<typeof AdamAliasOptionSet>>>();

/**
 * Adam (Kingma & Ba), optax's defaults: b1 0.9, b2 0.999, eps 1e-8.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { adam } from 'tsnn';
 *
 * const params = { w: tf.tensor([1, 2]) };
 * const opt = adam(0.5);
 * // Adam's first step moves each weight by lr, whatever the gradient's size.
 * const { updates } = opt.update({ w: tf.tensor([10, -0.1]) }, opt.init(params), params);
 * console.log(Array.from((updates as { w: tf.Tensor }).w.dataSync())); // [-0.5, 0.5]
 * ```
 */
export const adam = (lr: Hyper, opts: AdamAliasOptions = {}): GradientTransformation<OptState> =>
  chain(scaleByAdam(AdamAliasOptionSet.decode(opts)), scaleByLearningRate(decodeArg('adam.lr', Rate, lr)));

const adamWOptional = {
  ...adamFields,
  weightDecay: Rate,
  mask: MaskFn,
};
const AdamWOptionSet: OptionSetOf<NoFields, typeof adamWOptional> = optionSet('adamW', {}, adamWOptional);

/** Options of {@link adamW}: Adam's, and the decoupled weight decay. */
export interface AdamWOptions extends AdamOptions {
  /** Decoupled weight decay, a number or a schedule. Default 0.01 (fastai). */
  readonly weightDecay?: Hyper;
  /** Which leaves decay. Default {@link weightsOnly} (not BatchNorm or biases). */
  readonly mask?: Mask;
}
typesAgree<SameType<AdamWOptions, OptionsOf<typeof AdamWOptionSet>>>();

/**
 * AdamW, decoupled weight decay, with fastai's defaults: b1 0.9, b2 0.99,
 * eps 1e-5, weight decay 0.01 on weights only (not BatchNorm or biases):
 * `chain(scaleByAdam, masked(addDecayedWeights, mask), scaleByLearningRate)`,
 * as in optax.
 *
 * @example
 * ```ts
 * import { adamW, oneCycle, perStep } from 'tsnn';
 *
 * const opt = adamW(3e-3);
 * // With fastai's one-cycle schedules over 100 steps: lr and b1 as functions of the step.
 * const { lr, mom } = oneCycle({ lrMax: 3e-3 });
 * const cycled = adamW(perStep(lr, 100), { b1: perStep(mom, 100) });
 * console.log(opt.name); // chain(scaleByAdam, masked(addDecayedWeights), scaleByLearningRate)
 * console.log(cycled.name === opt.name); // true
 * ```
 */
export const adamW = (lr: Hyper, opts: AdamWOptions = {}): GradientTransformation<OptState> => {
  const o = AdamWOptionSet.decode(opts);
  // The chain executor runs these links as one Adam op per leaf (fusion.ts).
  return chain(
    scaleByAdam({ b1: o.b1 ?? 0.9, b2: o.b2 ?? 0.99, eps: o.eps ?? 1e-5, epsRoot: o.epsRoot ?? 0 }),
    masked(addDecayedWeights(o.weightDecay ?? 0.01), o.mask ?? weightsOnly),
    scaleByLearningRate(decodeArg('adamW.lr', Rate, lr)),
  );
};
