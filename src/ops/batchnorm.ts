/**
 * BatchNorm's training-mode normalisation and running statistics, the two
 * ops a BatchNorm layer needs. Each is its math in tfjs ops; the engine may
 * run it as fused kernels instead (see `backend/batchnorm_kernels.ts`).
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
type Tensor = tf.Tensor;
/** @ignore */
type Tensor1D = tf.Tensor1D;

/**
 * One direction pair of a training normalisation: `forward` gives `y`, the
 * batch statistics, and the tensors `backward` needs (saved by the op).
 */
export interface Normalisation {
  /** `y = gamma·(x − mean)/√(variance + eps) + beta` over the last axis, with the batch statistics and what `backward` needs. */
  forward(x: Tensor, gamma: Tensor1D, beta: Tensor1D, eps: number): { y: Tensor; mean: Tensor1D; variance: Tensor1D; saved: Tensor[] };
  /** `[dx, dgamma, dbeta]`. */
  backward(dy: Tensor, saved: Tensor[], eps: number): Tensor[];
}

/** The running statistics' update: `[newMean, newVar]`. */
export type RunningStats = (
  mean: Tensor1D,
  variance: Tensor1D,
  runMean: Tensor1D,
  runVar: Tensor1D,
  momentum: number,
  n: number,
) => [Tensor1D, Tensor1D];

/** An engine's normalisation for this input: a direction pair, or undefined to decline (and use the math). */
export type BatchNormTrainImpl = (x: Tensor) => Normalisation | undefined;
/** Where the engine plugs its normalisation: given the input, a pair, or undefined to use the math. */
export const batchNormTrainSlot: Slot<BatchNormTrainImpl> = slot<BatchNormTrainImpl>('batchNormTrain');
/** Picks the engine's running-statistics update for these tensors, or undefined to use the math. */
export type BatchNormStatsImpl = (mean: Tensor1D, runMean: Tensor1D) => RunningStats | undefined;

/** Where the engine plugs its running-statistics update. */
export const batchNormStatsSlot: Slot<BatchNormStatsImpl> = slot<BatchNormStatsImpl>('batchNormRunningStats');

/**
 * Per-channel mean over every position of `x` ([n, c] or [n, h, w, c]). For
 * images it averages each map with one full-window `avgPool`, then the
 * batch: on wasm that is about 9× faster than `tf.mean` over axes [0, 1, 2],
 * which transposes first (58 µs against 506 µs on [64,14,14,16]).
 */
const channelMean = (x: tf.Tensor): tf.Tensor1D => {
  if (x.rank === 2) return tf.mean(x, 0);
  const [n, h, w, c] = x.shape;
  return tf.mean(tf.reshape(tf.avgPool(x as tf.Tensor4D, [h, w], 1, 'valid'), [n, c]), 0);
};

/**
 * The math, with the closed-form gradient dβ = Σdy, dγ = Σ dy·x̂,
 * dx = γ/σ · (dy − dβ/n − x̂ · dγ/n): tfjs's generic backward through
 * `moments` broadcasts and tiles, which is slow.
 */
const normalisationMath: Normalisation = {
  forward(x, gamma, beta, eps) {
    const mean = channelMean(x);
    const centred = tf.sub(x, mean);
    const variance = channelMean(tf.square(centred));
    const invStd = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.mul(centred, invStd);
    return { y: tf.add(tf.mul(xhat, gamma), beta), mean, variance, saved: [xhat, invStd, gamma] };
  },
  backward(dy, [xh, inv, gm]) {
    const n = xh.size / gm.size;
    // Σ over positions = n · mean, through the fast channelMean.
    const dBeta = tf.mul(channelMean(dy), n);
    const dGamma = tf.mul(channelMean(tf.mul(dy, xh)), n);
    const k = tf.mul(gm, inv);
    const dx = tf.sub(tf.mul(dy, k), tf.add(tf.mul(xh, tf.mul(k, tf.div(dGamma, n))), tf.mul(k, tf.div(dBeta, n))));
    return [dx, dGamma, dBeta];
  },
};

/**
 * Training-mode normalisation over the last axis, as one differentiable op:
 * `y = (x − mean) / √(variance + eps) · gamma + beta` with the batch's
 * statistics. The statistics are computed inside the op (so they are not
 * differentiated) and returned for the running averages; the caller
 * disposes them.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { batchNormTrain } from 'tsnn/backend';
 * const x = tf.tensor2d([[1, 2], [3, 6]]);
 * const { y, mean, variance } = batchNormTrain(x, tf.ones([2]), tf.zeros([2]), 1e-5);
 * console.log(Array.from(mean.dataSync())); // [2, 4]
 * ```
 */
export const batchNormTrain = (
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps: number,
): { y: tf.Tensor; mean: tf.Tensor1D; variance: tf.Tensor1D } => {
  const how = batchNormTrainSlot.impl?.(x) ?? normalisationMath;
  let stats: { mean: tf.Tensor1D; variance: tf.Tensor1D } | undefined;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b] = args as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const { y, mean, variance, saved } = how.forward(xi, g, b, eps);
    stats = { mean: tf.keep(mean), variance: tf.keep(variance) };
    save(saved);
    return { value: y, gradFunc: (dy: tf.Tensor, kept: tf.Tensor[]) => how.backward(dy, kept, eps) };
  });
  const y = op(x, gamma, beta);
  return { y, ...stats! };
};

/**
 * The running statistics after one training batch (PyTorch's convention):
 * `(1 − momentum)·old + momentum·batch`, with the batch's (biased) variance
 * made unbiased by `n / (n − 1)`, where `n` is the values per channel.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { batchNormRunningStats } from 'tsnn/backend';
 * const next = batchNormRunningStats(tf.tensor1d([2]), tf.tensor1d([1]), { mean: tf.zeros([1]), var: tf.ones([1]) }, 0.25, 4);
 * console.log(Array.from(next.mean.dataSync())); // [0.5]: 0.75·0 + 0.25·2
 * ```
 */
export const batchNormRunningStats = (
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  old: { readonly mean: tf.Tensor1D; readonly var: tf.Tensor1D },
  momentum: number,
  n: number,
): { mean: tf.Tensor1D; var: tf.Tensor1D } => {
  const fast = batchNormStatsSlot.impl?.(mean, old.mean);
  if (fast) {
    const [m, v] = fast(mean, variance, old.mean, old.var, momentum, n);
    return { mean: m, var: v };
  }
  return tf.tidy(() => ({
    mean: tf.add(tf.mul(old.mean, 1 - momentum), tf.mul(mean, momentum)) as tf.Tensor1D,
    var: tf.add(tf.mul(old.var, 1 - momentum), tf.mul(variance, momentum * n / (n - 1))) as tf.Tensor1D,
  }));
};
