/**
 * Whether every value of a list of tensors is finite: the divergence guard's
 * question, asked once per training step about every parameter, statistic and
 * optimizer moment (hundreds of tensors), so that one engine call can answer it.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { type Slot, slot } from './slot.ts';

/**
 * tfjs-core's tensor under a private alias: `deno doc --lint` reports npm types named in a public type
 * as private-type-ref (see src/layer.ts); an `@ignore`d alias silences just that.
 *
 * @ignore
 */
type Tensor = tf.Tensor;

/** An engine's answer for float32 tensors, or `undefined` to decline (another backend). */
export type AllFiniteImpl = (tensors: readonly Tensor[]) => boolean | undefined;

/** The slot the engine fills with a one-pass check. */
export const allFiniteSlot: Slot<AllFiniteImpl> = slot<AllFiniteImpl>('allFinite');

/**
 * True when no float32 tensor of the list holds a NaN or an infinity (other
 * dtypes are always finite). As math: `Σ x·0`, which is 0 exactly when every
 * value is finite, one reduction per tensor and one read.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * console.log(allFinite([tf.tensor([1, 2]), tf.tensor([3, NaN])])); // false
 * ```
 */
export const allFinite = (tensors: readonly tf.Tensor[]): boolean => {
  const floats = tensors.filter((t) => t.dtype === 'float32' && t.size > 0);
  if (floats.length === 0) return true;
  const fast = allFiniteSlot.impl?.(floats);
  if (fast !== undefined) return fast;
  const total = tf.tidy(() => tf.addN(floats.map((t) => tf.sum(tf.mul(t, 0)))));
  const sum = total.dataSync()[0];
  total.dispose();
  return sum === 0;
};
