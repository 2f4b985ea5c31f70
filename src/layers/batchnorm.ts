/**
 * Batch normalisation with running statistics kept in explicit state.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import * as t from 'io-ts';
import { Finite, type NoFields, optionSet, type OptionSetOf, type OptionsOf, Positive, type SameType, typesAgree, UnitInterval } from '../config.ts';
import { ShapeError, showFullShape, showShape } from '../errors.ts';
import { expectInput, type Layer, paramTensor, singleInput, singleShape, tidyApply } from '../layer.ts';
import { batchNormRunningStats, batchNormTrain } from '../ops/batchnorm.ts';

/**
 * tfjs-core's tensor types under private aliases: `deno doc --lint` reports npm types named in a public type
 * as private-type-ref (see src/layer.ts); `@ignore`d aliases silence just that.
 *
 * @ignore
 */
type Tensor1D = tf.Tensor1D;

const Init: t.UnionC<[t.LiteralC<'one'>, t.LiteralC<'zero'>]> = t.union([t.literal('one'), t.literal('zero')], "'one' | 'zero'");
const batchNormOptional = {
  eps: Positive,
  momentum: UnitInterval,
  init: Init,
  betaInit: Finite,
};
const BatchNormOptionSet: OptionSetOf<NoFields, typeof batchNormOptional> = optionSet('batchNorm', {}, batchNormOptional);

/** Options of {@link batchNorm}. */
export interface BatchNormOptions {
  /** Added to the variance. Default 1e-5. */
  readonly eps?: number;
  /** Weight of the new batch in the running stats (PyTorch convention). Default 0.1. */
  readonly momentum?: number;
  /** Initial `gamma`: `'one'`, or `'zero'` for fastai's BatchZero. Default `'one'`. */
  readonly init?: 'one' | 'zero';
  /** Initial `beta`. Default 0, PyTorch's; fastai's `BatchNorm` (and so `convLayer`) uses 1e-3. */
  readonly betaInit?: number;
}
typesAgree<SameType<BatchNormOptions, OptionsOf<typeof BatchNormOptionSet>>>();

/**
 * The default epsilon added to the variance (PyTorch's).
 *
 * @example
 * ```ts
 * import { BATCH_NORM_EPS, batchNorm } from 'tsnn';
 *
 * console.log(BATCH_NORM_EPS); // 0.00001
 * const bn = batchNorm({ eps: BATCH_NORM_EPS }); // the default, spelled out
 * ```
 */
export const BATCH_NORM_EPS = 1e-5;

/** Learned scale and shift, one per channel. */
export type BatchNormParams = { readonly gamma: Tensor1D; readonly beta: Tensor1D };
/** Running mean and (unbiased) variance, one per channel. */
export type BatchNormState = { readonly mean: Tensor1D; readonly var: Tensor1D };

/**
 * Batch norm over the last axis of `[b, c]` or `[b, h, w, c]` inputs.
 * Training normalises with batch statistics and returns updated running
 * statistics in `state`; evaluation uses the running statistics.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { batchNorm, prngKey } from 'tsnn';
 *
 * const bn = batchNorm({ init: 'zero' }); // fastai's BatchZero: the block starts as the identity
 * const { params, state, outShape } = bn.init(prngKey(0), [14, 14, 32]);
 * console.log(outShape, tf.max(params.gamma).dataSync()[0]); // [14, 14, 32] 0
 * const { y } = bn.apply(params, state, tf.ones([2, 14, 14, 32]), { training: true });
 * console.log((y as tf.Tensor).shape); // [2, 14, 14, 32]
 * ```
 */
export const batchNorm = (opts: BatchNormOptions = {}): Layer<BatchNormParams, BatchNormState> => {
  const o = BatchNormOptionSet.decode(opts);
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
        params: { gamma: gammaInit === 'one' ? tf.ones([c]) : tf.zeros([c]), beta: tf.fill([c], o.betaInit ?? 0) as Tensor1D },
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
