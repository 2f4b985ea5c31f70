/**
 * Ready-made optimizers, each a `chain` of small transforms.
 *
 * @module
 */
import type { GradientTransformation, Hyper, OptState } from './base.ts';
import { chain } from './chain.ts';
import { addDecayedWeights, type Mask, masked, scaleByAdam, scaleByLearningRate, scaleByRms, trace, weightsOnly } from './transforms.ts';

/**
 * Stochastic gradient descent: `p ← p − lr · g`.
 *
 * @example
 * const opt = sgd(0.1);
 */
export const sgd = (lr: Hyper): GradientTransformation<OptState> => chain(scaleByLearningRate(lr));

/**
 * SGD with (optionally Nesterov) momentum.
 *
 * @example
 * const opt = momentum(0.1, { momentum: 0.9, nesterov: true });
 */
export const momentum = (lr: Hyper, opts: { readonly momentum?: Hyper; readonly nesterov?: boolean } = {}): GradientTransformation<OptState> =>
  chain(trace({ decay: opts.momentum ?? 0.9, nesterov: opts.nesterov ?? false }), scaleByLearningRate(lr));

/**
 * RMSProp.
 *
 * @example
 * const opt = rmsprop(1e-3, { decay: 0.9 });
 */
export const rmsprop = (lr: Hyper, opts: { readonly decay?: number; readonly eps?: number } = {}): GradientTransformation<OptState> =>
  chain(scaleByRms(opts), scaleByLearningRate(lr));

/** Options of {@link adam} and {@link adamW}. */
export interface AdamAliasOptions {
  readonly b1?: Hyper;
  readonly b2?: number;
  readonly eps?: number;
  readonly epsRoot?: number;
}

/**
 * Adam (Kingma & Ba), optax's defaults: b1 0.9, b2 0.999, eps 1e-8.
 *
 * @example
 * const opt = adam(1e-3);
 */
export const adam = (lr: Hyper, opts: AdamAliasOptions = {}): GradientTransformation<OptState> =>
  chain(scaleByAdam(opts), scaleByLearningRate(lr));

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
export const adamW = (
  lr: Hyper,
  opts: AdamAliasOptions & { readonly weightDecay?: Hyper; readonly mask?: Mask } = {},
): GradientTransformation<OptState> =>
  // The chain executor runs these links as one Adam op per leaf (fusion.ts).
  chain(
    scaleByAdam({ b1: opts.b1 ?? 0.9, b2: opts.b2 ?? 0.99, eps: opts.eps ?? 1e-5, epsRoot: opts.epsRoot ?? 0 }),
    masked(addDecayedWeights(opts.weightDecay ?? 0.01), opts.mask ?? weightsOnly),
    scaleByLearningRate(lr),
  );
