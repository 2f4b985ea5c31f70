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
 * The finite check of a list of tensors, in the form that can be read along
 * with other values: `true` or `false` when the engine's kernel answers at
 * once, else a float32 scalar `Σ x·0`, which is 0 exactly when every value
 * is finite (one reduction per tensor; the caller reads and disposes it).
 * On a GPU the scalar joins the step's one read instead of costing a wait of its own.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { finiteCheck } from 'tsnn/backend';
 *
 * const check = finiteCheck([tf.tensor([1, 2]), tf.tensor([3, NaN])]);
 * console.log(typeof check === 'boolean' ? check : (await check.data())[0] === 0); // false
 * if (typeof check !== 'boolean') check.dispose();
 * ```
 */
export const finiteCheck = (tensors: readonly Tensor[]): boolean | tf.Scalar => {
  const floats = tensors.filter((t) => t.dtype === 'float32' && t.size > 0);
  if (floats.length === 0) return true;
  const fast = allFiniteSlot.impl?.(floats);
  if (fast !== undefined) return fast;
  return tf.tidy(() => tf.addN(floats.map((t) => tf.sum(tf.mul(t, 0))))) as tf.Scalar;
};

/**
 * True when no float32 tensor of the list holds a NaN or an infinity (other
 * dtypes are always finite): {@link finiteCheck}, read with `data()`, so that it
 * works on every backend, WebGPU included.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { allFinite } from 'tsnn/backend';
 *
 * console.log(await allFinite([tf.tensor([1, 2]), tf.tensor([3, NaN])])); // false
 * ```
 */
export const allFinite = async (tensors: readonly Tensor[]): Promise<boolean> => {
  const check = finiteCheck(tensors);
  if (typeof check === 'boolean') return check;
  try {
    return (await check.data())[0] === 0;
  } finally {
    check.dispose();
  }
};
