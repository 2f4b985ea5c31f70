/**
 * Batch normalisation with running statistics kept in explicit state.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import * as t from 'io-ts';
import { type NoFields, optionSet, type OptionSetOf, type OptionsOf, Positive, UnitInterval } from '../config.ts';
import { ShapeError, showFullShape, showShape } from '../errors.ts';
import { expectInput, type Layer, paramTensor, singleInput, singleShape, tidyApply } from '../layer.ts';
import { batchNormRunningStats, batchNormTrain } from '../ops/batchnorm.ts';

const Init: t.UnionC<[t.LiteralC<'one'>, t.LiteralC<'zero'>]> = t.union([t.literal('one'), t.literal('zero')], "'one' | 'zero'");
const batchNormOptional = {
  /** Added to the variance. Default 1e-5. */
  eps: Positive,
  /** Weight of the new batch in the running stats (PyTorch convention). Default 0.1. */
  momentum: UnitInterval,
  /** Initial `gamma`: `'one'`, or `'zero'` for fastai's BatchZero. Default `'one'`. */
  init: Init,
};
const BatchNormOptions: OptionSetOf<NoFields, typeof batchNormOptional> = optionSet('batchNorm', {}, batchNormOptional);

/** Options of {@link batchNorm}. */
export type BatchNormOptions = OptionsOf<typeof BatchNormOptions>;

/**
 * The default epsilon added to the variance (PyTorch's).
 *
 * @example
 * batchNorm({ eps: BATCH_NORM_EPS })
 */
export const BATCH_NORM_EPS = 1e-5;

/** Learned scale and shift, one per channel. */
export type BatchNormParams = { readonly gamma: tf.Tensor1D; readonly beta: tf.Tensor1D };
/** Running mean and (unbiased) variance, one per channel. */
export type BatchNormState = { readonly mean: tf.Tensor1D; readonly var: tf.Tensor1D };

/**
 * Batch norm over the last axis of `[b, c]` or `[b, h, w, c]` inputs.
 * Training normalises with batch statistics and returns updated running
 * statistics in `state`; evaluation uses the running statistics.
 *
 * @example
 * const bn = batchNorm({ init: 'zero' });
 * const { params } = bn.init(prngKey(0), [14, 14, 32]); // gamma all zeros
 */
export const batchNorm = (opts: BatchNormOptions = {}): Layer<BatchNormParams, BatchNormState> => {
  const o = BatchNormOptions.decode(opts);
  const eps = o.eps ?? BATCH_NORM_EPS;
  const momentum = o.momentum ?? 0.1;
  const gammaInit = o.init ?? 'one';
  return {
    name: 'batchNorm',
    init(_key, inShape) {
      const s = singleShape('batchNorm', inShape);
      if (s.length !== 1 && s.length !== 3) {
        throw new ShapeError('batchNorm', [], `expected input shape [*, c] or [*, h, w, c], got ${showShape(s)}`);
      }
      const c = s[s.length - 1];
      return {
        params: { gamma: gammaInit === 'one' ? tf.ones([c]) : tf.zeros([c]), beta: tf.zeros([c]) },
        state: { mean: tf.zeros([c]), var: tf.ones([c]) },
        outShape: s,
      };
    },
    apply: tidyApply((params, state, x, ctx) => {
      const xt = singleInput('batchNorm', x);
      const [gamma, beta] = (['gamma', 'beta'] as const).map((f) => paramTensor('batchNorm', 'params', params, f) as tf.Tensor1D);
      const [mean, runVar] = (['mean', 'var'] as const).map((f) => paramTensor('batchNorm', 'state', state, f) as tf.Tensor1D);
      const c = gamma.shape[0];
      if (xt.rank !== 2 && xt.rank !== 4) {
        throw new ShapeError('batchNorm', [], `expected input [*, ${c}] or [*, h, w, ${c}], got ${showFullShape(xt.shape)}`);
      }
      expectInput('batchNorm', xt, [...Array(xt.rank - 2).fill(null), c]);
      if (!ctx.training) {
        const scale = tf.mul(gamma, tf.rsqrt(tf.add(runVar, eps)));
        const shift = tf.sub(beta, tf.mul(mean, scale));
        return { y: tf.add(tf.mul(xt, scale), shift), state };
      }
      const n = xt.size / c;
      if (n < 2) {
        throw new ShapeError('batchNorm', [], `training needs more than one value per channel, got input ${showFullShape(xt.shape)}`);
      }
      const batch = batchNormTrain(xt, gamma, beta, eps);
      const next = batchNormRunningStats(batch.mean, batch.variance, { mean, var: runVar }, momentum, n);
      // Kept by the op (it returns them from inside a gradient), so tidy would spare them.
      batch.mean.dispose();
      batch.variance.dispose();
      const y = batch.y;
      return { y, state: next };
    }),
  };
};
