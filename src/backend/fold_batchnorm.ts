/**
 * The conv + BatchNorm inference op (`ops/conv_batchnorm.ts`) with the
 * BatchNorm folded into the conv: one fused conv + bias (+ ReLU) kernel
 * instead of a conv and four elementwise BatchNorm ops. The ReLU stays a
 * kernel of its own: wasm's fused one maps some NaNs to 0 (`nan_kernels.ts`).
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { convBatchNormSlot } from '../ops/conv_batchnorm.ts';

/**
 * True while tfjs records a gradient tape (an internal flag, read-only here).
 * The fused conv's gradient needs kernels that the wasm backend lacks, so a
 * taped call takes the op's math, whose conv gradient the engine rewrites.
 */
const recording = (): boolean => ((tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth ?? 0) > 0;

/**
 * Plug the folded implementation into the op. It declines taped calls.
 *
 * @example
 * ```ts
 * import { installBatchNormFolding } from 'tsnn/backend';
 * installBatchNormFolding();
 * ```
 */
export const installBatchNormFolding = (): void =>
  convBatchNormSlot.install((t, g) => {
    if (recording()) return undefined;
    return tf.tidy(() => {
      const scale = tf.mul(t.gamma, tf.rsqrt(tf.add(t.variance, g.eps)));
      const y = tf.fused.conv2d({
        x: t.x,
        filter: tf.mul(t.weight, scale) as tf.Tensor4D,
        strides: g.stride,
        pad: [[0, 0], [g.pad, g.pad], [g.pad, g.pad], [0, 0]],
        bias: tf.sub(t.beta, tf.mul(t.mean, scale)),
      });
      return g.relu ? tf.relu(y) : y;
    });
  });
