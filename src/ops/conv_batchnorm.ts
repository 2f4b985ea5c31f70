/**
 * Inference through a conv followed by BatchNorm (with its running
 * statistics) and optionally ReLU: fastai's ConvLayer in evaluation mode.
 * The math is the three steps in turn; the engine may fold the BatchNorm
 * into the conv's filter and bias and run one fused kernel instead (see
 * `backend/fold_batchnorm.ts`).
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { type Slot, slot } from './slot.ts';

/**
 * tfjs-core's tensor types under private aliases: `deno doc --lint` reports npm types named in a public type
 * as private-type-ref (see src/layer.ts); `@ignore`d aliases silence just that.
 *
 * @ignore
 */
type Tensor1D = tf.Tensor1D;
/** @ignore */
type Tensor4D = tf.Tensor4D;

/** The tensors of a conv + BatchNorm pair: the input, the conv's filter, BatchNorm's params and running statistics. */
export interface ConvBatchNormTensors {
  /** The input, NHWC. */
  readonly x: Tensor4D;
  /** The conv's filter, `[ks, ks, ni, nf]`. */
  readonly weight: Tensor4D;
  /** BatchNorm's scale, one per output channel. */
  readonly gamma: Tensor1D;
  /** BatchNorm's shift, one per output channel. */
  readonly beta: Tensor1D;
  /** BatchNorm's running mean. */
  readonly mean: Tensor1D;
  /** BatchNorm's running variance. */
  readonly variance: Tensor1D;
}

/** The conv's stride and symmetric padding, BatchNorm's epsilon, and whether a ReLU follows. */
export interface ConvBatchNormGeometry {
  /** The conv's stride (both axes). */
  readonly stride: number;
  /** The conv's symmetric zero padding. */
  readonly pad: number;
  /** BatchNorm's epsilon, added to the variance. */
  readonly eps: number;
  /** Whether a ReLU follows. */
  readonly relu: boolean;
}

/** An engine's conv + BatchNorm inference, or undefined to decline a call (and use the math). */
export type ConvBatchNormImpl = (t: ConvBatchNormTensors, g: ConvBatchNormGeometry) => Tensor4D | undefined;
/** Where the engine plugs a faster implementation; it returns undefined to decline a call. */
export const convBatchNormSlot: Slot<ConvBatchNormImpl> = slot<ConvBatchNormImpl>('convBatchNormInference');

/**
 * `act(bn(conv(x)))` in evaluation mode: `conv(x, weight)·s + (beta − mean·s)`
 * with `s = gamma / √(variance + eps)`, then ReLU if asked.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { convBatchNormInference } from 'tsnn/backend';
 * const y = convBatchNormInference(
 *   { x: tf.ones([1, 3, 3, 1]), weight: tf.ones([3, 3, 1, 2]), gamma: tf.ones([2]), beta: tf.zeros([2]), mean: tf.zeros([2]), variance: tf.ones([2]) },
 *   { stride: 1, pad: 1, eps: 1e-5, relu: true },
 * );
 * console.log(y.shape); // [1, 3, 3, 2]
 * ```
 */
export const convBatchNormInference = (t: ConvBatchNormTensors, g: ConvBatchNormGeometry): tf.Tensor4D =>
  convBatchNormSlot.impl?.(t, g) ?? tf.tidy(() => {
    const z = tf.conv2d(t.x, t.weight, g.stride, [[0, 0], [g.pad, g.pad], [g.pad, g.pad], [0, 0]]);
    const scale = tf.mul(t.gamma, tf.rsqrt(tf.add(t.variance, g.eps)));
    const y = tf.add(tf.mul(z, scale), tf.sub(t.beta, tf.mul(t.mean, scale))) as tf.Tensor4D;
    return g.relu ? tf.relu(y) : y;
  });
