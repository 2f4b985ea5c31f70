/**
 * Ready-made optimizers, each a `chain` of small transforms.
 *
 * @module
 */
import type * as t from 'io-ts';
import { decodeArg, func, hyper, type HyperC, type NoFields, NonNegative, optionSet, type OptionSetOf, type OptionsOf } from '../config.ts';
import type { GradientTransformation, Hyper, OptState } from './base.ts';
import { chain } from './chain.ts';
import {
  adamFields,
  addDecayedWeights,
  type Mask,
  masked,
  rmsFields,
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
 * const opt = sgd(0.1);
 */
export const sgd = (lr: Hyper): GradientTransformation<OptState> => chain(scaleByLearningRate(decodeArg('sgd.lr', Rate, lr)));

const momentumOptional = {
  /** The momentum, a number in [0, 1) or a schedule. Default 0.9. */
  momentum: traceFields.decay,
  /** Nesterov's variant. Default false. */
  nesterov: traceFields.nesterov,
};
const MomentumOptions: OptionSetOf<NoFields, typeof momentumOptional> = optionSet('momentum', {}, momentumOptional);

/** Options of {@link momentum}. */
export type MomentumOptions = OptionsOf<typeof MomentumOptions>;

/**
 * SGD with (optionally Nesterov) momentum.
 *
 * @example
 * const opt = momentum(0.1, { momentum: 0.9, nesterov: true });
 */
export const momentum = (lr: Hyper, opts: MomentumOptions = {}): GradientTransformation<OptState> => {
  const o = MomentumOptions.decode(opts);
  return chain(trace({ decay: o.momentum ?? 0.9, nesterov: o.nesterov ?? false }), scaleByLearningRate(decodeArg('momentum.lr', Rate, lr)));
};

const RmspropOptions: OptionSetOf<NoFields, typeof rmsFields> = optionSet('rmsprop', {}, rmsFields);

/** Options of {@link rmsprop}. */
export type RmspropOptions = OptionsOf<typeof RmspropOptions>;

/**
 * RMSProp.
 *
 * @example
 * const opt = rmsprop(1e-3, { decay: 0.9 });
 */
export const rmsprop = (lr: Hyper, opts: RmspropOptions = {}): GradientTransformation<OptState> =>
  chain(scaleByRms(RmspropOptions.decode(opts)), scaleByLearningRate(decodeArg('rmsprop.lr', Rate, lr)));

const AdamAliasOptions: OptionSetOf<NoFields, typeof adamFields> = optionSet('adam', {}, adamFields);

/** Options of {@link adam}. */
export type AdamAliasOptions = OptionsOf<typeof AdamAliasOptions>;

/**
 * Adam (Kingma & Ba), optax's defaults: b1 0.9, b2 0.999, eps 1e-8.
 *
 * @example
 * const opt = adam(1e-3);
 */
export const adam = (lr: Hyper, opts: AdamAliasOptions = {}): GradientTransformation<OptState> =>
  chain(scaleByAdam(AdamAliasOptions.decode(opts)), scaleByLearningRate(decodeArg('adam.lr', Rate, lr)));

const adamWOptional = {
  ...adamFields,
  /** Decoupled weight decay, a number or a schedule. Default 0.01 (fastai). */
  weightDecay: Rate,
  /** Which leaves decay. Default {@link weightsOnly} (not BatchNorm or biases). */
  mask: MaskFn,
};
const AdamWOptions: OptionSetOf<NoFields, typeof adamWOptional> = optionSet('adamW', {}, adamWOptional);

/** Options of {@link adamW}. */
export type AdamWOptions = OptionsOf<typeof AdamWOptions>;

/**
 * AdamW, decoupled weight decay, with fastai's defaults: b1 0.9, b2 0.99,
 * eps 1e-5, weight decay 0.01 on weights only (not BatchNorm or biases):
 * `chain(scaleByAdam, masked(addDecayedWeights, mask), scaleByLearningRate)`,
 * as in optax.
 *
 * @example
 * const opt = adamW(3e-3);
 * const cycled = adamW((s) => lrSched(s), { b1: (s) => momSched(s) });
 */
export const adamW = (lr: Hyper, opts: AdamWOptions = {}): GradientTransformation<OptState> => {
  const o = AdamWOptions.decode(opts);
  // The chain executor runs these links as one Adam op per leaf (fusion.ts).
  return chain(
    scaleByAdam({ b1: o.b1 ?? 0.9, b2: o.b2 ?? 0.99, eps: o.eps ?? 1e-5, epsRoot: o.epsRoot ?? 0 }),
    masked(addDecayedWeights(o.weightDecay ?? 0.01), o.mask ?? weightsOnly),
    scaleByLearningRate(decodeArg('adamW.lr', Rate, lr)),
  );
};
