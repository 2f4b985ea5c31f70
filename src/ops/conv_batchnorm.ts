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

/** The tensors of a conv + BatchNorm pair: the input, the conv's filter, BatchNorm's params and running statistics. */
export interface ConvBatchNormTensors {
  readonly x: tf.Tensor4D;
  readonly weight: tf.Tensor4D;
  readonly gamma: tf.Tensor1D;
  readonly beta: tf.Tensor1D;
  readonly mean: tf.Tensor1D;
  readonly variance: tf.Tensor1D;
}

/** The conv's stride and symmetric padding, BatchNorm's epsilon, and whether a ReLU follows. */
export interface ConvBatchNormGeometry {
  readonly stride: number;
  readonly pad: number;
  readonly eps: number;
  readonly relu: boolean;
}

type ConvBatchNormImpl = (t: ConvBatchNormTensors, g: ConvBatchNormGeometry) => tf.Tensor4D | undefined;
/** Where the engine plugs a faster implementation; it returns undefined to decline a call. */
export const convBatchNormSlot: Slot<ConvBatchNormImpl> = slot<ConvBatchNormImpl>('convBatchNormInference');

/**
 * `act(bn(conv(x)))` in evaluation mode: `conv(x, weight)·s + (beta − mean·s)`
 * with `s = gamma / √(variance + eps)`, then ReLU if asked.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { convBatchNormInference } from './conv_batchnorm.ts';
 * const y = convBatchNormInference(
 *   { x: tf.ones([1, 3, 3, 1]), weight: tf.ones([3, 3, 1, 2]), gamma: tf.ones([2]), beta: tf.zeros([2]), mean: tf.zeros([2]), variance: tf.ones([2]) },
 *   { stride: 1, pad: 1, eps: 1e-5, relu: true },
 * ); // [1, 3, 3, 2]
 * ```
 */
export const convBatchNormInference = (t: ConvBatchNormTensors, g: ConvBatchNormGeometry): tf.Tensor4D =>
  convBatchNormSlot.impl?.(t, g) ?? tf.tidy(() => {
    const z = tf.conv2d(t.x, t.weight, g.stride, [[0, 0], [g.pad, g.pad], [g.pad, g.pad], [0, 0]]);
    const scale = tf.mul(t.gamma, tf.rsqrt(tf.add(t.variance, g.eps)));
    const y = tf.add(tf.mul(z, scale), tf.sub(t.beta, tf.mul(t.mean, scale))) as tf.Tensor4D;
    return g.relu ? tf.relu(y) : y;
  });
